#!/usr/bin/env bash
# Install everything hacontain needs on a Debian 12 node (as root):
# Debian packages, a virtualenv with the Python dependencies and hacontain
# itself, the `hacontain` command and the OCF agent.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${HACONTAIN_VENV:-/opt/hacontain/venv}

if [ "$(id -u)" != 0 ]; then
    echo "deploy/install.sh: must run as root" >&2
    exit 1
fi

packages=(
    python3 python3-venv python3-dev gcc libc6-dev
    pacemaker pacemaker-cli-utils corosync crmsh resource-agents fence-agents libxml2-utils
    lvm2 thin-provisioning-tools drbd-utils e2fsprogs util-linux
    lxc busybox-static debootstrap
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

# Daemons the packages start are not wanted on a test machine's host
# namespace: the cluster runs inside network namespaces.
for svc in pacemaker corosync lxc-net lxc; do
    if command -v systemctl >/dev/null && systemctl is-active -q "$svc" 2>/dev/null; then
        systemctl stop "$svc" || true
    fi
done

# Where containers and their node-local settings live.
install -d -m 755 /etc/hacontain /var/lib/hacontain

if [ ! -x "$venv/bin/python3" ]; then
    /usr/bin/python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -e "$here[test]"
ln -sf "$venv/bin/hacontain" /usr/local/bin/hacontain
"$venv/bin/hacontain" install-agent
