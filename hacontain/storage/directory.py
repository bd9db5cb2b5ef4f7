"""A directory rootfs (`dir:PATH`): bound onto itself at start."""

import os

from hacontain.errors import NotFound
from hacontain.storage import backends


class Directory(backends.Volume):
    kind = "dir"

    def __init__(self, path, options=None):
        super().__init__(path, options)
        self.host_path = path

    @property
    def spec(self):
        return f"dir:{self.path}"

    def check(self, idmap=False):
        if not os.path.isdir(self.path):
            raise NotFound(f"rootfs directory {self.path} does not exist")

    def mount(self, target):
        bind(self.path, target, self.options)

    def destroy(self):
        from hacontain.storage.command import run
        if os.path.lexists(self.path):
            run(["rm", "-rf", "--one-file-system", self.path], "remove the rootfs")

    def size(self):
        return backends.size_of_tree(self.path)


def bind(source, target, options):
    """Bind `source` on `target` recursively, read-only if lxc.rootfs.options says ro."""
    from hacontain.runtime import rootfs
    from hacontain.sys import libc
    flags, _ = backends.mount_options(options)
    libc.mount(source, target, None, libc.MS_BIND | libc.MS_REC)
    if flags & libc.MS_RDONLY:
        rootfs.remount_readonly(target)


def open_volume(path, options=None):
    return Directory(path, options)


def create(directory, name, options):
    """A new empty rootfs directory DIRECTORY/rootfs."""
    path = os.path.join(directory, "rootfs")
    os.makedirs(path, mode=0o755)
    return Directory(path)
