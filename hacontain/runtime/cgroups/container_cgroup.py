"""ContainerCgroup: one container's cgroup over every hierarchy of the host.

Picks, per controller, the driver of the version the host mounts it on, and
per feature the best mechanism: freeze with cgroup.freeze when there is a v2
hierarchy (also the controller-less one of a hybrid host), else freezer.state;
kill with cgroup.kill when the kernel has it, else freeze, SIGKILL, thaw;
devices with devices.allow/deny when v1 has the devices controller, else a
BPF program on the v2 cgroup.
"""

import os

from hacontain.errors import (AlreadyExists, HacontainError, NotFound, NotInstalled,
                              StateError, Timeout)
from hacontain.runtime.cgroups.devices import build_policy
from hacontain.runtime.cgroups.fs import CGROUPFS, wait_until
from hacontain.runtime.cgroups.keys import bare_file_key, check_on_host, parse_key
from hacontain.runtime.cgroups.layout import V1_NAME
from hacontain.runtime.cgroups.limits import SWAP_NEEDS_MEMORY
from hacontain.runtime.cgroups.place import places_from_record, plan_places
from hacontain.runtime.cgroups.v1 import V1Cgroup
from hacontain.runtime.cgroups.v2 import V2Cgroup
from hacontain.sys import signals

STAT_KEYS = ("memory.current", "memory.peak", "cpu.user", "cpu.system",
             "io.read_bytes", "io.write_bytes", "pids.current")


class ContainerCgroup:
    """See the package docstring for the interface."""

    def __init__(self, layout, name, parent=None, paths=None, fs=CGROUPFS):
        self._layout = layout
        if paths is None:
            places = plan_places(layout, name, parent, fs.exists)
        else:
            places = places_from_record(layout, paths)
        v1 = [place for place in places if place.hierarchy.version == 1]
        v2 = [place for place in places if place.hierarchy.version == 2]
        self._v1 = V1Cgroup(v1, fs) if v1 else None
        self._v2 = V2Cgroup(v2[0], fs) if v2 else None
        self._drivers = [driver for driver in (self._v1, self._v2) if driver is not None]

    @property
    def hierarchies(self):
        """The hierarchies (layout.Hierarchy) this cgroup has a place in."""
        return tuple(place.hierarchy for driver in self._drivers for place in driver.places)

    @property
    def directories(self):
        """Its directory on each of `hierarchies`, in their order."""
        return tuple(place.dir for driver in self._drivers for place in driver.places)

    @property
    def paths(self):
        return {"layout": self._layout.kind,
                "hierarchies": {place.hierarchy.key: place.record()
                                for driver in self._drivers for place in driver.places}}

    def layout(self):
        return self._layout.kind

    # -- life cycle --------------------------------------------------------------

    def validate(self, limits, devices):
        planned, _ = self._plan(limits, devices)
        for driver, key, value in planned:
            check_on_host(key, value, driver)

    def create(self, limits, devices):
        planned, policy = self._plan(limits, devices)
        if self.exists():
            busy = sorted(self.pids())
            if busy:
                raise AlreadyExists(f"cgroup {self._where()} exists and has processes {busy}")
            self._remove_dirs()               # an empty leftover: start afresh
        try:
            for driver in self._drivers:
                driver.make()
            self._device_driver().apply_devices(policy)
            for driver, key, value in planned:
                driver.apply(key, value)
            if self._v1 is not None:
                self._v1.make_guest()
        except AlreadyExists:
            raise                             # made meanwhile by another start: not ours to remove
        except BaseException:
            try:
                self._remove_dirs()
            except HacontainError:
                pass                          # the first failure is the one to report
            raise

    def add_process(self, pid):
        """Move `pid`, a process joining the running container, into every hierarchy
        (on v2 into the leaf V2Cgroup.add_process says)."""
        for driver in self._drivers:
            driver.add_process(pid)

    def move_to_v2_leaf(self, pid):
        """Move `pid`, in the container's cgroups already, to the v2 leaf add_process
        uses, where the v2 cgroup has controllers to give; elsewhere it stays where it
        is (a move costs the kernel an RCU grace period under its cgroup lock)."""
        if self._v2 is not None and self._v2.has_controllers():
            self._v2.join_leaf(pid)

    def v2_dir(self):
        """The container's directory on the v2 hierarchy (None without one)."""
        return self._v2.place.dir if self._v2 is not None else None

    def join_self(self, in_v2=False):
        """Move the calling single-threaded process in; `in_v2`: it started in the v2 cgroup.

        Joining by writing a PID to cgroup.procs waits for an RCU grace
        period (10-20 ms, once per start). A v1 hierarchy is joined by
        writing "0" (this thread) to `tasks`, which doesn't wait and moves
        the whole process when it has one thread; the v2 cgroup is best
        entered at fork (clone3 with CLONE_INTO_CGROUP, see Launch).
        """
        if self._v1 is not None:
            self._v1.join_self()
        if self._v2 is not None and not in_v2:
            self._v2.join(os.getpid())

    def exists(self):
        return any(driver.present() for driver in self._drivers)

    def pids(self):
        return sorted(set().union(*(driver.pids() for driver in self._drivers)))

    def remove(self):
        busy = self.pids()
        if busy:
            raise StateError(f"cgroup {self._where()} still has processes {busy}")
        self._remove_dirs()

    def _remove_dirs(self):
        for driver in self._drivers:
            driver.remove()

    # -- freeze and kill ---------------------------------------------------------

    def frozen(self):
        return self._freezer().frozen()

    def freeze(self, timeout=5):
        self._freezer().freeze(timeout)

    def thaw(self):
        self._freezer().thaw()

    def kill_all(self, timeout):
        self._require()
        if self._v2 is not None and self._v2.exists("cgroup.kill"):
            self._v2.kill()
        else:
            self._freeze_and_kill(timeout)
        try:
            wait_until(self._kill_stragglers, timeout, "emptying the cgroup")
        except Timeout:
            raise Timeout(f"cgroup {self._where()} still has processes {self.pids()} "
                          f"{timeout:g} s after killing them all") from None

    def release_frozen(self):
        """Thaw what the guest froze below the container's cgroup with v1's freezer:
        a task frozen there does not die of a SIGKILL until thawed."""
        if self._v1 is not None:
            self._v1.thaw_below()

    def _freeze_and_kill(self, timeout):
        freezer = self._freezer(required=False)
        if freezer is not None:
            try:
                freezer.freeze(timeout)
            except Timeout:
                pass                          # kill what can be killed all the same
        try:
            self._kill_stragglers()
        finally:
            if freezer is not None:
                freezer.thaw()

    def _kill_stragglers(self):
        """SIGKILL the members through pidfds (no reused PID is hit), then thaw what the
        guest froze with v1's freezer, where they could not die; True when none is left."""
        pidfds = {}
        for pid in self.pids():
            try:
                pidfds[pid] = os.pidfd_open(pid)
            except ProcessLookupError:
                pass
        try:
            members = self.pids()
            for pid in members:               # still members: their pidfds name these processes
                if pid in pidfds:
                    try:
                        signals.pidfd_send_signal(pidfds[pid], signals.SIGKILL)
                    except ProcessLookupError:
                        pass
            if members:
                self.release_frozen()
            return not members
        finally:
            for fd in pidfds.values():
                os.close(fd)

    def _freezer(self, required=True):
        self._require()
        if self._v2 is not None and self._v2.exists("cgroup.freeze"):
            return self._v2
        if self._v1 is not None and self._v1.has_controller("freezer"):
            return self._v1
        if required:
            raise NotInstalled("this host has no freezer: no cgroup v2 hierarchy and no v1 "
                               "freezer controller")
        return None

    # -- limits --------------------------------------------------------------------

    def get(self, key):
        self._require()
        parsed = parse_key(self._qualified(key), writing=False)
        return self._driver_for(parsed).get(parsed)

    def set(self, key, value):
        self._require()
        parsed = parse_key(self._qualified(key))
        self._driver_for(parsed).apply(parsed, parsed.value(value))

    def _qualified(self, key):
        """A bare cgroup file name as the key of the version carrying its controller."""
        def on_v1(controller):
            return controller not in V1_NAME and self._v1 is not None \
                and self._v1.has_controller(controller)

        def on_v2(controller):
            return self._v2 is not None and (
                controller == "cgroup" or controller in self._v2.available_controllers()[0])
        return bare_file_key(key, on_v1, on_v2)

    def stats(self):
        self._require()
        result = dict.fromkeys(STAT_KEYS)
        for driver, method in ((self._for_controller("memory"), "memory_stats"),
                               (self._cpu_accounting(), "cpu_stats"),
                               (self._for_controller("io"), "io_stats")):
            if driver is not None:
                result.update(getattr(driver, method)())
        pids = self._for_controller("pids")
        result["pids.current"] = pids.pids_current() if pids else len(self.pids())
        return result

    def _plan(self, limits, devices):
        """Check every key, value and rule; the (driver, key, value) writes and the device policy."""
        planned, memory_set = [], False
        for text, value in limits:
            key = parse_key(text)
            driver = self._driver_for(key)    # a key of the wrong version says so first
            parsed = key.value(value)
            if key.limit is not None:
                if key.limit.name == "swap" and driver.version == 1 and not memory_set:
                    raise key.error(SWAP_NEEDS_MEMORY)
                memory_set = memory_set or key.limit.name == "memory"
            planned.append((driver, key, parsed))
        policy = build_policy(devices)
        self._device_driver()
        return planned, policy

    def _driver_for(self, key):
        """The driver that serves `key` here; ConfigError naming the key when none can."""
        controller = key.controller
        if key.version == 1:
            if self._v1 is None:
                raise key.error("a cgroup v1 key, but this host has only cgroup v2: use "
                                "lxc.cgroup2.* or hacontain.limit.*")
            if not self._v1.has_controller(controller):
                hint = " (it is on cgroup v2: use lxc.cgroup2.*)" if self._on_v2(controller) else ""
                raise key.error(f"no cgroup v1 hierarchy has the {controller} controller here{hint}")
            return self._v1
        if key.version == 2:
            if self._v2 is None:
                raise key.error("a cgroup v2 key, but this host has no cgroup v2 hierarchy: "
                                "use lxc.cgroup.* or hacontain.limit.*")
            if controller != "cgroup":
                self._require_v2_controller(key, controller)
            return self._v2
        driver = self._for_controller(controller)
        if driver is None:
            if self._on_v2(controller):
                self._require_v2_controller(key, controller)
            raise key.error(f"this host has no {controller} controller")
        return driver

    def _require_v2_controller(self, key, controller):
        available, where = self._v2.available_controllers()
        if controller in available:
            return
        if self._v1 is not None and self._v1.has_controller(controller):
            raise key.error(f"the {controller} controller is on cgroup v1 on this host: "
                            "use lxc.cgroup.* or hacontain.limit.*")
        raise key.error(f"the {controller} controller is not enabled for the container's "
                        f"cgroup (not in {where}); enable it there, which cgroup v2 allows "
                        "only in a cgroup without processes, or choose an absolute cgroup parent")

    def _on_v2(self, controller):
        return self._v2 is not None and controller in self._v2.place.hierarchy.controllers

    def _for_controller(self, controller):
        """The driver of the version that has `controller` (v2 name), or None."""
        if self._v1 is not None and self._v1.has_controller(controller):
            return self._v1
        if self._v2 is not None and controller in self._v2.available_controllers()[0]:
            return self._v2
        return None

    def _cpu_accounting(self):
        if self._v1 is not None and self._v1.has_controller("cpuacct"):
            return self._v1
        return self._v2                       # cpu.stat is a core v2 file

    def _device_driver(self):
        if self._v1 is not None and self._v1.has_controller("devices"):
            return self._v1
        if self._v2 is not None:
            return self._v2
        raise NotInstalled("this host cannot restrict devices: no v1 devices controller and "
                           "no cgroup v2 hierarchy")

    def _require(self):
        if not self.exists():
            raise NotFound(f"cgroup {self._where()} does not exist")

    def _where(self):
        return self._drivers[0].places[0].dir
