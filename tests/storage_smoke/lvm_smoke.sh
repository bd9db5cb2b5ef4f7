#!/bin/sh
# LVM smoke test, run inside a test VM of the VM tier (as root, on a blank disk):
# PV/VG/LV, ext4, a classic snapshot, a thin pool and a thin snapshot.
# Usage: lvm_smoke.sh DEVICE    (everything on DEVICE is destroyed)
set -eu
dev=${1:?usage: lvm_smoke.sh DEVICE}
vg=smoke
mnt=$(mktemp -d)
snap_mnt=$(mktemp -d)

step() { echo "== $*"; }
fail() { echo "lvm smoke: FAILED: $*" >&2; exit 1; }
expect_file() {  # FILE TEXT
    [ "$(cat "$1")" = "$2" ] || fail "$1 holds '$(cat "$1")', expected '$2'"
}
cleanup() {
    umount "$snap_mnt" 2>/dev/null || true
    umount "$mnt" 2>/dev/null || true
    vgremove -q -ff "$vg" >/dev/null 2>&1 || true
    pvremove -q -ff -y "$dev" >/dev/null 2>&1 || true
    rmdir "$mnt" "$snap_mnt"
}
trap cleanup EXIT

modprobe -a dm_mod dm_snapshot dm_thin_pool

step "PV, VG and a linear LV with ext4 on $dev"
pvcreate -q "$dev"
vgcreate -q "$vg" "$dev"
lvcreate -q -y -L 64M -n plain "$vg"
mkfs.ext4 -q "/dev/$vg/plain"
mount "/dev/$vg/plain" "$mnt"
echo before > "$mnt/data"
sync

step "classic snapshot keeps the old contents"
lvcreate -q -y -s -L 32M -n plain_snap "$vg/plain"
echo after > "$mnt/data"
sync
mount -o ro "/dev/$vg/plain_snap" "$snap_mnt"
expect_file "$snap_mnt/data" before
expect_file "$mnt/data" after
umount "$snap_mnt" "$mnt"
lvremove -q -y "$vg/plain_snap" "$vg/plain"

step "thin pool, thin volume larger than the pool, ext4"
lvcreate -q -y --type thin-pool -L 64M -n pool "$vg"
lvcreate -q -y -V 256M --thin -n thin "$vg/pool"
mkfs.ext4 -q "/dev/$vg/thin"
mount "/dev/$vg/thin" "$mnt"
echo before > "$mnt/data"
sync

step "thin snapshot keeps the old contents"
lvcreate -q -y -s -n thin_snap "$vg/thin"
lvchange -q -ay -K "$vg/thin_snap"
echo after > "$mnt/data"
sync
mount -o ro,noload "/dev/$vg/thin_snap" "$snap_mnt"
expect_file "$snap_mnt/data" before
expect_file "$mnt/data" after
origin=$(lvs --noheadings -o origin,pool_lv "$vg/thin_snap" | xargs)
[ "$origin" = "thin pool" ] || fail "thin_snap: origin and pool are '$origin', expected 'thin pool'"

echo "lvm smoke: ok"
