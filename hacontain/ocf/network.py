"""The depth-20 check: every network interface inside a container is up.

Interface names come from /proc/PID/net/dev (the netns of PID); their flags
from SIOCGIFFLAGS on a socket made inside that netns. The agent enters the
netns for the one socket() call and returns at once: no child process, and
it works for containers that mount no /sys.
"""

import errno
import fcntl
import os
import socket
import struct

SIOCGIFFLAGS = 0x8913
IFF_UP = 0x1
IFF_RUNNING = 0x40
_IFREQ = "16sH14x"


def interfaces_down(pid):
    """Names of the interfaces in the netns of `pid` that are not up and running.

    A container sharing this process's netns has no interfaces of its own to judge.
    """
    if os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino:
        return []
    wanted = IFF_UP | IFF_RUNNING
    with _socket_in_netns(pid) as sock:
        flags = {name: _flags(sock, name) for name in interface_names(pid)}
    return [name for name, value in flags.items() if value is not None and value & wanted != wanted]


def interface_names(pid):
    """The interface names listed in /proc/PID/net/dev."""
    with open(f"/proc/{pid}/net/dev", encoding="ascii") as handle:
        lines = handle.read().splitlines()[2:]
    return [line.split(":", 1)[0].strip() for line in lines if ":" in line]


def _socket_in_netns(pid):
    from hacontain.sys import libc
    own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        libc.setns(target, libc.CLONE_NEWNET, f"/proc/{pid}/ns/net")
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        finally:
            libc.setns(own, libc.CLONE_NEWNET, "/proc/self/ns/net")
    finally:
        os.close(target)
        os.close(own)


def _flags(sock, name):
    """The interface's flags; None when it went away since it was listed."""
    request = struct.pack(_IFREQ, name.encode(), 0)
    try:
        reply = fcntl.ioctl(sock, SIOCGIFFLAGS, request)
    except OSError as exc:
        if exc.errno == errno.ENODEV:
            return None
        raise
    return struct.unpack(_IFREQ, reply)[1]
