"""Removing a container: its directory under LXCPATH and its RUNDIR/NAME."""

import os
import shutil

from hacontain.errors import StateError
from hacontain.runtime import state as statefile


def destroy(container, force=False):
    """Remove LXCPATH/NAME, then RUNDIR/NAME (lock, console log). A rootfs outside
    LXCPATH/NAME is never touched."""
    status = container.status()
    if status.present:
        if not force and (status.running or status.processes):
            raise StateError(f"container {container.name} is running: stop it first or use --force")
        container.stop()
    if not os.path.isdir(container.directory):
        from hacontain.errors import NotFound
        raise NotFound(f"container {container.name}: no directory {container.directory}")
    shutil.rmtree(container.directory, onerror=_raise)
    statefile.remove_directory(container.name)


def _raise(function, path, exc_info):
    from hacontain.errors import KernelError
    error = exc_info[1]
    raise KernelError("remove", getattr(error, "errno", 5), path) from None
