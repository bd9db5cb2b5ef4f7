"""The VM runner itself: commands through the guest agent, timeouts, the shared checkout,
crash and restart, and cleaning up after failures."""

from pathlib import Path

import pytest

from hacontain.errors import Timeout
from testbed.vm.agent_client import GuestCommandError
from testbed.vm.fleet import booted, leftovers
from testbed.vm.image import VmImage
from testbed.vm.machine import VmStopped

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def vm(vm_image, checkout):
    with booted(vm_image, ["runner"], share=checkout) as [vm]:
        yield vm


def test_command_returns_rc_stdout_and_stderr(vm):
    result = vm.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.rc, result.stdout, result.stderr) == (3, "out\n", "err\n")
    with pytest.raises(GuestCommandError, match="in VM runner: sh -c exit 4 exited with 4"):
        vm.check(["sh", "-c", "exit 4"])
    assert vm.check(["cat"], input="to stdin").stdout == "to stdin"


def test_timeout_kills_the_whole_process_group(vm):
    with pytest.raises(Timeout, match="did not finish within 2 s"):
        vm.run(["sh", "-c", "sleep 300 & sleep 300"], timeout=2)
    assert vm.run(["pgrep", "-x", "sleep"]).rc == 1, "a sleep of the killed command survived"


def test_guest_is_the_expected_system(vm, checkout):
    assert vm.check(["uname", "-r"]).stdout.startswith("6.1.")
    assert vm.check(["hostname"]).stdout == "runner\n"
    mounts = vm.check(["cat", "/proc/mounts"]).stdout.splitlines()
    assert any(m.split()[1:3] == [str(checkout), "9p"] and "ro" in m.split()[3].split(",") for m in mounts), mounts
    assert vm.check(["test", "-f", str(checkout / "pyproject.toml")]).rc == 0
    assert vm.run(["touch", str(checkout / "written-by-vm")]).rc != 0, "the shared checkout is writable"


def test_crash_and_restart_keep_the_disks(vm):
    vm.check(["sh", "-c", "echo kept > /var/tmp/on-root && sync"])
    vm.check(["sh", "-c", "echo on-data | dd of=/dev/vdb oflag=direct,sync conv=sync bs=512 count=1 2>/dev/null"])
    vm.crash()
    vm.start()
    assert vm.check(["cat", "/var/tmp/on-root"]).stdout == "kept\n"
    assert vm.check(["sh", "-c", "head -c 8 /dev/vdb"]).stdout == "on-data\n"


def test_failed_boot_is_reported_and_cleaned_up(vm_image, tmp_path):
    broken = tmp_path / "image"
    broken.mkdir()
    for part in ("vmlinuz", "initrd.img"):
        (broken / part).symlink_to(vm_image.directory / part)
    with open(broken / "rootfs.img", "wb") as blank:
        blank.truncate(64 << 20)
    before = set(leftovers())
    with pytest.raises(VmStopped, match="(?s)VM broken: qemu exited .*initrd: cannot mount /dev/vda"):
        with booted(VmImage(broken, {}), ["broken"], share=None):
            pass
    assert set(leftovers()) <= before


def test_failure_in_the_body_stops_the_vm_and_removes_its_files(vm_image):
    before = set(leftovers())
    with pytest.raises(RuntimeError, match="test body failed"):
        with booted(vm_image, ["doomed"], share=None) as [vm]:
            pid, workdir = vm.process.pid, vm.workdir
            raise RuntimeError("test body failed")
    assert not Path(f"/proc/{pid}").exists() and not workdir.exists()
    assert set(leftovers()) <= before
