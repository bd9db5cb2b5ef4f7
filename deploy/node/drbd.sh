#!/usr/bin/env bash
# The DRBD resource under the cluster VG, as root, on both nodes with the same
# arguments: /etc/drbd.d/RESOURCE.res (hacontain.storage.drbd: DRBD 8.4 or 9
# syntax for the loaded module, protocol C, fencing resource-and-stonith with
# Pacemaker's handlers), its metadata where the disk has none, and the resource
# up. Blank disks skip the first sync (--new, on one node once both are up).
#
#   bash deploy/node/drbd.sh --resource R --node NAME=ADDR:DISK --node NAME=ADDR:DISK
#        [--minor N] [--port P] [--no-fencing] [--version 8.4|9] [--new]
#        [--no-up | --config-only] [--root DIR]
#
# --node         a node's name (uname -n), its DRBD address and backing disk
# --minor/--port /dev/drbdN and the TCP port (default 0 and 7789)
# --no-fencing   no resource-level fencing (only with a quorum device: see fencing.md)
# --version      the syntax, where no DRBD module is loaded or installed here
# --new          both disks are blank: wait until connected, then mark them in sync
#                (run on one node only, after the other is up)
# --no-up        write the file and the metadata, leave the resource down (Pacemaker's
#                ocf:linbit:drbd brings it up)
# --config-only  write the file, touch no disk
# --root         write below DIR, and use that file for the disk
#
# Idempotent: existing metadata is never recreated, a resource that is up is
# left as it is (a changed file is reported: apply it with drbdadm adjust).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

root= resource= minor=0 port=7789 fencing=True version= new= no_up= config_only= nodes=()
while [ $# -gt 0 ]; do
    case "$1" in
        --resource) resource=$2; shift 2 ;;
        --node) nodes+=("$2"); shift 2 ;;
        --minor) minor=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --no-fencing) fencing=False; shift ;;
        --version) version=$2; shift 2 ;;
        --new) new=1; shift ;;
        --no-up) no_up=1; shift ;;
        --config-only) config_only=1; shift ;;
        --root) root=${2%/}; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
need_root
[[ $resource =~ ^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$ ]] || die "give the resource's name with --resource NAME"
[[ $minor =~ ^[0-9]+$ ]] || die "--minor $minor: a number"
[[ $port =~ ^[0-9]+$ ]] && [ "$port" -gt 0 ] && [ "$port" -lt 65536 ] || die "--port $port: a TCP port"
[ ${#nodes[@]} = 2 ] || die "give the two nodes with --node NAME=ADDR:DISK twice"
case $version in ''|8.4|9) ;; *) die "--version $version: 8.4 or 9" ;; esac
[ -z "$new" ] || [ -z "$no_up$config_only$root" ] || die "--new needs the resource up: not with --no-up, --config-only or --root"
for spec in "${nodes[@]}"; do
    [[ $spec =~ ^[A-Za-z0-9][A-Za-z0-9.-]*=[0-9.]+:/dev/[A-Za-z0-9/_.+-]+$ ]] ||
        die "--node $spec: expected NAME=IPV4ADDR:/dev/DISK"
done

find_python
text=$(RESOURCE=$resource MINOR=$minor PORT=$port FENCING=$fencing VERSION=$version \
       NODES="${nodes[*]}" "$python" - <<'PY'
import os, sys
from hacontain.errors import HacontainError
from hacontain.storage import drbd
env = os.environ
try:
    version = (tuple(int(part) for part in env["VERSION"].split(".")) if env["VERSION"]
               else drbd.kernel_version())
    nodes = []
    for spec in env["NODES"].split():
        name, _, rest = spec.partition("=")
        address, _, disk = rest.partition(":")
        nodes.append((name, address, disk))
    sys.stdout.write(drbd.resource_file(env["RESOURCE"], int(env["MINOR"]), int(env["PORT"]),
                                        nodes, version, fencing=env["FENCING"] == "True"))
except HacontainError as exc:
    sys.exit(f"deploy/node/drbd.sh: {exc} (give --version 8.4 or 9 to write the file anyway)")
PY
)
printf '%s\n' "$text" | install_file "/etc/drbd.d/$resource.res" 644 && changed=1 || changed=
[ -z "$config_only" ] || exit 0

adm=(drbdadm ${root:+-c "$root/etc/drbd.d/$resource.res"})
if drbdsetup status "$resource" >/dev/null 2>&1; then
    echo "DRBD $resource: up"
    [ -z "$changed" ] || echo "DRBD $resource: apply the new file on both nodes with: drbdadm adjust $resource"
else
    # get-gi reads the generation identifiers: it fails only where no metadata is.
    if "${adm[@]}" get-gi "$resource" >/dev/null 2>&1; then
        echo "DRBD $resource: metadata present"
    else
        out=$("${adm[@]}" -- --force create-md "$resource" 2>&1) ||
            die "DRBD $resource: create-md failed: $(printf '%s\n' "$out" | grep -v '^modinfo' | tail -n1)"
        echo "DRBD $resource: metadata created"
    fi
    if [ -z "$no_up" ]; then
        [ -e /proc/drbd ] || modprobe drbd
        "${adm[@]}" up "$resource"
        echo "DRBD $resource: up"
    fi
fi

if [ -n "$new" ]; then
    # Both disks blank: once connected, mark them UpToDate without a sync.
    for _ in $(seq 600); do
        cstate=$(drbdadm cstate "$resource" 2>/dev/null | head -n1)
        [ "$cstate" != Connected ] || break
        sleep 0.5
    done
    [ "$cstate" = Connected ] || die "DRBD $resource: not connected to its peer after 300 s (is it up there?)"
    dstate=$(drbdadm dstate "$resource")
    case $dstate in
        UpToDate/UpToDate) echo "DRBD $resource: in sync already" ;;
        Inconsistent/Inconsistent)
            "$python" -c "import sys; from hacontain.storage import drbd
drbd.skip_initial_sync(sys.argv[1], drbd.kernel_version())" "$resource"
            echo "DRBD $resource: blank disks marked in sync" ;;
        *) die "DRBD $resource: disks $dstate: not both blank, --new refused (sync them with drbdadm primary --force on the source)" ;;
    esac
fi
