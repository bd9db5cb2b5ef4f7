"""A container's status from its state file and the kernel, cheaply.

The OCF monitor calls this when its fast path (ocf/quickstatus.py) cannot
answer: it forks nothing, and loads the cgroup package only to look at the
cgroup of a container whose init is gone.
"""

from hacontain.record import Record
from hacontain.runtime import state as statefile
from hacontain.sys import proc

RUNNING, FROZEN, STOPPED, DEFUNCT = "RUNNING", "FROZEN", "STOPPED", "DEFUNCT"


class Status(Record):
    """What the kernel says about a container.

    name: RUNNING, FROZEN, STOPPED (no live init, no cgroup; a stale state
    file may remain) or DEFUNCT (the init is gone but its cgroup is left:
    stop cleans that up).
    """
    name: str
    state: statefile.State | None = None
    reason: str | None = None

    @property
    def running(self):
        return self.name in (RUNNING, FROZEN)

    @property
    def present(self):
        """Something of the container (a process, a cgroup, a state file) exists."""
        return self.state is not None


def read_status(name):
    """The Status of container `name`."""
    record = statefile.read(name)
    if record is None:
        return Status(STOPPED)
    if record.pid is not None and proc.is_alive(record.pid, record.start_time):
        cgroup = _cgroup(record)
        if cgroup is not None and cgroup.frozen():
            return Status(FROZEN, record)
        return Status(RUNNING, record)
    init = "no init yet (a start was interrupted)" if record.pid is None else \
        f"init (pid {record.pid}) is gone"
    cgroup = _cgroup(record)
    if cgroup is not None and cgroup.exists():
        return Status(DEFUNCT, record, f"{init} but its cgroup is left")
    return Status(STOPPED, record, f"stale state file: {init}")


def _cgroup(record):
    if not record.cgroup:
        return None
    from hacontain.runtime.cgroups import open_cgroup
    return open_cgroup(record.name, paths=record.cgroup)
