"""Loop devices through the kernel's ioctls (/dev/loop-control, LOOP_CONFIGURE or
LOOP_SET_FD), never losetup: attached with autoclear, so a device goes away with the
last mount (or the last open descriptor) of it."""

import errno
import fcntl
import os
import struct
import time

from hacontain.errors import KernelError, NotFound

LOOP_SET_FD = 0x4C00
LOOP_SET_STATUS64 = 0x4C04
LOOP_CONFIGURE = 0x4C0A
LOOP_CTL_GET_FREE = 0x4C82
LO_FLAGS_READ_ONLY = 1
LO_FLAGS_AUTOCLEAR = 4
_INFO64 = "QQQQQIIII64s64s32s2Q"           # struct loop_info64
ATTEMPTS = 8                             # a free device taken by someone else: try another


def _info(path, flags):
    name = os.fsencode(path)[:63]
    return struct.pack(_INFO64, 0, 0, 0, 0, 0, 0, 0, 0, flags, name, b"", b"", 0, 0)


def attach(path, readonly=False):
    """Attach file `path` to a free loop device with autoclear; (device path, open fd of
    the device): close the fd once the device is mounted (or to drop it unused)."""
    flags = LO_FLAGS_AUTOCLEAR | (LO_FLAGS_READ_ONLY if readonly else 0)
    backing = os.open(path, (os.O_RDONLY if readonly else os.O_RDWR) | os.O_CLOEXEC)
    try:
        control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
        try:
            for _ in range(ATTEMPTS):
                number = fcntl.ioctl(control, LOOP_CTL_GET_FREE)
                device = f"/dev/loop{number}"
                fd = os.open(device, (os.O_RDONLY if readonly else os.O_RDWR) | os.O_CLOEXEC)
                try:
                    _configure(fd, backing, flags, path)
                    return device, fd
                except OSError as exc:
                    os.close(fd)
                    if exc.errno != errno.EBUSY:
                        raise KernelError("attach loop device", exc.errno, device,
                                          f"backing file {path}") from None
            raise KernelError("attach loop device", errno.EBUSY, path,
                              f"no free loop device after {ATTEMPTS} attempts")
        finally:
            os.close(control)
    except FileNotFoundError as exc:
        raise NotFound(f"loop device: {exc.filename} does not exist") from None
    finally:
        os.close(backing)


def _configure(fd, backing, flags, path):
    """LOOP_CONFIGURE (Linux 5.8+), else LOOP_SET_FD then LOOP_SET_STATUS64."""
    try:
        fcntl.ioctl(fd, LOOP_CONFIGURE, struct.pack("II", backing, 0)
                    + _info(path, flags) + bytes(64))
        return
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTTY):
            raise
    fcntl.ioctl(fd, LOOP_SET_FD, backing)
    fcntl.ioctl(fd, LOOP_SET_STATUS64, _info(path, flags))


def backing(path):
    """Loop devices (/dev/loopN) whose backing file is `path`."""
    wanted = os.path.realpath(path)
    found = []
    try:
        names = os.listdir("/sys/block")
    except FileNotFoundError:
        return found
    for name in names:
        if not name.startswith("loop"):
            continue
        try:
            with open(f"/sys/block/{name}/loop/backing_file", encoding="utf-8") as handle:
                current = handle.read().strip()
        except OSError:
            continue
        if current == wanted:
            found.append(f"/dev/{name}")
    return found


def wait_released(path, timeout):
    """Loop devices still backing `path` after waiting up to `timeout` s for autoclear
    ones to go (a stopped container's mount is dropped with its namespace, and the
    device follows a moment later)."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        users = backing(path)
        if not users or any(_held(device) for device in users) or time.monotonic() >= deadline:
            return users
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _held(device):
    """Whether `device` is mounted or opened exclusively (O_EXCL open fails with EBUSY)."""
    try:
        fd = os.open(device, os.O_RDONLY | os.O_EXCL | os.O_CLOEXEC)
    except OSError as exc:
        return exc.errno == errno.EBUSY
    os.close(fd)
    return False
