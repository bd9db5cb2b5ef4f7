"""The VM's pure cgroup v2 hierarchy, driven by plain cgroupfs writes.

Runs only inside a test VM, through the VM tier's bridge
(tests/vm/test_guest_suite.py); tests/vm/conftest.py keeps it out of host runs.
Every process a test starts lives in the test's own child cgroup, which the
fixture kills and removes afterwards.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("cpu", "io", "memory", "pids")
MiB = 1 << 20


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


def keyed(path):
    """A flat-keyed cgroup file ("key value" lines) as a dict of ints."""
    return {k: int(v) for k, v in (line.split() for line in path.read_text().splitlines())}


def start_in(cgroup, argv, **kwargs):
    """Start ``argv`` as a member of ``cgroup`` (it joins before it execs)."""
    join = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
    return subprocess.Popen(["sh", "-c", join, str(cgroup), *argv], **kwargs)


@pytest.fixture
def cgroup(request):
    """A fresh child cgroup of the root (which enables cpu, io, memory, pids); killed and removed after."""
    assert os.environ.get("HACONTAIN_VM_GUEST"), "runs only inside a VM of the VM tier"
    path = ROOT / f"test-{request.node.name}-{os.getpid()}"
    path.mkdir()
    yield path
    (path / "cgroup.kill").write_text("1")
    wait_for(lambda: keyed(path / "cgroup.events")["populated"] == 0, 10, f"{path} emptied")
    path.rmdir()


def test_hierarchy_is_pure_v2_with_nsdelegate():
    mounts = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
    cgroup_mounts = [(m[1], m[2], m[3]) for m in mounts if m[2] in ("cgroup", "cgroup2")]
    assert len(cgroup_mounts) == 1, cgroup_mounts
    where, fstype, options = cgroup_mounts[0]
    assert (where, fstype) == ("/sys/fs/cgroup", "cgroup2")
    assert "nsdelegate" in options.split(",")
    assert set(CONTROLLERS) <= set((ROOT / "cgroup.controllers").read_text().split())
    assert set(CONTROLLERS) <= set((ROOT / "cgroup.subtree_control").read_text().split())


def test_memory_max_oom_kills_the_hog_only(cgroup):
    (cgroup / "memory.max").write_text(str(32 * MiB))
    bystander = start_in(cgroup, ["sleep", "120"])
    hog = start_in(cgroup, [sys.executable, "-c", "b = [bytearray(1 << 20) for _ in range(256)]"])
    assert hog.wait(timeout=60) == -9, "the hog was not SIGKILLed"
    assert keyed(cgroup / "memory.events")["oom_kill"] >= 1
    assert bystander.poll() is None, "the OOM killer took the bystander too"


def test_pids_max_stops_a_fork_bomb(cgroup, tmp_path):
    (cgroup / "pids.max").write_text("16")
    refused = tmp_path / "refused"
    # A bounded bomb: a binary tree of depth 7 (up to 255 processes) whose
    # members sleep; each refused fork appends a byte to ``refused``.
    bomb = f"""
import os, time
for depth in range(7):
    try:
        if os.fork() == 0:
            continue
        if os.fork() == 0:
            continue
    except BlockingIOError:
        with open({str(refused)!r}, "a") as f:
            f.write("x")
    break
time.sleep(60)
"""
    start_in(cgroup, [sys.executable, "-c", bomb])
    wait_for(lambda: refused.exists() and keyed(cgroup / "pids.events")["max"] > 0, 60, "a fork refused at pids.max")
    assert int((cgroup / "pids.current").read_text()) <= 16


def test_cgroup_freeze_stops_and_thaw_resumes(cgroup, tmp_path):
    counter = tmp_path / "counter"
    ticker = f'i=0; while :; do i=$((i+1)); echo $i > {counter}; sleep 0.05; done'
    start_in(cgroup, ["sh", "-c", ticker])
    wait_for(counter.exists, 10, "the ticker started")

    (cgroup / "cgroup.freeze").write_text("1")
    wait_for(lambda: keyed(cgroup / "cgroup.events")["frozen"] == 1, 10, "cgroup.events frozen 1")
    frozen_at = counter.read_text()
    time.sleep(0.5)
    assert counter.read_text() == frozen_at, "a frozen process kept running"

    (cgroup / "cgroup.freeze").write_text("0")
    wait_for(lambda: keyed(cgroup / "cgroup.events")["frozen"] == 0, 10, "cgroup.events frozen 0")
    wait_for(lambda: counter.read_text() != frozen_at, 10, "the thawed ticker moved on")


def test_cgroup_kill_empties_the_cgroup(cgroup):
    # Children in the same and in a new session: cgroup.kill reaches them all.
    tree = start_in(cgroup, ["sh", "-c", "sleep 300 & sleep 300 & setsid sleep 300 & wait"])
    wait_for(lambda: len((cgroup / "cgroup.procs").read_text().split()) == 4, 10, "four processes in the cgroup")

    (cgroup / "cgroup.kill").write_text("1")
    wait_for(lambda: keyed(cgroup / "cgroup.events")["populated"] == 0, 10, "cgroup.events populated 0")
    assert tree.wait(timeout=10) == -9
    assert (cgroup / "cgroup.procs").read_text() == ""


def test_cpu_max_throttles(cgroup):
    (cgroup / "cpu.max").write_text("10000 100000")  # 10 % of one CPU
    spin = "import time\nend = time.monotonic() + 2\nwhile time.monotonic() < end: pass"
    start = time.monotonic()
    assert start_in(cgroup, [sys.executable, "-c", spin]).wait(timeout=60) == 0
    wall_usec = (time.monotonic() - start) * 1e6
    stat = keyed(cgroup / "cpu.stat")
    assert stat["nr_throttled"] > 0
    assert stat["usage_usec"] < 0.3 * wall_usec, stat
