"""The host side of a container's terminal: the admin's terminal in raw mode,
proxied to a pseudo-terminal master (attach, execute, console).

Only the master ever touches the admin's terminal; the container gets the
slave of a pseudo-terminal of its own devpts, so nothing inside can read,
write or push input (TIOCSTI) into the terminal the admin's shell uses.
"""

import errno
import fcntl
import os
import select
import signal
import struct
import termios

from hacontain.errors import HacontainError

_CHUNK = 65536
_MAX_PENDING = 1 << 20                    # stop reading the keyboard beyond this backlog
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGINT)
_WINSZ = struct.pack("HHHH", 0, 0, 0, 0)

# What proxy() returns: why it ended.
EXITED = "exited"                         # `until` became readable (e.g. a pidfd: the process ended)
CLOSED = "closed"                         # the master's other side is closed (EOF/EIO)
ESCAPED = "escape"                        # the user typed the escape sequence


class Interrupted(HacontainError):
    """A signal (SIGTERM, SIGHUP...) ended the proxy; the terminal was restored first."""

    def __init__(self, signum):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


def is_terminal(fd):
    """Whether `fd` is open and a terminal."""
    try:
        return os.isatty(fd)
    except OSError:
        return False


def window_size(source, target):
    """Copy the window size of terminal `source` to pseudo-terminal `target`
    (no-op when either is not a terminal)."""
    try:
        size = fcntl.ioctl(source, termios.TIOCGWINSZ, _WINSZ)
        fcntl.ioctl(target, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def raw(attributes):
    """`attributes` (termios.tcgetattr's list) made raw, as cfmakeraw(3) does."""
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = attributes
    iflag &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
               | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
    oflag &= ~termios.OPOST
    lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    cflag = (cflag & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
    cc = list(cc)
    cc[termios.VMIN], cc[termios.VTIME] = 1, 0
    return [iflag, oflag, cflag, lflag, ispeed, ospeed, cc]


def proxy(fd, escape=None, until=None, input_fd=0, output_fd=1):
    """Connect the host's terminal to `fd` (a pseudo-terminal master, or a socket
    to one) until `until` (an fd, e.g. a pidfd) is readable, `fd` reaches EOF,
    or the user types `escape` (bytes, e.g. b"\\x01q" for Ctrl-a q).

    Keyboard input (`input_fd`; None: none) goes to `fd`, `fd`'s output to
    `output_fd`. When `input_fd` is a terminal it is put in raw mode. The
    window size of the terminal (`input_fd`, else `output_fd`) is copied to
    `fd`, now and on every SIGWINCH. The terminal's settings, the
    signal handlers and `fd`'s flags are always put back, also when a signal
    (SIGTERM, SIGHUP, SIGQUIT, SIGINT) ends the proxy: it then raises
    Interrupted. Returns EXITED, CLOSED or ESCAPED.
    """
    terminal = input_fd if input_fd is not None and is_terminal(input_fd) else None
    sized = terminal if terminal is not None else output_fd if is_terminal(output_fd) else None
    saved_attributes = termios.tcgetattr(terminal) if terminal is not None else None
    saved_flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    saved_handlers = {}

    def interrupted(signum, frame):
        raise Interrupted(signum)

    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, saved_flags | os.O_NONBLOCK)
        if sized is not None:
            saved_handlers[signal.SIGWINCH] = signal.signal(
                signal.SIGWINCH, lambda signum, frame: window_size(sized, fd))
            window_size(sized, fd)
        for signum in _STOP_SIGNALS:
            saved_handlers[signum] = signal.signal(signum, interrupted)
        if terminal is not None:
            termios.tcsetattr(terminal, termios.TCSADRAIN, raw(saved_attributes))
        return _Pump(fd, input_fd, output_fd, until, escape).run()
    finally:
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            if terminal is not None:
                termios.tcsetattr(terminal, termios.TCSADRAIN, saved_attributes)
            for signum, handler in saved_handlers.items():
                signal.signal(signum, signal.SIG_DFL if handler is None else handler)
            fcntl.fcntl(fd, fcntl.F_SETFL, saved_flags)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


class _Pump:
    """The copy loop of proxy(): poll(2) on the keyboard, `fd` and `until`."""

    def __init__(self, fd, input_fd, output_fd, until, escape):
        self.fd, self.input_fd, self.output_fd, self.until = fd, input_fd, output_fd, until
        self.escape = _Escape(escape) if escape else None
        self.pending = b""                # keyboard input not yet taken by `fd`
        self.reading_input = input_fd is not None
        self.output_open = True

    def run(self):
        poller = select.poll()
        if self.until is not None:
            poller.register(self.until, select.POLLIN)
        while True:
            poller.register(self.fd, select.POLLIN | (select.POLLOUT if self.pending else 0))
            if self.reading_input and len(self.pending) < _MAX_PENDING:
                poller.register(self.input_fd, select.POLLIN)
            elif self.input_fd is not None:
                _unregister(poller, self.input_fd)
            for ready, events in poller.poll():
                if ready == self.until:
                    self._drain()
                    return EXITED
                if ready == self.fd:
                    if events & (select.POLLIN | select.POLLHUP | select.POLLERR) \
                            and not self._from_fd():
                        return CLOSED
                    if events & select.POLLOUT:
                        self._to_fd()
                elif ready == self.input_fd and self._from_input():
                    return ESCAPED

    def _from_input(self):
        """Read the keyboard; True when the escape sequence was typed."""
        try:
            data = os.read(self.input_fd, _CHUNK)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EINTR):
                return False
            data = b""
        if not data:                      # EOF or the terminal went away
            self.reading_input = False
            return False
        escaped = False
        if self.escape is not None:
            data, escaped = self.escape.feed(data)
        self.pending += data
        self._to_fd()
        return escaped

    def _to_fd(self):
        try:
            written = os.write(self.fd, self.pending)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            written = len(self.pending)   # the other side is gone: reading shows it
        self.pending = self.pending[written:]

    def _from_fd(self):
        """Copy what `fd` has to the output; False at its EOF."""
        try:
            data = os.read(self.fd, _CHUNK)
        except BlockingIOError:
            return True
        except OSError as exc:
            if exc.errno != errno.EIO:    # EIO: a master whose slave is closed
                raise
            return False
        if not data:
            return False
        self._write_output(data)
        return True

    def _drain(self):
        """Copy what `fd` still holds (the kernel flushes a pty's buffer before
        a non-blocking read says there is nothing)."""
        while self._from_fd():
            try:
                if not select.select([self.fd], [], [], 0)[0]:
                    return
            except OSError:
                return

    def _write_output(self, data):
        while data and self.output_open:
            try:
                data = data[os.write(self.output_fd, data):]
            except InterruptedError:
                continue
            except OSError:               # the admin's terminal or pipe is gone
                self.output_open = False


class _Escape:
    """Finds an escape sequence in keyboard input, also split across reads."""

    def __init__(self, sequence):
        self.sequence = bytes(sequence)
        self.held = b""                   # a prefix of the sequence, not yet sent

    def feed(self, data):
        """(bytes to send on, whether the sequence was typed)."""
        data, self.held = self.held + data, b""
        index = data.find(self.sequence)
        if index >= 0:
            return data[:index], True
        for length in range(min(len(self.sequence) - 1, len(data)), 0, -1):
            if self.sequence.startswith(data[-length:]):
                self.held = data[-length:]
                return data[:-length], False
        return data, False


def _unregister(poller, fd):
    try:
        poller.unregister(fd)
    except KeyError:
        pass
