"""cgroup behaviours on the real kernel through this host's v1 controllers.

Runs where the host mounts the v1 controllers (a v1 or hybrid host) as root.
Each test runs twice: with the host's own layout ("host": on a hybrid host
the container is also tracked on the unified v2 hierarchy, which freezes and
kills), and as a pure v1 host would see it ("v1-only": the same mounts minus
cgroup2, so freezer.state and freeze-kill-thaw are used).
"""

import os
import signal

import pytest

import test_cgroup_checks as checks
from hacontain.runtime.cgroups import bpf_devices
from hacontain.runtime.cgroups.devices import build_policy
from hacontain.runtime.cgroups.layout import detect_layout

NEEDED = ("memory", "pids", "cpu", "cpuacct", "cpuset", "freezer", "devices")


def _unavailable():
    if os.geteuid() != 0:
        return "needs root"
    layout = detect_layout()
    mounted = {c for hierarchy in layout.v1 for c in hierarchy.controllers}
    missing = [c for c in NEEDED if c not in mounted]
    if missing:
        return f"this host ({layout.kind}) has no cgroup v1 {', '.join(missing)} controller"
    return None


pytestmark = [pytest.mark.root, pytest.mark.skipif(_unavailable() is not None,
                                                     reason=str(_unavailable()))]


@pytest.fixture(params=["host", "v1-only"])
def scope(request, tmp_path):
    proc = "/proc"
    if request.param == "v1-only":
        (tmp_path / "self").mkdir()
        with open("/proc/self/mountinfo") as handle:
            mounts = [line for line in handle if " - cgroup2 " not in line]
        (tmp_path / "self" / "mountinfo").write_text("".join(mounts))
        with open("/proc/self/cgroup") as handle:
            (tmp_path / "self" / "cgroup").write_text(handle.read())
        proc = str(tmp_path)
    with checks.CgroupScope(proc) as scope:
        assert scope.layout().kind == ("v1" if request.param == "v1-only" else detect_layout().kind)
        yield scope


def test_memory_limit_oom_kills_inside_only(scope):
    checks.check_memory_limit_oom_kills_inside_only(scope)


def test_pids_limit_stops_a_fork_loop(scope):
    checks.check_pids_limit_stops_a_fork_loop(scope)


def test_cpuset_pins(scope):
    checks.check_cpuset_pins(scope)


def test_cpu_quota_throttles(scope):
    checks.check_cpu_quota_throttles(scope)


def test_freeze_stops_progress_and_thaw_resumes(scope):
    checks.check_freeze_stops_progress_and_thaw_resumes(scope)


def test_kill_all_empties_and_remove_removes(scope):
    checks.check_kill_all_empties_and_remove_removes(scope)


def test_denied_devices_cannot_be_opened(scope):
    checks.check_denied_devices_cannot_be_opened(scope)


def test_live_memory_change(scope):
    checks.check_live_memory_change(scope)


def test_stats_count_members(scope):
    checks.check_stats_count_members(scope)


def test_v1_freezer_state_is_what_freezes_without_v2(scope):
    cg = scope.cgroup()
    checks.start_family(scope, cg)
    cg.freeze()
    state = cg.get("lxc.cgroup.freezer.state")
    assert state == ("FROZEN" if scope.layout().kind == "v1" else "THAWED")
    cg.thaw()


def test_the_default_parent_is_made_and_removed(scope):
    cg = scope.cgroup(default_parent=True)
    record = cg.paths["hierarchies"]
    for hierarchy in scope.layout().hierarchies:
        assert record[hierarchy.key]["owned"] == [f"{hierarchy.caller.rstrip('/')}/hacontain"]
        assert os.path.isdir(hierarchy.dir_of(record[hierarchy.key]["cgroup"]))
    cg.remove()
    for hierarchy in scope.layout().hierarchies:
        entry = record[hierarchy.key]
        assert not os.path.exists(hierarchy.dir_of(entry["cgroup"]))
        parent = hierarchy.dir_of(entry["owned"][0])
        # gone, unless another container (of a concurrent run) still uses it
        assert not os.path.exists(parent) or any(
            os.path.isdir(os.path.join(parent, d)) for d in os.listdir(parent))


@pytest.fixture
def hybrid_scope():
    if detect_layout().kind != "hybrid":
        pytest.skip(f"needs a hybrid host (this one is {detect_layout().kind})")
    with checks.CgroupScope() as scope:
        yield scope


def test_unified_cgroup_kill_on_a_hybrid_host(hybrid_scope):
    checks.check_unified_cgroup_kill(hybrid_scope)


def test_bpf_device_filter_on_the_unified_hierarchy(hybrid_scope):
    """The v2 device program, for real: attached to the container's unified cgroup,
    it denies what the (allow-all here) v1 rules would let through."""
    cg = hybrid_scope.cgroup(devices=[("allow", "a")])
    unified = next(h for h in hybrid_scope.layout().hierarchies if h.version == 2)
    bpf_devices.attach(build_policy([("allow", "c 1:3 rwm"), ("allow", "c 1:7 r")]),
                       unified.dir_of(cg.paths["hierarchies"][unified.key]["cgroup"]))
    result = checks.opens(hybrid_scope, cg, ["/dev/null", "/dev/zero", "/dev/full"])
    assert result == {"/dev/null": "ok", "/dev/zero": "1", "/dev/full": "ok"}
    write_full = hybrid_scope.start(cg, "import os\ntry:\n    os.open('/dev/full', os.O_WRONLY)\n"
                                        "except OSError as e:\n    print(e.errno)")
    assert write_full.communicate(timeout=10)[0].strip() == "1"


@pytest.mark.parametrize("where", ["guest", "sub-cgroup"])
def test_kill_all_ends_processes_the_guest_froze_itself(scope, where):
    """A v1-frozen task does not die of SIGKILL until thawed: a guest that freezes its
    own cgroup (or one it made) below the container's cannot survive kill_all."""
    cg = scope.cgroup()
    family = checks.start_family(scope, cg)
    freezer = os.path.dirname(cg._v1.path("freezer.state"))
    frozen = os.path.join(freezer, "guest")
    if where == "sub-cgroup":
        frozen = os.path.join(frozen, "sub")
        os.mkdir(frozen)
        for pid in cg.pids():
            with open(os.path.join(frozen, "cgroup.procs"), "w") as handle:
                handle.write(str(pid))
    try:
        with open(os.path.join(frozen, "freezer.state"), "w") as handle:
            handle.write("FROZEN")
        checks.wait_for(lambda: open(os.path.join(frozen, "freezer.state")).read().strip()
                        == "FROZEN", what="the guest's cgroup frozen")
        cg.kill_all(5)
        assert cg.pids() == []
        assert family.wait(10) == -signal.SIGKILL
    finally:
        with open(os.path.join(frozen, "freezer.state"), "w") as handle:
            handle.write("THAWED")            # so that the scope can end them if kill_all failed
