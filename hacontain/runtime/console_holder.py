"""The console holder's program (see runtime/console.py), exec'd as
`python -S -I` once the container's init runs.

It lives as long as the container, once per container, so it loads only C
modules: posix, not os; _signal, not signal (which loads enum); _struct,
_socket. Its private memory is the interpreter's own (bench/console_memory.py).
"""

import posix as os  # noqa: the C module: `os` adds its Python layers to every holder
import _signal
import _socket
import _struct
import fcntl
import select

_CHUNK = 65536
_TIOCSCTTY, _TIOCNOTTY = 0x540E, 0x5422
_TIOCGWINSZ, _TIOCSWINSZ = 0x5413, 0x5414
_O_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC


def serve(argv):
    """The holder's main loop (argv from console.exec_holder); exits with the init's
    exit code (128 + the signal that killed it)."""
    os.setpriority(os.PRIO_PROCESS, 0, 0)  # started at STARTUP_NICE (console.exec_holder)
    log_fd, listen_fd, channel_fd = map(int, argv[1:4])
    log = _Log(log_fd, argv[4], int(argv[5]), argv[6] == "1")
    os._exit(_Holder(log, listen_fd, channel_fd, argv[7], argv[8]).run())


class _Log:
    """The console log, bounded: renamed to PATH.1 (or truncated) when full."""

    def __init__(self, fd, path, limit, rotate):
        self.fd, self.path, self.limit, self.rotate = fd, path, limit, rotate
        self.size = os.fstat(fd).st_size

    def write(self, data):
        if self.limit and self.size + len(data) > self.limit:
            self._make_room()
        try:
            while data:
                written = os.write(self.fd, data)
                self.size += written
                data = data[written:]
        except OSError:
            pass                          # a full disk must not stop the console

    def _make_room(self):
        try:
            if self.rotate:
                os.rename(self.path, self.path + ".1")
                fd = os.open(self.path, _O_FLAGS, 0o640)
                os.close(self.fd)
                self.fd = fd
            else:
                os.ftruncate(self.fd, 0)
            self.size = 0
        except OSError:
            pass


class _Holder:
    def __init__(self, log, listen_fd, channel_fd, exit_file, socket_file):
        self.log = log
        self.listener = _socket.socket(fileno=listen_fd)
        self.channel = channel_fd
        self.exit_file, self.socket_file = exit_file, socket_file
        self.socket_inode = os.fstat(listen_fd).st_ino
        self.console = self.console_slave = None
        self.ttys = []                    # masters of tty1..ttyN
        self.peer = None                  # the console client's peer slave
        self.busy = {}                    # connection fd -> tty number, for tty clients
        self.poller = select.poll()
        self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        _signal.set_wakeup_fd(wake_w)
        for signum in (_signal.SIGCHLD, _signal.SIGWINCH):
            _signal.signal(signum, lambda *_: None)
        _signal.signal(_signal.SIGHUP, _signal.SIG_IGN)  # the peer, our terminal, hung up

    def run(self):
        for fd in (self.wake_r, self.channel, self.listener.fileno()):
            self.poller.register(fd, select.POLLIN)
        while True:
            status = self._reaped()
            if status is not None:
                return self._finish(*status)
            try:
                events = self.poller.poll()
            except InterruptedError:
                continue
            for fd, event in events:
                if fd == self.wake_r:
                    self._woken()
                elif fd == self.channel:
                    self._receive_terminals()
                elif fd == self.listener.fileno():
                    self._accept()
                elif fd == self.console:
                    self._from_console()
                elif self.peer is not None and fd == self.peer:
                    self._from_peer()
                elif fd in self.busy:
                    self._release(fd)

    # -- the init --

    @staticmethod
    def _reaped():
        """(pid, kind, number) once the init (our only child) has exited, else None."""
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return (0, "exit", 0)
        if pid == 0:
            return None
        if os.WIFSIGNALED(status):
            return (pid, "signal", os.WTERMSIG(status))
        return (pid, "exit", os.WEXITSTATUS(status))

    def _finish(self, pid, kind, number):
        if self.channel is not None:      # an init that died at once: take its output too
            self._receive_terminals()
        if self.console is not None:
            self._from_console(drain=True)
        try:
            if os.stat(self.socket_file).st_ino == self.socket_inode:
                os.unlink(self.socket_file)
        except OSError:
            pass
        if pid:                           # one small write: a reader sees all or nothing
            with open(self.exit_file, "w", encoding="ascii") as handle:
                handle.write(f"{pid} {kind} {number}\n")
        return number if kind == "exit" else 128 + number

    def _woken(self):
        """A signal: SIGCHLD (run() reaps) or SIGWINCH (the client resized the peer)."""
        try:
            while os.read(self.wake_r, 512):
                pass
        except BlockingIOError:
            pass
        if self.peer is not None and self.console is not None:
            try:
                size = fcntl.ioctl(self.peer, _TIOCGWINSZ, b"\0" * 8)
                fcntl.ioctl(self.console, _TIOCSWINSZ, size)
            except OSError:
                pass

    def _receive_terminals(self):
        sock = _socket.socket(fileno=self.channel)
        try:
            _, ancillary, _, _ = sock.recvmsg(1, _socket.CMSG_SPACE(64 * 4))
        except OSError:
            ancillary = []
        finally:
            sock.detach()
        fds = _fds_of(ancillary)
        self.poller.unregister(self.channel)
        os.close(self.channel)
        self.channel = None
        if len(fds) >= 2:
            self.console, self.console_slave, self.ttys = fds[0], fds[1], fds[2:]
            os.set_blocking(self.console, False)
            self.poller.register(self.console, select.POLLIN)

    # -- the console's bytes --

    def _from_console(self, drain=False):
        while True:
            try:
                data = os.read(self.console, _CHUNK)
            except OSError:               # EAGAIN: nothing more; EIO: no slave open
                return
            if not data:
                return
            self.log.write(data)
            if self.peer is not None:
                _write_some(self.peer, data)
            if not drain:
                return

    def _from_peer(self):
        try:
            data = os.read(self.peer, _CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            _write_some(self.console, data)
            return
        self.poller.unregister(self.peer)  # the client closed its end
        try:
            fcntl.ioctl(self.peer, _TIOCNOTTY)
        except OSError:
            pass
        os.close(self.peer)
        self.peer = None

    # -- clients --

    def _accept(self):
        try:
            fd, _ = self.listener._accept()
        except OSError:
            return
        conn = _socket.socket(fileno=fd)
        busy = None
        try:
            busy = self._answer(conn)
        except OSError:
            pass
        if busy is None:
            conn.close()
            return
        self.busy[conn.detach()] = busy
        self.poller.register(fd, select.POLLIN)

    def _answer(self, conn):
        """Serve one request; the tty number when the connection marks it busy."""
        conn.settimeout(2.0)
        uid = _struct.unpack("3i", conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12))[1]
        if uid != 0:
            return _refuse(conn, b"only root may use the console")
        try:
            tty = int(conn.recv(16).decode("ascii").strip())
        except ValueError:
            return _refuse(conn, b"a bad request")
        if self.console is None:
            return _refuse(conn, b"the container's terminals are not ready")
        if tty == 0:
            if self.peer is not None:
                return _refuse(conn, b"the console is in use by another client")
            master = self._make_peer()
            try:
                _send_fd(conn, b"ok %d" % self.log.size, master)
            finally:
                os.close(master)
            return None
        if not 1 <= tty <= len(self.ttys):
            return _refuse(conn, b"there is no tty %d (lxc.tty.max = %d)" % (tty, len(self.ttys)))
        if tty in self.busy.values():
            return _refuse(conn, b"tty %d is in use by another client" % tty)
        _send_fd(conn, b"ok 0", self.ttys[tty - 1])
        return tty

    def _make_peer(self):
        """A host pseudo-terminal whose slave, our controlling terminal, is proxied to the
        console (the client makes it raw through the master); its master, for the client.
        A window-size change on it reaches us as SIGWINCH."""
        master, slave = os.openpty()
        try:
            fcntl.ioctl(slave, _TIOCSCTTY, 0)
        except OSError:
            pass                          # window sizes will not follow; the bytes still flow
        os.set_blocking(slave, False)
        self.peer = slave
        self.poller.register(slave, select.POLLIN)
        return master

    def _release(self, fd):
        self.poller.unregister(fd)
        del self.busy[fd]
        os.close(fd)


def _fds_of(ancillary):
    fds = []
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds += _struct.unpack(f"{len(data) // 4}i", data[:len(data) // 4 * 4])
    return fds


def _refuse(conn, why):
    conn.sendall(b"error " + why)


def _write_some(fd, data):
    """Write what `fd` takes now; a full terminal drops the rest (never block the holder)."""
    try:
        os.write(fd, data)
    except OSError:
        pass


def _send_fd(conn, message, fd):
    conn.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, _struct.pack("i", fd))])
