"""Find and remove the cgroups a test cluster's nodes made for their containers.

Each node hands containers a cgroup parent named `hacontain-<prefix>-nodeN`
(relative to the caller's own cgroup, so it may sit anywhere in a
hierarchy). Only directories whose name starts with the run's prefix are
ever touched, on every mounted v1 hierarchy and v2 mount.
"""

import os
import signal
import time

from hacontain.errors import HacontainError


def parent_name(prefix, node):
    """The cgroup parent a node gives its containers."""
    return f"hacontain-{prefix}-{node}"


def mounts():
    """Mount points of every cgroup (v1) and cgroup2 filesystem in this mount namespace."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            left, _, right = line.partition(" - ")
            if right.split()[0] in ("cgroup", "cgroup2"):
                found.append(left.split()[4].replace("\\040", " "))
    return found


def find(name_prefix):
    """Cgroup directories whose name starts with `name_prefix` (not their children)."""
    found = []
    for mount in mounts():
        for top, dirs, _ in os.walk(mount):
            mine = [d for d in dirs if d.startswith(name_prefix)]
            found.extend(os.path.join(top, d) for d in mine)
            dirs[:] = [d for d in dirs if d not in mine]
    return sorted(found)


def pids(path):
    """PIDs in the cgroup `path` and below."""
    result = set()
    for top, _, files in os.walk(path):
        if "cgroup.procs" in files:
            try:
                with open(os.path.join(top, "cgroup.procs"), encoding="ascii") as handle:
                    result.update(int(word) for word in handle.read().split())
            except FileNotFoundError:
                pass
    return result


def thaw(path):
    """Thaw `path` and below, so SIGKILL can take effect (v1 freezer and v2)."""
    for top, _, files in os.walk(path):
        for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            if name in files:
                try:
                    with open(os.path.join(top, name), "w", encoding="ascii") as handle:
                        handle.write(value)
                except OSError:
                    pass


def remove(path, timeout=10):
    """Kill what is still in `path`, then remove it bottom-up.

    Every process there belongs to the run: only the run's nodes create
    cgroups with its prefix. Raises HacontainError naming the cgroup if
    it cannot be emptied or removed.
    """
    deadline = time.monotonic() + timeout
    while True:
        left = pids(path)
        if not left:
            break
        if time.monotonic() > deadline:
            raise HacontainError(f"cgroup {path} still holds PIDs {sorted(left)} after SIGKILL")
        thaw(path)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    for top, _, _ in sorted(os.walk(path), key=lambda entry: -entry[0].count("/")):
        while True:
            try:
                os.rmdir(top)
                break
            except FileNotFoundError:
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise HacontainError(f"cannot remove cgroup {top}: {exc.strerror}") from None
                time.sleep(0.05)
