"""The console holder: a small per-container process that keeps the pseudo-terminal
masters of /dev/console and the ttys, logs the console and serves `hacontain console`.

    start ──fork──> holder (own session, subreaper) ──fork──> init

The holder is the init's parent (see launch.py), so it outlives every file
descriptor the guest's init closes (systemd closes all it inherited), collects
the init's exit status into RUNDIR/NAME/exit, and exits when the init does. It
lives in the container's cgroup (on v2 in its attach leaf; stop kills whatever
is left there), in the host's mount and pid namespaces, in a session of its
own: killing the starting process or its process group leaves it alone. Once
it has forked the init, it execs PROGRAM, the small C program console_holder.c
built with the package (setup.py), while the init builds its filesystem.

The console's output goes to the console log, bounded by `lxc.console.size`
(default 1 MiB; `0`: no bound): when full it is renamed to LOG.1 (replacing
the previous one), or truncated with `lxc.console.rotate = 0`.

`hacontain console` connects to RUNDIR/NAME/console (a unix socket, 0600, in
a 0700 directory; only uid 0 is served) and asks for tty N (0: the console).
For a tty it gets the tty's master itself (SCM_RIGHTS), as lxc-console does;
for the console, which the holder keeps reading for the log, it gets the
master of a peer pseudo-terminal whose slave the holder proxies to the
console's master. The peer slave is the holder's controlling terminal, so
a window-size change on the peer reaches the holder as SIGWINCH, and the
holder copies it to the console. One client per terminal at a time.
"""

import os
import select
import struct

import _socket  # the C module: `socket` loads enum, selectors... (not on the start path)

from hacontain.record import Record
from hacontain.sys import signals

DEFAULT_LOG_SIZE = 1 << 20
DEFAULT_ESCAPE = b"\x01q"                 # Ctrl-a q, as lxc-console
_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20,
               "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}
_PR_SET_CHILD_SUBREAPER = 36
PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "console-holder")


class Spec(Record):
    """Where one container's holder logs and listens."""
    log: str                  # the console log
    socket: str               # RUNDIR/NAME/console
    exit_file: str            # RUNDIR/NAME/exit: "PID exit N" or "PID signal N"
    log_size: int = DEFAULT_LOG_SIZE   # 0: unbounded
    rotate: bool = True


def spec(run_directory, config):
    """The Spec of a container whose state lives in `run_directory`; its log bound
    from lxc.console.size / lxc.console.rotate (ConfigError naming the line)."""
    log = config.console_logfile or os.path.join(run_directory, "console.log")
    size, rotate = DEFAULT_LOG_SIZE, True
    entry = config.entry("lxc.console.size")
    if entry is not None and entry.value.strip().lower() != "auto":
        size = _byte_size(entry)
    entry = config.entry("lxc.console.rotate")
    if entry is not None:
        if entry.value.strip() not in ("0", "1"):
            raise entry.error(f"{entry.value!r} is not 0 or 1")
        rotate = entry.value.strip() == "1"
    return Spec(log=log, socket=socket_path(run_directory), exit_file=exit_path(run_directory),
                log_size=size, rotate=rotate)


def _byte_size(entry):
    text = entry.value.strip().lower()
    digits = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(digits):].strip()
    if not digits.isascii() or not digits.strip().isdigit() or unit not in _SIZE_UNITS:
        raise entry.error(f"{entry.value!r} is not a size (bytes, e.g. 1048576, 512kB, 1MB, auto)")
    return int(digits) * _SIZE_UNITS[unit]


def socket_path(run_directory):
    return os.path.join(run_directory, "console")


def exit_path(run_directory):
    return os.path.join(run_directory, "exit")


def remove_files(run_directory):
    """Remove what a holder leaves once its container is cleaned up (the log stays)."""
    for path in (socket_path(run_directory), exit_path(run_directory)):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


# -- the starting side (runs in forked children of the starting process) -------

def listen(path):
    """Bind and listen on the console socket at `path` (0600); its fd (close-on-exec)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    mask = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(mask)
    sock.listen(8)
    return sock.detach()


def channel():
    """A pair of connected fds that carry the init's terminals to the holder."""
    one, two = _socket.socketpair(_socket.AF_UNIX,
                                  _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    return one.detach(), two.detach()


def send_terminals(channel_fd, fds):
    """The init's side: hand `fds` (console master, console slave, tty masters) over."""
    sock = _socket.socket(fileno=channel_fd)
    try:
        sock.sendmsg([b"t"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS,
                               struct.pack(f"{len(fds)}i", *fds))])
    finally:
        sock.detach()


def detach_stdio():
    """Point stdin, stdout and stderr at /dev/null."""
    null = os.open("/dev/null", os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)
    os.close(null)


def become_subreaper(prctl):
    """Make this process the reaper of its orphaned descendants (`prctl`: libc.prctl)."""
    prctl(_PR_SET_CHILD_SUBREAPER, 1, what="prctl(PR_SET_CHILD_SUBREAPER)")


def check_program():
    """NotInstalled unless the holder's program is there to exec (before anything starts)."""
    if not os.access(PROGRAM, os.X_OK):
        from hacontain.errors import NotInstalled
        raise NotInstalled(f"the console holder's program {PROGRAM} is missing: hacontain "
                           f"was installed without building it (pip builds it from "
                           f"console_holder.c with cc; a wheel carries it)")


def exec_holder(spec, fds, name, second):
    """In the forked holder: reap the second child (pid `second`, if any; it exits
    once it has forked the init, which is left for the program), then exec PROGRAM
    with `fds` (log, listening socket, channel)."""
    if second is not None:
        try:
            os.waitpid(second, 0)
        except ChildProcessError:
            pass
    for fd in fds:
        os.set_inheritable(fd, True)
    keep = {0, 1, 2, *fds}
    for entry in os.listdir("/proc/self/fd"):
        if int(entry) not in keep:
            try:
                os.close(int(entry))
            except OSError:
                pass
    os.execv(PROGRAM, [PROGRAM, name, *map(str, fds), spec.log, str(spec.log_size),
                       "1" if spec.rotate else "0", spec.exit_file, spec.socket])


# -- the client: hacontain console, start -F, start's and info's reports -------

def connect(run_directory, name, tty):
    """Ask the holder for tty `tty` (0: the console): (fd, log position, connection fd).
    The connection must stay open while the tty is used (it marks it busy)."""
    from hacontain.errors import HacontainError, StateError
    path = socket_path(run_directory)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        sock.settimeout(5.0)
        try:
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError):
            raise StateError(f"container {name} has no console: its console holder is gone "
                             f"(no one listens on {path}); restart the container to get it back") \
                from None
        sock.sendall(b"%d\n" % tty)
        message, ancillary, _, _ = sock.recvmsg(256, _socket.CMSG_SPACE(4))
    except OSError as exc:
        sock.close()
        raise HacontainError(f"container {name}: console request on {path} failed: "
                             f"{exc.strerror or exc}") from None
    fds = [fd for level, kind, data in ancillary
           if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS
           for fd in struct.unpack(f"{len(data) // 4}i", data[:len(data) // 4 * 4])]
    text = message.decode("utf-8", "replace")
    if not text.startswith("ok ") or not fds:
        sock.close()
        for fd in fds:
            os.close(fd)
        raise StateError(f"container {name}: {text.removeprefix('error ') or 'no answer'}")
    return fds[0], int(text.split()[1]), sock.detach()


def attach(run_directory, name, tty=0, escape=DEFAULT_ESCAPE, replay=None, output_fd=1):
    """Connect the terminal to tty `tty` until the escape key (ESCAPED) or until the
    terminal closes (CLOSED: the container stopped, or the holder). `replay`: a log
    position to print the console log from first (what came before the connection)."""
    import termios

    from hacontain.runtime import terminal
    fd, position, conn = connect(run_directory, name, tty)
    try:
        if tty == 0:                      # the holder's peer: raw (a holder older than
                                          # hacontain's C holder left that to the client)
            termios.tcsetattr(fd, termios.TCSANOW, terminal.raw(termios.tcgetattr(fd)))
        if replay is not None:
            copy_log(spec_log_of(run_directory), replay, position, output_fd)
        return terminal.proxy(fd, escape=escape, output_fd=output_fd)
    finally:
        os.close(fd)
        os.close(conn)


def spec_log_of(run_directory):
    """Where the holder of `run_directory` logs (the state records it)."""
    from hacontain.runtime import state as statefile
    record = statefile.read(os.path.basename(run_directory))
    if record is not None and record.console_log:
        return record.console_log
    return os.path.join(run_directory, "console.log")


def copy_log(path, start, end, output_fd):
    """Write bytes `start`..`end` of the console log at `path` to `output_fd` (from 0 when
    the log rotated since `start`). The log holds what the pty wrote, lines ending in
    CR LF; a terminal that still adds its own CR to each LF gets LF alone."""
    try:
        with open(path, "rb") as handle:
            if start > end:
                start = 0                 # rotated since
            handle.seek(start)
            data = handle.read(max(0, end - start))
    except OSError:
        return
    if _adds_carriage_return(output_fd):
        data = data.replace(b"\r\n", b"\n")
    while data:
        data = data[os.write(output_fd, data):]


def _adds_carriage_return(fd):
    """Whether terminal `fd` turns LF into CR LF on output (OPOST and ONLCR set)."""
    import termios
    try:
        oflag = termios.tcgetattr(fd)[1]
    except termios.error:
        return False
    return bool(oflag & termios.OPOST and oflag & termios.ONLCR)


def exit_status(run_directory, pid):
    """How init `pid` ended, as the holder recorded it: ("exit", N) or ("signal", N), or None."""
    try:
        with open(exit_path(run_directory), encoding="ascii") as handle:
            recorded, kind, number = handle.read().split()
    except (OSError, ValueError):
        return None
    if int(recorded) != pid:
        return None
    return kind, int(number)


def describe(status):
    """"exited with status 255", "was killed by SIGKILL" for an exit_status()."""
    kind, number = status
    if kind == "exit":
        return f"exited with status {number}"
    name = signals.name_of(number)
    return f"was killed by {name}" if name else f"was killed by signal {number}"


def exit_code(status):
    """A shell's exit code for an exit_status(): N, or 128 + the signal."""
    kind, number = status
    return number if kind == "exit" else 128 + number


def tail(path, lines=10, limit=16384):
    """The last `lines` lines of the console log at `path` ('' when none), as text."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - limit))
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(text.rstrip("\n").split("\n")[-lines:])


def reap(pid):
    """Collect the exit status of holder `pid` if it is this process's child (a caller
    that started the container and lives on): no zombie is left."""
    if pid is None:
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_gone(pid, start_time, timeout):
    """Wait (pidfd, no polling) until process `pid` (with `start_time`, when not
    None) has exited; False on timeout."""
    from hacontain.sys import proc
    if pid is None:
        return True
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        if start_time is not None and not proc.is_alive(pid, start_time):
            return True
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(max(0.0, timeout) * 1000))
    finally:
        os.close(pidfd)

