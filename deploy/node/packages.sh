#!/usr/bin/env bash
# Install what a node of the container stack needs, as root, on Debian 12:
# Pacemaker, Corosync, crmsh and pcs, DRBD's utilities, LVM, the resource and
# fence agents (with psmisc, whose fuser ocf:heartbeat:Filesystem needs: Debian's
# resource-agents only recommends it), then hacontain itself (deploy/install.sh).
#
#   bash deploy/node/packages.sh [--without PACKAGE]... [--root DIR] [SOURCE]
#
# --without PACKAGE  leave a package of the list out (e.g. pcs, on a crmsh node)
# --root DIR         install hacontain below DIR (tests; Debian packages must be
#                    installed already)
# SOURCE             what deploy/install.sh installs (default: this checkout)
# NODE_PACKAGES      replaces the list of Debian packages
#
# Packages already installed are skipped; when all are, apt is not run at all
# (no network needed). Daemons are installed but not started (a policy-rc.d
# refuses it while apt runs): corosync.sh configures and starts them. hacontain
# is installed only where its command or agent is missing. Nothing running is
# stopped or restarted.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)

root= source_arg=() without=()
while [ $# -gt 0 ]; do
    case "$1" in
        --without) without+=("$2"); shift 2 ;;
        --root) root=${2%/}; shift 2 ;;
        -*) die "unknown option $1" ;;
        *) source_arg=("$1"); shift ;;
    esac
done
need_root

read -r -a packages <<< "${NODE_PACKAGES:-pacemaker corosync crmsh pcs drbd-utils lvm2 resource-agents psmisc fence-agents}"
missing=()
for p in "${packages[@]}"; do
    case " ${without[*]-} " in *" $p "*) continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ -z "$root" ] || die "install these Debian packages first: ${missing[*]}"
    # While apt runs, invoke-rc.d may start no daemon: they start once configured.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    echo "installed: ${missing[*]}"
else
    echo "Debian packages: all installed"
fi

agent=$root/usr/lib/ocf/resource.d/hacontain/container
if [ -z "${source_arg[*]-}" ] && command -v hacontain >/dev/null && [ -x "$agent" ]; then
    echo "hacontain: installed ($(command -v hacontain), $agent)"
elif [ -z "${source_arg[*]-}" ] && command -v hacontain >/dev/null; then
    hacontain install-agent --root "${root:-/}"
else
    bash "$here/deploy/install.sh" ${root:+--root "$root"} "${source_arg[@]:-$here}"
fi
