"""The cgroup v2 driver: one directory on the unified hierarchy; controllers
enabled in hacontain's own parents, cgroup.freeze/cgroup.events, cgroup.kill,
the BPF device filter, and accounting from the v2 stat files.
"""

import os

from hacontain.errors import Timeout
from hacontain.runtime.cgroups.dirs import CgroupDirs
from hacontain.runtime.cgroups.fs import wait_until


ATTACH_LEAF = ".hacontain-attach"


class V2Cgroup(CgroupDirs):
    version = 2

    def __init__(self, place, fs):
        super().__init__([place], fs)
        self.place = place

    def path(self, file):
        return os.path.join(self.place.dir, file)

    def _prepare(self, place, path, leaf):
        """Enable in a parent hacontain owns every controller it has, for the children."""
        if leaf:
            return
        available = self.fs.read(os.path.join(path, "cgroup.controllers")).split()
        enabled = self.fs.read(os.path.join(path, "cgroup.subtree_control")).split()
        missing = [c for c in available if c not in enabled]
        if missing:
            self.fs.write(os.path.join(path, "cgroup.subtree_control"),
                          " ".join("+" + c for c in missing))

    def join(self, pid):
        """Move `pid` into the container's cgroup itself (the container's first process)."""
        super().add_process(pid)

    def add_process(self, pid):
        """Move `pid`, a process that joins the running container (attach, the console
        holder), into the leaf ATTACH_LEAF below its cgroup, as LXC does with `.lxc`:
        while any process sits in the cgroup itself, a systemd guest's write to its
        cgroup.subtree_control fails (EBUSY), and the guest boots without its
        controllers. Into the cgroup itself where it has no controllers to give (a
        hybrid host's empty cgroup2)."""
        if self.has_controllers():
            self.join_leaf(pid)
        else:
            super().add_process(pid)

    def join_leaf(self, pid):
        """Move `pid` into the leaf ATTACH_LEAF below the container's cgroup."""
        leaf = os.path.join(self.place.dir, ATTACH_LEAF)
        self.fs.mkdir(leaf)
        self.fs.write(os.path.join(leaf, "cgroup.procs"), str(pid))

    def has_controllers(self):
        """Whether the container's cgroup has controllers to give its sub-cgroups."""
        return bool(self.fs.read(self.path("cgroup.controllers")).split())

    def available_controllers(self):
        """(controllers the container's cgroup gets, the file that decides it)."""
        first = (self.place.owned_dirs + [self.place.dir])[0]
        if self.fs.exists(first):
            where = os.path.join(first, "cgroup.controllers")
        else:
            where = os.path.join(os.path.dirname(first), "cgroup.subtree_control")
        return frozenset(self.fs.read(where).split()), where

    def apply_devices(self, policy):
        from hacontain.runtime.cgroups import bpf_devices
        bpf_devices.attach(policy, self.place.dir)

    def events(self):
        return dict(line.split() for line in self.read("cgroup.events").splitlines())

    # -- freeze and kill -------------------------------------------------------

    def frozen(self):
        return self.events().get("frozen") == "1"

    def freeze(self, timeout):
        self.write("cgroup.freeze", "1")
        try:
            wait_until(self.frozen, timeout, f"freezing {self.place.dir}")
        except Timeout:
            self.thaw()
            raise

    def thaw(self):
        self.write("cgroup.freeze", "0")

    def kill(self):
        """SIGKILL every process in the cgroup and below, atomically (cgroup.kill)."""
        self.write("cgroup.kill", "1")

    # -- accounting ------------------------------------------------------------------

    def memory_stats(self):
        peak = int(self.read("memory.peak")) if self.exists("memory.peak") else None
        return {"memory.current": int(self.read("memory.current")), "memory.peak": peak}

    def cpu_stats(self):
        usage = dict(line.split() for line in self.read("cpu.stat").splitlines())
        return {"cpu.user": int(usage["user_usec"]) / 1e6,
                "cpu.system": int(usage["system_usec"]) / 1e6}

    def io_stats(self):
        totals = {"rbytes": 0, "wbytes": 0}
        for line in self.read("io.stat").splitlines():
            for field in line.split()[1:]:
                name, _, value = field.partition("=")
                if name in totals:
                    totals[name] += int(value)
        return {"io.read_bytes": totals["rbytes"], "io.write_bytes": totals["wbytes"]}

    def pids_current(self):
        return int(self.read("pids.current"))
