"""Removing a container: its directory under LXCPATH and its RUNDIR/NAME."""

import os
import shutil

from hacontain.errors import StateError
from hacontain.runtime import state as statefile


def destroy(container, force=False):
    """Remove LXCPATH/NAME, then RUNDIR/NAME (lock, console log). A rootfs outside
    LXCPATH/NAME is never touched; a volume rootfs's storage is removed with it (see
    storage.clone.destroy_volume); a base its clones depend on is refused."""
    if os.path.exists(os.path.join(container.directory, "clones")):
        from hacontain.storage.clone import refuse_destroying_base
        refuse_destroying_base(container.directory, container.name)
    status = container.status()
    if status.present:
        if not force and (status.running or status.processes):
            raise StateError(f"container {container.name} is running: stop it first or use --force")
        container.stop()
    if not os.path.isdir(container.directory):
        from hacontain.errors import NotFound
        raise NotFound(f"container {container.name}: no directory {container.directory}")
    _destroy_volume(container)
    shutil.rmtree(container.directory, onerror=_raise)
    statefile.remove_directory(container.name)


def _destroy_volume(container):
    """Remove the rootfs volume (LV, subvolume, image, overlay upper) and forget a clone
    at its base; nothing to do for a directory rootfs or an unreadable config."""
    from hacontain.errors import ConfigError, NotFound
    try:
        config = container.load_config()
    except (ConfigError, NotFound):
        return
    if (config.rootfs is not None and not config.rootfs.startswith("/")) or os.path.exists(
            os.path.join(container.directory, "clone-of")):
        from hacontain.storage.clone import destroy_volume
        destroy_volume(container, config)


def _raise(function, path, exc_info):
    from hacontain.errors import KernelError
    error = exc_info[1]
    raise KernelError("remove", getattr(error, "errno", 5), path) from None
