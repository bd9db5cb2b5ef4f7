"""Container cgroups on cgroup v1, v2 and hybrid hosts (stdlib only: the OCF
agent's monitor imports this).

    cg = open_cgroup(name, parent=None, *, paths=None, sysfs="/sys/fs/cgroup", proc="/proc")

parent: a cgroup path relative to the caller's own cgroup in each hierarchy
(default "hacontain"; all of it belongs to hacontain: made when missing,
removed when empty), or absolute when it starts with "/" (taken from the
hierarchy root; only the parts missing at open time are hacontain's). paths:
what cg.paths said after create(), to find the same cgroup later from a
process in another cgroup (store it in the container state).

ContainerCgroup:
  paths                     JSON-serialisable: {"layout", "hierarchies": {mount: {"cgroup", "owned"}}}
  create(limits, devices)   make the cgroup everywhere, apply the device policy, then the
                            limits in order, then (v1) the guest's cgroup below it, which
                            its processes join (v1.py); on failure remove what it made. ConfigError
                            naming the key, AlreadyExists (exists with processes),
                            KernelError(op, errno, path)
  validate(limits, devices) the checks of create, touching nothing
  add_process(pid)          into every hierarchy, the guest's cgroup on v1 (call it in the
                            container's first child, before it unshares or execs, so
                            nothing escapes)
  exists() pids() frozen() freeze(timeout=5) thaw() layout() -> "v1" | "v2" | "hybrid"
  kill_all(timeout)         cgroup.kill (v2, also the unified hierarchy of a hybrid host),
                            else freeze + SIGKILL (through pidfds) + thaw; then waits until
                            empty, or Timeout
  release_frozen()          thaw what the guest froze below it with v1's freezer (SIGKILLed
                            tasks there die only once thawed)
  remove()                  rmdir everywhere, deepest first; StateError with processes left
  get(key) set(key, value)  read or live-update one key (the limit key forms)
  stats()                   {"memory.current", "memory.peak" (bytes), "cpu.user",
                            "cpu.system" (seconds), "io.read_bytes", "io.write_bytes",
                            "pids.current"}; None where the host cannot tell

Limit keys: "lxc.cgroup.<v1 file>" and "lxc.cgroup2.<v2 file>" are written as
given on the hierarchy of that version that carries the file's controller (a
key of a version the controller is not on here is a ConfigError); the
version-independent "hacontain.limit.<name>" keys are translated as the table
in limits.py documents (memory, swap, cpu.weight, cpu.shares, cpu.quota,
cpuset.cpus, cpuset.mems, pids, io.weight, io.read_bps, io.write_bps,
io.read_iops, io.write_iops). Files hacontain manages (cgroup.procs,
cgroup.freeze, cgroup.kill, cgroup.subtree_control, freezer.state, ...) can
be read but not set; device rules are not limits.

devices: None for the default allow-list (devices.DEFAULT_ALLOW: null, zero,
full, random, urandom, tty, console, ptmx, pts, all "rwm"), else ("allow" |
"deny", "c 1:3 rwm") pairs in order, folded as cgroup v1 folds them (see
devices.py); v1 writes devices.deny/allow, v2 attaches a BPF device program.
"""

from hacontain.runtime.cgroups.container_cgroup import ContainerCgroup
from hacontain.runtime.cgroups.layout import CGROUP_MOUNT_ROOT, detect_layout

__all__ = ["ContainerCgroup", "open_cgroup", "reuse_layout"]

_reused = {}                  # (sysfs, proc) -> Layout, once reuse_layout() was called


def open_cgroup(name, parent=None, *, paths=None, sysfs=CGROUP_MOUNT_ROOT, proc="/proc"):
    """The ContainerCgroup of container `name` (nothing is made until create())."""
    layout = _reused.get((sysfs, proc))
    if layout is None:
        layout = detect_layout(sysfs, proc)
        if _reused.get("on"):
            _reused[(sysfs, proc)] = layout
    return ContainerCgroup(layout, name, parent, paths)


def reuse_layout():
    """Detect the host's layout once for the rest of this process, for a reader of
    many containers (`hacontain ls`) that never changes its own cgroups."""
    _reused["on"] = True
