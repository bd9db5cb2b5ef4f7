"""A new container's rootfs on a backend, filled by a template (hacontain create -B)."""

import os

from hacontain.errors import ConfigError
from hacontain.storage import backends, private


def build_on_volume(name, building, target, backend, options, fill):
    """Make a `backend` volume in directory `building` (renamed to `target` afterwards),
    fill(path) it with the volume mounted in a private mount namespace; its spec with
    `target` paths. The volume is destroyed again if anything fails."""
    if backend not in backends.CREATABLE:
        raise ConfigError(f"unknown backend {backend!r}: use {', '.join(backends.CREATABLE)}")
    options = options or backends.Options()
    volume = backends.module(backend).create(building, name, options)
    try:
        private.with_mounted([volume], fill, building)
        os.makedirs(os.path.join(building, "rootfs"), exist_ok=True)   # the mount point
    except BaseException:
        volume.destroy()
        raise
    return volume.spec.replace(building, target)
