"""The rootfs backends, one table (like LXC's storage ops): `lxc.rootfs.path` forms,
parsed into a Volume of the backend's module.

Forms: `dir:PATH` or a bare directory, `overlay:LOWER:UPPER` (or `overlayfs:`; the work
directory is `olwork` beside UPPER), `btrfs:PATH` (a subvolume), `loop:FILE`,
`lvm:/dev/VG/LV`, a bare block device (`/dev/...`).

Every Volume has: `spec` (its lxc.rootfs.path), `check(idmap)` (node-local problems
before a start: NotFound when missing, VolumeBusy when in use or mounted elsewhere),
`mount(target)` (in the calling process's mount namespace: the container's own at
start), `destroy()`, `size()` (bytes), `snapshot(directory, name, options)` (a clone
sharing blocks) and `host_path` (a directory the host can write without mounting, or None).
A backend module has `create(directory, name, options)` and `open_volume(...)`.
"""

import dataclasses
import importlib
import os
import re
import stat

from hacontain.errors import ConfigError, NotFound

MODULES = {
    "dir": "hacontain.storage.directory",
    "overlay": "hacontain.storage.overlay",
    "btrfs": "hacontain.storage.btrfs",
    "loop": "hacontain.storage.loop",
    "lvm": "hacontain.storage.lvm",
    "block": "hacontain.storage.block",
}
ALIASES = {"overlayfs": "overlay"}
CREATABLE = ("dir", "overlay", "btrfs", "loop", "lvm")
_SIZE = re.compile(r"(\d+)([KMGT]?)(i?B)?", re.IGNORECASE)


class VolumeBusy(NotFound):
    """The volume is in use or mounted elsewhere on this node (node-local, like a missing one)."""


@dataclasses.dataclass
class Options:
    """What `create -B` and `copy` take, as lxc-create's options."""
    fstype: str = "ext4"
    fssize: str = "1G"
    vgname: str = "lxc"
    lvname: str | None = None
    thinpool: str | None = None


def parse_size(text):
    """Bytes of '2G', '512M', '1024' (binary units, as lxc-create's --fssize)."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise ConfigError(f"invalid size {text!r}: use e.g. 512M or 2G")
    return int(match.group(1)) * 1024 ** " KMGT".index(match.group(2).upper() or " ")


def split(value):
    """(backend, fields) of an `lxc.rootfs.path` value; ConfigError for bad syntax."""
    kind, sep, rest = value.partition(":")
    kind = ALIASES.get(kind, kind)
    if not sep or kind not in MODULES:
        if value.startswith("/"):
            return "dir", (os.path.normpath(value),)
        raise ConfigError(f"rootfs {value!r}: unknown backend {kind!r} "
                          f"(one of {', '.join(sorted(MODULES))}, or an absolute path)")
    fields = tuple(rest.split(":")) if kind == "overlay" else (rest,)
    if kind == "overlay" and len(fields) != 2:
        raise ConfigError(f"rootfs {value!r}: overlay takes overlay:LOWER:UPPER")
    for field in fields:
        if not field.startswith("/"):
            raise ConfigError(f"rootfs {value!r}: {field!r} is not an absolute path")
    return kind, tuple(os.path.normpath(field) for field in fields)


def canonical(value):
    """The value as stored: a plain path for a directory, else `kind:paths`."""
    kind, fields = split(value)
    return fields[0] if kind == "dir" else f"{kind}:{':'.join(fields)}"


def is_volume(value):
    """Whether `value` (a canonical rootfs) is mounted at start, not bound: a backend
    prefix, or a bare path that is a block device."""
    if not value.startswith("/"):
        return True
    try:
        return stat.S_ISBLK(os.stat(value).st_mode)
    except OSError:
        return False


def module(kind):
    return importlib.import_module(MODULES[kind])


def open_volume(value, options=None):
    """The Volume of a canonical rootfs value; `options`: lxc.rootfs.options."""
    kind, fields = split(value)
    if kind == "dir" and is_volume(fields[0]):
        kind = "block"
    return module(kind).open_volume(*fields, options=options)


def mount_options(options, extra=()):
    """(flags, data) of lxc.rootfs.options plus `extra` data options."""
    from hacontain.runtime.rootfs import split_options
    words = [word for word in (options or "").split(",") if word] + list(extra)
    flags, data, _ = split_options(words)
    return flags, data


def size_of_tree(path):
    """Bytes allocated to the files below `path` (one filesystem)."""
    total, device = 0, os.lstat(path).st_dev
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            info = os.lstat(os.path.join(folder, name))
            if info.st_dev == device:
                total += info.st_blocks * 512
    return total


class Volume:
    """A rootfs volume; each backend module subclasses it."""
    kind = ""
    host_path = None          # a directory the host writes without mounting, or None
    needs_mount_privilege = False   # block filesystems: not mountable in a user namespace

    def __init__(self, path, options=None):
        self.path, self.options = path, options

    @property
    def spec(self):
        return f"{self.kind}:{self.path}"

    def check(self, idmap=False):
        """Raise NotFound or VolumeBusy for what would stop a start on this node."""
        if idmap and self.needs_mount_privilege:
            raise ConfigError(f"rootfs {self.spec}: a {self.kind} filesystem cannot be mounted "
                              "in a user namespace (lxc.idmap): use a dir, overlay or btrfs rootfs")

    mount_fd = None           # a detached mount made by prepare(), attached by mount()

    def prepare(self):
        """Before the container's processes are forked (here the host's device rules
        apply, not the container's): open what mount() needs. Block-backed volumes
        make a detached mount; the others mount in mount()."""

    def release(self):
        """Close what prepare() opened (the init has its own copy)."""
        if self.mount_fd is not None:
            os.close(self.mount_fd)
            self.mount_fd = None

    def mount(self, target):
        """Mount on `target` in this mount namespace (the container's own at start)."""
        from hacontain.storage import newmount
        if self.mount_fd is None:
            self.prepare()
        newmount.attach(self.mount_fd, target)

    def destroy(self):
        raise NotImplementedError

    def size(self):
        raise NotImplementedError

    def snapshot(self, directory, name, options):
        from hacontain.errors import StorageError
        raise StorageError(f"rootfs {self.spec}: {self.kind} has no snapshots: copy it "
                           "without -s")

    def clone_relation(self):
        """'overlay' or 'lvm-thick' when a snapshot of it depends on it staying unchanged
        and present; None when snapshots are independent."""
        return None
