"""A container's status from its state file and the kernel, cheaply.

The OCF monitor calls this when the agent's shell half (ocf/agent.sh) cannot
answer: it forks nothing, and loads the cgroup package only to look at the
cgroup of a container whose init is gone or whose state file is missing or
cannot be trusted. Then the kernel answers: a cgroup with processes is
never "stopped", whatever the file says.
"""

from hacontain import paths
from hacontain.record import Record
from hacontain.runtime import state as statefile
from hacontain.sys import proc

RUNNING, FROZEN, STOPPED, DEFUNCT = "RUNNING", "FROZEN", "STOPPED", "DEFUNCT"


class Status(Record):
    """What the kernel says about a container.

    name: RUNNING, FROZEN, STOPPED (no live init, no cgroup; a stale state
    file may remain) or DEFUNCT (the init is gone but its cgroup is left, or
    the state file is missing or cannot be trusted while its cgroup exists:
    stop cleans that up). `state`: the record, when it can be trusted.
    `untrusted`: the state file exists but could not be trusted; `lxcpath`:
    the LXCPATH such a file still names, if any. `cgroup`:
    the container's cgroup as found from the kernel (state missing or
    untrusted), `processes` in it and the `init` among them (the process
    that is PID 1 of a pid namespace one level below ours), when found.
    """
    name: str
    state: statefile.State | None = None
    reason: str | None = None
    untrusted: bool = False
    lxcpath: str | None = None
    cgroup: object = None
    processes: tuple = ()
    init: int | None = None

    @property
    def running(self):
        return self.name in (RUNNING, FROZEN)

    @property
    def owner(self):
        """The LXCPATH of the container this status is about, when the state names it
        (names are unique on a host: it may be a same-named container's of another)."""
        return self.state.lxcpath if self.state is not None else self.lxcpath

    @property
    def present(self):
        """Something of the container (a process, a cgroup, a state file) exists."""
        return self.state is not None or self.untrusted or self.name != STOPPED


def read_status(name, config=None):
    """The Status of container `name`. `config`: its config (a path, or the parsed
    config), which says where its cgroup is when the state file cannot."""
    try:
        record = statefile.read(name)
    except statefile.Untrusted as untrusted:
        return _from_kernel(name, config, str(untrusted)).replace(lxcpath=untrusted.lxcpath)
    if record is None:
        return _from_kernel(name, config, None)
    if record.pid is not None and proc.is_alive(record.pid, record.start_time):
        cgroup = _cgroup(record)
        if cgroup is not None and cgroup.frozen():
            return Status(FROZEN, record)
        return Status(RUNNING, record)
    init = "no init yet (a start was interrupted)" if record.pid is None else \
        f"init (pid {record.pid}) is gone{_how_it_ended(name, record.pid)}"
    cgroup = _cgroup(record)
    if cgroup is not None and cgroup.exists():
        return Status(DEFUNCT, record, f"{init} but its cgroup is left")
    return Status(STOPPED, record, f"stale state file: {init}")


def _from_kernel(name, config, untrusted):
    """The Status when there is no state file to trust (`untrusted`: why the one
    there is not): the container's cgroup where its config puts it decides."""
    parent = configured_cgroup_parent(config)
    where = paths.cgroup_dir(name, parent)
    if where is not None and not _exists(where):
        return Status(STOPPED, reason=untrusted, untrusted=untrusted is not None)
    from hacontain.runtime.cgroups import open_cgroup
    cgroup = open_cgroup(name, parent)
    if not cgroup.exists():
        return Status(STOPPED, reason=untrusted, untrusted=untrusted is not None)
    processes = tuple(cgroup.pids())
    init = init_among(processes)
    why = untrusted or f"no state file {paths.state_file(name)}"
    if not processes:
        left = "its cgroup is left (empty)"
    elif init is not None:
        left = f"its cgroup has processes: the container runs (init pid {init})"
    else:
        left = f"its cgroup has processes {list(processes)[:8]}"
    return Status(DEFUNCT, reason=f"{why}, but {left}", untrusted=untrusted is not None,
                  cgroup=cgroup, processes=processes, init=init)


def configured_cgroup_parent(config):
    """The cgroup parent for `config` (a path, a parsed config or None), as
    paths.cgroup_parent resolves it; the default one for a config that cannot be read."""
    if isinstance(config, str):
        from hacontain import config as configfile
        from hacontain.errors import HacontainError
        try:
            config = configfile.load(config)
        except (HacontainError, OSError, ValueError):
            config = None
    return paths.cgroup_parent(config.cgroup_parent if config is not None else None)


def init_among(pids, proc_root="/proc"):
    """The one process of `pids` that is PID 1 of a pid namespace one level below
    the caller's (NSpid in /proc/PID/status): a container's init. None when
    there is not exactly one."""
    own = _nspid("self", proc_root)
    if own is None:
        return None
    found = [pid for pid in pids
             if (ids := _nspid(pid, proc_root)) is not None and len(ids) == len(own) + 1
             and ids[-1] == "1"]
    return found[0] if len(found) == 1 else None


def rootfs_users(rootfs, proc_root="/proc"):
    """PIDs of the processes whose root directory is `rootfs` (same device and inode:
    a chroot into it, a bind mount of it or a pivot_root into it counts): e.g. the
    init of a container started over this rootfs by LXC. One stat of /proc/PID/root
    (relative to an open /proc) a process: about 5 us each."""
    import os
    target = os.stat(rootfs)
    device, inode = target.st_dev, target.st_ino
    users = []
    directory = os.open(proc_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for entry in os.listdir(directory):
            if entry.isdigit():
                try:
                    root = os.stat(entry + "/root", dir_fd=directory)
                except OSError:               # gone meanwhile, or a zombie
                    continue
                if root.st_ino == inode and root.st_dev == device:
                    users.append(int(entry))
    finally:
        os.close(directory)
    return users


def _nspid(pid, proc_root):
    try:
        with open(f"{proc_root}/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("NSpid:"):
                    return line.split()[1:]
    except OSError:
        return None
    return None


def _exists(path):
    from posix import stat
    try:
        stat(path)
    except FileNotFoundError:
        return False
    except OSError:                           # cannot tell: look the whole way
        return True
    return True


def _how_it_ended(name, pid):
    """" (exited with status N)" / " (was killed by SIGX)" as the console holder
    recorded it, else ""."""
    from hacontain.runtime.console import describe, exit_status
    ended = exit_status(statefile.directory(name), pid)
    return f" ({describe(ended)})" if ended is not None else ""


def _cgroup(record):
    if not record.cgroup:
        return None
    from hacontain.runtime.cgroups import open_cgroup
    return open_cgroup(record.name, paths=record.cgroup)
