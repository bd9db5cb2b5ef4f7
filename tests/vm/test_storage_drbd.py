"""A two-VM DRBD 8.4 pair with LVM on top: initial sync, crash of the primary, failover, rejoin, failback.

Steps run in the VMs through tests/storage_smoke/drbd_node.sh; the crash is a
SIGKILL of the primary's qemu, and the restart reuses its disks.
"""

import pytest

from testbed.vm.fleet import booted

pytestmark = pytest.mark.vm

NODES = ("drbd-a", "192.0.2.11", "drbd-b", "192.0.2.12")
STEP_TIMEOUT = 180


def test_drbd_failover_after_primary_crash_and_rejoin(vm_image, checkout):
    script = str(checkout / "tests/storage_smoke/drbd_node.sh")

    def step(vm, *args):
        return vm.check(["sh", script, *args], timeout=STEP_TIMEOUT).stdout

    with booted(vm_image, ["drbd-a", "drbd-b"], linked=True, share=checkout, data_disk_size="64M") as [a, b]:
        for vm in (a, b):
            step(vm, "configure", *NODES)
        assert a.check(["cat", "/proc/drbd"]).stdout.startswith("version: 8.4."), "expected in-tree DRBD 8.4"
        step(a, "primary", "--force")
        step(a, "wait", "synced", "120")
        step(a, "lvm-create")
        step(a, "put", "first", "v1")
        step(a, "snapshot")
        step(a, "put", "first", "v2")

        a.crash()
        step(b, "wait", "peer-lost", "30")
        step(b, "primary")
        step(b, "lvm-up")
        assert step(b, "get", "first") == "v2\n"
        assert step(b, "get", "first", "snap") == "v1\n"
        step(b, "put", "second", "written on drbd-b after the failover")

        a.start()
        step(a, "up")
        step(a, "wait", "synced", "120")
        step(b, "release")
        step(b, "secondary")
        step(a, "primary")
        step(a, "lvm-up")
        assert step(a, "get", "first") == "v2\n"
        assert step(a, "get", "second") == "written on drbd-b after the failover\n"
