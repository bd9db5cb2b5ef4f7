"""Which cgroup hierarchies this host has, and where the caller sits in each.

Read from /proc/self/mountinfo and /proc/self/cgroup (the /proc and
/sys/fs/cgroup roots are parameters, so tests feed canned files and temp
directories). Only cgroup mounts at or below /sys/fs/cgroup count.
"""

import os
import posixpath

from hacontain.errors import KernelError, NotInstalled, StateError
from hacontain.record import Record

CGROUP_MOUNT_ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = frozenset({
    "blkio", "cpu", "cpuacct", "cpuset", "debug", "devices", "freezer", "hugetlb",
    "memory", "misc", "net_cls", "net_prio", "perf_event", "pids", "rdma"})
# v2 controller name -> v1 controller name where they differ
V1_NAME = {"io": "blkio"}


class Hierarchy(Record):
    """One mounted cgroup hierarchy."""

    key: str                 # mount point relative to /sys/fs/cgroup ("memory", "unified", "")
    version: int             # 1 or 2
    mountdir: str            # the mount point as seen through the `sysfs` root
    root: str                # the mount's root inside the hierarchy (mountinfo field 4)
    controllers: frozenset   # v1: from the mount options; v2: the root's cgroup.controllers
    caller: str              # the calling process's cgroup in this hierarchy
    name: str = ""           # v1 named hierarchy (name=systemd: "systemd"), else ""

    @property
    def mount_options(self):
        """The cgroup (v1) mount options that select this hierarchy (None for v2)."""
        if self.version == 2:
            return None
        named = [f"name={self.name}"] if self.name else []
        return ",".join(sorted(self.controllers) + named) if self.controllers \
            else ",".join(["none"] + named)

    def dir_of(self, cgroup):
        """The directory of `cgroup` (a path inside the hierarchy)."""
        if self.root == "/" and cgroup.startswith("/") and "//" not in cgroup \
                and "/." not in cgroup and not cgroup.endswith("/"):
            return self.mountdir + cgroup     # a normal path below the mount's root (fast)
        relative = posixpath.relpath(cgroup, self.root)
        if relative == ".." or relative.startswith("../"):
            raise StateError(f"cgroup {cgroup} is outside the part of the hierarchy mounted "
                             f"at {self.mountdir} (mount root {self.root})")
        return os.path.normpath(os.path.join(self.mountdir, relative))


class Layout(Record):
    """All the hierarchies of the host: "v1", "v2" or "hybrid"."""

    hierarchies: tuple

    @property
    def v1(self):
        return tuple(h for h in self.hierarchies if h.version == 1)

    @property
    def v2(self):
        return next((h for h in self.hierarchies if h.version == 2), None)

    @property
    def kind(self):
        if not self.v1:
            return "v2"
        return "hybrid" if self.v2 is not None else "v1"


def detect_layout(sysfs=CGROUP_MOUNT_ROOT, proc="/proc"):
    """The Layout of this host, seen from the calling process."""
    mounts = _cgroup_mounts(_read(os.path.join(proc, "self", "mountinfo")))
    membership = _membership(_read(os.path.join(proc, "self", "cgroup")))
    hierarchies, seen = [], set()
    for mountpoint, (root, fstype, options) in mounts.items():
        key = posixpath.relpath(mountpoint, CGROUP_MOUNT_ROOT)
        key = "" if key == "." else key
        mountdir = os.path.join(sysfs, key) if key else sysfs
        if fstype == "cgroup2":
            identity = frozenset()
            controllers = frozenset(_read(os.path.join(mountdir, "cgroup.controllers")).split())
        else:
            identity = frozenset(o for o in options if o in V1_CONTROLLERS or o.startswith("name="))
            controllers = identity & V1_CONTROLLERS
            if not identity:
                continue
        if identity in seen or identity not in membership:
            continue                          # a second mount of the same hierarchy
        seen.add(identity)
        # A named hierarchy (name=systemd) controls nothing but is where a systemd guest
        # tracks its units: the container gets its own cgroup there like everywhere else.
        name = next((o[5:] for o in identity if o.startswith("name=")), "")
        hierarchies.append(Hierarchy(key, 2 if fstype == "cgroup2" else 1, mountdir, root,
                                     controllers, membership[identity], name))
    if not hierarchies:
        raise NotInstalled(f"no cgroup hierarchy is mounted at or below {CGROUP_MOUNT_ROOT}")
    return Layout(tuple(sorted(hierarchies, key=lambda h: (h.version, h.key))))


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise KernelError("read", exc.errno, path) from None


def _cgroup_mounts(mountinfo):
    """mount point -> (root, fstype, super options) of the cgroup mounts under the mount root."""
    mounts = {}
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        tail = fields[fields.index("-") + 1:]
        if len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        mountpoint, root = _unescape(fields[4]), _unescape(fields[3])
        if mountpoint != CGROUP_MOUNT_ROOT and not mountpoint.startswith(CGROUP_MOUNT_ROOT + "/"):
            continue
        mounts.pop(mountpoint, None)           # a later mount hides an earlier one
        mounts[mountpoint] = (root, tail[0], tail[2].split(","))
    return mounts


def _membership(text):
    """hierarchy identity (frozenset of controllers and name=; empty for v2) -> cgroup path."""
    found = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            found[frozenset(c for c in parts[1].split(",") if c)] = parts[2]
    return found


def _unescape(field):
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)
