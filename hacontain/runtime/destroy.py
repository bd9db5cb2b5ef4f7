"""Removing a container's directory."""

import os
import shutil

from hacontain.errors import StateError


def destroy(container, force=False):
    """Remove LXCPATH/NAME. A rootfs outside that directory is never touched."""
    status = container.status()
    if status.present:
        if not force and status.running:
            raise StateError(f"container {container.name} is running: stop it first or use --force")
        container.stop()
    if not os.path.isdir(container.directory):
        from hacontain.errors import NotFound
        raise NotFound(f"container {container.name}: no directory {container.directory}")
    shutil.rmtree(container.directory, onerror=_raise)


def _raise(function, path, exc_info):
    from hacontain.errors import KernelError
    error = exc_info[1]
    raise KernelError("remove", getattr(error, "errno", 5), path) from None
