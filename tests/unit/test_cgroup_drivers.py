"""ContainerCgroup and its v1/v2 drivers against temp directories laid out like
/sys/fs/cgroup on v1, v2 and hybrid hosts. FakeKernel stands in for cgroupfs
where a plain directory cannot: it fills new cgroups with control files,
refuses to remove busy ones, and keeps subtree_control/freeze/events
consistent. The same paths run on the real kernel in tests/integration.
"""

import errno
import json
import os

import pytest

from hacontain.errors import AlreadyExists, ConfigError, KernelError, NotFound, StateError
from hacontain.runtime.cgroups import bpf_devices
from hacontain.runtime.cgroups.container_cgroup import ContainerCgroup
from hacontain.runtime.cgroups.devices import build_policy
from hacontain.runtime.cgroups.fs import CgroupFs
from hacontain.runtime.cgroups.layout import detect_layout
from hacontain.runtime.cgroups.limits import members
from test_cgroup_layout import build_host

V1_MAX = "9223372036854771712"
V1_FILES = {
    "memory": {"memory.limit_in_bytes": V1_MAX, "memory.memsw.limit_in_bytes": V1_MAX,
               "memory.usage_in_bytes": "1048576", "memory.max_usage_in_bytes": "2097152"},
    "cpu": {"cpu.shares": "1024", "cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000"},
    "cpuacct": {"cpuacct.stat": "user 250\nsystem 100"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "devices": {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm"},
    "freezer": {"freezer.state": "THAWED"},
    "pids": {"pids.max": "max", "pids.current": "3"},
    "blkio": {"blkio.throttle.read_bps_device": "", "blkio.throttle.write_bps_device": "",
              "blkio.throttle.read_iops_device": "", "blkio.throttle.write_iops_device": "",
              "blkio.throttle.io_service_bytes_recursive":
                  "8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288"},
    "net_cls": {"net_cls.classid": "0"}, "net_prio": {},
}
V1_CPUSET = ("cpuset.cpus", "cpuset.mems")
V2_CORE = {"cgroup.events": "populated 0\nfrozen 0", "cgroup.freeze": "0", "cgroup.kill": "",
           "cgroup.subtree_control": "", "cpu.stat": "usage_usec 3000000\nuser_usec 2000000\n"
                                                     "system_usec 1000000"}
V2_FILES = {
    "memory": {"memory.max": "max", "memory.swap.max": "max", "memory.current": "1048576",
               "memory.peak": "2097152"},
    "cpu": {"cpu.weight": "100", "cpu.max": "max 100000"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "io": {"io.max": "", "io.weight": "default 100", "io.stat": "8:0 rbytes=4096 wbytes=8192"},
    "pids": {"pids.max": "max", "pids.current": "3"},
}


class FakeKernel(CgroupFs):
    """cgroupfs behaviour on a temp dir, and a log of every write (relative path, value).
    A v1 cpuset list must lie within its parent's (EINVAL) and hold its children's (EBUSY)."""

    def __init__(self, layout, sysfs):
        self.layout, self.sysfs, self.log = layout, sysfs, []

    def _hierarchy(self, path):
        return max((h for h in self.layout.hierarchies if path.startswith(h.mountdir)),
                   key=lambda h: len(h.mountdir))

    def mkdir(self, path):
        created = super().mkdir(path)
        if created:
            hierarchy = self._hierarchy(path)
            files = {"cgroup.procs": ""}
            if hierarchy.version == 1:
                files["tasks"] = ""
                for controller in hierarchy.controllers:
                    files.update(V1_FILES[controller])
            else:
                parent = self.read(os.path.join(os.path.dirname(path), "cgroup.subtree_control"))
                files.update(V2_CORE, **{"cgroup.controllers": parent})
                for controller in parent.split():
                    files.update(V2_FILES.get(controller, {}))
            for name, text in files.items():
                with open(os.path.join(path, name), "w") as handle:
                    handle.write(text + "\n" if text else "")
        return created

    def _check_v1_cpuset(self, directory, name, value):
        wanted = members(value)
        parent = self.read(os.path.join(os.path.dirname(directory), name)).strip()
        if parent and not wanted <= members(parent):
            raise KernelError("write", errno.EINVAL, os.path.join(directory, name))
        for child in self.children(directory):
            used = self.read(os.path.join(child, name)).strip()
            if used and not members(used) <= wanted:
                raise KernelError("write", errno.EBUSY, os.path.join(directory, name))

    def rmdir(self, path):
        if not os.path.isdir(path):
            return False
        if self.procs(path) or self.children(path):
            raise KernelError("rmdir", errno.EBUSY, path)
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        return super().rmdir(path)

    def write(self, path, value, detail=None):
        self.log.append((os.path.relpath(path, self.sysfs), value))
        name, directory = os.path.basename(path), os.path.dirname(path)
        if name == "cgroup.subtree_control":
            enabled = set(self.read(path).split())
            available = self.read(os.path.join(directory, "cgroup.controllers")).split()
            for word in value.split():
                if word[1:] not in available:
                    raise KernelError("write", errno.ENOENT, path)
                (enabled.add if word[0] == "+" else enabled.discard)(word[1:])
            value = " ".join(sorted(enabled))
        elif name == "cgroup.procs":
            hierarchy = self._hierarchy(path)
            if hierarchy.version == 2 and directory != hierarchy.mountdir and \
                    self.read(os.path.join(directory, "cgroup.subtree_control")):
                raise KernelError("write", errno.EBUSY, path)   # no internal processes
            value = " ".join(self.read(path).split() + [value])
        elif name in V1_CPUSET and self._hierarchy(path).version == 1:
            self._check_v1_cpuset(directory, name, value)
        super().write(path, value, detail)
        if name == "cgroup.freeze":
            populated = "1" if self.procs(directory) else "0"
            super().write(os.path.join(directory, "cgroup.events"),
                          f"populated {populated}\nfrozen {value}")


@pytest.fixture
def host(tmp_path, monkeypatch):
    """host(kind, **build_host options) -> (open(name, parent=None, paths=None), kernel, sysfs)."""
    attached = []
    monkeypatch.setattr(bpf_devices, "attach", lambda policy, path: attached.append((policy, path)))

    def make(kind, **options):
        sysfs, proc = build_host(tmp_path, kind, **options)
        layout = detect_layout(sysfs, proc)
        kernel = FakeKernel(layout, sysfs)
        kernel.attached = attached

        def open_(name="web", parent=None, paths=None):
            return ContainerCgroup(layout, name, parent, paths, fs=kernel)
        return open_, kernel, sysfs
    return make


def read(path):
    with open(path) as handle:
        return handle.read().strip()


LIMITS = [("hacontain.limit.memory", "256M"), ("hacontain.limit.swap", "64M"),
          ("hacontain.limit.cpu.weight", "100"), ("hacontain.limit.cpu.quota", "1.5"),
          ("hacontain.limit.pids", "100"), ("hacontain.limit.cpuset.cpus", "1")]


def test_v1_create_makes_every_hierarchy_and_applies_in_order(host):
    open_, kernel, sysfs = host("v1")
    cg = open_()
    cg.create(LIMITS + [("lxc.cgroup.net_cls.classid", "0x100001")], None)
    service = "system.slice/pacemaker.service"
    memory = f"{sysfs}/memory/{service}/hacontain/web"
    assert os.path.isdir(memory) and os.path.isdir(f"{sysfs}/freezer/hacontain/web")
    assert cg.layout() == "v1" and cg.exists()
    assert read(f"{memory}/memory.limit_in_bytes") == str(256 << 20)
    assert read(f"{memory}/memory.memsw.limit_in_bytes") == str(320 << 20)
    assert read(f"{sysfs}/cpu,cpuacct/{service}/hacontain/web/cpu.shares") == "2598"
    assert read(f"{sysfs}/cpu,cpuacct/{service}/hacontain/web/cpu.cfs_quota_us") == "150000"
    assert read(f"{sysfs}/net_cls,net_prio/hacontain/web/net_cls.classid") == "0x100001"
    # a new cpuset cgroup gets its parent's CPUs and nodes before the limit narrows it
    assert read(f"{sysfs}/cpuset/hacontain/cpuset.cpus") == "0-3"
    assert read(f"{sysfs}/cpuset/hacontain/web/cpuset.cpus") == "1"
    assert read(f"{sysfs}/cpuset/hacontain/web/cpuset.mems") == "0"
    devices = [value for path, value in kernel.log if "/devices." in path]
    assert devices == ["a", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
                       "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"]
    assert [path for path, _ in kernel.log if path.endswith("devices.deny")] == \
        ["devices/system.slice/pacemaker.service/hacontain/web/devices.deny"]
    limit_writes = [os.path.basename(p) for p, _ in kernel.log
                    if "/web/" in p and not p.rsplit("/", 1)[1].startswith(("devices", "cpuset"))]
    assert limit_writes[:3] == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                                "cpu.shares"]
    assert kernel.attached == []


def test_v1_guest_cgroup_is_made_below_the_limits_and_holds_the_processes(host):
    """The processes live in web/guest, made once the limits and device rules are set on
    web: v1 limits bind descendants, so the guest may write its own cgroup (cgroup:mixed)
    without reaching them. What v1 does not apply to descendants goes to both."""
    open_, kernel, sysfs = host("v1")
    cg = open_()
    cg.create(LIMITS + [("lxc.cgroup.net_cls.classid", "0x100001"),
                        ("lxc.cgroup.blkio.throttle.read_bps_device", "8:0 1048576")], None)
    def guest(file):
        return os.path.join(os.path.dirname(cg._v1.path(file)), "guest", file)
    assert all(os.path.isdir(os.path.join(place.dir, "guest")) for place in cg._v1.places)
    assert read(guest("memory.limit_in_bytes")) == V1_MAX                # bound from above
    assert read(guest("cpuset.cpus")) == "1"
    assert read(guest("net_cls.classid")) == "0x100001"
    assert read(guest("blkio.throttle.read_bps_device")) == "8:0 1048576"
    guest_writes = [path for path, _ in kernel.log if "/guest/" in path]
    assert not any("/devices." in path or "memory." in path for path in guest_writes)
    first_guest = next(i for i, (path, _) in enumerate(kernel.log) if "/guest/" in path)
    assert all("/guest/" in path or "blkio.throttle" in path or "net_cls" in path
               for path, _ in kernel.log[first_guest:])                  # limits came first
    cg.join_self()
    assert ("freezer/hacontain/web/guest/tasks", "0") in kernel.log
    cg.add_process(4242)
    assert read(guest("freezer.state").replace("freezer.state", "cgroup.procs")) == "4242"
    assert cg.pids() == [4242]
    cg.set("lxc.cgroup.net_cls.classid", "0x100002")
    assert read(cg._v1.path("net_cls.classid")) == read(guest("net_cls.classid")) == "0x100002"


def test_v1_cgroup_started_without_a_guest_cgroup_is_used_directly(host):
    """A container an earlier hacontain started has no guest cgroup: attach and limits
    go to its own cgroup."""
    open_, kernel, sysfs = host("v1")
    cg = open_()
    cg.create([("hacontain.limit.cpuset.cpus", "1")], None)
    for place in cg._v1.places:
        kernel.rmdir(os.path.join(place.dir, "guest"))
    cg.add_process(55)
    assert read(f"{sysfs}/freezer/hacontain/web/cgroup.procs") == "55"
    cg.set("hacontain.limit.cpuset.cpus", "2")
    cg.set("lxc.cgroup.net_cls.classid", "0x100002")
    assert read(cg._v1.path("cpuset.cpus")) == "2"
    assert read(cg._v1.path("net_cls.classid")) == "0x100002"
    assert not any(os.path.exists(os.path.join(place.dir, "guest")) for place in cg._v1.places)


@pytest.mark.parametrize("first, then", [("1", "0-3"), ("0-3", "2"), ("1", "2-3"),
                                          ("1-2", "2-3")])
def test_v1_cpuset_reload_keeps_the_guest_cgroup_inside_its_parent(host, first, then):
    """A v1 cpuset child must stay within its parent and does not follow it: a reload
    that grows, shrinks or moves the CPUs sets both cgroups, in an order the kernel takes."""
    open_, _, sysfs = host("v1")
    cg = open_()
    cg.create([("hacontain.limit.cpuset.cpus", first)], None)
    cg.set("hacontain.limit.cpuset.cpus", then)
    assert read(f"{sysfs}/cpuset/hacontain/web/cpuset.cpus") == then
    assert read(f"{sysfs}/cpuset/hacontain/web/guest/cpuset.cpus") == then
    assert cg.get("hacontain.limit.cpuset.cpus") == then


def test_v1_cpuset_reload_refused_by_a_guest_sub_cgroup_leaves_the_cpus_as_they_were(host):
    open_, kernel, sysfs = host("v1")
    cg = open_()
    cg.create([("hacontain.limit.cpuset.cpus", "0-3")], None)
    guest = f"{sysfs}/cpuset/hacontain/web/guest"
    kernel.mkdir(f"{guest}/sub")
    kernel.write(f"{guest}/sub/cpuset.cpus", "3")
    with pytest.raises(KernelError, match="guest/cpuset.cpus"):
        cg.set("hacontain.limit.cpuset.cpus", "0-1")
    assert read(f"{sysfs}/cpuset/hacontain/web/cpuset.cpus") == "0-3"
    assert read(f"{guest}/cpuset.cpus") == "0-3"


def test_validate_touches_nothing(host):
    open_, kernel, sysfs = host("v1")
    open_().validate(LIMITS, [("allow", "c 1:3 rwm")])
    assert kernel.log == [] and not os.path.exists(f"{sysfs}/pids/hacontain")


def test_hybrid_tracks_the_unified_hierarchy_for_freeze_and_kill(host):
    open_, kernel, sysfs = host("hybrid")
    cg = open_()
    cg.create([("hacontain.limit.memory", "64M")], None)
    unified = f"{sysfs}/unified/hacontain/web"
    assert os.path.isdir(unified) and os.path.isdir(f"{sysfs}/memory/process_api/c2cd/hacontain/web")
    cg.add_process(4242)
    assert read(f"{unified}/cgroup.procs") == "4242"
    assert read(f"{sysfs}/pids/hacontain/web/guest/cgroup.procs") == "4242"
    assert read(f"{sysfs}/systemd/hacontain/web/guest/cgroup.procs") == "4242"   # name=systemd too
    cg.freeze()
    assert read(f"{unified}/cgroup.freeze") == "1" and cg.frozen()
    assert read(f"{sysfs}/freezer/hacontain/web/freezer.state") == "THAWED"
    cg.thaw()
    assert not cg.frozen()
    for path in (f"{unified}/cgroup.procs", *[f"{sysfs}/{h}/hacontain/web/guest/cgroup.procs" for h in (
            "blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "pids", "systemd")],
                 f"{sysfs}/memory/process_api/c2cd/hacontain/web/guest/cgroup.procs"):
        with open(path, "w"):
            pass                               # the process is gone
    cg.kill_all(1)
    assert ("unified/hacontain/web/cgroup.kill", "1") in kernel.log
    assert kernel.attached == []               # devices: v1's devices controller


def test_hybrid_v2_keys_name_the_version_the_controller_is_on(host):
    open_, _, _ = host("hybrid")
    with pytest.raises(ConfigError, match="memory controller is on cgroup v1") as caught:
        open_().validate([("lxc.cgroup2.memory.max", "1G")], None)
    assert caught.value.key == "lxc.cgroup2.memory.max"


def test_v2_create_enables_controllers_in_its_own_parent_and_attaches_bpf(host):
    open_, kernel, sysfs = host("v2")
    cg = open_()
    cg.create(LIMITS + [("hacontain.limit.io.read_bps", "8:0 1M")],
              [("allow", "c 1:3 rwm"), ("allow", "c 1:5 rwm")])
    web = f"{sysfs}/hacontain/web"
    assert read(f"{sysfs}/hacontain/cgroup.subtree_control") == \
        "cpu cpuset hugetlb io memory misc pids rdma"
    assert [path for path, _ in kernel.log if path.endswith("subtree_control")] == \
        ["hacontain/cgroup.subtree_control"]   # the caller's own cgroup is never written
    assert read(f"{web}/memory.max") == str(256 << 20)
    assert read(f"{web}/memory.swap.max") == str(64 << 20)
    assert read(f"{web}/cpu.weight") == "100" and read(f"{web}/cpu.max") == "150000 100000"
    assert read(f"{web}/pids.max") == "100" and read(f"{web}/cpuset.cpus") == "1"
    assert read(f"{web}/io.max") == "8:0 rbps=1048576"
    assert kernel.attached == [(build_policy([("allow", "c 1:3 rwm"), ("allow", "c 1:5 rwm")]), web)]
    assert cg.layout() == "v2" and cg.paths == {
        "layout": "v2", "hierarchies": {"": {"cgroup": "/hacontain/web", "owned": ["/hacontain"]}}}


def test_v2_without_delegated_controllers_says_where_to_enable_them(host):
    open_, _, sysfs = host("v2", v2_subtree="")
    with pytest.raises(ConfigError, match="not enabled .*cgroup.subtree_control") as caught:
        open_().create([("hacontain.limit.memory", "64M")], None)
    assert caught.value.key == "hacontain.limit.memory"
    assert f"{sysfs}/cgroup.subtree_control" in str(caught.value)
    assert not os.path.exists(f"{sysfs}/hacontain")


def test_v2_freeze_and_thaw_follow_cgroup_events(host):
    open_, kernel, sysfs = host("v2")
    cg = open_()
    cg.create([], None)
    cg.freeze(timeout=1)
    assert cg.frozen() and read(f"{sysfs}/hacontain/web/cgroup.events").endswith("frozen 1")
    cg.thaw()
    assert not cg.frozen()


def test_v1_freeze_uses_freezer_state(host):
    open_, _, sysfs = host("v1")
    cg = open_()
    cg.create([], None)
    cg.freeze()
    assert read(f"{sysfs}/freezer/hacontain/web/freezer.state") == "FROZEN" and cg.frozen()
    cg.thaw()
    assert read(f"{sysfs}/freezer/hacontain/web/freezer.state") == "THAWED" and not cg.frozen()


@pytest.mark.parametrize("kind,key,message", [
    ("v2", "lxc.cgroup.memory.limit_in_bytes", "only cgroup v2"),
    ("v1", "lxc.cgroup2.memory.max", "no cgroup v2 hierarchy"),
    ("v1", "lxc.cgroup.rdma.max", "no cgroup v1 hierarchy has the rdma controller"),
    ("v2", "hacontain.limit.io.weight", None),
    ("hybrid", "lxc.cgroup.net_cls.classid", "no cgroup v1 hierarchy has the net_cls"),
])
def test_keys_of_the_wrong_version_name_the_key(host, kind, key, message):
    open_, _, _ = host(kind)
    if message is None:
        open_().validate([(key, "100")], None)
        return
    with pytest.raises(ConfigError, match=message) as caught:
        open_().validate([(key, "1")], None)
    assert caught.value.key == key


def test_v1_swap_before_memory_is_refused(host):
    open_, _, _ = host("v1")
    with pytest.raises(ConfigError, match="needs hacontain.limit.memory set before"):
        open_().validate([("hacontain.limit.swap", "1G"), ("hacontain.limit.memory", "1G")], None)


def test_a_failing_limit_removes_everything_made(host):
    open_, _, sysfs = host("hybrid")
    with pytest.raises(ConfigError, match="this host has no memory.no_such_file") as caught:
        open_().create([("hacontain.limit.memory", "64M"), ("lxc.cgroup.memory.no_such_file", "1")],
                       None)
    assert caught.value.key == "lxc.cgroup.memory.no_such_file"
    assert not os.path.exists(f"{sysfs}/memory/process_api/c2cd/hacontain")
    assert not os.path.exists(f"{sysfs}/unified/hacontain")


def test_bad_device_rule_fails_before_anything_is_made(host):
    open_, kernel, _ = host("v1")
    with pytest.raises(ConfigError, match="bad device rule"):
        open_().create([], [("allow", "c 1:3 rwx")])
    assert kernel.log == []


def test_existing_cgroup_with_processes_is_already_exists_and_an_empty_one_is_replaced(host):
    open_, _, sysfs = host("v1")
    cg = open_()
    cg.create([("hacontain.limit.pids", "5")], None)
    cg.add_process(77)
    with pytest.raises(AlreadyExists, match=r"\[77\]"):
        open_().create([], None)
    for path in cg._v1.places:                 # the process has gone
        with open(os.path.join(path.dir, "guest", "cgroup.procs"), "w"):
            pass
    open_().create([], None)
    assert read(f"{sysfs}/pids/system.slice/pacemaker.service/hacontain/web/pids.max") == "max"


def test_remove_takes_the_owned_parent_only_when_empty(host):
    open_, _, sysfs = host("v1")
    web, db = open_("web"), open_("db")
    web.create([], None)
    db.create([], None)
    web.remove()
    assert not web.exists() and os.path.isdir(f"{sysfs}/freezer/hacontain/db")
    db.remove()
    assert not os.path.exists(f"{sysfs}/freezer/hacontain")
    assert os.path.isdir(f"{sysfs}/freezer")


def test_remove_with_processes_is_a_state_error(host):
    open_, _, _ = host("hybrid")
    cg = open_()
    cg.create([], None)
    cg.add_process(99)
    with pytest.raises(StateError, match=r"still has processes \[99\]"):
        cg.remove()


def test_remove_takes_sub_cgroups_deepest_first(host):
    open_, kernel, sysfs = host("v2")
    cg = open_()
    cg.create([], None)
    kernel.mkdir(f"{sysfs}/hacontain/web/init.scope")
    kernel.mkdir(f"{sysfs}/hacontain/web/init.scope/deeper")
    cg.remove()
    assert not os.path.exists(f"{sysfs}/hacontain")


def test_recorded_paths_find_the_cgroup_from_another_process(host, tmp_path):
    open_, kernel, sysfs = host("hybrid")
    cg = open_()
    cg.create([("hacontain.limit.memory", "64M")], None)
    record = json.loads(json.dumps(cg.paths))
    # a later `stop` runs in another memory cgroup: the recorded paths still lead home
    (tmp_path / "proc" / "self" / "cgroup").write_text(
        (tmp_path / "proc" / "self" / "cgroup").read_text().replace("/process_api/c2cd", "/other"))
    layout = detect_layout(sysfs, str(tmp_path / "proc"))
    again = ContainerCgroup(layout, "web", paths=record, fs=kernel)
    assert again.get("hacontain.limit.memory") == str(64 << 20)
    again.remove()
    assert not os.path.exists(f"{sysfs}/memory/process_api/c2cd/hacontain")


def test_garbled_recorded_paths_are_a_state_error(host):
    open_, _, _ = host("v1")
    with pytest.raises(StateError, match="not understood"):
        open_(paths={"hierarchies": {"memory": "x"}})
    with pytest.raises(StateError, match="none of the recorded"):
        open_(paths={"hierarchies": {"unified": {"cgroup": "/x", "owned": []}}})


def test_absolute_parent_owns_only_what_it_makes(host):
    open_, kernel, sysfs = host("v2")
    kernel.mkdir(f"{sysfs}/machine.slice")
    cg = open_("web", "/machine.slice/hacontain")
    assert cg.paths["hierarchies"][""] == {"cgroup": "/machine.slice/hacontain/web",
                                          "owned": ["/machine.slice/hacontain"]}
    cg.create([], None)
    cg.remove()
    assert os.path.isdir(f"{sysfs}/machine.slice")
    assert not os.path.exists(f"{sysfs}/machine.slice/hacontain")


@pytest.mark.parametrize("name,parent", [("../x", None), (".hidden", None), ("", None),
                                         ("web", "a/../b"), ("web", "a/.b")])
def test_bad_names_and_parents(host, name, parent):
    open_, _, _ = host("v1")
    with pytest.raises(ConfigError, match="cgroup"):
        open_(name, parent)


def test_live_get_and_set(host):
    open_, _, sysfs = host("v1")
    cg = open_()
    cg.create([("hacontain.limit.memory", "64M"), ("hacontain.limit.swap", "16M")], None)
    assert cg.get("hacontain.limit.memory") == str(64 << 20)
    cg.set("hacontain.limit.memory", "128M")
    assert cg.get("hacontain.limit.memory") == str(128 << 20)
    assert cg.get("hacontain.limit.swap") == str(16 << 20)       # the allowance stays
    assert cg.get("lxc.cgroup.memory.memsw.limit_in_bytes") == str(144 << 20)
    cg.set("lxc.cgroup.pids.max", "12")
    assert cg.get("hacontain.limit.pids") == "12"
    assert cg.get("lxc.cgroup.freezer.state") == "THAWED"        # managed: readable
    with pytest.raises(ConfigError, match="managed by hacontain"):
        cg.set("lxc.cgroup.freezer.state", "FROZEN")
    with pytest.raises(ConfigError, match="not a size") as caught:
        cg.set("hacontain.limit.memory", "much")
    assert caught.value.key == "hacontain.limit.memory"


@pytest.mark.parametrize("kind", ["v1", "hybrid", "v2"])
def test_stats(host, kind):
    open_, _, _ = host(kind)
    cg = open_()
    cg.create([], None)
    cpu = {"v1": (2.5, 1.0), "hybrid": (2.5, 1.0), "v2": (2.0, 1.0)}[kind]
    assert cg.stats() == {"memory.current": 1048576, "memory.peak": 2097152,
                          "cpu.user": cpu[0], "cpu.system": cpu[1],
                          "io.read_bytes": 4096, "io.write_bytes": 8192, "pids.current": 3}


def test_operations_on_a_missing_cgroup_are_not_found(host):
    open_, _, _ = host("v1")
    cg = open_()
    assert not cg.exists() and cg.pids() == []
    for call in (cg.freeze, cg.thaw, cg.stats, lambda: cg.get("hacontain.limit.memory"),
                 lambda: cg.kill_all(1)):
        with pytest.raises(NotFound, match="hacontain/web does not exist"):
            call()


def test_v2_attach_goes_to_a_leaf_before_the_guest_enables_controllers_too(host):
    """An attach during a systemd guest's boot must not sit in the container's cgroup
    itself: the guest's write to its cgroup.subtree_control would then fail (EBUSY).
    The container's first process still joins the cgroup itself."""
    open_, _, sysfs = host("v2")
    cg = open_()
    cg.create([], None)
    own = f"{sysfs}/hacontain/web"
    cg.join_self()
    assert read(f"{own}/cgroup.procs") == str(os.getpid())
    with open(f"{own}/cgroup.procs", "w"):
        pass                                   # (the fake kernel: it is gone again)
    cg.add_process(4343)
    assert read(f"{own}/.hacontain-attach/cgroup.procs") == "4343"
    assert read(f"{own}/cgroup.procs") == ""
    assert read(f"{own}/cgroup.subtree_control") == ""


@pytest.mark.parametrize("kind", ["hybrid", "v2"])
def test_the_holder_moves_to_the_v2_leaf_only_where_there_are_controllers(host, kind):
    """The console holder, in the container's cgroups already, leaves its v2 cgroup for the
    leaf only where a guest could enable controllers; on a hybrid host's empty cgroup2 it
    stays, as a move would cost the start an RCU grace period."""
    open_, kernel, sysfs = host(kind)
    cg = open_()
    cg.create([], None)
    own = f"{sysfs}/unified/hacontain/web" if kind == "hybrid" else f"{sysfs}/hacontain/web"
    before = len(kernel.log)
    cg.move_to_v2_leaf(4242)
    writes = [entry for entry in kernel.log[before:] if entry[0].endswith("cgroup.procs")]
    if kind == "hybrid":
        assert writes == [] and not os.path.exists(f"{own}/.hacontain-attach")
    else:
        assert read(f"{own}/.hacontain-attach/cgroup.procs") == "4242"


def test_v2_join_after_a_guest_enabled_controllers_goes_to_a_leaf(host):
    """A systemd guest moves itself to init.scope and enables controllers in the container's
    cgroup (its delegated cgroup.subtree_control): attach then joins the leaf
    .hacontain-attach, as no process may sit in the cgroup itself any more."""
    open_, kernel, sysfs = host("v2")
    cg = open_()
    cg.create([], None)
    own = f"{sysfs}/hacontain/web"
    kernel.mkdir(f"{own}/init.scope")
    kernel.write(f"{own}/init.scope/cgroup.procs", "4242")
    kernel.write(f"{own}/cgroup.subtree_control", "+pids +memory")
    cg.add_process(4343)
    assert read(f"{own}/.hacontain-attach/cgroup.procs") == "4343"
    assert cg.pids() == [4242, 4343]
    for path in (f"{own}/init.scope", f"{own}/.hacontain-attach"):
        with open(f"{path}/cgroup.procs", "w"):
            pass                               # the processes are gone
    cg.remove()
    assert not os.path.exists(own)
