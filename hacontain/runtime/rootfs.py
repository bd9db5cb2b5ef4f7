"""The container's filesystem view, built inside its new mount namespace.

Runs in the container's first process, before pivot_root: makes the host's
mounts invisible-by-propagation, mounts the rootfs, proc, sys, the
`lxc.mount.entry` list, then pivots into the rootfs and drops the old root.
"""

import os

from hacontain.errors import ConfigError, KernelError
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

# Paths below /proc that stay read-only with proc:mixed (LXC's choice).
_PROC_READONLY = ("sys", "sysrq-trigger")


def inside(rootfs, path):
    """`path` of the container resolved below `rootfs`, never escaping it."""
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
            target = os.readlink(candidate)
            resolved = inside(rootfs, target if target.startswith("/")
                              else os.path.join("/", *parts[:-1], target))
            parts = resolved[len(rootfs):].strip("/").split("/") if resolved != rootfs else []
    return os.path.join(rootfs, *parts)


def make_private():
    """Stop mount events propagating from the container to the host."""
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_SLAVE)


def mount_rootfs(rootfs):
    """Bind the rootfs onto itself so it is a mount point pivot_root accepts."""
    libc.mount(rootfs, rootfs, None, libc.MS_BIND | libc.MS_REC)


def mount_proc(rootfs, mode):
    """proc at /proc; `mode` 'rw' or 'mixed' (sys and sysrq-trigger read-only)."""
    target = inside(rootfs, "/proc")
    os.makedirs(target, exist_ok=True)
    libc.mount("proc", target, "proc", libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC)
    if mode == "mixed":
        for name in _PROC_READONLY:
            if os.path.exists(os.path.join(target, name)):
                readonly_bind(os.path.join(target, name))


def mount_sys(rootfs, mode):
    """sysfs at /sys; read-only unless `mode` is 'rw'."""
    target = inside(rootfs, "/sys")
    os.makedirs(target, exist_ok=True)
    flags = libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC
    if mode != "rw":
        flags |= libc.MS_RDONLY
    libc.mount("sysfs", target, "sysfs", flags)


def readonly_bind(path):
    """Make `path` a read-only bind mount of itself."""
    libc.mount(path, path, None, libc.MS_BIND | libc.MS_REC)
    remount_readonly(path)


def remount_readonly(path):
    """Remount a bind mount read-only, keeping its other locked flags."""
    flags = libc.MS_BIND | libc.MS_REMOUNT | libc.MS_RDONLY
    try:
        libc.mount(None, path, None, flags)
    except KernelError:
        # Locked flags (nosuid, nodev, noexec) must be repeated in a user namespace.
        vfs = os.statvfs(path)
        extra = 0
        for bit, flag in ((os.ST_NOSUID, libc.MS_NOSUID), (os.ST_NODEV, libc.MS_NODEV),
                          (os.ST_NOEXEC, libc.MS_NOEXEC)):
            if vfs.f_flag & bit:
                extra |= flag
        libc.mount(None, path, None, flags | extra)


def mount_auto(rootfs, words):
    """Apply `lxc.mount.auto`: proc and sys always (default proc:mixed sys:ro)."""
    proc_mode, sys_mode = "mixed", "ro"
    for word in words:
        kind, _, mode = word.partition(":")
        if kind == "proc":
            proc_mode = mode or "mixed"
        elif kind == "sys":
            sys_mode = mode or "ro"
    mount_proc(rootfs, proc_mode)
    mount_sys(rootfs, sys_mode)


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
