"""One namespace node: its own network, mount, UTS and PID namespace.

A holder process is PID 1 of the node's PID namespace and reaps every
orphan reparented to it (a container init whose parent died, a daemon's
double fork). Killing the holder makes the kernel kill every process of
the namespace, which is how a node crashes. The node's mount namespace has
a private tmpfs /run and /dev/shm and per-node host directories
bind-mounted over chosen paths: those survive a crash the way a disk does,
everything in /run is lost.
"""

import grp
import os
import pwd
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hacontain.errors import CommandError, HacontainError, StateError, Timeout

# PID 1 of the node: reap every child, sleep until the next SIGCHLD.
REAPER = """\
import os, signal
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
while True:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
    signal.sigwait({signal.SIGCHLD})
"""

NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class NodeCommandError(CommandError):
    """A command run inside a node failed; the message names the node."""

    def __init__(self, node, argv, returncode, stderr=""):
        super().__init__(argv, returncode, stderr)
        self.node = node
        self.args = (f"{node}: {self.args[0]}",)


@dataclass(frozen=True)
class NodeDir:
    """A directory a node needs, with its owner and mode."""
    path: str
    user: str = "root"
    group: str = "root"
    mode: int = 0o755


def children(pid):
    """Host PIDs of the children of `pid` (empty once it is gone)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
            return [int(word) for word in handle.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def exe_of(pid):
    """The resolved executable of `pid`, or None when it cannot be read."""
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


class NsNode:
    """A node's namespaces, its holder process and commands run inside it.

    `binds` are node paths backed by `state_dir/root/<path>` on the host;
    `run_dirs` are made in the fresh /run at every boot; `overlays` lay a
    host directory read-only over a node directory (e.g. an extra fence
    agent in /usr/sbin) without touching the host's copy.
    """

    def __init__(self, name, netns, state_dir, binds, run_dirs=(), overlays=None, env=None):
        self.name = name
        self.netns = netns
        self.state_dir = Path(state_dir)
        self.binds = tuple(binds)
        self.run_dirs = tuple(run_dirs)
        self.overlays = dict(overlays or {})
        self.env = {"PATH": NODE_PATH, "LANG": "C.UTF-8", "HOME": "/root", **(env or {})}
        self._holder = None
        self.holder_pid = None

    def host_path(self, node_path):
        """The host path behind `node_path`, which must lie on a per-node directory."""
        for bind in self.binds:
            if node_path == bind or node_path.startswith(bind + "/"):
                return self.state_dir / "root" / node_path.lstrip("/")
        raise ValueError(f"{self.name}: {node_path} is not on a per-node directory")

    def make_dirs(self, dirs):
        """Create the host side of per-node directories (before the first boot)."""
        for spec in dirs:
            path = self.host_path(spec.path)
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, spec.mode)
            os.chown(path, pwd.getpwnam(spec.user).pw_uid, grp.getgrnam(spec.group).gr_gid)

    def alive(self):
        """True while the holder (and so the node) is up."""
        return self._holder is not None and self._holder.poll() is None

    def boot(self, timeout=10):
        """Start the holder in the node's netns, then set up hostname and mounts."""
        if self.alive():
            raise StateError(f"{self.name}: already running (holder PID {self.holder_pid})")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / "holder.log", "ab") as log:
            self._holder = subprocess.Popen(
                ["nsenter", f"--net=/run/netns/{self.netns}",
                 "unshare", "--mount", "--uts", "--pid", "--fork", "--mount-proc",
                 "--propagation", "slave", "--", sys.executable, "-c", REAPER],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, env=self.env)
        self.holder_pid = self._wait_for_holder(timeout)
        self.run(["sh", "-ec", self._setup_script()])

    def _wait_for_holder(self, timeout):
        """The host PID of unshare's child once it runs the reaper (/proc is mounted)."""
        python = os.path.realpath(sys.executable)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._holder.poll() is not None:
                log = (self.state_dir / "holder.log").read_text(errors="replace")
                raise HacontainError(
                    f"{self.name}: holder exited with {self._holder.returncode} "
                    f"in netns {self.netns}: {log.strip()[-500:]}")
            for pid in children(self._holder.pid):
                if exe_of(pid) == python:
                    return pid
            time.sleep(0.01)
        self._holder.kill()
        self._holder.wait()
        raise Timeout(f"{self.name}: holder did not start within {timeout} s")

    def _setup_script(self):
        lines = [
            shlex.join(["hostname", self.name]),
            "mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run",
            "mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm",
        ]
        for spec in self.run_dirs:
            lines.append(shlex.join(["install", "-d", "-m", f"{spec.mode:o}", "-o", spec.user,
                                     "-g", spec.group, spec.path]))
        for bind in self.binds:
            lines.append(shlex.join(["mount", "--bind", str(self.host_path(bind)), bind]))
        for target, lower in self.overlays.items():
            lines.append(shlex.join(["mount", "-t", "overlay", "overlay", "-o",
                                     f"lowerdir={lower}:{target}", target]))
        return "\n".join(lines)

    def enter_argv(self):
        """The nsenter prefix that runs a command inside the node, cwd /."""
        if not self.alive():
            raise StateError(f"{self.name}: node is down")
        return ["nsenter", "-t", str(self.holder_pid), "-m", "-u", "-n", "-p", "--wd=/"]

    def run(self, cmd, check=True, timeout=60, input=None):
        """Run argv (or a shell string) inside the node; CompletedProcess with text output.

        On timeout the whole process group is killed and Timeout raised.
        """
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else [str(word) for word in cmd]
        proc = subprocess.Popen(
            self.enter_argv() + argv, env=self.env, text=True, start_new_session=True,
            stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _killpg(proc.pid)
            proc.communicate()
            raise Timeout(f"{self.name}: {shlex.join(argv)} did not finish within {timeout} s")
        if check and proc.returncode != 0:
            raise NodeCommandError(self.name, argv, proc.returncode, err or out)
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)

    def popen(self, argv, log_path, env=None):
        """Start a long-running command inside the node, output appended to `log_path`."""
        with open(log_path, "ab") as log:
            return subprocess.Popen(
                self.enter_argv() + list(argv), env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def inner_pid(self, proc, timeout=5):
        """Host PID of the command an nsenter Popen forked into the node."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return None
            found = children(proc.pid)
            if found:
                return found[0]
            time.sleep(0.01)
        raise Timeout(f"{self.name}: nsenter {proc.pid} forked nothing within {timeout} s")

    def kill(self, timeout=10):
        """SIGKILL the holder and wait until the kernel has killed the whole namespace."""
        if self._holder is None:
            return
        try:
            os.kill(self.holder_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self._holder.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Timeout(f"{self.name}: PID namespace of holder {self.holder_pid} "
                          f"still has processes {timeout} s after SIGKILL") from None
        self._holder = None
        self.holder_pid = None


def _killpg(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
