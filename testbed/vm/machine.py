"""One test VM: qcow2 overlays over the cached image, a qemu process and its guest agent."""

import os
import signal
import subprocess
from pathlib import Path

from hacontain.errors import CommandError, StateError, Timeout

from . import commands
from .agent_client import AgentClient, GuestCommandError
from .qemu import qemu_argv

BOOT_TIMEOUT = 120
STOP_TIMEOUT = 10
CONSOLE_TAIL_LINES = 25


class VmStopped(CommandError):
    """qemu exited when it should run; the message ends with the console's last lines."""

    def __init__(self, vm, argv, returncode, console_tail):
        super().__init__(argv, returncode)
        self.args = (f"VM {vm}: qemu exited with {returncode}; last console lines:\n{console_tail}",)


def require_qemu():
    """Raise NotInstalled unless qemu and qemu-img are on this host."""
    commands.tool("qemu-system-x86_64", "qemu-system-x86")
    commands.tool("qemu-img", "qemu-utils")


class Vm:
    """A VM whose files live in ``workdir``; ``launch`` + ``wait_ready`` (or ``start``) boots it.

    ``crash`` kills qemu like a power cut and ``start`` boots it again with the
    same disks. The owner calls ``stop`` and removes ``workdir`` (fleet.booted does).
    """

    def __init__(self, spec, image, workdir):
        self.spec = spec
        self.image = image
        self.workdir = Path(workdir)
        self.process = None
        self.agent = None

    @property
    def name(self):
        return self.spec.name

    def start(self, timeout=BOOT_TIMEOUT):
        """Boot and wait until the guest agent answers."""
        self.launch()
        self.wait_ready(timeout)

    def launch(self):
        """Create the disks on first use and start qemu, without waiting for the boot."""
        if self.process is not None:
            raise StateError(f"VM {self.name} is already running (qemu pid {self.process.pid})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._create_disks()
        (self.workdir / "agent.sock").unlink(missing_ok=True)
        argv = qemu_argv(self.spec, self.image, self.workdir, commands.tool("qemu-system-x86_64", "qemu-system-x86"))
        with open(self.workdir / "qemu.log", "ab") as log:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        self.agent = AgentClient.connect(self.name, self.workdir / "agent.sock", self.check_alive)

    def wait_ready(self, timeout=BOOT_TIMEOUT):
        """Wait for the guest agent's greeting; a Timeout carries the console's last lines."""
        try:
            self.agent.wait_ready(timeout)
        except Timeout as e:
            raise Timeout(f"{e}; last console lines:\n{self.console_tail()}") from None

    def run(self, argv, *, timeout=60, input=None, env=None, cwd=None):
        """Run ``argv`` in the VM and return its GuestResult, whatever its exit status."""
        return self.agent.run(argv, timeout=timeout, input=input, env=env, cwd=cwd)

    def check(self, argv, **kwargs):
        """Run ``argv`` in the VM; raise GuestCommandError (with its output) unless it exits 0."""
        result = self.run(argv, **kwargs)
        if result.rc != 0:
            raise GuestCommandError(result)
        return result

    def crash(self):
        """Kill qemu at once (SIGKILL): the guest gets no chance to flush or shut down."""
        self._end(signal.SIGKILL)

    def stop(self):
        """Stop qemu (SIGTERM, then SIGKILL after STOP_TIMEOUT s); a no-op when not running."""
        self._end(signal.SIGTERM)

    def check_alive(self):
        """Raise CommandError with the console's last lines if qemu has exited."""
        if self.process is None:
            raise StateError(f"VM {self.name} is not running")
        rc = self.process.poll()
        if rc is not None:
            argv, self.process = self.process.args, None
            raise VmStopped(self.name, argv, rc, self.console_tail())

    def console_tail(self, lines=CONSOLE_TAIL_LINES):
        """The last lines of the serial console and qemu's own messages."""
        text = ""
        for name in ("console.log", "qemu.log"):
            path = self.workdir / name
            if path.exists():
                text += "".join(path.read_text(errors="replace").splitlines(True)[-lines:])
        return text

    def _create_disks(self):
        qemu_img = commands.tool("qemu-img", "qemu-utils")
        root, data = self.workdir / "root.qcow2", self.workdir / "data.qcow2"
        if not root.exists():
            commands.run([qemu_img, "create", "-q", "-f", "qcow2", "-F", "raw", "-b", self.image.rootfs, root])
        if not data.exists():
            commands.run([qemu_img, "create", "-q", "-f", "qcow2", data, self.spec.data_disk_size])

    def _end(self, sig):
        if self.agent is not None:
            self.agent.close()
            self.agent = None
        if self.process is None:
            return
        try:
            os.kill(self.process.pid, sig)
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            self.process.wait()
        self.process = None
