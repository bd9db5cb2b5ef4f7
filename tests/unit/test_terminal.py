"""terminal.proxy between pseudo-terminals this test makes (never the session's terminal)."""

import os
import select
import signal
import struct
import termios
import fcntl

import pytest

from hacontain.runtime import terminal


def _read_until(fd, wanted, timeout=10.0):
    data = b""
    while wanted not in data:
        ready, _, _ = select.select([fd], [], [], timeout)
        assert ready, f"timed out waiting for {wanted!r}; got {data!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def outer():
    """The 'admin's terminal': a pty the test made (keyboard = master side)."""
    master, slave = os.openpty()
    yield master, slave
    os.close(master)
    os.close(slave)


@pytest.fixture
def inner():
    """The 'container's' pty: the proxy gets its master."""
    master, slave = os.openpty()
    yield master, slave
    os.close(master)
    os.close(slave)


def _run_proxy(outer_slave, inner_master, close, **options):
    """proxy() in a child whose terminal is `outer_slave` (closing the test's ends
    `close`); returns (pid, result pipe)."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            for fd in (reader,) + tuple(close):
                os.close(fd)
            result = terminal.proxy(inner_master, input_fd=outer_slave, output_fd=outer_slave,
                                    **options)
            os.write(writer, result.encode())
            os._exit(0)
        except terminal.Interrupted as exc:
            os.write(writer, f"interrupted {exc.signum}".encode())
            os._exit(0)
        except BaseException as exc:
            os.write(writer, repr(exc).encode())
            os._exit(1)
    os.close(writer)
    return pid, reader


def _result(pid, reader):
    _, status = os.waitpid(pid, 0)
    text = os.read(reader, 4096).decode()
    os.close(reader)
    assert os.waitstatus_to_exitcode(status) == 0, text
    return text


def test_escape_found_across_reads():
    escape = terminal._Escape(b"\x01q")
    assert escape.feed(b"ab\x01") == (b"ab", False)
    assert escape.feed(b"q") == (b"", True)
    escape = terminal._Escape(b"\x01q")
    assert escape.feed(b"\x01") == (b"", False)
    assert escape.feed(b"x") == (b"\x01x", False)


def test_raw_mode_proxy_escape_and_restore(outer, inner):
    outer_master, outer_slave = outer
    inner_master, inner_slave = inner
    before = termios.tcgetattr(outer_slave)
    fcntl.ioctl(outer_slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    pid, reader = _run_proxy(outer_slave, inner_master, (outer_master, inner_slave),
                             escape=b"\x01q")
    os.write(inner_slave, b"ready\n")
    _read_until(outer_master, b"ready")       # the proxy runs, its terminal is raw
    # keyboard -> inner pty (the 'container' reads it on its slave)
    os.write(outer_master, b"hello\n")
    assert b"hello" in _read_until(inner_slave, b"hello")
    # inner output -> the outer terminal
    os.write(inner_slave, b"from-inside\n")
    assert b"from-inside" in _read_until(outer_master, b"from-inside")
    size = struct.unpack("HHHH", fcntl.ioctl(inner_slave, termios.TIOCGWINSZ, b"\0" * 8))
    assert size[:2] == (33, 111)
    os.write(outer_master, b"\x01q")
    assert _result(pid, reader) == terminal.ESCAPED
    assert termios.tcgetattr(outer_slave) == before


def test_sigterm_restores_the_terminal(outer, inner):
    outer_master, outer_slave = outer
    inner_master, inner_slave = inner
    before = termios.tcgetattr(outer_slave)
    pid, reader = _run_proxy(outer_slave, inner_master, (outer_master, inner_slave))
    # Wait until raw mode is on (the proxy runs), then signal it.
    os.write(inner_slave, b"ready\n")
    _read_until(outer_master, b"ready")
    os.kill(pid, signal.SIGTERM)
    assert _result(pid, reader) == f"interrupted {int(signal.SIGTERM)}"
    assert termios.tcgetattr(outer_slave) == before


def test_closed_when_the_other_side_closes(outer):
    outer_master, outer_slave = outer
    inner_master, inner_slave = os.openpty()
    try:
        pid, reader = _run_proxy(outer_slave, inner_master, (outer_master, inner_slave))
        os.write(inner_slave, b"last words\n")
        os.close(inner_slave)
        assert b"last words" in _read_until(outer_master, b"last words")
        assert _result(pid, reader) == terminal.CLOSED
    finally:
        os.close(inner_master)
