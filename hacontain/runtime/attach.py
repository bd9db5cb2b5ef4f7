"""Running a command inside a running container (setns into its namespaces)."""

import os
import sys

from hacontain.errors import HacontainError, StateError
from hacontain.runtime.security.idmap import become_root
from hacontain.sys import libc, proc

# Order matters: the user namespace first (when the container has its own),
# so the others, which it owns, can be entered; the mount namespace last.
NAMESPACE_ORDER = ("cgroup", "ipc", "uts", "net", "pid", "mnt")


def attach(record, cgroup, argv, env, containment):
    """Run `argv` (argv[0] an absolute path inside) in the container of `record` with
    environment `env`, confined by `containment` like the init; its exit code."""
    fds = {}
    try:
        if os.stat(f"/proc/{record.pid}/ns/user").st_ino != os.stat("/proc/self/ns/user").st_ino:
            fds["user"] = os.open(f"/proc/{record.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        for kind in NAMESPACE_ORDER:
            fds[kind] = os.open(f"/proc/{record.pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
        root = os.open(f"/proc/{record.pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        _close(fds.values())
        raise StateError(f"container {record.name} stopped while attaching") from None
    try:
        # The descriptors pin the namespaces; only now is the pid checked.
        if not proc.is_alive(record.pid, record.start_time):
            raise StateError(f"container {record.name} is not running")
        child = os.fork()
        if child == 0:
            _enter_and_run(cgroup, fds, root, argv, env, containment)
    finally:
        _close(list(fds.values()) + [root])
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _enter_and_run(cgroup, fds, root, argv, env, containment):
    """In the forked child: join the cgroup and namespaces, then run argv. Never returns."""
    try:
        if cgroup is not None:
            cgroup.add_process(os.getpid())
        for kind in fds:
            libc.setns(fds[kind], 0, f"/proc/<init>/ns/{kind}")
        os.fchdir(root)
        os.chroot(".")
        os.chdir("/")
        if "user" in fds:
            become_root()
        # Joining a pid namespace applies to children: run the command in one.
        child = os.fork()
        if child == 0:
            containment.apply()
            _exec(argv, env)
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)
    except HacontainError as exc:
        print(f"hacontain: attach: {exc}", file=sys.stderr)
        os._exit(126)
    except BaseException as exc:  # nothing may escape a forked child
        print(f"hacontain: attach: {type(exc).__name__}: {exc}", file=sys.stderr)
        os._exit(126)


def _exec(argv, env):
    environment = dict(item.split("=", 1) for item in env)
    try:
        os.execve(argv[0], list(argv), environment)
    except OSError as exc:
        print(f"hacontain: attach: {argv[0]}: {exc.strerror}", file=sys.stderr)
        os._exit(127)


def _close(fds):
    for fd in fds:
        os.close(fd)
