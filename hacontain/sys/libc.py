"""Thin wrappers (over ffi, ctypes' C module) for the system calls Python's os module lacks.

Each wrapper raises KernelError naming the operation, the path and the errno.
"""

import os

from hacontain.errors import KernelError
from hacontain.sys import ffi

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

AF_INET = 2
SOCK_DGRAM = 2
SOCK_CLOEXEC = 0o2000000

CLONE_INTO_CGROUP = 0x200000000

_SYSCALLS = {
    "x86_64": {"pivot_root": 155, "pidfd_send_signal": 424, "pidfd_getfd": 438, "clone3": 435,
               "bpf": 321},
    "aarch64": {"pivot_root": 41, "pidfd_send_signal": 424, "pidfd_getfd": 438, "clone3": 435,
                "bpf": 280},
}

_libc = ffi.Library()
_libc.mount.argtypes = [ffi.c_char_p, ffi.c_char_p, ffi.c_char_p, ffi.c_ulong, ffi.c_char_p]
_libc.umount2.argtypes = [ffi.c_char_p, ffi.c_int]
_libc.unshare.argtypes = [ffi.c_int]
_libc.setns.argtypes = [ffi.c_int, ffi.c_int]
_libc.sethostname.argtypes = [ffi.c_char_p, ffi.c_size_t]
_libc.syscall.restype = ffi.c_long
# The same library, called with the GIL held: a child made by clone3 must own it.
_libc_gil = ffi.Library(hold_gil=True)
_libc_gil.syscall.restype = ffi.c_long


def _encode(text):
    return None if text is None else os.fsencode(text)


def _check(result, op, path=None, detail=None):
    if result < 0:
        raise KernelError(op, ffi.get_errno(), path, detail)
    return result


def _syscall_number(name):
    machine = os.uname().machine
    try:
        return _SYSCALLS[machine][name]
    except KeyError:
        raise KernelError(name, 38, detail=f"unknown syscall on {machine}") from None


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


def bpf(command, attr, op, path=None):
    """bpf(2) `command` with the union bpf_attr `attr` (bytes, its whole size); the result."""
    buffer = ffi.create_string_buffer(attr, len(attr))
    return _check(_libc.syscall(ffi.c_long(_syscall_number("bpf")), ffi.c_long(command),
                                buffer, ffi.c_ulong(len(attr))), op, path)


def unshare(flags):
    """unshare(2)."""
    _check(_libc.unshare(flags), "unshare", detail=f"flags {flags:#x}")


def syncfs(fd, path=None):
    """syncfs(2): write out the filesystem that `fd` is on."""
    _check(_libc.syncfs(fd), "syncfs", path)


def setns(fd, nstype=0, path=None):
    """setns(2) into the namespace open at `fd`."""
    _check(_libc.setns(fd, nstype), "setns", path)


def in_netns(path, make):
    """`make()` called inside the netns at `path` (/proc/PID/ns/net, a bind mount of
    one), then back in this one.

    For sockets: a socket keeps the netns it was made in. Only the calling
    thread moves, and it is always moved back.
    """
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise KernelError("open", exc.errno, path) from None
    try:
        own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            setns(target, CLONE_NEWNET, path)
            try:
                return make()
            finally:
                setns(own, CLONE_NEWNET, "/proc/self/ns/net")
        finally:
            os.close(own)
    finally:
        os.close(target)


def pidfd_send_signal(pidfd, sig):
    """pidfd_send_signal(2): signal exactly the process the pidfd refers to."""
    number = _syscall_number("pidfd_send_signal")
    _check(_libc.syscall(number, pidfd, sig, None, 0), "pidfd_send_signal", detail=f"signal {sig}")


def prctl(option, arg2=0, arg3=0, what="prctl", detail=None):
    """prctl(2) with up to two arguments (numbers or addresses); KernelError naming `what`."""
    return _check(_libc.prctl(ffi.c_int(option), ffi.c_ulong(arg2), ffi.c_ulong(arg3),
                              ffi.c_ulong(0), ffi.c_ulong(0)), what, detail=detail)


def sethostname(name):
    """sethostname(2), in the current UTS namespace."""
    data = name.encode()
    _check(_libc.sethostname(data, len(data)), "sethostname", detail=name)


def interface_up(name):
    """Set a network interface up (used for the container's loopback).

    The ioctl goes through a plain socket(2) fd: the socket module is not
    needed (and not imported) on the start path.
    """
    import fcntl
    import struct
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    fd = _check(_libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket",
                detail=f"to set {name} up")
    try:
        request = struct.pack("16sH14x", name.encode(), 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(fd, siocgifflags, request))[1]
        fcntl.ioctl(fd, siocsifflags, struct.pack("16sH14x", name.encode(), flags | iff_up))
    finally:
        os.close(fd)


def fork_into_cgroup(cgroup_fd):
    """fork(2) by clone3(2) with CLONE_INTO_CGROUP: the child starts in the v2 cgroup open at `cgroup_fd`.

    0 in the child, its PID in the parent; None when the process has other
    threads (the caller then forks as usual): unlike os.fork(), this runs no
    at-fork hooks, so the child may only run simple code before it execs or
    forks again. KernelError when the kernel refuses (ENOSYS before 5.7).
    """
    if len(os.listdir("/proc/self/task")) != 1:
        return None
    from hacontain.sys import signals
    import struct
    args = struct.pack("11Q", CLONE_INTO_CGROUP, 0, 0, 0, signals.SIGCHLD, 0, 0, 0, 0, 0, cgroup_fd)
    result = _libc_gil.syscall(ffi.c_long(_syscall_number("clone3")), args,
                               ffi.c_size_t(len(args)))
    return _check(result, "clone3", detail="CLONE_INTO_CGROUP")
