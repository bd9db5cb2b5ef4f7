"""What a test cluster puts on the host, how to find it and how to remove it.

Everything a run makes carries its unique prefix or lives in its work
directory: netns `<prefix>*`, cgroups `hacontain-<prefix>-*`, loop devices
backed by files in the work directory, and processes that either carry
`HACONTAIN_TESTBED=<prefix>` in their environment or sit in the run's
cgroups. The footprint is saved as WORKDIR/footprint.json so another
process can tear down a cluster that was left running (demo --keep).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field

from hacontain.errors import CommandError
from testbed import cluster_cgroups, cluster_net

MARKER = "HACONTAIN_TESTBED"


@dataclass
class Footprint:
    """The identity of one run's host objects."""
    prefix: str
    workdir: str
    addresses: list = field(default_factory=list)  # the nodes' IPv4 addresses
    holders: dict = field(default_factory=dict)    # node -> [pid, start time]

    @property
    def path(self):
        return os.path.join(self.workdir, "footprint.json")

    def save(self):
        with open(self.path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle)
        os.rename(self.path + ".tmp", self.path)

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as handle:
            return cls(**json.load(handle))


def start_time(pid):
    """The start time of `pid` in clock ticks since boot, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[19])
    except (FileNotFoundError, ProcessLookupError):
        return None


def live_holders(footprint):
    """PIDs of recorded holders that still run (same PID and start time)."""
    return [pid for pid, started in footprint.holders.values() if start_time(pid) == started]


def marked_processes(prefix):
    """PIDs whose environment carries the run's marker."""
    needle = f"{MARKER}={prefix}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as handle:
                    if needle in handle.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                pass
    return found


def loop_devices(workdir):
    """Loop devices whose backing file lies in `workdir`."""
    proc = subprocess.run(["losetup", "--list", "--noheadings", "--raw",
                           "--output", "NAME,BACK-FILE"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise CommandError(["losetup", "--list"], proc.returncode, proc.stderr)
    found = []
    for line in proc.stdout.splitlines():
        name, _, back = line.partition(" ")
        if back.startswith(workdir.rstrip("/") + "/"):
            found.append(name)
    return found


def host_mounts(workdir):
    """Lines of the host's mountinfo that mention `workdir`."""
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        return [line.strip() for line in handle if workdir in line]


def host_addresses(addresses):
    """Lines of the host netns' address/ARP tables that mention a node's address.

    (The host may use other addresses of the subnet itself.)
    """
    if not addresses:
        return []
    pattern = re.compile(r"(?<![\d.])(%s)(?![\d])" % "|".join(map(re.escape, addresses)))
    hits = []
    for table in ("/proc/net/fib_trie", "/proc/net/arp"):
        with open(table, encoding="ascii") as handle:
            hits.extend(f"{table}: {line.strip()}" for line in handle if pattern.search(line))
    return hits


def leftovers(footprint):
    """Descriptions of everything of the run still on the host (empty when clean)."""
    prefix, workdir = footprint.prefix, footprint.workdir
    found = [f"holder PID {pid}" for pid in live_holders(footprint)]
    found += [f"process {pid} ({_comm(pid)})" for pid in marked_processes(prefix)]
    found += [f"netns {name}" for name in cluster_net.netns_names() if name.startswith(prefix)]
    cgroups = cluster_cgroups.find(cluster_cgroups.parent_name(prefix, ""))
    found += [f"cgroup {path}" for path in cgroups]
    found += [f"loop device {dev}" for dev in loop_devices(workdir)]
    found += [f"mount {line}" for line in host_mounts(workdir)]
    found += host_addresses(footprint.addresses)
    if os.path.exists(workdir):
        found.append(f"directory {workdir}")
    return found


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return "gone"


def kill_processes(footprint, timeout=10):
    """SIGKILL the holders (the kernel then kills each node's PID namespace),
    then anything else carrying the marker, until none is left."""
    deadline = time.monotonic() + timeout
    cgroup_prefix = cluster_cgroups.parent_name(footprint.prefix, "")
    while True:
        targets = live_holders(footprint) + marked_processes(footprint.prefix)
        if not targets:
            return []
        if time.monotonic() > deadline:
            return [f"processes {sorted(set(targets))} survive SIGKILL"]
        for path in cluster_cgroups.find(cgroup_prefix):
            cluster_cgroups.thaw(path)
        for pid in targets:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def destroy(footprint):
    """Remove everything of the run, in dependency order; a list of what failed."""
    errors = kill_processes(footprint)
    for path in cluster_cgroups.find(cluster_cgroups.parent_name(footprint.prefix, "")):
        try:
            cluster_cgroups.remove(path)
        except Exception as exc:  # keep going: every other object must still go
            errors.append(str(exc))
    for name in cluster_net.netns_names():
        if name.startswith(footprint.prefix):
            try:
                cluster_net.ip("netns", "delete", name)
            except CommandError as exc:
                errors.append(str(exc))
    errors += detach_loops(footprint.workdir)
    if not host_mounts(footprint.workdir):
        shutil.rmtree(footprint.workdir, ignore_errors=True)
    return errors + [f"left behind: {item}" for item in leftovers(footprint)]


def detach_loops(workdir, timeout=10):
    """Detach the run's loop devices, waiting for a deferred detach to complete."""
    errors = []
    for device in loop_devices(workdir):
        proc = subprocess.run(["losetup", "--detach", device], capture_output=True, text=True)
        if proc.returncode != 0:
            errors.append(str(CommandError(["losetup", "--detach", device],
                                           proc.returncode, proc.stderr)))
    deadline = time.monotonic() + timeout
    while loop_devices(workdir) and time.monotonic() < deadline:
        time.sleep(0.1)
    return errors
