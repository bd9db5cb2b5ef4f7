"""cgroup behaviours on the real kernel of a pure cgroup v2 host.

Runs as root where /sys/fs/cgroup is a unified v2 hierarchy (the VM tier runs
it inside its VMs) and skips with the reason elsewhere. The container cgroups
live below the caller's cgroup, so that cgroup must delegate the memory,
pids, cpu and cpuset controllers (its cgroup.subtree_control). On a VM of
the VM tier (HACONTAIN_VM_GUEST=1), whose fresh root cgroup delegates none,
the fixture enables them there; elsewhere it never writes an existing
cgroup and skips instead, naming the command to run.
"""

import os

import pytest

import test_cgroup_checks as checks
from hacontain.runtime.cgroups.layout import detect_layout

NEEDED = ("cpu", "cpuset", "memory", "pids")


def _caller_cgroup():
    v2 = detect_layout().v2
    return v2, v2.dir_of(v2.caller)


def _missing_controllers():
    v2, caller = _caller_cgroup()
    with open(os.path.join(caller, "cgroup.subtree_control")) as handle:
        enabled = handle.read().split()
    return [c for c in NEEDED if c not in enabled]


def _unavailable():
    if os.geteuid() != 0:
        return "needs root"
    layout = detect_layout()
    if layout.kind != "v2":
        return f"needs a pure cgroup v2 host; this one is {layout.kind} (the VM tier runs it)"
    missing = [c for c in NEEDED if c not in layout.v2.controllers]
    if missing:
        return f"the kernel offers no {', '.join(missing)} controller on cgroup v2"
    return None


pytestmark = [pytest.mark.root, pytest.mark.skipif(_unavailable() is not None,
                                                     reason=str(_unavailable()))]


@pytest.fixture(scope="module", autouse=True)
def delegated_controllers():
    missing = _missing_controllers()
    if missing:
        v2, caller = _caller_cgroup()
        command = f"echo '{' '.join('+' + c for c in missing)}' > {caller}/cgroup.subtree_control"
        if not (os.environ.get("HACONTAIN_VM_GUEST") and v2.caller == "/"):
            pytest.skip(f"the caller's cgroup does not delegate {', '.join(missing)}: {command}")
        with open(os.path.join(caller, "cgroup.subtree_control"), "w") as handle:
            handle.write(" ".join("+" + c for c in missing))   # the VM's own root cgroup
    assert _missing_controllers() == []


@pytest.fixture
def scope():
    with checks.CgroupScope() as scope:
        yield scope


def test_memory_max_oom_kills_inside_only(scope):
    checks.check_memory_limit_oom_kills_inside_only(scope)


def test_pids_max_stops_a_fork_loop(scope):
    checks.check_pids_limit_stops_a_fork_loop(scope)


def test_cpuset_pins(scope):
    checks.check_cpuset_pins(scope)


def test_cpu_max_throttles(scope):
    checks.check_cpu_quota_throttles(scope)


def test_cgroup_freeze_stops_progress_and_thaw_resumes(scope):
    checks.check_freeze_stops_progress_and_thaw_resumes(scope)


def test_kill_all_empties_and_remove_removes(scope):
    checks.check_kill_all_empties_and_remove_removes(scope)


def test_cgroup_kill(scope):
    checks.check_unified_cgroup_kill(scope)


def test_bpf_device_filter_blocks_denied_devices(scope):
    checks.check_denied_devices_cannot_be_opened(scope)


def test_live_memory_change(scope):
    checks.check_live_memory_change(scope)


def test_stats_count_members(scope):
    checks.check_stats_count_members(scope)


def test_v2_files_and_version_independent_keys_agree(scope):
    cg = scope.cgroup([("hacontain.limit.cpu.quota", "0.25"), ("hacontain.limit.cpu.shares", "1024"),
                       ("lxc.cgroup2.pids.max", "42")])
    assert cg.layout() == "v2"
    assert cg.get("lxc.cgroup2.cpu.max") == "25000 100000"
    assert cg.get("lxc.cgroup2.cpu.weight") == "39"
    assert cg.get("hacontain.limit.pids") == "42"
