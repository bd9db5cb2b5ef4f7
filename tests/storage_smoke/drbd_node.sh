#!/bin/sh
# One node's steps of the two-VM DRBD smoke test (in-tree DRBD 8.4 via drbdadm,
# LVM on top), run inside a test VM of the VM tier; tests/vm/test_storage_drbd.py
# drives both nodes. Resource r0 is /dev/drbd0 over the blank disk /dev/vdb;
# volume group "ha" lives on /dev/drbd0.
#
#   configure NAME_A IP_A NAME_B IP_B   write r0, create metadata, bring it up
#   up                                  bring r0 up again (after a restart)
#   primary [--force] | secondary       change role
#   wait synced|connected|peer-lost SECONDS
#   lvm-create                          PV, VG "ha", LV "data" with ext4
#   lvm-up | release                    activate ha / unmount and deactivate it
#   put NAME TEXT                       write a file on ha/data and sync
#   snapshot                            classic snapshot ha/snap of ha/data
#   get NAME [data|snap]                print a file from ha/data or ha/snap
set -eu

# The backing disk carries a copy of the PV label: LVM must see only /dev/drbd0.
LVM_FILTER='devices { global_filter = [ "r|^/dev/vdb$|" ] }'

fail() { echo "drbd_node: FAILED: $*" >&2; exit 1; }
lvm_do() { cmd=$1; shift; "$cmd" --config "$LVM_FILTER" "$@"; }

mounted_lv() {  # LV: mount ha/LV at /mnt/ha-LV unless mounted; print the mount point
    dir=/mnt/ha-$1
    if ! mountpoint -q "$dir"; then
        mkdir -p "$dir"
        if [ "$1" = data ]; then
            mount /dev/ha/data "$dir"
        else
            mount -o ro,noload "/dev/ha/$1" "$dir"
        fi
    fi
    echo "$dir"
}

state_reached() {  # synced|connected|peer-lost
    case $1 in
        synced) [ "$(drbdadm dstate r0)" = UpToDate/UpToDate ] ;;
        connected) [ "$(drbdadm cstate r0)" = Connected ] ;;
        peer-lost) case $(drbdadm cstate r0) in WFConnection|StandAlone) true ;; *) false ;; esac ;;
        *) fail "unknown state $1" ;;
    esac
}

action=${1:?usage: drbd_node.sh ACTION ...}
shift
case $action in
configure)
    [ $# -eq 4 ] || fail "usage: configure NAME_A IP_A NAME_B IP_B"
    cat > /etc/drbd.d/r0.res <<RES
resource r0 {
    disk { c-plan-ahead 0; resync-rate 300M; }
    net { protocol C; ping-int 2; ping-timeout 5; connect-int 2; timeout 10; }
    on $1 { device /dev/drbd0; disk /dev/vdb; address $2:7789; meta-disk internal; }
    on $3 { device /dev/drbd0; disk /dev/vdb; address $4:7789; meta-disk internal; }
}
RES
    modprobe drbd
    drbdadm -- --force create-md r0
    drbdadm up r0
    ;;
up)
    modprobe drbd
    drbdadm up r0
    ;;
primary) drbdadm primary "$@" r0 ;;
secondary) drbdadm secondary r0 ;;
wait)
    state=${1:?wait STATE SECONDS} deadline=$(( $(date +%s) + ${2:?wait STATE SECONDS} ))
    until state_reached "$state"; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "r0 not $state within $2 s: $(cat /proc/drbd)"
        sleep 0.2
    done
    ;;
lvm-create)
    modprobe -a dm_mod dm_snapshot
    lvm_do pvcreate -q /dev/drbd0
    lvm_do vgcreate -q ha /dev/drbd0
    lvm_do lvcreate -q -y -L 32M -n data ha
    mkfs.ext4 -q /dev/ha/data
    ;;
lvm-up)
    modprobe -a dm_mod dm_snapshot
    lvm_do vgchange -q -ay ha
    ;;
release)
    for dir in /mnt/ha-*; do
        if mountpoint -q "$dir"; then umount "$dir"; fi
    done
    lvm_do vgchange -q -an ha
    ;;
put)
    dir=$(mounted_lv data)
    printf '%s\n' "${2:?put NAME TEXT}" > "$dir/${1:?put NAME TEXT}"
    sync
    ;;
snapshot) lvm_do lvcreate -q -y -s -L 8M -n snap ha/data ;;
get)
    dir=$(mounted_lv "${2:-data}")
    cat "$dir/${1:?get NAME [data|snap]}"
    ;;
*) fail "unknown action $action" ;;
esac
