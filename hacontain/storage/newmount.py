"""Detached mounts through the new mount API (fsopen, fsconfig, fsmount, move_mount).

A block-backed rootfs is opened here, in the starting process (in the host's cgroup,
whose device rules allow the device): the mount is detached, in no namespace; the
container's init attaches it on its rootfs in its own mount namespace. Should the init
die first, closing the descriptor frees the filesystem (and an autoclear loop device)."""

import os

from hacontain.sys import libc

MOVE_MOUNT, FSOPEN, FSCONFIG, FSMOUNT = 429, 430, 431, 432   # the same on every arch
FSOPEN_CLOEXEC = FSMOUNT_CLOEXEC = 1
FSCONFIG_SET_FLAG, FSCONFIG_SET_STRING, FSCONFIG_CMD_CREATE = 0, 1, 6
MOVE_MOUNT_F_EMPTY_PATH = 4
AT_FDCWD = -100
_ATTRS = ((libc.MS_RDONLY, 0x1), (libc.MS_NOSUID, 0x2), (libc.MS_NODEV, 0x4),
          (libc.MS_NOEXEC, 0x8), (libc.MS_NOATIME, 0x10), (libc.MS_STRICTATIME, 0x20),
          (libc.MS_NODIRATIME, 0x80))

def _call(number, *args, op, path):
    return libc._check(libc._libc.syscall(number, *args), op, path)


def open_mount(device, fstype, flags, data):
    """A detached mount of the `fstype` filesystem on `device`: its descriptor.
    `flags`: MS_* mount flags; `data`: comma-separated filesystem options."""
    source = os.fsencode(device)
    fs = _call(FSOPEN, fstype.encode(), FSOPEN_CLOEXEC, op=f"fsopen {fstype}", path=device)
    try:
        _call(FSCONFIG, fs, FSCONFIG_SET_STRING, b"source", source, 0,
              op="fsconfig source", path=device)
        if flags & libc.MS_RDONLY:
            _call(FSCONFIG, fs, FSCONFIG_SET_FLAG, b"ro", None, 0, op="fsconfig ro", path=device)
        for option in filter(None, (data or "").split(",")):
            key, sep, value = option.partition("=")
            if sep:
                _call(FSCONFIG, fs, FSCONFIG_SET_STRING, key.encode(), value.encode(), 0,
                      op=f"fsconfig {option}", path=device)
            else:
                _call(FSCONFIG, fs, FSCONFIG_SET_FLAG, key.encode(), None, 0,
                      op=f"fsconfig {option}", path=device)
        _call(FSCONFIG, fs, FSCONFIG_CMD_CREATE, None, None, 0,
              op=f"mount {fstype} (fsconfig create)", path=device)
        attrs = 0
        for flag, attr in _ATTRS:
            if flags & flag:
                attrs |= attr
        return _call(FSMOUNT, fs, FSMOUNT_CLOEXEC, attrs, op="fsmount", path=device)
    finally:
        os.close(fs)


def attach(mount_fd, target):
    """Attach detached mount `mount_fd` on `target` in this mount namespace."""
    _call(MOVE_MOUNT, mount_fd, b"", AT_FDCWD, os.fsencode(target), MOVE_MOUNT_F_EMPTY_PATH,
          op="move_mount", path=target)
