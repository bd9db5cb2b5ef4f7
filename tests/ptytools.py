"""A pseudo-terminal made by a test, with a process that has it as its controlling
terminal: the stand-in for an admin's terminal (never the session's real one)."""

import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time


def _take_controlling_terminal():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """`argv` run on a new pty of `rows` x `cols`, in a session of its own whose
    controlling terminal the pty is; the test types on the master side."""

    def __init__(self, argv, rows=24, cols=80, env=None):
        self.master, self.slave = os.openpty()
        self.resize(rows, cols)
        self.output = b""
        self._seen = 0
        self.process = subprocess.Popen(
            argv, stdin=self.slave, stdout=self.slave, stderr=self.slave, env=env,
            start_new_session=True, preexec_fn=_take_controlling_terminal)

    def resize(self, rows, cols):
        """Set the window size (the kernel sends SIGWINCH to the foreground job)."""
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def attributes(self):
        return termios.tcgetattr(self.slave)

    def type(self, text):
        os.write(self.master, text.encode() if isinstance(text, str) else text)

    def expect(self, pattern, timeout=30.0):
        """Wait until `pattern` (a regex over bytes) shows in the output after the
        last match; the match."""
        regex = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.output, self._seen)
            if match:
                self._seen = match.end()
                return match
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                raise AssertionError(f"no {pattern!r} on the terminal within {timeout}s; "
                                     f"it shows {self.output[self._seen:]!r}")

    def _read(self, timeout, also=()):
        if self.master not in select.select([self.master, *also], [], [], timeout)[0]:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:
            return False
        self.output += chunk
        return bool(chunk)

    def wait(self, timeout=60.0):
        """The process's exit code, once it ends; what it wrote is read meanwhile."""
        deadline = time.monotonic() + timeout
        pidfd = os.pidfd_open(self.process.pid)
        try:
            while self.process.poll() is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.process.args} still runs after {timeout}s; "
                                         f"the terminal shows {self.output[-2000:]!r}")
                self._read(remaining, also=(pidfd,))
        finally:
            os.close(pidfd)
        while self._read(0):
            pass
        return self.process.returncode

    def close(self):
        """End the process (ours, by PID) if it still runs; close the pty."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
        os.close(self.slave)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
