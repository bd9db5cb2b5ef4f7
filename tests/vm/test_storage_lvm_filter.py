"""`hacontain checkconfig` inside a VM (DRBD 8.4 module, LVM): it warns, naming the fix,
when a DRBD resource is configured and lvm.conf's filters do not reject its backing
disk, and stops warning once they do; with a DRBD device of no configured resource it
warns only while the filters reject nothing."""

import pytest
from test_storage_lvm_containers import Guest

from testbed.vm.fleet import booted

pytestmark = [pytest.mark.vm, pytest.mark.vmextended]

RESOURCE = ("import os; from hacontain.storage import drbd; "
            "drbd.write_resource('r0', drbd.resource_file('r0', 0, 7789, "
            "[(os.uname().nodename, '192.0.2.11', '/dev/vdb'), "
            "('peer', '192.0.2.12', '/dev/vdb')], drbd.kernel_version()))")
FILTER = 'devices { global_filter = [ "a|^/dev/drbd.*|", "r|^/dev/vdb$|" ] }'
DRBDSETUP = "/usr/lib/drbd/drbdsetup-84"


def warnings(guest):
    result = guest.hc("checkconfig")
    return [line for line in result.stdout.splitlines() if line.startswith("warning:")]


def test_checkconfig_warns_of_a_missing_lvm_filter_for_drbd(vm_image, checkout):
    with booted(vm_image, ["lvm-filter"], share=checkout, data_disk_size="64M") as [vm]:
        guest = Guest(vm, checkout)
        guest.sh("modprobe drbd")
        assert warnings(guest) == []                               # no DRBD configured

        guest.vm.check(["python3", "-c", RESOURCE], env=guest.env, timeout=120)
        [warning] = warnings(guest)
        assert "the DRBD backing disk /dev/vdb is not rejected" in warning
        assert f"e.g. {FILTER}" in warning

        guest.sh(f"cp /etc/lvm/lvm.conf /tmp/lvm.conf.orig && echo '{FILTER}' >> /etc/lvm/lvm.conf")
        assert warnings(guest) == []

        # a DRBD device of no configured resource: its backing disk is unknown
        guest.sh(f"rm /etc/drbd.d/r0.res && {DRBDSETUP} new-resource r9 && "
                 f"{DRBDSETUP} new-minor r9 9 0 && test -e /sys/block/drbd9")
        assert warnings(guest) == []                               # the filter rejects some
        guest.sh("cp /tmp/lvm.conf.orig /etc/lvm/lvm.conf")
        [warning] = warnings(guest)
        assert "DRBD devices exist" in warning and "reject no device" in warning
        guest.sh(f"{DRBDSETUP} del-minor 9 && {DRBDSETUP} del-resource r9")
        assert warnings(guest) == []
