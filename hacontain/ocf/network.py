"""The depth-20 check: a container's interfaces exist and are up.

Which interfaces must exist comes from the state (State.network, written by
start: the container-side names); which exist, from /proc/PID/net/dev (the
netns of PID); their flags from SIOCGIFFLAGS on a socket made inside that
netns. The agent enters the netns for the one socket() call and returns at
once: no child process, no pyroute2, and it works for containers that
mount no /sys. `hacontain info` shows the same interfaces, read by netlink.
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


def interface_problems(pid, records):
    """What is wrong with the interfaces in the netns of `pid`, e.g. ["eth0 is not up"].

    `records`: State.network. A recorded interface that is gone is missing;
    any interface (loopback too) that is not up and running is a problem,
    except one configured without `flags = up`. A container sharing this
    process's netns has no interfaces of its own to judge.
    """
    if os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino:
        return []
    names = interface_names(pid)
    problems = [f"{record['name']} is missing" for record in records
                if record["name"] not in names]
    left_down = {record["name"] for record in records if not record.get("up")}
    wanted = IFF_UP | IFF_RUNNING
    with _socket_in_netns(pid) as sock:
        flags = {name: _flags(sock, name) for name in names if name not in left_down}
    return problems + [f"{name} is not up" for name, value in flags.items()
                       if value is not None and value & wanted != wanted]


def interface_names(pid):
    """The interface names listed in /proc/PID/net/dev."""
    with open(f"/proc/{pid}/net/dev", encoding="ascii") as handle:
        lines = handle.read().splitlines()[2:]
    return [line.split(":", 1)[0].strip() for line in lines if ":" in line]


def _socket_in_netns(pid):
    from hacontain.sys import libc
    return libc.in_netns(f"/proc/{pid}/ns/net",
                         lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))


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
