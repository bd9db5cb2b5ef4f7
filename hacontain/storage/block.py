"""A block device rootfs (a bare `/dev/...` path), and what every block-backed
backend (loop, lvm) shares: the in-use checks, the mount, mkfs and a new UUID."""

import errno
import os
import stat

from hacontain.errors import NotFound, StorageError
from hacontain.storage import backends, drbd, mountinfo, probe

MKFS = {"ext4": ["mkfs.ext4", "-q", "-F"], "xfs": ["mkfs.xfs", "-q", "-f"],
        "btrfs": ["mkfs.btrfs", "-q", "-f"]}


class Block(backends.Volume):
    kind = "block"
    needs_mount_privilege = True

    @property
    def spec(self):
        return self.path

    def check(self, idmap=False):
        super().check(idmap)
        check_device(self.path, self.spec)

    def prepare(self):
        self.mount_fd = open_mount(self.path, self.options)

    def destroy(self):
        """A bare device is never wiped: the container is forgotten, the data stays."""

    def size(self):
        return device_size(self.path)


def open_volume(path, options=None):
    return Block(path, options)


def check_device(device, spec):
    """NotFound when `device` is missing or not a block device; VolumeBusy when it is
    mounted on this node or held open exclusively (mounted in another mount namespace,
    e.g. by a running container, or a device-mapper or md member)."""
    try:
        info = os.stat(device)
    except FileNotFoundError:
        raise NotFound(f"rootfs {spec}: device {device} does not exist on this node") from None
    if not stat.S_ISBLK(info.st_mode):
        raise NotFound(f"rootfs {spec}: {device} is not a block device")
    if os.major(info.st_rdev) == drbd.MAJOR:
        role = drbd.local_role(os.minor(info.st_rdev))
        if role != "Primary":
            raise backends.VolumeBusy(f"rootfs {spec}: {device} is DRBD minor "
                                      f"{os.minor(info.st_rdev)}, {role} on this node: only "
                                      "its Primary may start the container")
    points = mountinfo.mount_points(info.st_rdev)
    if points:
        raise backends.VolumeBusy(f"rootfs {spec}: {device} is already mounted on this node "
                                  f"at {', '.join(points)}")
    try:
        fd = os.open(device, os.O_RDONLY | os.O_EXCL | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            raise backends.VolumeBusy(
                f"rootfs {spec}: {device} is in use on this node (mounted in another mount "
                "namespace, e.g. a running container, or held by another device)") from None
        raise NotFound(f"rootfs {spec}: cannot open {device}: {exc.strerror}") from None
    os.close(fd)


def open_mount(device, options):
    """A detached mount (storage.newmount) of the filesystem on `device` with
    lxc.rootfs.options: its descriptor."""
    from hacontain.storage import newmount
    flags, data = backends.mount_options(options)
    return newmount.open_mount(device, probe.filesystem_type(device), flags, data)


def device_size(device):
    fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def make_filesystem(target, fstype):
    """mkfs.FSTYPE on a device or image file."""
    from hacontain.storage.command import run
    if fstype not in MKFS:
        raise StorageError(f"filesystem type {fstype!r} is not supported: use "
                           f"{', '.join(MKFS)}")
    run(MKFS[fstype] + [target], f"make the {fstype} filesystem on {target}")


def new_uuid(volume):
    """Give the copied filesystem of `volume` (a block or loop volume) its own UUID where
    the filesystem refuses two of one UUID on a node (xfs, btrfs); ext4 needs none."""
    from hacontain.storage.command import run
    fstype = probe.filesystem_type(volume.path)
    if fstype == "xfs":
        _new_xfs_uuid(volume)
    elif fstype == "btrfs":
        run(["btrfstune", "-f", "-u", volume.path], f"give {volume.path} a new btrfs UUID")


def _new_xfs_uuid(volume):
    """xfs_admin -U generate. A copy of a running source has a dirty log, which
    xfs_admin refuses to touch (exiting 0): mounting the copy once (detached, nouuid)
    replays it, then xfs_admin runs again."""
    from hacontain.storage.command import run
    old = xfs_uuid(volume.path)
    for attempt in range(2):
        run(["xfs_admin", "-U", "generate", volume.path], f"give {volume.path} a new xfs UUID")
        if xfs_uuid(volume.path) != old:
            return
        if attempt == 0:
            replaying = type(volume)(volume.path, "nouuid")
            replaying.prepare()
            replaying.release()
    raise StorageError(f"{volume.path}: xfs_admin -U generate left the xfs UUID unchanged "
                       "(a log that mounting did not replay?): run xfs_repair on it")


def xfs_uuid(target):
    """The UUID bytes of the xfs superblock on `target` (sb_uuid, offset 32)."""
    fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.pread(fd, 16, 32)
    finally:
        os.close(fd)
