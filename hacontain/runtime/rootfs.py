"""The container's filesystem view, built inside its new mount namespace.

Runs in the container's first process, before pivot_root: makes the host's
mounts invisible-by-propagation, mounts the rootfs, proc, sys, the
`lxc.mount.entry` list, then pivots into the rootfs and drops the old root.
"""

import os

from hacontain.errors import ConfigError, KernelError, NotFound
from hacontain.runtime.security import cgroup_view, masks
from hacontain.sys import libc

_FLAG_OPTIONS = {
    "ro": libc.MS_RDONLY, "rw": 0, "nosuid": libc.MS_NOSUID, "suid": 0,
    "nodev": libc.MS_NODEV, "dev": 0, "noexec": libc.MS_NOEXEC, "exec": 0,
    "noatime": libc.MS_NOATIME, "nodiratime": libc.MS_NODIRATIME,
    "relatime": libc.MS_RELATIME, "strictatime": libc.MS_STRICTATIME,
    "bind": libc.MS_BIND, "rbind": libc.MS_BIND | libc.MS_REC,
    "defaults": 0, "auto": 0, "noauto": 0, "user": 0, "nouser": 0, "async": 0,
}
_OWN_OPTIONS = ("optional", "create=dir", "create=file")
MAX_LINKS = 40                # symbolic links followed in a row, as the kernel's ELOOP limit


def inside(rootfs, path, _links=0):
    """`path` of the container resolved below `rootfs`, never escaping it; NotFound
    for a loop of symbolic links."""
    parts = []
    for part in path.strip("/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
        candidate = os.path.join(rootfs, *parts)
        if os.path.islink(candidate):
            if _links >= MAX_LINKS:
                raise NotFound(f"{path} in rootfs {rootfs}: too many levels of symbolic links")
            target = os.readlink(candidate)
            resolved = inside(rootfs, target if target.startswith("/")
                              else os.path.join("/", *parts[:-1], target), _links + 1)
            parts = resolved[len(rootfs):].strip("/").split("/") if resolved != rootfs else []
    return os.path.join(rootfs, *parts)


def is_systemd(rootfs, command):
    """Whether `command` (the init's path inside `rootfs`) is systemd: it resolves,
    through the rootfs's own links (/sbin/init -> /lib/systemd/systemd), to a file
    named systemd."""
    return os.path.basename(inside(rootfs, command)) == "systemd"


def make_private():
    """Stop mount events propagating from the container to the host."""
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_SLAVE)


def mount_rootfs(rootfs, volume=None):
    """Bind the rootfs onto itself so it is a mount point pivot_root accepts; or mount
    `volume` (a storage.backends.Volume: overlay, loop, lvm...) on it, here in the
    container's own mount namespace, so the host never sees it."""
    if volume is not None:
        volume.mount(rootfs)
        return
    libc.mount(rootfs, rootfs, None, libc.MS_BIND | libc.MS_REC)


def mount_proc(rootfs, mode):
    """proc at /proc; `mode` 'rw' or 'mixed' (masks.PROC_READONLY read-only,
    masks.PROC_MASKED hidden)."""
    target = inside(rootfs, "/proc")
    os.makedirs(target, exist_ok=True)
    libc.mount("proc", target, "proc", libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC)
    if mode == "mixed":
        _protect(target, masks.PROC_READONLY, masks.PROC_MASKED)


def mount_sys(rootfs, mode):
    """sysfs at /sys: 'rw'; 'ro' read-only with masks.SYS_MASKED hidden; 'mixed'
    like 'ro' but /sys/devices/virtual/net writable (as LXC)."""
    target = inside(rootfs, "/sys")
    os.makedirs(target, exist_ok=True)
    flags = libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC
    libc.mount("sysfs", target, "sysfs", flags)
    if mode == "rw":
        return
    if mode == "mixed":
        net = os.path.join(target, "devices/virtual/net")
        libc.mount(net, net, None, libc.MS_BIND | libc.MS_REC)
    remount_readonly(target)
    _protect(target, (), masks.SYS_MASKED)


def _protect(directory, readonly_names, masked_names):
    """Make the named entries below `directory` read-only or masked (absent ones skipped)."""
    for name in readonly_names:
        if os.path.lexists(os.path.join(directory, name)):
            readonly_bind(os.path.join(directory, name))
    for name in masked_names:
        if os.path.lexists(os.path.join(directory, name)):
            masks.mask(os.path.join(directory, name))


def readonly_bind(path):
    """Make `path` a read-only bind mount of itself."""
    libc.mount(path, path, None, libc.MS_BIND | libc.MS_REC)
    remount_readonly(path)


def remount_readonly(path):
    """Remount a mount read-only, keeping its nosuid, nodev and noexec (a remount
    replaces them, and a user namespace refuses to clear locked ones)."""
    vfs = os.statvfs(path)
    flags = libc.MS_BIND | libc.MS_REMOUNT | libc.MS_RDONLY
    for bit, flag in ((os.ST_NOSUID, libc.MS_NOSUID), (os.ST_NODEV, libc.MS_NODEV),
                      (os.ST_NOEXEC, libc.MS_NOEXEC)):
        if vfs.f_flag & bit:
            flags |= flag
    libc.mount(None, path, None, flags)


def mount_auto(rootfs, words, cgroup_mode=None, cgroup_views=()):
    """Apply `lxc.mount.auto`: proc and sys always (default proc:mixed sys:ro), the
    cgroup hierarchies `cgroup_views` in `cgroup_mode` (see security.cgroup_view)."""
    proc_mode, sys_mode = "mixed", "ro"
    for word in words:
        kind, _, mode = word.partition(":")
        if kind == "proc":
            proc_mode = mode or "mixed"
        elif kind == "sys":
            sys_mode = mode or "ro"
    mount_proc(rootfs, proc_mode)
    mount_sys(rootfs, sys_mode)
    if cgroup_mode is not None and cgroup_views:
        cgroup_view.mount(inside(rootfs, "/sys/fs/cgroup"), cgroup_mode, cgroup_views)


def split_options(options):
    """(mount flags, data string, own options) from an fstab option list."""
    flags, data, own = 0, [], set()
    for option in options:
        if option in _OWN_OPTIONS:
            own.add(option)
        elif option in _FLAG_OPTIONS:
            flags |= _FLAG_OPTIONS[option]
        else:
            data.append(option)
    return flags, ",".join(data) or None, own


def mount_entry(rootfs, entry):
    """Mount one `lxc.mount.entry` (fstab fields) below `rootfs`."""
    target = entry.target
    if target.startswith(rootfs.rstrip("/") + "/"):
        target = target[len(rootfs.rstrip("/")):]
    target = inside(rootfs, target)
    flags, data, own = split_options(entry.options)
    optional = "optional" in own
    try:
        _create_target(target, entry, own)
        bind = flags & libc.MS_BIND
        if bind and not os.path.exists(entry.source):
            raise ConfigError(f"bind source {entry.source} does not exist",
                              entry.origin.path, entry.origin.line, entry.origin.key)
        libc.mount(entry.source, target, None if bind else entry.fstype,
                   flags & ~libc.MS_RDONLY if bind else flags, data)
        if bind and flags & libc.MS_RDONLY:
            remount_readonly(target)
    except (KernelError, ConfigError, OSError) as exc:
        if optional:
            return
        origin = entry.origin
        raise ConfigError(f"mount {entry.source} on {entry.target} failed: {exc}",
                          origin.path, origin.line, origin.key) from None


def check_bind_sources(mounts):
    """Raise ConfigError at the line of a bind mount whose source this node lacks (what
    mount_entry would find only in the starting container); optional ones may lack it."""
    for entry in mounts:
        flags, _, own = split_options(entry.options)
        if flags & libc.MS_BIND and "optional" not in own and not os.path.exists(entry.source):
            raise entry.origin.error(f"bind source {entry.source} does not exist on this node")


def _create_target(target, entry, own):
    if os.path.lexists(target):
        return
    if "create=dir" in own:
        os.makedirs(target, exist_ok=True)
    elif "create=file" in own:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "a", encoding="utf-8"):
            pass


def pivot(rootfs):
    """pivot_root into `rootfs` and detach the old root (the runc way)."""
    os.chdir(rootfs)
    libc.pivot_root(".", ".")
    libc.umount(".", libc.MNT_DETACH)
    os.chdir("/")
