#!/usr/bin/env bash
# Set up a test and development machine, as root: everything the demo, the
# test tiers and the benchmarks need (Pacemaker, Corosync, crmsh, pcs, LXC for
# the peer benchmarks, qemu and debootstrap for the VM tier, gcc for the
# containment probes...), then this checkout installed in development mode
# (deploy/install.sh --editable).
#
# Not for a cluster node: the test clusters run inside network namespaces, so
# the host's own pacemaker, corosync and LXC services are stopped. On a node,
# use deploy/install.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" != 0 ]; then
    echo "deploy/testbed.sh: must run as root" >&2
    exit 1
fi

packages=(
    python3 python3-venv python3-dev gcc libc6-dev
    pacemaker pacemaker-cli-utils corosync crmsh pcs resource-agents fence-agents libxml2-utils
    lvm2 thin-provisioning-tools drbd-utils e2fsprogs xfsprogs btrfs-progs util-linux
    lxc busybox-static debootstrap
    zstd rsync acl attr libcap2-bin
    qemu-system-x86 qemu-utils
    iproute2 iputils-ping procps kmod psmisc strace
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# vagrant and ruby check vagrant/Vagrantfile (vagrant validate, ruby -c): without the
# libvirt plugin and NFS server vagrant recommends (no daemons on a test machine).
if ! dpkg-query -W -f='${Status}' vagrant 2>/dev/null | grep -q "install ok installed"; then
    export DEBIAN_FRONTEND=noninteractive
    [ ${#missing[@]} -gt 0 ] || apt-get update -qq
    apt-get install -y -qq --no-install-recommends vagrant ruby >/dev/null
fi

# Daemons the packages start are not wanted in a test machine's host
# namespace: the test clusters run inside network namespaces.
for svc in pacemaker corosync pcsd pcsd-ruby lxc-net lxc; do
    if command -v systemctl >/dev/null && systemctl is-active -q "$svc" 2>/dev/null; then
        systemctl stop "$svc" || true
    fi
done

bash "$here/deploy/install.sh" --editable
