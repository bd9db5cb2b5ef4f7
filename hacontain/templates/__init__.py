"""Making new containers: a directory with an LXC-format config and a rootfs.

Templates: `busybox` (Debian's busybox-static), `debian` (debootstrap,
cached; sysvinit), `debian-systemd` (the same with systemd as init), and
`dir:PATH` (an existing rootfs, used in place).
"""

import os
import shutil

from hacontain.config import valid_name
from hacontain.errors import AlreadyExists, ConfigError, NotFound


def create(name, lxcpath, template, backend="dir", options=None):
    """Create LXCPATH/NAME from `template`, its rootfs on `backend` (storage.backends;
    `options`: a storage.backends.Options); nothing is left behind on failure."""
    valid_name(name)
    target = os.path.join(lxcpath, name)
    if os.path.lexists(target):
        raise AlreadyExists(f"container {name} already exists at {target}")
    if backend != "dir" and template.startswith("dir:"):
        raise ConfigError(f"template {template} is an existing rootfs, used in place: "
                          "-B needs a template that builds one (busybox, debian...)")
    os.makedirs(lxcpath, exist_ok=True)
    building = os.path.join(lxcpath, f".{name}.creating-{os.getpid()}")
    os.makedirs(building)
    os.chmod(building, 0o755)                 # a user-namespaced root must pass it
    try:
        if backend == "dir":
            lines = _populate(name, template, building, os.path.join(target, "rootfs"))
        else:
            from hacontain.storage.create import build_on_volume
            template_lines = _lines(template)
            spec = build_on_volume(name, building, target, backend, options,
                                   lambda rootfs: _build(name, template, rootfs))
            lines = _base(name) + [f"lxc.rootfs.path = {spec}"] + template_lines
        with open(os.path.join(building, "config"), "w", encoding="utf-8") as handle:
            handle.write(f"# hacontain container {name}, template {template}\n")
            handle.write("\n".join(lines) + "\n")
        os.rename(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return target


def _base(name):
    return [f"lxc.uts.name = {name}", "lxc.net.0.type = empty"]


def _populate(name, template, building, final_rootfs):
    """Build the rootfs (if the template makes one); the config lines."""
    if template.startswith("dir:"):
        path = os.path.abspath(template[4:])
        if not os.path.isdir(path):
            raise NotFound(f"rootfs directory {path} does not exist")
        return _base(name) + [f"lxc.rootfs.path = dir:{path}"]
    lines = _lines(template)
    _build(name, template, os.path.join(building, "rootfs"))
    return _base(name) + [f"lxc.rootfs.path = dir:{final_rootfs}"] + lines


def _build(name, template, rootfs):
    """Fill directory `rootfs` from `template`."""
    if template == "busybox":
        from hacontain.templates import busybox
        busybox.build_rootfs(rootfs, name)
    else:
        from hacontain.templates import debian
        debian.build_rootfs(rootfs, name, _debian_init(template))


def _lines(template):
    """The template's config lines (ConfigError for an unknown template)."""
    if template == "busybox":
        from hacontain.templates import busybox
        return busybox.config_lines()
    if template in ("debian", "debian-systemd"):
        from hacontain.templates import debian
        return debian.config_lines(_debian_init(template))
    raise ConfigError(f"unknown template {template!r}: use busybox, debian, debian-systemd "
                      "or dir:PATH")


def _debian_init(template):
    return "systemd" if template == "debian-systemd" else "sysvinit"
