"""The state of a running container, kept under RUNDIR/NAME/.

The state file is written atomically (temp file + rename) and holds the
init PID with its start time, so a reused PID is never taken for the
container: status is always recomputed from the kernel.
"""

import fcntl
import json
import os

from hacontain import paths
from hacontain.errors import KernelError
from hacontain.record import Record

STATE_VERSION = 1


class State(Record):
    """What start recorded about a container."""
    _mutable = True
    name: str
    lxcpath: str
    config: str
    pid: int | None              # None: a start is making the container, no init yet
    start_time: int | None
    started_at: float
    halt_signal: int
    cgroup: dict = {}
    network: list = []
    console_log: str | None = None
    foreground: bool = False
    version: int = STATE_VERSION


def directory(name):
    """RUNDIR/NAME."""
    return os.path.join(paths.rundir(), name)


def read(name):
    """The recorded State of `name`, or None when there is none (or it is unreadable)."""
    try:
        with open(paths.state_file(name), encoding="utf-8") as handle:
            data = json.load(handle)
        return State(**data)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        return None


def write(state):
    """Write `state` atomically (a rename), without fsync: the state describes the
    running system and means nothing after a reboot (RUNDIR is a tmpfs on a
    usual host; a stale file is recognised by its init's pid and start time)."""
    folder = directory(state.name)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    target = paths.state_file(state.name)
    temp = f"{target}.{os.getpid()}.tmp"
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(state.as_dict(), handle)
        os.rename(temp, target)
    except OSError as exc:
        raise KernelError("write state", exc.errno, target) from None


def containment_record(name):
    """RUNDIR/NAME/containment: the confinement start applied, for attach."""
    return os.path.join(directory(name), "containment")


def remove(name):
    """Remove the state file and the containment record (the directory stays:
    it holds the lock and the console log)."""
    for path in (paths.state_file(name), containment_record(name)):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def names():
    """Names with a state directory."""
    try:
        return sorted(os.listdir(paths.rundir()))
    except FileNotFoundError:
        return []


class Lock:
    """An exclusive per-container lock (flock on RUNDIR/NAME/lock).

    Serialises start, stop and reload of one container between processes.
    The lock file is opened close-on-exec, so the container never holds it.
    """

    def __init__(self, name):
        self.path = os.path.join(directory(name), "lock")
        self.fd = None

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)
        self.fd = None
