#!/usr/bin/env bash
# LVM for a VG on DRBD, as root, on both nodes: /etc/lvm/lvmlocal.conf (read
# over lvm.conf) with the node's system ID from its host name, a filter that
# accepts /dev/drbd* and rejects the DRBD backing disk (else LVM sees the PV
# twice and may use the backing disk), and autoactivation limited to the node's
# own VGs, so that only Pacemaker (ocf:heartbeat:LVM-activate) activates the
# cluster VG.
#
#   bash deploy/node/lvm.sh --backing DISK [--vg VG] [--mode system_id|tagging]
#        [--local-vg VG]... [--root DIR]
#
# --backing   the DRBD backing disk (e.g. /dev/vdb; repeatable)
# --vg        the cluster VG: where it exists, its own autoactivation is turned
#             off too (vgchange --setautoactivation n)
# --mode      LVM-activate's vg_access_mode (default system_id); tagging also
#             writes activation/volume_list (the local VGs only)
# --local-vg  a VG of this node that must stay autoactivated (e.g. the root's);
#             default: the VGs `vgs` finds on disks other than DRBD and the backing
#             disks, the cluster VG excepted
# --root      write below DIR (tests)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

root= vg= mode=system_id backing=() local_vgs=() local_given=
while [ $# -gt 0 ]; do
    case "$1" in
        --backing) backing+=("$2"); shift 2 ;;
        --vg) vg=$2; shift 2 ;;
        --mode) mode=$2; shift 2 ;;
        --local-vg) local_vgs+=("$2"); local_given=1; shift 2 ;;
        --root) root=${2%/}; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
need_root
[ ${#backing[@]} -gt 0 ] || die "give the DRBD backing disk with --backing DISK"
case $mode in system_id|tagging) ;; *) die "--mode $mode: system_id or tagging" ;; esac
for disk in "${backing[@]}"; do
    [[ $disk =~ ^/dev/[A-Za-z0-9/_.+-]+$ ]] || die "--backing $disk: expected a /dev path"
done

if [ -z "$local_given" ]; then
    # pv_name vg_name of this node's PVs: the VGs on other disks are its own.
    report=$(vgs --noheadings --separator ' ' -o pv_name,vg_name 2>/dev/null) ||
        die "cannot list this node's VGs (vgs failed): name them with --local-vg, or --local-vg '' for none"
    while read -r pv name; do
        [ -n "$name" ] && [ "$name" != "$vg" ] || continue
        case " ${backing[*]} " in *" $pv "*) continue ;; esac
        [[ $pv == /dev/drbd* ]] && continue
        case " ${local_vgs[*]-} " in *" $name "*) ;; *) local_vgs+=("$name") ;; esac
    done <<< "$report"
fi
list=
for name in "${local_vgs[@]-}"; do
    [ -n "$name" ] || continue
    [ "$name" != "$vg" ] || die "--local-vg $name is the cluster VG"
    list+="${list:+, }\"$name\""
done
filter="\"a|^/dev/drbd[0-9]+\$|\""
for disk in "${backing[@]}"; do
    filter+=", \"r|^$(printf '%s' "$disk" | sed 's/[.+]/\\&/g')\$|\""
done

{
    echo "# Written by hacontain's deploy/node/lvm.sh: a VG on DRBD, activated by Pacemaker."
    echo "global {"
    [ "$mode" != system_id ] || echo "    system_id_source = \"uname\""
    echo "}"
    echo "devices {"
    echo "    global_filter = [ $filter ]"
    echo "}"
    echo "activation {"
    echo "    auto_activation_volume_list = [ $list ]"
    [ "$mode" != tagging ] || echo "    volume_list = [ $list ]"
    echo "}"
} | install_file /etc/lvm/lvmlocal.conf 644 || true

if [ -z "$root" ] && [ -n "$vg" ] && vgs "$vg" >/dev/null 2>&1; then
    vgchange --setautoactivation n "$vg" >/dev/null
    echo "VG $vg: autoactivation off"
fi
