"""A loop rootfs (`loop:FILE`, an image file): at start the container's init attaches
it to a loop device (autoclear) and mounts it in its own mount namespace, so the device
goes away when the container's namespace does, crash or not."""

import os

from hacontain.errors import NotFound, StorageError
from hacontain.storage import backends, block, loopdev

RELEASE_WAIT = 5.0      # s for the loop device of a just-stopped container to clear


class Loop(backends.Volume):
    kind = "loop"
    needs_mount_privilege = True

    def check(self, idmap=False):
        super().check(idmap)
        if not os.path.isfile(self.path):
            raise NotFound(f"rootfs {self.spec}: image file {self.path} does not exist")
        users = loopdev.wait_released(self.path, RELEASE_WAIT)
        if users:
            raise backends.VolumeBusy(f"rootfs {self.spec}: {self.path} is in use on this node "
                                      f"(attached to {', '.join(users)})")

    def prepare(self):
        from hacontain.sys import libc
        flags, _ = backends.mount_options(self.options)
        device, fd = loopdev.attach(self.path, readonly=bool(flags & libc.MS_RDONLY))
        try:
            self.mount_fd = block.open_mount(device, self.options)
        finally:
            os.close(fd)          # the mount holds the device now; unmounted, it clears

    def destroy(self):
        users = loopdev.wait_released(self.path, RELEASE_WAIT)
        if users:
            raise backends.VolumeBusy(f"{self.path} is attached to {', '.join(users)}")
        if os.path.lexists(self.path):
            os.unlink(self.path)

    def size(self):
        return os.stat(self.path).st_size

    def duplicate(self, directory, name, options):
        """A full copy of the image (reflinked where the filesystem can, else sparse),
        with a new filesystem UUID where needed."""
        path = os.path.join(directory, "rootdev")
        copy_file(self.path, path)
        clone = Loop(path)
        block.new_uuid(clone)
        return clone


def copy_file(source, target):
    """Copy `source` to a new `target`: one FICLONE, else data ranges only (holes stay)."""
    import fcntl
    ficlone = 0x40049409
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except BaseException:
        os.close(src)
        raise
    try:
        try:
            try:
                fcntl.ioctl(dst, ficlone, src)
                return
            except OSError:
                pass
            size = os.fstat(src).st_size
            os.ftruncate(dst, size)
            offset = 0
            while offset < size:
                try:
                    start = os.lseek(src, offset, os.SEEK_DATA)
                except OSError:
                    break                      # ENXIO: only a hole is left
                end = os.lseek(src, start, os.SEEK_HOLE)
                while start < end:
                    copied = os.copy_file_range(src, dst, end - start, start, start)
                    if copied == 0:
                        break
                    start += copied
                offset = end
        finally:
            os.close(dst)
    except BaseException:
        os.unlink(target)
        raise
    finally:
        os.close(src)


def open_volume(path, options=None):
    return Loop(path, options)


def create(directory, name, options):
    """A sparse image DIRECTORY/rootdev of --fssize with a --fstype filesystem."""
    path = os.path.join(directory, "rootdev")
    size = backends.parse_size(options.fssize)
    if size < 64 * 1024 * 1024:
        raise StorageError(f"--fssize {options.fssize} is too small for a rootfs (64M at least)")
    with open(path, "xb") as handle:
        handle.truncate(size)
    block.make_filesystem(path, options.fstype)
    return Loop(path)
