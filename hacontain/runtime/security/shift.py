"""Shifting a rootfs's ownership into a user namespace's host range (`hacontain shift-rootfs`).

Every file's uid and gid are moved by the container's `lxc.idmap`: container
id N becomes the host id it maps to. os.lchown never follows symbolic links;
hard links are shifted once. chown clears setuid and setgid bits and file
capabilities, so the mode and the security.capability attribute are put back
afterwards, the latter as revision 3 naming the container's root (the kernel
ignores file capabilities inside a user namespace unless they name its
root). POSIX ACLs are not shifted. Ids outside the map are an error (they
would show as nobody inside the container). A rootfs whose top is not owned by
container root (uid 0) is refused: it is shifted already, or not a rootfs.
"""

import os
import stat

from hacontain.errors import ConfigError, KernelError, StateError
from hacontain.runtime.security.idmap import host_id

_CAPABILITY = "security.capability"
_REVISION_1, _REVISION_2, _REVISION_3 = 0x01000000, 0x02000000, 0x03000000


def shift(rootfs, idmap):
    """Shift every file below `rootfs` by `idmap`; the number of files changed."""
    top = os.lstat(rootfs)
    if top.st_uid != 0:
        raise ConfigError(f"rootfs {rootfs} is owned by uid {top.st_uid}, not 0: already shifted "
                          "or not a rootfs; nothing changed")
    plan = list(_walk(rootfs, idmap))
    root = host_id(idmap, "u", 0)
    for path, info, uid, gid in plan:
        _shift_one(path, info, uid, gid, root)
    return len(plan)


def _walk(rootfs, idmap):
    """(path, lstat, new uid, new gid) of each file once; every id checked before any change."""
    seen = set()
    for folder, dirs, files in os.walk(rootfs):
        # os.walk lists a symbolic link to a directory in `dirs` and never enters it.
        links = [name for name in dirs if os.path.islink(os.path.join(folder, name))]
        for path in [folder] + [os.path.join(folder, name) for name in files + links]:
            info = os.lstat(path)
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            uid, gid = host_id(idmap, "u", info.st_uid), host_id(idmap, "g", info.st_gid)
            if uid is None or gid is None:
                raise ConfigError(f"{path}: owner {info.st_uid}:{info.st_gid} is outside the "
                                  "container's lxc.idmap; nothing changed")
            yield path, info, uid, gid


def _shift_one(path, info, uid, gid, root):
    link = stat.S_ISLNK(info.st_mode)
    capability = None
    if not link and stat.S_ISREG(info.st_mode):
        try:
            capability = os.getxattr(path, _CAPABILITY)
        except OSError:
            capability = None
    try:
        os.lchown(path, uid, gid)
        if not link and info.st_mode & (stat.S_ISUID | stat.S_ISGID):
            os.chmod(path, stat.S_IMODE(info.st_mode))
        if capability is not None:
            os.setxattr(path, _CAPABILITY, namespaced_capability(capability, root))
    except OSError as exc:
        raise KernelError("shift ownership", exc.errno, path) from None


def namespaced_capability(value, root):
    """A security.capability value (struct vfs_cap_data, revision 1, 2 or 3) as
    revision 3 for the user namespace whose root is host uid `root`; an unknown
    revision unchanged."""
    magic = int.from_bytes(value[:4], "little")
    revision, flags = magic & 0xFF000000, magic & 0x00FFFFFF
    if revision == _REVISION_1 and len(value) >= 12:
        data = value[4:12] + bytes(8)               # one 32-bit set; the upper one empty
    elif revision in (_REVISION_2, _REVISION_3) and len(value) >= 20:
        data = value[4:20]
    else:
        return value
    return (_REVISION_3 | flags).to_bytes(4, "little") + data + root.to_bytes(4, "little")


def shift_container(container):
    """Shift the rootfs of a stopped `container` by its lxc.idmap; (rootfs, files changed)."""
    config = container.load_config()
    if not config.idmap:
        raise ConfigError("no lxc.idmap: nothing to shift to", config.path, key="lxc.idmap")
    if container.status().running:
        raise StateError(f"container {container.name} is running: stop it first")
    rootfs = container._rootfs(config)
    return rootfs, shift(rootfs, config.idmap)
