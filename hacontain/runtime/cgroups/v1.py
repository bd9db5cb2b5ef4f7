"""The cgroup v1 driver: one directory per mounted v1 hierarchy, files routed
by their controller prefix; cpuset set-up, freezer.state, devices.allow/deny,
and accounting from memory, cpuacct, blkio and pids.
"""

import os

from hacontain.errors import ConfigError, Timeout
from hacontain.runtime.cgroups.devices import v1_writes
from hacontain.runtime.cgroups.dirs import CgroupDirs
from hacontain.runtime.cgroups.fs import wait_until
from hacontain.runtime.cgroups.layout import V1_NAME

CPUSET_FILES = ("cpuset.cpus", "cpuset.mems")


class V1Cgroup(CgroupDirs):
    version = 1

    def __init__(self, places, fs):
        super().__init__(places, fs)
        self._by_controller = {c: place for place in self.places
                               for c in place.hierarchy.controllers}

    def join_self(self):
        """Move the calling thread into every hierarchy (see ContainerCgroup.join_self)."""
        for place in self.places:
            self.fs.write(os.path.join(place.dir, "tasks"), "0")

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
