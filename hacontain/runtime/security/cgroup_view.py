"""The container's /sys/fs/cgroup (`lxc.mount.auto = cgroup:ro|mixed|rw`).

Each hierarchy the container has a cgroup on is mounted inside the container's
cgroup namespace, so its root is the container's own cgroup (on cgroup v1 the
guest's cgroup below the one holding its limits, cgroups/v1.py): nothing above
it (the host's cgroups, other containers, its limits on v1) is visible. A
tmpfs holds the mount points on a v1 or hybrid host; a pure v2 host gets
cgroup2 at /sys/fs/cgroup.

    ro     every hierarchy read-only
    mixed  the hierarchies writable (sub-cgroups can be made, as systemd does),
           its limits out of the container's reach:
           - cgroup v2: the files of the container's own cgroup are read-only
             (its limits and its cgroup.procs, which would move a process out of
             a sub-cgroup back to the root). Each writable file (security.
             cgroup_files says which, before the fork) is covered by its twin
             from a read-only mount of the hierarchy underneath. The root's
             cgroup.subtree_control stays writable: it is what cgroup v2
             delegates (with the host's nsdelegate the kernel allows no other
             file of a namespace root either), and a systemd guest enables its
             controllers there for its units, once it has moved itself to
             init.scope.
           - cgroup v1: the guest's cgroup is writable; what it sets there binds
             only itself, inside the limits of the cgroup above it. Only the
             files v1 does not apply to descendants (cgroups.v1.UNBOUND: blkio
             throttling, net_cls, net_prio) are covered, as on v2.
    rw     everything writable (on v1 the guest's cgroup, inside the limits)
A bare `cgroup` is `cgroup:mixed`.
"""

import os

from hacontain.runtime.cgroups.v1 import UNBOUND
from hacontain.runtime.security import cgroup_files
from hacontain.sys import libc

MODES = ("ro", "mixed", "rw")
DELEGATED = ("cgroup.subtree_control",)   # v2 files of its own cgroup `mixed` leaves writable


def mode_of(words):
    """The cgroup mode `lxc.mount.auto` words ask for; None when no cgroup is mounted."""
    mode = None
    for word in words:
        kind, _, value = word.partition(":")
        if kind in ("cgroup", "cgroup-full"):
            mode = value.split(":")[0] or "mixed"
            mode = mode if mode in MODES else "mixed"
    return mode


def views(hierarchies, directories=None):
    """(mount key, fstype, mount options, writable files) for each of `hierarchies`
    (cgroups.layout Hierarchy, those the container has a cgroup in). With the
    container's cgroup `directories` on them (what `mixed` covers), writable files
    are the names of those of its files `mixed` covers: on v2 every writable one
    (cgroup_files), on v1 the UNBOUND ones it has; else None."""
    plain = [(hierarchy.key, "cgroup2" if hierarchy.version == 2 else "cgroup",
              hierarchy.mount_options) for hierarchy in hierarchies]
    if directories is None:
        return tuple((*view, None) for view in plain)
    on_v2 = [index for index, view in enumerate(plain) if view[1] == "cgroup2"]
    found = dict(zip(on_v2, cgroup_files.writable([plain[index] for index in on_v2],
                                                  [directories[index] for index in on_v2])))
    return tuple((*view, found[index] if index in found else _unbound(directories[index]))
                 for index, view in enumerate(plain))


def _unbound(directory):
    """The UNBOUND files the v1 cgroup at `directory` has, sorted."""
    return tuple(sorted(UNBOUND.intersection(os.listdir(directory))))


def mount(target, mode, views):
    """Mount `views` (from views()) at `target` in `mode`; run inside the cgroup ns."""
    flags = libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC
    readonly = libc.MS_RDONLY if mode == "ro" else 0
    os.makedirs(target, exist_ok=True)
    if len(views) == 1 and views[0][0] == "":
        _mount_one(target, views[0], flags | readonly, mode)
        return
    libc.mount("cgroup", target, "tmpfs", flags, "size=64k,mode=755")
    for view in views:
        path = os.path.join(target, view[0])
        os.makedirs(path, exist_ok=True)
        _mount_one(path, view, flags | readonly, mode)
    libc.mount(None, target, None, libc.MS_REMOUNT | libc.MS_RDONLY | flags, "size=64k,mode=755")


def _mount_one(path, view, flags, mode):
    _, fstype, options, writable = view
    if mode != "mixed" or not writable:
        libc.mount("cgroup", path, fstype, flags, options)
        return
    libc.mount("cgroup", path, fstype, flags, options)
    below = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        libc.mount(path, path, None, libc.MS_BIND)          # the writable view, on top
        readonly = f"/proc/self/fd/{below}"                  # the first mount, now below
        libc.mount(None, readonly, None, libc.MS_BIND | libc.MS_REMOUNT | libc.MS_RDONLY | flags)
        _cover_own_files(path, readonly, DELEGATED if fstype == "cgroup2" else (), writable)
    finally:
        os.close(below)


def _cover_own_files(path, readonly, delegated, writable):
    """Cover each writable file of the cgroup at `path` (the names `writable`, from
    views()) but the `delegated` ones with the same file of the read-only mount at
    `readonly` (below it): one bind per file, since a bind keeps its source's
    read-only flag, where a read-only bind of each file onto itself takes three
    calls. A file with no write permission (usage, stat...) is left as it is: the
    kernel gives a cgroup file write permission exactly when it has a write
    handler, and a write to one without fails (EINVAL), by root and after a
    chmod too."""
    for name in writable:
        if name not in delegated:
            libc.mount(f"{readonly}/{name}", f"{path}/{name}", None, libc.MS_BIND)
