"""A btrfs subvolume rootfs (`btrfs:PATH`): bound at start; snapshots are subvolume
snapshots (independent of their origin, same filesystem UUID: no new one needed)."""

import os

from hacontain.errors import NotFound
from hacontain.storage import backends
from hacontain.storage.directory import bind


class Btrfs(backends.Volume):
    kind = "btrfs"

    def __init__(self, path, options=None):
        super().__init__(path, options)
        self.host_path = path

    def check(self, idmap=False):
        if not os.path.isdir(self.path):
            raise NotFound(f"rootfs {self.spec}: subvolume {self.path} does not exist "
                           "(is its btrfs filesystem mounted on this node?)")

    def mount(self, target):
        self.check()
        bind(self.path, target, self.options)

    def destroy(self):
        from hacontain.storage.command import run
        if os.path.lexists(self.path):
            run(["btrfs", "subvolume", "delete", self.path], "delete the btrfs subvolume")

    def size(self):
        return backends.size_of_tree(self.path)

    def snapshot(self, directory, name, options):
        from hacontain.storage.command import run
        path = os.path.join(directory, "rootfs")
        run(["btrfs", "subvolume", "snapshot", self.path, path], "snapshot the subvolume")
        return Btrfs(path)


def open_volume(path, options=None):
    return Btrfs(path, options)


def create(directory, name, options):
    """A new subvolume DIRECTORY/rootfs (LXCPATH must be on btrfs)."""
    from hacontain.storage.command import run
    path = os.path.join(directory, "rootfs")
    run(["btrfs", "subvolume", "create", path], "create a btrfs subvolume")
    return Btrfs(path)
