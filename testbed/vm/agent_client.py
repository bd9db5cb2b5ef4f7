"""Host side of the guest agent: JSON lines over the unix socket qemu joins to the VM's port."""

import json
import select
import socket
import time
from dataclasses import dataclass

from hacontain.errors import CommandError, StateError, Timeout

# Extra seconds the host waits beyond a command's own timeout: the guest kills
# the command at its timeout and still has to drain its pipes and answer.
ANSWER_MARGIN = 30
OUTPUT_TAIL = 3000


@dataclass(frozen=True)
class GuestResult:
    """What a command in a VM did."""

    vm: str
    argv: list
    rc: int
    stdout: str
    stderr: str


class GuestCommandError(CommandError):
    """A command inside a test VM exited non-zero; the message carries its output."""

    def __init__(self, result):
        super().__init__(result.argv, result.rc, result.stderr or result.stdout)
        self.result = result
        self.args = (
            f"in VM {result.vm}: {self.args[0]}\n"
            f"--- stdout ---\n{result.stdout[-OUTPUT_TAIL:]}--- stderr ---\n{result.stderr[-OUTPUT_TAIL:]}",
        )


class AgentClient:
    """One connection to a VM's guest agent. ``check_alive`` raises if the VM's qemu is gone."""

    def __init__(self, vm, sock, check_alive):
        self.vm = vm
        self.sock = sock
        self.check_alive = check_alive
        self.buffer = b""
        self.last_id = 0

    @classmethod
    def connect(cls, vm, path, check_alive, timeout=30):
        """Connect to the socket qemu creates at ``path`` as soon as it exists."""
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(path))
                return cls(vm, sock, check_alive)
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
            check_alive()
            if time.monotonic() > deadline:
                raise Timeout(f"VM {vm}: qemu did not create the agent socket {path} within {timeout} s")
            time.sleep(0.05)

    def wait_ready(self, timeout):
        """Wait for the agent's ``{"ready": true}`` greeting (the VM has booted)."""
        message = self._receive(time.monotonic() + timeout, f"did not boot to its agent within {timeout} s")
        if message.get("ready") is not True:
            raise Timeout(f"VM {self.vm}: expected the agent's greeting, got {message}")

    def run(self, argv, *, timeout, input=None, env=None, cwd=None):
        """Run ``argv`` in the VM and return a GuestResult; raise Timeout if it was killed at ``timeout``."""
        self.last_id += 1
        request = {"id": self.last_id, "argv": list(argv), "timeout": timeout, "input": input, "env": env, "cwd": cwd}
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        what = f"did not answer {' '.join(argv)} within {timeout + ANSWER_MARGIN} s"
        while True:
            answer = self._receive(time.monotonic() + timeout + ANSWER_MARGIN, what)
            if answer.get("id") == self.last_id:
                break
        if "error" in answer:
            raise CommandError(list(argv), -1, answer["error"])
        result = GuestResult(self.vm, list(argv), answer["rc"], answer["stdout"], answer["stderr"])
        if answer["timed_out"]:
            raise Timeout(
                f"in VM {self.vm}: {' '.join(argv)} did not finish within {timeout} s and was killed\n"
                f"--- stdout ---\n{result.stdout[-OUTPUT_TAIL:]}--- stderr ---\n{result.stderr[-OUTPUT_TAIL:]}"
            )
        return result

    def close(self):
        self.sock.close()

    def _receive(self, deadline, what):
        """Read the next JSON line, checking every half second that the VM still runs."""
        while b"\n" not in self.buffer:
            if time.monotonic() > deadline:
                raise Timeout(f"VM {self.vm} {what}")
            readable, _, _ = select.select([self.sock], [], [], 0.5)
            if not readable:
                self.check_alive()
                continue
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                self._socket_closed()
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def _socket_closed(self):
        """qemu closed the socket, so it is exiting: let check_alive report how, once it has."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            self.check_alive()
            time.sleep(0.1)
        raise StateError(f"VM {self.vm}: qemu closed the agent socket but still runs")
