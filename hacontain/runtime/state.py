"""The state of a running container, kept under RUNDIR/NAME/.

The state file is written atomically (temp file + rename) and holds the
init PID with its start time, so a reused PID is never taken for the
container: status is always recomputed from the kernel.
"""

import fcntl
import os

from hacontain import jsontext, paths
from hacontain.errors import KernelError, StateError
from hacontain.record import Record

STATE_VERSION = paths.STATE_VERSION


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
    holder: int | None = None    # the console holder's pid (runtime/console.py)
    foreground: bool = False
    version: int = STATE_VERSION


def directory(name):
    """RUNDIR/NAME."""
    return os.path.join(paths.rundir(), name)


class Untrusted(StateError):
    """A state file is there but is not this version's record of the container
    (unreadable, not JSON, a field missing or of the wrong type, another state
    version): the kernel, not the file, must say whether the container runs.
    `lxcpath`: the LXCPATH the file names, when it names one."""

    def __init__(self, message, lxcpath=None):
        super().__init__(message)
        self.lxcpath = lxcpath


def read(name):
    """The recorded State of `name`; None when there is no state file.

    Untrusted when there is one but it cannot be taken as this version's
    record. Fields this version does not know are ignored: a writer of the
    same STATE_VERSION adds none that change what the record means.
    """
    path = paths.state_file(name)
    try:
        with open(path, "rb") as handle:
            data = jsontext.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Untrusted(f"state file {path} cannot be read: {exc.strerror}") from None
    except ValueError as exc:                 # not UTF-8, or not JSON
        raise Untrusted(f"state file {path} is not a JSON record ({exc})") from None
    if not isinstance(data, dict):
        raise Untrusted(f"state file {path} holds a JSON {type(data).__name__}, not a record")
    named = data.get("lxcpath") if isinstance(data.get("lxcpath"), str) else None
    if data.get("version") != STATE_VERSION:
        raise Untrusted(f"state file {path} was written by another hacontain version "
                        f"(state version {data.get('version')!r}; this one reads {STATE_VERSION})",
                        named)
    fields = {}
    for field, kind in State.__annotations__.items():
        if field not in data:
            if not hasattr(State, field):
                raise Untrusted(f"state file {path} lacks the field {field!r}", named)
            continue
        value = data[field]
        allowed = (int, float) if kind is float else kind
        if not isinstance(value, allowed) or (isinstance(value, bool) and kind is not bool):
            raise Untrusted(f"state file {path}: field {field!r} is {value!r}, not "
                            f"{getattr(kind, '__name__', kind)}", named)
        fields[field] = value
    if fields["name"] != name:
        raise Untrusted(f"state file {path} describes container {fields['name']!r}")
    return State(**fields)


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
            handle.write(jsontext.dumps(state.as_dict()))
        os.rename(temp, target)
    except OSError as exc:
        raise KernelError("write state", exc.errno, target) from None


def containment_record(name):
    """RUNDIR/NAME/containment: the confinement start applied, for attach."""
    return os.path.join(directory(name), "containment")


def remove(name):
    """Remove the state file (or whatever stands in its place) and the containment
    record. The directory stays: it holds the lock and the console log, which
    outlives a stop (see remove_directory)."""
    for path in (paths.state_file(name), containment_record(name)):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            import shutil
            shutil.rmtree(path)


def remove_directory(name):
    """Remove RUNDIR/NAME with its lock and console log (destroy: nothing of the
    container is left)."""
    import shutil
    try:
        shutil.rmtree(directory(name))
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise KernelError("remove", exc.errno, directory(name)) from None


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
