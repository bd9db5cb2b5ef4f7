"""Thin ctypes wrappers for the system calls Python's os module lacks.

Each wrapper raises KernelError naming the operation, the path and the errno.
"""

import ctypes
import os
import platform

from hacontain.errors import KernelError

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

MNT_DETACH = 2

_SYSCALLS = {
    "x86_64": {"pivot_root": 155, "pidfd_send_signal": 424, "pidfd_getfd": 438},
    "aarch64": {"pivot_root": 41, "pidfd_send_signal": 424, "pidfd_getfd": 438},
}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.syscall.restype = ctypes.c_long


def _encode(text):
    return None if text is None else os.fsencode(text)


def _check(result, op, path=None, detail=None):
    if result < 0:
        raise KernelError(op, ctypes.get_errno(), path, detail)
    return result


def _syscall_number(name):
    try:
        return _SYSCALLS[platform.machine()][name]
    except KeyError:
        raise KernelError(name, 38, detail=f"unknown syscall on {platform.machine()}") from None


def mount(source, target, fstype=None, flags=0, data=None):
    """mount(2); raises KernelError naming source, target and type."""
    result = _libc.mount(_encode(source), _encode(target), _encode(fstype), flags, _encode(data))
    _check(result, "mount", target, f"source {source}, type {fstype}, flags {flags:#x}"
           + (f", {data}" if data else ""))


def umount(target, flags=0):
    """umount2(2)."""
    _check(_libc.umount2(_encode(target), flags), "umount", target)


def pivot_root(new_root, put_old):
    """pivot_root(2)."""
    number = _syscall_number("pivot_root")
    _check(_libc.syscall(number, _encode(new_root), _encode(put_old)), "pivot_root", new_root)


def unshare(flags):
    """unshare(2)."""
    _check(_libc.unshare(flags), "unshare", detail=f"flags {flags:#x}")


def setns(fd, nstype=0, path=None):
    """setns(2) into the namespace open at `fd`."""
    _check(_libc.setns(fd, nstype), "setns", path)


def pidfd_send_signal(pidfd, sig):
    """pidfd_send_signal(2): signal exactly the process the pidfd refers to."""
    number = _syscall_number("pidfd_send_signal")
    _check(_libc.syscall(number, pidfd, sig, None, 0), "pidfd_send_signal", detail=f"signal {sig}")


def interface_up(name):
    """Set a network interface up (used for the container's loopback)."""
    import fcntl
    import socket
    import struct
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", name.encode(), 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH14x", name.encode(), flags | iff_up))
