"""Running a command inside a running container (setns into its namespaces).

    hacontain ──fork──> helper: setsid, its cgroup and namespaces, chroot
                           │  (with a terminal: opens a pseudo-terminal of the
                           │   container's devpts, sends the master back)
                           └──fork──> the command (in the container's pid
                                      namespace): setsid, confined, exec

The command always runs in a session of its own, so the admin's terminal is
never its controlling terminal. Each of stdin, stdout and stderr that is a
terminal is replaced by the slave of a pseudo-terminal allocated in the
container's own devpts (the command's controlling terminal), whose master
hacontain proxies to the admin's terminal (runtime/terminal.py), as
lxc-attach does: no descriptor of the admin's terminal reaches the container,
so nothing inside can push input into it (TIOCSTI). Pipes and files are
passed through as they are.
"""

import fcntl
import os
import signal
import socket
import struct
import sys
import termios

from hacontain.errors import HacontainError, StateError
from hacontain.runtime import terminal
from hacontain.runtime.security.idmap import become_root
from hacontain.sys import libc, proc

# Order matters: the user namespace first (when the container has its own),
# so the others, which it owns, can be entered; the mount namespace last.
NAMESPACE_ORDER = ("cgroup", "ipc", "uts", "net", "pid", "mnt")
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_TIOCSPTLCK = 0x40045431
_TIOCGPTPEER = 0x5441
_CONTAINER_PTMX = "/dev/pts/ptmx"         # the container's own devpts instance


def attach(record, cgroup, argv, env, containment):
    """Run `argv` (argv[0] an absolute path inside) in the container of `record` with
    environment `env`, confined by `containment` like the init; its exit code."""
    fds = {}
    try:
        if os.stat(f"/proc/{record.pid}/ns/user").st_ino != os.stat("/proc/self/ns/user").st_ino:
            fds["user"] = os.open(f"/proc/{record.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        for kind in NAMESPACE_ORDER:
            fds[kind] = os.open(f"/proc/{record.pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
        root = os.open(f"/proc/{record.pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        _close(fds.values())
        raise StateError(f"container {record.name} stopped while attaching") from None
    slots = tuple(fd for fd in (0, 1, 2) if terminal.is_terminal(fd))
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) if slots \
        else (None, None)
    try:
        # The descriptors pin the namespaces; only now is the pid checked.
        if not proc.is_alive(record.pid, record.start_time):
            raise StateError(f"container {record.name} is not running")
        child = os.fork()
        if child == 0:
            if ours is not None:
                ours.close()
            _enter_and_run(cgroup, fds, root, argv, env, containment, slots, theirs)
    except BaseException:
        if ours is not None:
            ours.close()
        raise
    finally:
        _close(list(fds.values()) + [root])
        if theirs is not None:
            theirs.close()
    if ours is None:
        return _wait_forwarding_signals(child)
    with ours:
        master = _receive_master(ours)
    if master is None:                    # the helper failed before: it said why
        return _wait_forwarding_signals(child)
    try:
        pidfd = os.pidfd_open(child)
        try:
            terminal.proxy(master, until=pidfd, input_fd=0 if 0 in slots else None,
                           output_fd=1 if 1 in slots else slots[0])
        finally:
            os.close(pidfd)
    finally:
        os.close(master)
    return _wait_forwarding_signals(child)


def _receive_master(sock):
    """The pty master the helper sends; None if it sends none (it failed)."""
    _, fds, _, _ = socket.recv_fds(sock, 1, 1)
    return fds[0] if fds else None


def _wait_forwarding_signals(pid):
    """Wait for `pid`, passing it SIGINT, SIGTERM, SIGHUP and SIGQUIT; its exit code
    (128 + N for a signal N)."""
    saved = {signum: signal.signal(signum, lambda signum, frame: _forward(pid, signum))
             for signum in FORWARDED_SIGNALS}
    try:
        _, status = os.waitpid(pid, 0)
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _forward(pid, signum):
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _enter_and_run(cgroup, fds, root, argv, env, containment, slots, sock):
    """In the forked helper: join the cgroup and namespaces, give the terminal
    `slots` a pseudo-terminal of the container (its master to `sock`), then
    run argv. Never returns."""
    try:
        os.setsid()                       # out of the admin's session and its terminal
        if cgroup is not None:
            cgroup.add_process(os.getpid())
        for kind in fds:
            libc.setns(fds[kind], 0, f"/proc/<init>/ns/{kind}")
        os.fchdir(root)
        os.chroot(".")
        os.chdir("/")
        _close(list(fds.values()) + [root])
        if "user" in fds:
            become_root()                 # before the pty: its slave is then the root's inside
        if slots:
            _replace_terminal(slots, sock)
        # Joining a pid namespace applies to children: run the command in one.
        child = os.fork()
        if child == 0:
            os.setsid()
            if slots:
                fcntl.ioctl(slots[0], termios.TIOCSCTTY, 0)
            containment.apply()
            _exec(argv, env)
        for signum in FORWARDED_SIGNALS:
            signal.signal(signum, lambda signum, frame: _forward(child, signum))
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)
    except HacontainError as exc:
        print(f"hacontain: attach: {exc}", file=sys.stderr)
        os._exit(126)
    except BaseException as exc:  # nothing may escape a forked child
        print(f"hacontain: attach: {type(exc).__name__}: {exc}", file=sys.stderr)
        os._exit(126)


def _replace_terminal(slots, sock):
    """Open a pseudo-terminal in the container's devpts (this process is chrooted in
    its mount namespace), send its master to hacontain and put its slave on `slots`
    in place of the admin's terminal."""
    try:
        master = os.open(_CONTAINER_PTMX, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise HacontainError(f"cannot open {_CONTAINER_PTMX} in the container for a "
                             f"terminal: {exc.strerror}") from None
    try:
        fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
        slave = fcntl.ioctl(master, _TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
    except OSError as exc:
        os.close(master)
        raise HacontainError(f"{_CONTAINER_PTMX} in the container is not a pseudo-terminal "
                             f"multiplexer: {exc.strerror}") from None
    terminal.window_size(slots[0], master)    # before the command can ask for it
    socket.send_fds(sock, [b"m"], [master])
    os.close(master)
    sock.close()
    for slot in slots:
        os.dup2(slave, slot)
    os.close(slave)


def _exec(argv, env):
    environment = dict(item.split("=", 1) for item in env)
    try:
        os.execve(argv[0], list(argv), environment)
    except OSError as exc:
        print(f"hacontain: attach: {argv[0]}: {exc.strerror}", file=sys.stderr)
        os._exit(127)


def _close(fds):
    for fd in fds:
        os.close(fd)
