"""The container's /dev: a tmpfs with the standard nodes, a private devpts,
/dev/shm, /dev/mqueue, and pseudo-terminals for the console and ttys.
"""

import fcntl
import os
import stat
import struct

from hacontain.errors import KernelError
from hacontain.runtime.rootfs import inside
from hacontain.sys import libc

# name -> (major, minor, mode); the cgroup default allow-list matches these.
STANDARD_NODES = {
    "null": (1, 3, 0o666), "zero": (1, 5, 0o666), "full": (1, 7, 0o666),
    "random": (1, 8, 0o666), "urandom": (1, 9, 0o666), "tty": (5, 0, 0o666),
}
_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
          "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx", "core": "/proc/kcore"}
_TIOCGPTN = 0x80045430
_TIOCSPTLCK = 0x40045431


def populate_dev(rootfs, autodev, bind_nodes=False):
    """Mount the container's /dev (a tmpfs with the standard nodes when `autodev`).

    `bind_nodes`: bind the host's nodes instead of making them (a user
    namespace may not make device nodes).
    """
    dev = inside(rootfs, "/dev")
    os.makedirs(dev, exist_ok=True)
    if autodev:
        libc.mount("none", dev, "tmpfs", libc.MS_NOSUID | libc.MS_NOEXEC, "size=500k,mode=755")
        for name, (major, minor, mode) in STANDARD_NODES.items():
            path = os.path.join(dev, name)
            if bind_nodes:
                with open(path, "w", encoding="utf-8"):
                    pass
                libc.mount(f"/dev/{name}", path, None, libc.MS_BIND)
                continue
            try:
                os.mknod(path, stat.S_IFCHR | mode, os.makedev(major, minor))
            except OSError as exc:
                raise KernelError("mknod", exc.errno, path) from None
            os.chmod(path, mode)
        for name, target in _LINKS.items():
            os.symlink(target, os.path.join(dev, name))
    for name in ("pts", "shm", "mqueue"):
        os.makedirs(os.path.join(dev, name), exist_ok=True)
    libc.mount("devpts", os.path.join(dev, "pts"), "devpts", libc.MS_NOSUID | libc.MS_NOEXEC,
               "newinstance,ptmxmode=0666,mode=0620,gid=5")
    if not autodev and not os.path.lexists(os.path.join(dev, "ptmx")):
        os.symlink("pts/ptmx", os.path.join(dev, "ptmx"))
    libc.mount("shm", os.path.join(dev, "shm"), "tmpfs",
               libc.MS_NOSUID | libc.MS_NODEV, "mode=1777")
    libc.mount("mqueue", os.path.join(dev, "mqueue"), "mqueue",
               libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC)
    return dev


def open_terminals(dev, ttys):
    """Give the container a console and `ttys` terminals: [console master, console
    slave, tty1 master, ...], all close-on-exec, for the console holder.

    Each is a pseudo-terminal of the container's own devpts whose slave is
    bind-mounted on /dev/console or /dev/ttyN. The console holder keeps the
    masters (and a console slave, so the console never hangs up), so a getty
    on a tty waits for input instead of failing and respawning, and an init
    that closes every inherited file descriptor (systemd) can still open
    /dev/console.
    """
    terminals = []
    for name in ["console"] + [f"tty{n}" for n in range(1, ttys + 1)]:
        master = os.open(os.path.join(dev, "pts", "ptmx"), os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
        number = struct.unpack("i", fcntl.ioctl(master, _TIOCGPTN, struct.pack("i", 0)))[0]
        slave = os.path.join(dev, "pts", str(number))
        target = os.path.join(dev, name)
        if not os.path.lexists(target):
            with open(target, "w", encoding="utf-8"):
                pass
        libc.mount(slave, target, None, libc.MS_BIND)
        terminals.append(master)
        if name == "console":
            terminals.append(os.open(slave, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC))
    return terminals
