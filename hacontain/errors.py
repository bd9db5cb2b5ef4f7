"""The one exception hierarchy of hacontain.

Every failure the runtime, storage helpers, CLI or agent can report is a
HacontainError subclass; code at the edges (CLI, OCF agent) maps these to
messages and exit codes in one place.
"""

import errno as _errno
import os


class HacontainError(Exception):
    """Base class: a failure with a message fit for an admin."""


class ConfigError(HacontainError):
    """A container's configuration is wrong: a key or value of its config file
    (which lives on this node: the agent reports it for this node only) or one
    this host refuses (a bridge, CPU or cgroup file it lacks)."""

    def __init__(self, message, path=None, line=None, key=None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        if key is not None:
            where += f"{key}: "
        super().__init__(where + message)
        self.message, self.path, self.line, self.key = message, path, line, key


class ParameterError(ConfigError):
    """A parameter (the container's name, an agent parameter) is wrong wherever it
    is given: the same value is wrong on every node."""


class NotFound(HacontainError):
    """A container, config, rootfs or other named thing does not exist here."""


class AlreadyExists(HacontainError):
    """Something that must be new exists already."""


class NotInstalled(HacontainError):
    """Software or a kernel feature this action needs is missing on this host."""


class StateError(HacontainError):
    """The container is in a state the action cannot work from."""


class KernelError(HacontainError):
    """A system call failed: names the operation, the path and the errno."""

    def __init__(self, op, err, path=None, detail=None):
        name = _errno.errorcode.get(err, str(err))
        msg = f"{op}"
        if path is not None:
            msg += f" {path}"
        if detail:
            msg += f" ({detail})"
        msg += f": {name}: {os.strerror(err)}"
        super().__init__(msg)
        self.op, self.errno, self.path = op, err, path


class CommandError(HacontainError):
    """An external command (a test harness or storage tool) failed."""

    def __init__(self, argv, returncode, stderr=""):
        tail = stderr.strip().splitlines()[-1] if stderr and stderr.strip() else ""
        msg = f"{' '.join(argv)} exited with {returncode}"
        if tail:
            msg += f": {tail}"
        super().__init__(msg)
        self.argv, self.returncode, self.stderr = argv, returncode, stderr


class StorageError(HacontainError):
    """A storage helper (LVM, DRBD, snapshot, clone) failed."""


class Timeout(HacontainError):
    """An action did not complete within the time allowed."""


def rebuild(kind, message):
    """Recreate an error reported as (class name, message) by a child process."""
    cls = globals().get(kind)
    if not (isinstance(cls, type) and issubclass(cls, HacontainError)):
        cls = HacontainError
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    return error
