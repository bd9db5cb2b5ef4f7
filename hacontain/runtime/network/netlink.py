"""Netlink sockets through pyroute2: the only module that imports it.

`host()` is a socket in the netns this process runs in; `inside(fd)` one
in the netns open at `fd`, made by entering that netns with setns(2) for
the socket() call only and returning at once (no child process; hacontain
runs single-threaded, and setns affects only the calling thread anyway).
A netlink socket keeps the netns it was made in, so every later request
on it acts there. `call` turns a NetlinkError into a KernelError naming
the operation and the interface.
"""

import os

from hacontain.errors import KernelError
from hacontain.sys import libc


def host():
    """An IPRoute in this process's netns."""
    return _iproute()()


def inside(netns_fd, path=None):
    """An IPRoute in the netns open at `netns_fd` (`path` for errors)."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        libc.setns(netns_fd, libc.CLONE_NEWNET, path)
        try:
            return _iproute()()
        finally:
            libc.setns(own, libc.CLONE_NEWNET, "/proc/self/ns/net")
    finally:
        os.close(own)


def call(op, target, method, /, *args, **kwargs):
    """`method(*args, **kwargs)`; a netlink error becomes KernelError(op, errno, target)."""
    from pyroute2.netlink.exceptions import NetlinkError
    try:
        return method(*args, **kwargs)
    except NetlinkError as exc:
        raise KernelError(op, exc.code, target) from None


def missing(error):
    """True when a KernelError says the interface is gone (ENODEV)."""
    import errno
    return error.errno in (errno.ENODEV, errno.ENOENT)


def _iproute():
    """pyroute2's IPRoute, loaded without running pyroute2/__init__.py.

    That __init__ imports every pyroute2 API (NDB, IPDB, nftables, ethtool,
    ...): about 100 ms more than IPRoute itself needs, on every start. The
    package is registered bare (its path only), so importing
    pyroute2.iproute.linux loads just what that module imports.
    """
    import sys
    if "pyroute2" not in sys.modules:
        import importlib.util
        package = importlib.util.module_from_spec(importlib.util.find_spec("pyroute2"))
        sys.modules["pyroute2"] = package
    from pyroute2.iproute.linux import IPRoute
    return IPRoute
