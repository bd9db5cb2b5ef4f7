"""Making new containers: a directory with an LXC-format config and a rootfs.

Templates: `busybox` (Debian's busybox-static), `debian` (debootstrap,
cached; sysvinit), `debian-systemd` (the same with systemd as init), and
`dir:PATH` (an existing rootfs, used in place).
"""

import os
import shutil

from hacontain.config import valid_name
from hacontain.errors import AlreadyExists, ConfigError, NotFound


def create(name, lxcpath, template):
    """Create LXCPATH/NAME from `template`; nothing is left behind on failure."""
    valid_name(name)
    target = os.path.join(lxcpath, name)
    if os.path.lexists(target):
        raise AlreadyExists(f"container {name} already exists at {target}")
    os.makedirs(lxcpath, exist_ok=True)
    building = os.path.join(lxcpath, f".{name}.creating-{os.getpid()}")
    os.makedirs(building)
    os.chmod(building, 0o755)                 # a user-namespaced root must pass it
    try:
        lines = _populate(name, template, building, os.path.join(target, "rootfs"))
        with open(os.path.join(building, "config"), "w", encoding="utf-8") as handle:
            handle.write(f"# hacontain container {name}, template {template}\n")
            handle.write("\n".join(lines) + "\n")
        os.rename(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return target


def _populate(name, template, building, final_rootfs):
    """Build the rootfs (if the template makes one); the config lines."""
    base = [f"lxc.uts.name = {name}", "lxc.net.0.type = empty"]
    if template.startswith("dir:"):
        path = os.path.abspath(template[4:])
        if not os.path.isdir(path):
            raise NotFound(f"rootfs directory {path} does not exist")
        return base + [f"lxc.rootfs.path = dir:{path}"]
    if template == "busybox":
        from hacontain.templates import busybox
        busybox.build_rootfs(os.path.join(building, "rootfs"), name)
        return base + [f"lxc.rootfs.path = dir:{final_rootfs}"] + busybox.config_lines()
    if template in ("debian", "debian-systemd"):
        from hacontain.templates import debian
        init = "systemd" if template == "debian-systemd" else "sysvinit"
        debian.build_rootfs(os.path.join(building, "rootfs"), name, init)
        return base + [f"lxc.rootfs.path = dir:{final_rootfs}"] + debian.config_lines(init)
    raise ConfigError(f"unknown template {template!r}: use busybox, debian, debian-systemd "
                      "or dir:PATH")
