"""The shared volume: a sparse image on a loop device with ext4, seen by every node.

Like a SAN LUN, every node can open the device, and the kernel lets two
nodes mount it at once: only the cluster keeps it on one node, so the
harness checks that itself by reading each node's mount table. The loop
device is detached by the cluster's teardown (it is backed by a file in
the run's work directory).
"""

import os
import subprocess

from hacontain.errors import CommandError


def _run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stderr)
    return proc.stdout


class SharedVolume:
    """`size_mb` MiB of sparse image at `image`, attached and formatted by create()."""

    def __init__(self, image, size_mb, fstype="ext4"):
        self.image = str(image)
        self.size_mb = size_mb
        self.fstype = fstype
        self.device = None

    def create(self):
        with open(self.image, "wb") as handle:
            handle.truncate(self.size_mb * 1024 * 1024)
        self.device = _run(["losetup", "--find", "--show", self.image]).strip()
        _run([f"mkfs.{self.fstype}", "-q", "-F", "-L", "shared", self.device])
        return self.device


def mounts_of(mountinfo, device):
    """Mount points in `mountinfo` text whose source is the block device `device`."""
    rdev = os.stat(device).st_rdev
    number = f"{os.major(rdev)}:{os.minor(rdev)}"
    found = []
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if fields[2] == number or (len(tail) > 1 and tail[1] == device):
            found.append(fields[4])
    return found


def where_mounted(cluster, device):
    """{node name: [mount points]} of every running node that has `device` mounted,
    read from each node's own /proc/self/mountinfo; "host" if the host has it."""
    result = {}
    for node in cluster.nodes:
        if node.alive():
            points = mounts_of(node.run(["cat", "/proc/self/mountinfo"]).stdout, device)
            if points:
                result[node.name] = points
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        points = mounts_of(handle.read(), device)
    if points:
        result["host"] = points
    return result


def assert_mounted_on_exactly_one(cluster, device):
    """The one node that has `device` mounted; AssertionError naming every holder otherwise."""
    holders = where_mounted(cluster, device)
    assert len(holders) == 1 and "host" not in holders, (
        f"{device} must be mounted on exactly one node, found: {holders or 'none'}")
    return next(iter(holders))
