"""xfs rootfs on LVM inside a VM: `hacontain create -B lvm --fstype xfs`, thick and thin,
started, written, stopped and restarted with the data; thin snapshot clones (of a
stopped source, and of a running one with --allow-running) get a new xfs UUID, so the
clone and its source run at the same time (xfs refuses to mount two filesystems of
one UUID on a node); a full copy onto a new thick LV."""

import pytest
from test_storage_lvm_containers import LXCPATH, NAME_AND_MARKER, Guest, lifecycle

from testbed.vm.fleet import booted

pytestmark = [pytest.mark.vm, pytest.mark.vmextended]

SETUP = ("modprobe -a dm_mod dm_snapshot dm_thin_pool && pvcreate -q /dev/vdb && "
         "vgcreate -q lxc /dev/vdb && lvcreate -q -y --type thin-pool -L 700M -n pool lxc")


def uuid(guest, lv):
    return guest.sh(f"blkid -p -o value -s UUID /dev/lxc/{lv}").strip()


def root_mount(guest, name):
    """(device, type) of the container's / as it sees it."""
    fields = guest.inside(name, "grep ' / ' /proc/mounts").split()
    return fields[0], fields[2]


def test_xfs_on_lvm_thick_thin_and_snapshot_clones(vm_image, checkout):
    with booted(vm_image, ["lvm-xfs"], share=checkout, data_disk_size="1600M") as [vm]:
        guest = Guest(vm, checkout)
        guest.sh(SETUP)

        guest.hc("create", "thick", "-t", "busybox", "-B", "lvm", "--fstype", "xfs",
                 "--fssize", "300M")
        assert guest.sh("blkid -p -o value -s TYPE /dev/lxc/thick").strip() == "xfs"
        lifecycle(guest, "thick")
        guest.hc("start", "thick")
        assert root_mount(guest, "thick")[1] == "xfs"
        guest.hc("stop", "thick")
        guest.hc("destroy", "thick")
        assert guest.lv("thick") is None

        guest.hc("create", "thin", "-t", "busybox", "-B", "lvm", "--fstype", "xfs",
                 "--thinpool", "pool", "--fssize", "320M")
        assert guest.lv("thin")["pool_lv"] == "pool"
        lifecycle(guest, "thin")

        guest.hc("copy", "-s", "thin", "snap")                   # of the stopped source
        assert guest.lv("snap")["origin"] == "thin"
        assert uuid(guest, "snap") not in ("", uuid(guest, "thin"))
        guest.hc("start", "thin")
        guest.hc("start", "snap")                                 # both mounted at once
        assert guest.inside("snap", NAME_AND_MARKER).split() == ["snap", "kept"]
        assert root_mount(guest, "snap")[1] == "xfs"
        guest.inside("snap", "echo snap > /root-marker && sync")
        assert guest.inside("thin", "cat /root-marker").strip() == "kept"

        guest.inside("thin", "echo live > /live-marker && sync")
        guest.hc("copy", "-s", "--allow-running", "thin", "live")  # of the running source
        assert uuid(guest, "live") not in ("", uuid(guest, "thin"), uuid(guest, "snap"))
        guest.hc("start", "live")                                  # three at once
        assert guest.inside("live", "hostname; cat /live-marker").split() == ["live", "live"]
        for name in ("live", "snap", "thin"):
            guest.hc("stop", name)

        # a full copy onto a new thick LV: a new filesystem, the files copied
        guest.hc("copy", "-B", "lvm", "--fstype", "xfs", "--fssize", "300M", "snap", "full")
        assert guest.lv("full")["origin"] == "" and guest.lv("full")["pool_lv"] == ""
        guest.hc("start", "full")
        assert guest.inside("full", NAME_AND_MARKER).split() == ["full", "snap"]
        guest.hc("stop", "full")
        for name in ("full", "live", "snap", "thin"):
            guest.hc("destroy", name)
            assert guest.lv(name) is None
        assert "xfs" not in guest.sh(f"cat /proc/self/mountinfo; ls {LXCPATH}")
