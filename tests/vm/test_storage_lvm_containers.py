"""Containers on LVM inside a VM (the host kernel has no device-mapper): thick and thin
LVs made by `hacontain create -B lvm`, started (the LV mounted in the container's own
mount namespace), data kept over a restart, snapshot clones (thick with a COW size,
thin activated with -K), the guards (a base with a thick clone, an LV mounted elsewhere,
an inactive LV), destroy removing only the LVs hacontain made."""

import json

import pytest

from testbed.vm.fleet import booted

pytestmark = [pytest.mark.vm, pytest.mark.vmextended]

LXCPATH = "/tmp/lxc"
NAME_AND_MARKER = "hostname; cat /root-marker"
HACONTAIN = ["python3", "-c", "import sys; sys.argv[0] = 'hacontain'; "
             "from hacontain.cli import main; main()"]
SETUP = ("modprobe -a dm_mod dm_snapshot dm_thin_pool && pvcreate -q /dev/vdb && "
         "vgcreate -q lxc /dev/vdb && lvcreate -q -y --type thin-pool -L 300M -n pool lxc")


class Guest:
    def __init__(self, vm, checkout):
        self.vm, self.checkout = vm, checkout
        self.env = {"PYTHONPATH": str(checkout), "PYTHONDONTWRITEBYTECODE": "1"}

    def hc(self, command, *args, ok=True):
        result = self.vm.run(HACONTAIN + [command, "-P", LXCPATH, *args], timeout=120,
                             env=self.env, cwd="/")
        if ok:
            assert result.rc == 0, f"hacontain {command} {args}: {result.stdout}{result.stderr}"
        return result

    def sh(self, script):
        return self.vm.check(["sh", "-c", script], timeout=120).stdout

    def inside(self, name, script):
        return self.hc("attach", name, "--", "/bin/sh", "-c", script).stdout

    def lv(self, name):
        """The LV's lvs row (lv_attr, lv_tags, origin, pool_lv, lv_autoactivation), or None."""
        report = json.loads(self.sh(
            "lvs --reportformat json -o lv_name,lv_attr,lv_tags,origin,pool_lv,"
            "lv_autoactivation lxc"))
        rows = [row for row in report["report"][0]["lv"] if row["lv_name"] == name]
        return rows[0] if rows else None


def lifecycle(guest, name):
    guest.hc("start", name)
    guest.inside(name, "echo kept > /root-marker && sync")
    assert "/dev/mapper/lxc-" not in guest.sh("cat /proc/self/mountinfo")   # host never sees it
    guest.hc("stop", name)
    guest.hc("start", name)
    assert guest.inside(name, "cat /root-marker").strip() == "kept"
    guest.hc("stop", name)


def test_lvm_thick_and_thin_containers(vm_image, checkout):
    with booted(vm_image, ["lvm-ct"], share=checkout, data_disk_size="640M") as [vm]:
        guest = Guest(vm, checkout)
        guest.sh(SETUP)

        # thick: create, run, a thick snapshot clone with its COW size, guards, destroy
        guest.hc("create", "thick", "-t", "busybox", "-B", "lvm", "--fssize", "128M")
        row = guest.lv("thick")
        assert "hacontain" in row["lv_tags"] and row["lv_autoactivation"] == ""
        assert "lxc.rootfs.path = lvm:/dev/lxc/thick" in guest.sh(f"cat {LXCPATH}/thick/config")
        lifecycle(guest, "thick")
        guest.hc("copy", "-s", "thick", "thicksnap", "--fssize", "64M")
        assert guest.lv("thicksnap")["origin"] == "thick"
        guest.hc("start", "thicksnap")
        assert guest.inside("thicksnap", NAME_AND_MARKER).split() == ["thicksnap", "kept"]
        refused = guest.hc("destroy", "-f", "thick", ok=False)
        assert refused.rc == 1 and "clones that depend on it: thicksnap" in refused.stderr
        guest.hc("destroy", "-f", "thicksnap")
        assert guest.lv("thicksnap") is None
        guest.hc("destroy", "thick")
        assert guest.lv("thick") is None

        # thin: create in the pool, run, a thin snapshot (skip flag: activated with -K)
        guest.hc("create", "thin", "-t", "busybox", "-B", "lvm", "--thinpool", "pool",
                 "--fssize", "256M")
        assert guest.lv("thin")["pool_lv"] == "pool" and guest.lv("thin")["lv_attr"][9] == "k"
        lifecycle(guest, "thin")
        guest.hc("copy", "-s", "thin", "thinsnap")
        assert guest.lv("thinsnap")["lv_attr"][4] == "a"          # active despite the skip flag
        guest.hc("start", "thin")
        guest.hc("start", "thinsnap")
        assert guest.inside("thinsnap", NAME_AND_MARKER).split() == ["thinsnap", "kept"]
        guest.inside("thinsnap", "echo snap > /root-marker")
        assert guest.inside("thin", "cat /root-marker").strip() == "kept"
        guest.hc("stop", "thinsnap")

        # guards: the LV mounted elsewhere on this node; the LV not active here
        guest.sh("mkdir -p /mnt/elsewhere && mount /dev/lxc/thinsnap /mnt/elsewhere")
        refused = guest.hc("start", "thinsnap", ok=False)
        guest.sh("umount /mnt/elsewhere")
        assert refused.rc == 1
        assert ("/dev/lxc/thinsnap is already mounted on this node at /mnt/elsewhere"
                in refused.stderr)
        guest.sh("lvchange -an lxc/thinsnap")
        refused = guest.hc("start", "thinsnap", ok=False)
        assert refused.rc == 1 and "is not active on this node" in refused.stderr
        guest.sh("lvchange -ay -K lxc/thinsnap")

        # thin snapshots are independent: the base may go first
        guest.hc("destroy", "-f", "thin")
        assert guest.lv("thin") is None
        guest.hc("start", "thinsnap")
        assert guest.inside("thinsnap", "cat /root-marker").strip() == "snap"
        guest.hc("destroy", "-f", "thinsnap")
        assert guest.lv("thinsnap") is None

        # an LV hacontain did not make is kept when its container is destroyed
        guest.sh("lvcreate -q -y -L 64M -n foreign lxc && mkfs.ext4 -q /dev/lxc/foreign")
        guest.hc("create", "user", "-t", "busybox")
        guest.sh(f"sed -i 's|^lxc.rootfs.path = .*|lxc.rootfs.path = lvm:/dev/lxc/foreign|' "
                 f"{LXCPATH}/user/config")
        guest.hc("destroy", "user")
        assert guest.lv("foreign") is not None
