"""The cgroup v1 driver: one directory per mounted v1 hierarchy, files routed
by their controller prefix; cpuset set-up, freezer.state, devices.allow/deny,
and accounting from memory, cpuacct, blkio and pids.

The container's processes live in a child of its cgroup, GUEST, made once the
limits and device rules are in place: the root of the container's cgroup
namespace, which `cgroup:mixed` mounts writable (security/cgroup_view.py).
The limits stay on the cgroup above it, where the guest cannot reach them and
which binds it, since v1 memory, cpu, cpuset, pids, devices, freezer and the
hugetlb and rdma controllers limit a cgroup's descendants too. The files that
do not (UNBOUND: blkio throttling is flat on v1; net_cls and net_prio are
copied once, when a cgroup is made) are written to both cgroups and are what
`mixed` covers on v1. A container started without GUEST (by an earlier
hacontain) keeps working: processes are attached to its cgroup and limits
written there directly.
"""

import os

from hacontain.errors import ConfigError, HacontainError, Timeout
from hacontain.runtime.cgroups.devices import v1_writes
from hacontain.runtime.cgroups.dirs import CgroupDirs
from hacontain.runtime.cgroups.fs import wait_until
from hacontain.runtime.cgroups.layout import V1_NAME
from hacontain.runtime.cgroups.limits import members

CPUSET_FILES = ("cpuset.cpus", "cpuset.mems")
GUEST = "guest"
UNBOUND = frozenset({"blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                     "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device",
                     "blkio.reset_stats", "net_cls.classid", "net_prio.ifpriomap"})


class V1Cgroup(CgroupDirs):
    version = 1

    def __init__(self, places, fs):
        super().__init__(places, fs)
        self._by_controller = {c: place for place in self.places
                               for c in place.hierarchy.controllers}
        self._unbound_writes = []             # made before GUEST: make_guest repeats them

    def make_guest(self):
        """Make GUEST in each hierarchy, once the limits and device rules are set
        (a v1 devices cgroup copies its parent's rules when made, and its parent's
        default can no longer change then); the UNBOUND writes made so far go to it too."""
        for place in self.places:
            path = os.path.join(place.dir, GUEST)
            self.fs.mkdir(path)
            self._prepare(place, path, leaf=True)
        for file, value, detail in self._unbound_writes:
            self.fs.write(self._guest_path(self.path(file)), value, detail)

    def join_self(self):
        """Move the calling thread into GUEST everywhere (see ContainerCgroup.join_self)."""
        for place in self.places:
            self.fs.write(os.path.join(place.dir, GUEST, "tasks"), "0")

    def add_process(self, pid):
        """Move `pid` into GUEST everywhere (its own cgroup when started without one)."""
        for place in self.places:
            self.fs.write(os.path.join(self._guest_or_own(place.dir), "cgroup.procs"), str(pid))

    def write(self, file, value, detail=None):
        """Write a control file; an UNBOUND one to GUEST as well, a cpuset list in the
        order v1 allows (a child's CPUs and nodes stay within its parent's)."""
        path = self.path(file)
        if file not in UNBOUND and file not in CPUSET_FILES:
            self.fs.write(path, value, detail)
            return
        guest_path = self._guest_path(path)
        if not self.fs.exists(os.path.dirname(guest_path)):
            self.fs.write(path, value, detail)
            if file in UNBOUND:
                self._unbound_writes.append((file, value, detail))
        elif file in CPUSET_FILES:
            self._write_cpuset(path, guest_path, value, detail)
        else:
            self.fs.write(path, value, detail)
            self.fs.write(guest_path, value, detail)

    def _write_cpuset(self, path, guest_path, value, detail):
        """The container's cgroup widened to old and new, GUEST set, then the new list:
        whether `value` grows, shrinks or moves the set, no step leaves GUEST outside
        its parent. On failure (a sub-cgroup of the guest's uses what would go) the
        container's cgroup gets its old list back."""
        old = self.fs.read(path).strip()
        try:
            union = ",".join(map(str, sorted(members(old) | members(value.strip()))))
        except ValueError:
            union = None                      # the kernel says what is wrong with it below
        try:
            if union is not None:
                self.fs.write(path, union, detail)
            self.fs.write(guest_path, value, detail)
            self.fs.write(path, value, detail)
        except BaseException:
            if old:
                try:
                    self.fs.write(path, old, detail)
                except HacontainError:
                    pass                      # the first failure is the one to report
            raise

    def _guest_path(self, path):
        return os.path.join(os.path.dirname(path), GUEST, os.path.basename(path))

    def _guest_or_own(self, directory):
        guest = os.path.join(directory, GUEST)
        return guest if self.fs.exists(guest) else directory

    def has_controller(self, controller):
        """Whether a v1 hierarchy of the container carries `controller` (v1 or v2 name)."""
        return V1_NAME.get(controller, controller) in self._by_controller

    def path(self, file):
        controller = file.split(".", 1)[0]
        place = self._by_controller.get(controller)
        if place is None:
            raise ConfigError(f"no cgroup v1 hierarchy of this container carries the "
                              f"{controller} controller (for {file})")
        return os.path.join(place.dir, file)

    def _prepare(self, place, path, leaf):
        """A new cpuset cgroup has no CPUs or memory nodes: give it its parent's."""
        if "cpuset" not in place.hierarchy.controllers:
            return
        for file in CPUSET_FILES:
            if not self.fs.read(os.path.join(path, file)).strip():
                inherited = self.fs.read(os.path.join(os.path.dirname(path), file))
                self.fs.write(os.path.join(path, file), inherited)

    def apply_devices(self, policy):
        for file, rule in v1_writes(policy):
            self.write(file, rule, detail="device policy")

    # -- freezer -----------------------------------------------------------------

    def frozen(self):
        return self.read("freezer.state") == "FROZEN"

    def freeze(self, timeout):
        self.write("freezer.state", "FROZEN")
        try:
            wait_until(self.frozen, timeout, f"freezing {self.path('freezer.state')}")
        except Timeout:
            self.thaw()
            raise

    def thaw(self):
        self.write("freezer.state", "THAWED")

    def thaw_below(self):
        """Thaw every freezer cgroup below the container's (the guest's, and those it
        made): a task frozen by v1 does not die of a SIGKILL until thawed."""
        place = self._by_controller.get("freezer")
        if place is None:
            return
        try:
            below = self.fs.tree(place.dir)[1:]
        except HacontainError:
            return                            # changed meanwhile: the next round sees it
        for path in below:
            try:
                self.fs.write(os.path.join(path, "freezer.state"), "THAWED")
            except HacontainError:
                pass                          # removed meanwhile

    # -- accounting ----------------------------------------------------------------

    def memory_stats(self):
        return {"memory.current": int(self.read("memory.usage_in_bytes")),
                "memory.peak": int(self.read("memory.max_usage_in_bytes"))}

    def cpu_stats(self):
        ticks = dict(line.split() for line in self.read("cpuacct.stat").splitlines())
        hertz = os.sysconf("SC_CLK_TCK")
        return {"cpu.user": int(ticks["user"]) / hertz, "cpu.system": int(ticks["system"]) / hertz}

    def io_stats(self):
        name = "blkio.throttle.io_service_bytes_recursive"
        if not self.exists(name):
            name = "blkio.throttle.io_service_bytes"
        totals = {"Read": 0, "Write": 0}
        for line in self.read(name).splitlines():
            words = line.split()
            if len(words) == 3 and words[1] in totals:
                totals[words[1]] += int(words[2])
        return {"io.read_bytes": totals["Read"], "io.write_bytes": totals["Write"]}

    def pids_current(self):
        return int(self.read("pids.current"))
