"""The rootfs-in-use refusal, now that the scan of the host's processes runs in the
start's first child once it has forked the new init (which may already have pivoted
into the rootfs), while the start checks the host's network: a second init over a
running container's rootfs, or over a chroot's root, is still refused, with the same
error, and the refused start leaves nothing (state, cgroup, veth, console holder,
mounts); the starting init itself never counts as a user of its rootfs."""

import json
import os
import subprocess
import time

import pytest

from clitools import HACONTAIN, cgroups_named, mounts_below
from hacontain.errors import HacontainError, StateError
from hacontain.runtime import container as container_module
from hacontain.runtime import state as statefile
from hacontain.runtime.console import socket_path
from hacontain.runtime.network.spec import generated_host_name
from hacontain.runtime.status import rootfs_users
from hacontain.sys import proc
from netnstools import Netns

pytestmark = pytest.mark.root

VETH = ["lxc.net.0.type = veth", "lxc.net.0.link = br0", "lxc.net.0.flags = up"]


@pytest.fixture
def host():
    """A test-made netns standing in for the host's network: bridge br0, 192.0.2.1/24."""
    netns = Netns("hco")
    for command in (["link", "set", "lo", "up"], ["link", "add", "br0", "type", "bridge"],
                    ["addr", "add", "192.0.2.1/24", "dev", "br0"], ["link", "set", "br0", "up"]):
        netns.ip(*command)
    yield netns
    netns.remove()


def in_host(host, *args):
    return subprocess.run(["nsenter", f"--net={host.path}", *HACONTAIN, *args],
                          capture_output=True, text=True, timeout=120)


def rootfs_of(ct):
    return ct.load_config().rootfs or os.path.join(ct.directory, "rootfs")


def children():
    """PIDs of this process's children, zombies included (a console holder not reaped)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if proc.stat(entry)[1] == os.getpid():
                    found.add(int(entry))
            except proc.ProcessGone:
                pass
    return found


def assert_nothing_left(ct, host=None):
    """No state, cgroup, console socket, mount or host-side veth of `ct`."""
    assert statefile.read(ct.name) is None, "a refused start leaves no state"
    assert not ct.status().present
    assert cgroups_named(ct.name) == [], "a refused start leaves no cgroup"
    assert not os.path.lexists(socket_path(statefile.directory(ct.name))), \
        "a refused start leaves no console socket"
    assert mounts_below(os.environ["HACONTAIN_RUNDIR"]) == []
    if host is not None:
        assert generated_host_name(ct.name, 0) not in host.links(), \
            "a refused start leaves no veth"


def test_a_second_init_over_a_running_rootfs_is_refused_and_leaves_nothing(
        host, make_container):
    """Through the CLI, both containers with a veth on br0: the second, another name and
    config over the first one's rootfs, is refused; the first runs on untouched; once it
    is stopped, the second starts."""
    first = make_container(VETH)
    rootfs = rootfs_of(first)
    second = make_container(VETH + [f"lxc.rootfs.path = dir:{rootfs}"])
    assert in_host(host, "start", first.name).returncode == 0
    init = first.status().state.pid
    started = proc.start_time(init)

    result = in_host(host, "start", second.name)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert (f"container {second.name}: rootfs {rootfs} is in use by process {init} "
            in result.stderr), result.stderr
    assert "not starting a second init on it" in result.stderr
    assert_nothing_left(second, host)
    assert proc.is_alive(init, started) and first.status().running
    first_processes = first._open_recorded_cgroup(first.status().state).pids()
    assert set(rootfs_users(rootfs)) <= set(first_processes), \
        "no process of the refused start is left on the rootfs"

    assert in_host(host, "stop", "-k", first.name).returncode == 0
    assert in_host(host, "start", second.name).returncode == 0, "nothing blocks a later start"
    assert in_host(host, "stop", "-k", second.name).returncode == 0


class LateScan:
    """The start's scan, made to wait until the new init has pivoted into its rootfs (a
    process but those `others()` lists has it as root), so that it always sees the new
    init; it runs in the start's first child, which writes to the file `record` the
    PIDs it found (`seen`), its own PID and where its stdout and stderr lead
    (`scanner`)."""

    def __init__(self, record):
        self.others, self.record = tuple, record

    def __call__(self, rootfs):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            users = rootfs_users(rootfs)
            if set(users) - set(self.others()):
                with open(self.record, "w", encoding="utf-8") as handle:
                    json.dump({"seen": users, "pid": os.getpid(), "stdio": [
                        os.readlink(f"/proc/self/fd/{fd}") for fd in (1, 2)]}, handle)
                return users
            time.sleep(0.005)
        raise AssertionError(f"no new init pivoted into {rootfs} within 30 s")

    @property
    def scanner(self):
        with open(self.record, encoding="utf-8") as handle:
            return json.load(handle)

    @property
    def seen(self):
        return self.scanner["seen"]


@pytest.fixture
def late_scan(monkeypatch, tmp_path):
    scan = LateScan(tmp_path / "seen")
    monkeypatch.setattr(container_module, "rootfs_users", scan)
    return scan


def test_the_new_init_is_not_a_user_of_its_own_rootfs(make_container, late_scan):
    ct = make_container()
    record = ct.start()
    assert record.pid in late_scan.seen, "the scan ran after the init had pivoted"
    assert late_scan.scanner["pid"] == record.holder, "the first child (the holder) scanned"
    assert late_scan.scanner["stdio"] == ["/dev/null"] * 2, \
        "the first child let go of the caller's stdout and stderr before its scan"
    assert ct.status().running


def test_a_late_scan_still_refuses_and_names_the_other_init(make_container, late_scan):
    """The scan sees both inits: the refusal names the running one, never the new one."""
    first = make_container()
    rootfs = rootfs_of(first)
    second = make_container([f"lxc.rootfs.path = dir:{rootfs}"])
    first.start()
    init = first.status().state.pid
    first_processes = first._open_recorded_cgroup(first.status().state).pids
    late_scan.others = first_processes
    ours = children()
    with pytest.raises(StateError) as refused:
        second.start()
    message = str(refused.value)
    assert f"rootfs {rootfs} is in use by process {init} " in message, message
    assert set(late_scan.seen) - set(first_processes()), "the new init had pivoted"
    assert_nothing_left(second)
    assert children() == ours, "the refused start's console holder is reaped"
    assert set(rootfs_users(rootfs)) <= set(first_processes())
    assert first.status().running


def test_a_failing_scan_ends_the_start_and_leaves_nothing(make_container, monkeypatch):
    def failing_scan(rootfs):
        raise HacontainError(f"scan of {rootfs} failed")

    monkeypatch.setattr(container_module, "rootfs_users", failing_scan)
    ct = make_container()
    rootfs = rootfs_of(ct)
    ours = children()
    with pytest.raises(HacontainError, match="scan of .* failed"):
        ct.start()
    assert_nothing_left(ct)
    assert children() == ours, "the first child is killed and reaped"
    assert rootfs_users(rootfs) == [], "no init is left on the rootfs"


def test_a_chroot_into_the_rootfs_is_a_user_and_blocks_the_start(make_container):
    """A process chrooted into the rootfs (no namespace, no mount of its own) is found,
    and the start is refused naming it; once it is gone, the start goes on."""
    ct = make_container()
    rootfs = rootfs_of(ct)
    ours = children()
    chrooted = subprocess.Popen(["chroot", rootfs, "/bin/busybox", "sleep", "600"])
    try:
        deadline = time.monotonic() + 30
        while chrooted.pid not in rootfs_users(rootfs):
            assert time.monotonic() < deadline, "the chroot did not start within 30 s"
            assert chrooted.poll() is None, "the chroot ended"
            time.sleep(0.01)
        with pytest.raises(StateError) as refused:
            ct.start()
        assert (f"rootfs {rootfs} is in use by process {chrooted.pid} (busybox)"
                in str(refused.value)), str(refused.value)
        assert_nothing_left(ct)
        assert children() == ours | {chrooted.pid}, "the refused start's holder is reaped"
    finally:
        chrooted.kill()
        chrooted.wait()
    assert rootfs_users(rootfs) == []
    ct.start()
    assert ct.status().running
    ct.stop(kill=True)
