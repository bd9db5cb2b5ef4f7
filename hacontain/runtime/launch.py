"""Starting a container's init: the parent side and the child side.

    parent ──fork──> first child, the console holder: setsid, enter the cgroup,
                     child subreaper, unshare all namespaces but the mount
                     namespace; after the fork: open the console log and
                     socket, scan, exec its program
                        └──fork──> container init (PID 1): unshare the mount
                                   namespace, build its filesystem, pivot,
                                   wait for "exec", exec the init

With a user namespace a second child between the two unshares it and the
others and forks the init, so the holder stays host root; it exits at once,
and the holder, a child subreaper, becomes the init's parent. The holder
(runtime/console.py) is in a session of its own: killing the caller, or its
whole process group, never kills the container; it keeps the terminals'
masters, logs the console, records how the init ended and exits with it. It
stays in the host's mount namespace (it execs its program from there, and the
init's pivot_root would move its root too). It enters the container's cgroup
before any fork, so nothing can escape it. Once it has forked the init, the
holder opens its log and socket, does the work its caller gives it for that
time (the rootfs-in-use scan, O(processes on the host)), sends its result on a
pipe of its own and execs its program. Meanwhile the init builds its
filesystem (in its own mount namespace: nothing shows outside) and the parent
records state and sets up networking; the init execs only on the parent's
"exec", and if the parent dies first, the pipe's EOF ends it. A close-on-exec
pipe reports any failure before exec; its EOF means the init command is
running.

The holder is the caller's child: a caller that lives on (a test, a daemon)
reaps it when it stops the container (Container._cleanup).
"""

import os
import select
import struct
import time

from hacontain import jsontext
from hacontain.errors import HacontainError, KernelError, Timeout, rebuild
from hacontain.record import Record
from hacontain.runtime import console, devices, rootfs
from hacontain.runtime.security import idmap
from hacontain.sys import libc, signals

NAMESPACES = (libc.CLONE_NEWNS | libc.CLONE_NEWUTS | libc.CLONE_NEWIPC | libc.CLONE_NEWNET
              | libc.CLONE_NEWCGROUP | libc.CLONE_NEWPID)
_KEEPABLE = {"pid": libc.CLONE_NEWPID, "uts": libc.CLONE_NEWUTS, "ipc": libc.CLONE_NEWIPC,
             "net": libc.CLONE_NEWNET, "cgroup": libc.CLONE_NEWCGROUP}


def namespaces(keep=()):
    """The namespace flags of a container that shares those named in `keep` with the host
    (`lxc.namespace.keep`; "user" and "time" are the host's unless asked for otherwise)."""
    flags = NAMESPACES
    for name in keep:
        flags &= ~_KEEPABLE.get(name, 0)
    return flags


class Plan(Record):
    """Everything the container's init process needs to set itself up."""
    rootfs: str
    hostname: str
    argv: tuple
    env: tuple
    console: console.Spec          # the console log and socket, for the holder
    cwd: str = "/"
    uid: int | None = None
    gid: int | None = None
    mount_auto: tuple = ()
    mounts: tuple = ()
    autodev: bool = True
    ttys: int = 0
    namespaces: int = NAMESPACES
    foreground: bool = False
    own_stdio: bool = False        # the init keeps the caller's stdin/stdout/stderr, not the
                                   # console (execute without a terminal)
    containment: object = None     # security.containment.Containment, applied before exec
    idmap: tuple = ()              # lxc.idmap entries: a user namespace when not empty
    cgroup_mode: str | None = None  # lxc.mount.auto's cgroup mode (security.cgroup_view.mode_of)
    cgroup_views: tuple = ()       # security.cgroup_view.views() of the container's hierarchies
    volume: object = None          # storage.backends.Volume the init mounts on rootfs, or None


class Launch:
    """A started but not yet released container init.

    `scan`: a callable the first child runs once it has forked the init (which
    does not exec before release()), alongside what the caller does until
    then; it returns a list of ints (PIDs), which found() gives."""

    def __init__(self, plan, cgroup, timeout, scan=None):
        self.plan, self.timeout = plan, timeout
        self.deadline = time.monotonic() + timeout
        sync_r, self._sync_w = os.pipe2(os.O_CLOEXEC)
        self._err_r, err_w = os.pipe2(os.O_CLOEXEC)
        pid_r, pid_w = os.pipe2(os.O_CLOEXEC)
        self._scan_r, scan_w = os.pipe2(os.O_CLOEXEC) if scan is not None else (None, None)
        try:
            self.first_child, in_v2 = _fork_into(cgroup)
        except BaseException:
            for fd in (sync_r, self._sync_w, self._err_r, err_w, pid_r, pid_w, self._scan_r,
                       scan_w):
                if fd is not None:
                    os.close(fd)
            raise
        if self.first_child == 0:
            _first_child(plan, cgroup, in_v2,
                         (sync_r, self._sync_w, self._err_r, err_w, pid_r, pid_w),
                         (scan, self._scan_r, scan_w))
        for fd in (sync_r, err_w, pid_w, scan_w):
            if fd is not None:
                os.close(fd)
        try:
            if plan.idmap:
                self._map_ids(pid_r)
            self.pid, self.holder = struct.unpack("ii", self._read_child(pid_r, 8))
        except BaseException:
            self._close()
            raise
        finally:
            os.close(pid_r)

    def _map_ids(self, pid_r):
        """Write the maps of the user namespace the second child made, then let it go on."""
        second = struct.unpack("i", self._read_child(pid_r, 4))[0]
        try:
            idmap.write_maps(second, self.plan.idmap)
        except BaseException:
            os.kill(second, signals.SIGKILL)
            _reap(self.first_child)
            raise
        os.write(self._sync_w, b"m")

    def found(self):
        """The result of the first child's scan, waited for; its error if it failed. On
        either, the init is left waiting, for the caller to abort()."""
        data = _read_all(self._scan_r, self.deadline)
        os.close(self._scan_r)
        self._scan_r = None
        if data is None:
            os.kill(self.first_child, signals.SIGKILL)
            raise Timeout(f"the container's first process did not end its scan of the "
                          f"host's processes within {self.timeout:.0f}s")
        if not data:
            raise HacontainError("the container's first process died during its scan of "
                                 "the host's processes")
        result = jsontext.loads(data.decode("utf-8", "replace"))
        if isinstance(result, dict):
            raise rebuild(result["kind"], result["message"])
        return result

    def _read_child(self, pid_r, want):
        """`want` bytes the first child sends; its error (or a Timeout) if it sends none."""
        data = _read_all(pid_r, self.deadline, want=want)
        if data is None:
            os.kill(self.first_child, signals.SIGKILL)
            _reap(self.first_child)
            raise Timeout(f"the container's first process hung for {self.timeout:.0f}s")
        if len(data) == want:
            return data
        _reap(self.first_child)
        raise self._child_error() or HacontainError("the container's first process died")

    def release(self, before_exec=None, meanwhile=None):
        """Run `before_exec` here (the network) while the init, forked by
        __init__, sets up its filesystem; then let it exec, and run `meanwhile`
        here as it does; raise its error if it fails (or meanwhile's, having
        killed it).

        When before_exec fails, the init's own error is raised if it failed
        too, else before_exec's; the init is left waiting either way, for the
        caller to undo what before_exec made and then abort().
        """
        if before_exec is not None:
            try:
                before_exec()
            except BaseException:
                if select.select([self._err_r], [], [], 0)[0]:
                    error = self._child_error()
                    if error is not None:
                        raise error from None
                raise
        try:
            self._send(b"x")
            os.close(self._sync_w)
            self._sync_w = None
            if meanwhile is not None:
                meanwhile()
            error = self._child_error()
        except BaseException:
            self.abort()
            raise
        if error is not None:
            self.abort()
            raise error

    def _send(self, byte):
        try:
            os.write(self._sync_w, byte)
        except BrokenPipeError:
            pass                              # the init is gone: its report says why

    def _child_error(self):
        data = _read_all(self._err_r, self.deadline)
        if data is None:
            raise Timeout(f"the container init did not exec within {self.timeout:.0f}s")
        if not data:
            return None
        report = jsontext.loads(data.decode("utf-8", "replace"))
        return rebuild(report["kind"], report["message"])

    def abort(self):
        """Kill the init (before or after release) and reap what is ours."""
        try:
            os.kill(self.pid, signals.SIGKILL)
        except (ProcessLookupError, AttributeError):
            pass
        _reap(self.first_child)           # the console holder, which ends with the init
        self._close()

    def wait(self):
        """Foreground only: wait for the init to exit; its exit code."""
        _, status = os.waitpid(self.first_child, 0)
        self._close()
        return os.waitstatus_to_exitcode(status)

    def _close(self):
        for attr in ("_sync_w", "_err_r", "_scan_r"):
            fd = getattr(self, attr)
            if fd is not None:
                os.close(fd)
                setattr(self, attr, None)


def _reap(pid):
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _read_all(fd, deadline, want=None):
    """Read until EOF (or `want` bytes); None on timeout."""
    chunks, size = [], 0
    while want is None or size < want:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return None
        chunk = os.read(fd, 65536 if want is None else want - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _report(err_w, exc):
    if isinstance(exc, HacontainError):
        kind, message = type(exc).__name__, str(exc)
    elif isinstance(exc, OSError):
        kind = "KernelError"
        message = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    else:
        kind, message = "HacontainError", f"{type(exc).__name__}: {exc}"
    try:
        os.write(err_w, jsontext.dumps({"kind": kind, "message": message}).encode())
    except OSError:
        pass


def _fork_into(cgroup):
    """Fork the first child, straight into the v2 cgroup when there is one: (pid, in_v2)."""
    v2_dir = cgroup.v2_dir() if cgroup is not None else None
    if v2_dir is not None:
        try:
            fd = os.open(v2_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise KernelError("open", exc.errno, v2_dir) from None
        try:
            pid = libc.fork_into_cgroup(fd)
        except KernelError:
            pid = None                        # a kernel without clone3: join by writing
        finally:
            os.close(fd)
        if pid is not None:
            return pid, True
    return os.fork(), False


def _first_child(plan, cgroup, in_v2, fds, scanning):
    """The console holder, until it execs its program (console.exec_holder); never
    returns.

    It forks the init as soon as it can. What only the holder needs (the console
    log and socket) comes after, beside the init building its filesystem, and so
    do `scanning`'s work (scan, read end, write end of its pipe: see Launch) and
    the exec of its program; the start never waits for it, but for the scan's
    result. Should the log or the socket fail then, it kills the init and reports
    why. With a user namespace the second child forks the init, out of its
    reach: the log and socket come first there.
    """
    sync_r, sync_w, err_r, err_w, pid_r, pid_w = fds
    scan, scan_r, scan_w = scanning
    init = None
    try:
        for fd in (sync_w, err_r, pid_r, scan_r):
            if fd is not None:
                os.close(fd)
        os.setsid()
        if cgroup is not None:
            cgroup.join_self(in_v2)
        console.become_subreaper(libc.prctl)
        to_holder, to_init = console.channel()
        forward = (sync_r, err_w, pid_w, to_init)
        second = None
        if plan.idmap:                    # the holder stays host root: a second child unshares
            holder_files = _open_holder_files(plan.console)
            second = os.fork()
            if second == 0:
                for fd in (*holder_files, to_holder, scan_w):
                    if fd is not None:
                        os.close(fd)
                _second_child(plan, forward)
        else:                             # the init makes its own mount namespace (see there)
            libc.unshare(plan.namespaces & ~libc.CLONE_NEWNS)
            init = os.fork()
            if init == 0:
                for fd in (to_holder, pid_w, scan_w):
                    if fd is not None:
                        os.close(fd)
                _container_init(plan, forward, unshare_mounts=True)
            os.write(pid_w, struct.pack("ii", init, os.getpid()))
        for fd in (sync_r, pid_w, to_init):
            os.close(fd)
        if init is not None:
            holder_files = _open_holder_files(plan.console)
    except BaseException as exc:  # report everything: nothing may escape a forked child
        if init:
            os.kill(init, signals.SIGKILL)  # the start then reads this report to its end
        _report(err_w, exc)
        os._exit(1)
    os.close(err_w)
    try:
        console.detach_stdio()            # the caller may wait for its pipes' EOF
        if scan is not None:
            _send_scan(scan, scan_w)
        _leave_v2_cgroup_root(cgroup)
        console.exec_holder(plan.console, (*holder_files, to_holder),
                            os.path.basename(os.path.dirname(plan.console.socket)), second)
    finally:
        os._exit(1)                       # the container runs on without its console


def _open_holder_files(spec):
    """The console log and the listening socket of console.Spec `spec`, opened as
    host root (the root of a user namespace may not reach them)."""
    log = os.open(spec.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    return log, console.listen(spec.socket)


def _send_scan(scan, scan_w):
    """Write `scan`'s result as JSON to `scan_w`, or its error as _report does; close it."""
    try:
        try:
            data = jsontext.dumps(scan()).encode()
        except BaseException as exc:  # report everything: nothing may escape a forked child
            _report(scan_w, exc)
            return
        while data:
            data = data[os.write(scan_w, data):]
    except OSError:
        pass                              # the parent is gone: its read ends the start
    finally:
        os.close(scan_w)


def _leave_v2_cgroup_root(cgroup):
    """Move the holder into the v2 leaf attach uses (ContainerCgroup.move_to_v2_leaf),
    so that a systemd guest may enable controllers in the container's cgroup. A
    failure leaves it where it is."""
    if cgroup is None:
        return
    try:
        cgroup.move_to_v2_leaf(os.getpid())
    except (HacontainError, OSError):
        pass


def _second_child(plan, fds):
    """With a user namespace: unshares it, then the others, and forks the init (so the
    holder, its parent, stays host root); never returns."""
    sync_r, err_w, pid_w, to_init = fds
    try:
        if plan.idmap:
            libc.unshare(libc.CLONE_NEWUSER)
            os.write(pid_w, struct.pack("i", os.getpid()))
            if os.read(sync_r, 1) != b"m":
                os._exit(1)
            idmap.become_root()
        libc.unshare(plan.namespaces)
        pid = os.fork()
        if pid == 0:
            os.close(pid_w)
            _container_init(plan, fds)
        os.write(pid_w, struct.pack("ii", pid, os.getppid()))
        os._exit(0)
    except BaseException as exc:  # report everything: nothing may escape a forked child
        _report(err_w, exc)
        os._exit(1)


def _container_init(plan, fds, unshare_mounts=False):
    """PID 1 of the new pid namespace: set up, then exec the init command.

    `unshare_mounts`: make its mount namespace here, not in its parent: the
    parent is then the console holder, which stays in the host's (it execs its
    program from there, and a pivot_root would move its root too)."""
    sync_r, err_w, to_holder = fds[0], fds[1], fds[3]
    try:
        if unshare_mounts:
            libc.unshare(libc.CLONE_NEWNS)
        os.setsid()
        root = plan.rootfs
        rootfs.make_private()
        rootfs.mount_rootfs(root, plan.volume)
        rootfs.mount_auto(root, plan.mount_auto, plan.cgroup_mode, plan.cgroup_views)
        dev = devices.populate_dev(root, plan.autodev, bind_nodes=bool(plan.idmap))
        terminals = devices.open_terminals(dev, plan.ttys)
        console.send_terminals(to_holder, terminals)
        for fd in terminals[2:]:
            os.close(fd)
        os.close(to_holder)
        console_slave = terminals[1]   # the init's stdin, stdout and stderr, as in LXC
        os.close(terminals[0])
        for entry in plan.mounts:
            rootfs.mount_entry(root, entry)
        rootfs.pivot(root)
        libc.sethostname(plan.hostname)
        libc.interface_up("lo")
        if os.read(sync_r, 1) != b"x":             # the parent's network is ready
            os._exit(1)
        if not plan.own_stdio:
            for target in (0, 1, 2):
                os.dup2(console_slave, target)
        _close_fds_except({0, 1, 2, err_w})
        if plan.containment is not None:
            plan.containment.apply()
        if plan.gid is not None:
            os.setgroups([])
            os.setgid(plan.gid)
        if plan.uid is not None:
            os.setuid(plan.uid)
        os.chdir(plan.cwd)
        env = dict(item.split("=", 1) for item in plan.env)
        try:
            os.execve(plan.argv[0], list(plan.argv), env)
        except OSError as exc:
            raise KernelError(f"exec {plan.argv[0]} in the container", exc.errno) from None
    except BaseException as exc:  # report everything: nothing may escape a forked child
        _report(err_w, exc)
        os._exit(127)


def _close_fds_except(keep):
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
