"""Keep a container's netns alive past its init: a bind mount on RUNDIR/NAME/netns.

When a netns dies the kernel deletes its virtual interfaces but hands real
NICs back to the machine's *initial* netns, maybe under another name - not
to the netns hacontain runs in. So a container with a phys interface gets
its netns bind-mounted (as `ip netns add` does) before the NIC moves in;
stop, or the next start/stop after a crash, moves the NIC back out of the
held netns and only then unmounts it. No pyroute2 here.
"""

import os

from hacontain.errors import KernelError
from hacontain.runtime import state as statefile
from hacontain.sys import libc


def path(name):
    """RUNDIR/NAME/netns."""
    return os.path.join(statefile.directory(name), "netns")


def hold(pid, target):
    """Bind-mount the netns of `pid` on `target`."""
    try:
        os.close(os.open(target, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    except OSError as exc:
        raise KernelError("create", exc.errno, target) from None
    libc.mount(f"/proc/{pid}/ns/net", target, flags=libc.MS_BIND)


def is_held(target):
    """True when a netns is mounted on `target`."""
    try:
        return os.stat(target).st_dev != os.stat(os.path.dirname(target)).st_dev
    except FileNotFoundError:
        return False


def release(target):
    """Unmount and remove `target` (nothing to do when it is not there)."""
    if is_held(target):
        libc.umount(target, libc.MNT_DETACH)
    try:
        os.unlink(target)
    except FileNotFoundError:
        pass
