"""An overlay rootfs (`overlay:LOWER:UPPER`): mounted at start in the container's own
mount namespace, its work directory `olwork` beside UPPER (the same filesystem, as LXC).
LOWER must not change while the overlay exists (clone.py guards it)."""

import json
import os

from hacontain.errors import NotFound
from hacontain.storage import backends


class Overlay(backends.Volume):
    kind = "overlay"

    def __init__(self, lower, upper, options=None):
        super().__init__(upper, options)
        self.lower, self.upper = lower, upper
        self.work = os.path.join(os.path.dirname(upper), "olwork")

    @property
    def spec(self):
        return f"overlay:{self.lower}:{self.upper}"

    def check(self, idmap=False):
        for role, path in (("lower", self.lower), ("upper", self.upper)):
            if not os.path.isdir(path):
                raise NotFound(f"rootfs {self.spec}: {role} directory {path} does not exist")
        users = self.running_users()
        if users:
            raise backends.VolumeBusy(f"rootfs {self.spec}: upper directory {self.upper} is in "
                                      f"use on this node by container {', '.join(users)}")

    def running_users(self):
        """Names of hacontain containers running here (RUNDIR) whose init's mount namespace
        has an overlay on this upper: the kernel lets a second one mount it (index=off)."""
        from hacontain import paths
        rundir = paths.rundir()
        wanted = f"upperdir={self.upper}"
        users = []
        for name in os.listdir(rundir) if os.path.isdir(rundir) else ():
            try:
                with open(os.path.join(rundir, name, "state.json"), encoding="utf-8") as handle:
                    pid = json.load(handle).get("pid")
                with open(f"/proc/{int(pid)}/mountinfo", encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, ValueError, TypeError, AttributeError):
                continue
            if any(option == wanted for line in text.splitlines() if " - overlay " in line
                   for option in line.rsplit(" ", 1)[-1].split(",")):
                users.append(name)
        return users

    def mount(self, target):
        from hacontain.sys import libc
        self.check()
        os.makedirs(self.work, mode=0o700, exist_ok=True)
        flags, data = backends.mount_options(
            self.options, [f"lowerdir={self.lower}", f"upperdir={self.upper}",
                           f"workdir={self.work}"])
        libc.mount("overlay", target, "overlay", flags, data)

    def destroy(self):
        from hacontain.storage.command import run
        for path in (self.upper, self.work):
            if os.path.lexists(path):
                run(["rm", "-rf", "--one-file-system", path], "remove the overlay")

    def size(self):
        """Bytes of the upper layer (what this overlay adds to its lower)."""
        return backends.size_of_tree(self.upper)

    def snapshot(self, directory, name, options):
        """A new overlay on the same lower with a copy of this upper."""
        from hacontain.storage.command import run
        upper = os.path.join(directory, "delta0")
        run(["cp", "-a", "--sparse=always", self.upper, upper], "copy the overlay's upper")
        return Overlay(self.lower, upper)

    def clone_relation(self):
        return "overlay"


def over(lower, directory):
    """A new overlay on directory `lower`, its upper DIRECTORY/delta0."""
    upper = os.path.join(directory, "delta0")
    os.makedirs(upper, mode=0o755)
    return Overlay(lower, upper)


def open_volume(lower, upper, options=None):
    return Overlay(lower, upper, options)


def create(directory, name, options):
    """A new overlay: the template fills DIRECTORY/base (the lower), changes go to delta0."""
    lower = os.path.join(directory, "base")
    os.makedirs(lower, mode=0o755)
    volume = over(lower, directory)
    volume.host_path = lower
    return volume
