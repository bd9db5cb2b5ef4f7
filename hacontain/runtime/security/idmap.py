"""User namespaces (`lxc.idmap = u|g NSID HOSTID RANGE`): checks and the id maps.

The container's first process unshares the user namespace before every other
namespace, so they all belong to it; the parent (host root) then writes
/proc/PID/uid_map and gid_map. /proc/PID/setgroups stays "allow": the maps are
written by a process with CAP_SETGID on the host, and a system container's
login, su and sshd need setgroups(2).
"""

import os
import stat

from hacontain.errors import ConfigError, KernelError


def host_id(idmap, kind, nsid):
    """The host id that container id `nsid` of `kind` ("u" or "g") maps to; None if unmapped."""
    for entry_kind, first, host, count in idmap:
        if entry_kind == kind and first <= nsid < first + count:
            return host + nsid - first
    return None


def check(config):
    """ConfigError when `config`'s maps cannot run a container (no root, one kind only)."""
    if not config.idmap:
        return
    entry = config.entry("lxc.idmap")
    for kind, name in (("u", "uid"), ("g", "gid")):
        if host_id(config.idmap, kind, 0) is None:
            raise ConfigError(f"no {name} map for root (container {name} 0): "
                              f"add 'lxc.idmap = {kind} 0 HOSTID RANGE'", entry.path, entry.line, entry.key)
        ranges = sorted((first, first + count) for k, first, _, count in config.idmap if k == kind)
        for (_, end), (start, _) in zip(ranges, ranges[1:]):
            if start < end:
                raise ConfigError(f"overlapping {name} maps", entry.path, entry.line, entry.key)
    if "user" in config.namespace_keep:
        raise ConfigError("lxc.idmap needs a user namespace, but lxc.namespace.keep keeps the host's",
                          entry.path, entry.line, entry.key)
    shared = [kind for kind in config.namespace_keep if kind != "time"] + \
        (["net (type none)"] if config.shares_host_network() else [])
    if shared:
        raise ConfigError(f"a user-namespaced container cannot use the host's {', '.join(shared)} "
                          "namespace (its root has no rights there): drop lxc.namespace.keep "
                          "or lxc.idmap", entry.path, entry.line, entry.key)


def check_rootfs(rootfs, idmap, name, lxcpath):
    """The rootfs must belong to the mapped root and its parents be passable by it."""
    uid, gid = host_id(idmap, "u", 0), host_id(idmap, "g", 0)
    info = os.stat(rootfs)
    if info.st_uid != uid:
        raise ConfigError(f"rootfs {rootfs} is owned by uid {info.st_uid}, not by the container's "
                          f"root (host uid {uid}): run `hacontain -P {lxcpath} shift-rootfs "
                          f"{name}`")
    folder = os.path.dirname(rootfs.rstrip("/"))
    while folder != "/":
        mode = os.stat(folder)
        passable = (mode.st_mode & stat.S_IXOTH or (mode.st_uid == uid and mode.st_mode & stat.S_IXUSR)
                    or (mode.st_gid == gid and mode.st_mode & stat.S_IXGRP))
        if not passable:
            raise ConfigError(f"{folder} cannot be passed by the container's root (host uid {uid}): "
                              f"it needs o+x for the rootfs {rootfs} to be reached")
        folder = os.path.dirname(folder)


def write_maps(pid, idmap):
    """Write the uid and gid maps of process `pid`'s (new) user namespace."""
    for kind, file in (("u", "uid_map"), ("g", "gid_map")):
        text = "".join(f"{first} {host} {count}\n" for k, first, host, count in idmap if k == kind)
        path = f"/proc/{pid}/{file}"
        try:
            with open(path, "w", encoding="ascii") as handle:
                handle.write(text)
        except OSError as exc:
            raise KernelError(f"write {file}", exc.errno, path, text.strip()) from None


def become_root():
    """Become the root of the user namespace just entered (its maps written)."""
    os.setresgid(0, 0, 0)
    os.setgroups([])
    os.setresuid(0, 0, 0)
