"""The record of a running backup of a container, RUNDIR/NAME/backup.json, and
`abort`: what the agent's stop and `hacontain stop` call first, so that a backup
never blocks a failover.

The record (written atomically, no lock anyone waits on) names the backup
process (pid and start time), its private mount namespace, whether it froze
the container's cgroup (written *before* the freeze, so a kill in between
still thaws) and the snapshot it made or is making (written before it is
made). `abort` kills the backup and every process of its mount namespace (so
the namespace and the mounts in it go), then thaws and removes the snapshot.
Imports only the standard library and hacontain's light modules at load.
"""

import os
import select
import time

from hacontain import jsontext, paths
from hacontain.sys import proc, signals

RECORD = "backup.json"
SNAPSHOT_TOOLS = ("lvcreate", "lvm")   # never killed mid-run: an LV suspended for a
                                       # snapshot must be resumed by the tool itself


def record_path(name):
    return os.path.join(paths.rundir(), name, RECORD)


def read(name):
    """The record of container `name`'s backup, a dict, or None (none, or unreadable)."""
    try:
        with open(record_path(name), encoding="utf-8") as handle:
            data = jsontext.loads(handle.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write(name, record):
    """Write `record` atomically (temp file + rename): readers see the old or the new."""
    path = record_path(name)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    temp = f"{path}.{os.getpid()}.tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(jsontext.dumps(record))
    os.rename(temp, path)


def remove(name):
    try:
        os.unlink(record_path(name))
    except FileNotFoundError:
        pass


class Registration:
    """This process's record of its backup of container `name`; update() rewrites it."""

    def __init__(self, name, lxcpath):
        self.name = name
        self.record = {"name": name, "pid": os.getpid(), "start_time": proc.start_time(os.getpid()),
                       "lxcpath": lxcpath, "mntns": mount_namespace(os.getpid()),
                       "frozen": False, "cgroup": None, "snapshot": None, "mount": None,
                       "started_at": time.time()}

    def update(self, **fields):
        self.record.update(fields)
        write(self.name, self.record)

    def close(self):
        """The backup is over and released what it held."""
        if (read(self.name) or {}).get("pid") == os.getpid():
            remove(self.name)


def running(name):
    """The record when a backup of `name` runs now (its process alive), else None."""
    record = read(name)
    if record and _alive(record):
        return record
    return None


def abort(name, lxcpath=None, timeout=10.0, log=None):
    """End container `name`'s backup, if one runs or a crashed one left its record:
    kill its processes (never this one's), thaw the cgroup it froze, remove its
    snapshot and mount directory, remove the record. Bounded by `timeout` seconds
    for the kill. Returns a sentence of what was done, or None when there was no
    backup. `lxcpath`: only a backup of the container of that LXCPATH is aborted."""
    record = read(name)
    if record is None:
        return None
    if lxcpath is not None and record.get("lxcpath") not in (None, lxcpath):
        return None
    if record.get("pid") == os.getpid():
        return None                       # a stop-mode backup stopping its own container
    said = []
    if _alive(record):
        said.append(f"killed backup process {record['pid']}")
        _kill_backup(record, timeout)
        record = read(name) or record     # what it wrote until it was killed
    release(record, log)
    remove(name)
    sentence = f"aborted the backup of container {name}" + \
        (f" ({', '.join(said)})" if said else " (its process had ended)")
    if log:
        log(sentence)
    return sentence


def release(record, log=None):
    """Thaw what the backup froze, remove its snapshot and its mount directory."""
    from hacontain.errors import HacontainError
    if record.get("frozen") and record.get("cgroup"):
        from hacontain.runtime.cgroups import open_cgroup
        try:
            cgroup = open_cgroup(record.get("name", ""), paths=record["cgroup"])
            if cgroup.exists():
                cgroup.thaw()
        except (HacontainError, OSError) as exc:
            if log:
                log(f"could not thaw the container's cgroup: {exc}")
    snapshot = record.get("snapshot")
    if snapshot:
        from hacontain.backup.snapshot import remove_snapshot
        remove_snapshot(snapshot, log)
    where = record.get("mount")
    if where:
        try:
            os.rmdir(where)
        except OSError:
            pass


def mount_namespace(pid):
    """(device, inode) of process `pid`'s mount namespace, as a list, or None."""
    try:
        info = os.stat(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None
    return [info.st_dev, info.st_ino]


def _alive(record):
    pid, start = record.get("pid"), record.get("start_time")
    return isinstance(pid, int) and isinstance(start, int) and proc.is_alive(pid, start)


def _kill_backup(record, timeout):
    """SIGKILL the backup process and the processes of its private mount namespace (its
    tar, compressor...), an LVM snapshot tool excepted (it finishes by itself); wait
    until they are gone, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pidfds = []
    targets = {record["pid"]}
    namespace = record.get("mntns")
    if namespace and namespace not in (mount_namespace(1), mount_namespace(os.getpid())):
        targets |= set(_processes_in(namespace))
    for pid in sorted(targets):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            continue
        if pid == record["pid"] and not proc.is_alive(pid, record["start_time"]):
            os.close(pidfd)               # the pid was reused since the check
            continue
        if _command(pid) not in SNAPSHOT_TOOLS:
            try:
                signals.pidfd_send_signal(pidfd, signals.SIGKILL)
            except ProcessLookupError:
                pass
        pidfds.append(pidfd)
    try:
        for pidfd in pidfds:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            poller.poll(max(0.0, deadline - time.monotonic()) * 1000)
    finally:
        for pidfd in pidfds:
            os.close(pidfd)


def _processes_in(namespace):
    """Pids of the processes in mount namespace (device, inode) `namespace`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and mount_namespace(entry) == namespace:
            found.append(int(entry))
    return found


def _command(pid):
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return ""
