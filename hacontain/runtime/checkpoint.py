"""Checkpoint a running container with CRIU, and start it again from the checkpoint.

    checkpoint: criu dump of the init's process tree (its namespaces, memory, files,
                cgroup) into DIR/images; the console's pseudo-terminals (their
                masters are the console holder's, outside the tree) and the netns
                (made by hacontain) are recorded as external; DIR/checkpoint.json,
                written last, marks the checkpoint clean. --stop: criu kills the
                tree once dumped and the container is cleaned up as after a stop.
    restore:    refused unless the checkpoint is fresh and consistent (stale_reason);
                then the container's cgroup and network are made as for a start,
                new pseudo-terminals replace the console's, and a new console
                holder runs `criu restore`: the restored init becomes its child (the
                holder is a child subreaper), so the container is a normal one again.

Only a checkpoint made with --stop is restorable (without, the container runs on
and its files change), and only once: it is deleted when the container
has started from it. STAMP, a file in the rootfs, records which checkpoint the
rootfs belongs to; every cold start removes it (Container.start), so a checkpoint
is never restored over files a later run of the container changed.
"""

import hashlib
import json
import os
import secrets
import shutil
import socket
import time

from hacontain.errors import HacontainError, NotFound, StateError
from hacontain.record import Record
from hacontain.runtime import criu
from hacontain.runtime import state as statefile

FORMAT = 1
METADATA = "checkpoint.json"          # written last: a clean checkpoint
IMAGES = "images"
DEFAULT_DIRECTORY = ".hacontain-checkpoint"   # in the rootfs, which moves with its volume
STAMP = ".hacontain-checkpoint-stamp"         # in the rootfs; removed by a cold start


class StaleCheckpoint(HacontainError):
    """A checkpoint is there but must not be restored (the message says why)."""


class Metadata(Record):
    """What a checkpoint records beside criu's images."""
    format: int
    name: str
    config_digest: str
    criu_version: str
    created_at: float
    node: str
    stopped: bool                 # made with --stop: nothing ran after it
    stamp: str                    # the rootfs's STAMP written with it
    terminals: list               # [[name, criu tty id]]: /dev/console, /dev/ttyN
    netns: str | None             # criu's key of the external netns, None: criu's own
    masks: list                   # the masked /proc and /sys directories (mask_key)
    tcp_established: bool         # established TCP connections were dumped
    checksums: dict               # image file -> sha256


def default_directory(container, config):
    """Where a container's checkpoint goes by default: inside its rootfs (its volume)."""
    return os.path.join(container._rootfs(config), DEFAULT_DIRECTORY)


def config_digest(container, config):
    """sha256 of the config file and the extra limits (the agent's parameters)."""
    digest = hashlib.sha256()
    with open(config.path, "rb") as handle:
        digest.update(handle.read())
    digest.update(repr(sorted(container.extra_limits)).encode())
    return digest.hexdigest()


# -- checkpoint ----------------------------------------------------------------

def checkpoint(container, directory=None, stop=False, tcp_established=False, timeout=None):
    """Dump the running `container` into `directory` (default_directory); with `stop`
    its processes end once dumped and it is cleaned up. The Metadata written.
    `timeout`: seconds criu may take (killed after: the container runs on)."""
    with statefile.Lock(container.name):
        current = container._require_running()
        config = container.load_config()
        _refuse_unsupported(container, config, current)
        directory = os.path.abspath(directory or default_directory(container, config))
        record = current.state
        _fresh_directory(directory)
        terminals = _terminals(record.pid, config.tty_max)
        netns = _netns_key(record.pid)
        args = ["--tree", str(record.pid), "--images-dir", os.path.join(directory, IMAGES)]
        for name, tty in terminals:
            args += ["--external", tty, "--external", f"mnt[/dev/{name}]:{name}"]
        masks = _masks(record.pid)
        for path in masks:
            args += ["--external", f"mnt[{path}]:{mask_key(path)}"]
        if netns is not None:
            args += ["--external", f"net[{netns[1]}]:{netns[0]}"]
        locked = tcp_established and netns is not None and stop
        if tcp_established:
            args.append("--tcp-established")
        if locked:
            _nft(record.pid, TCP_LOCK, "lock")
        if not stop:
            args.append("--leave-running")
        try:
            criu.run("dump", args, os.path.join(directory, "dump.log"), timeout=timeout)
        except BaseException:
            if locked:                    # the container runs on: its connections too
                _nft(record.pid, "delete table inet hacontain-checkpoint\n", "unlock")
            raise
        try:
            stamp = secrets.token_hex(16)
            _write_atomic(os.path.join(container._rootfs(config), STAMP), stamp)
            metadata = Metadata(
                format=FORMAT, name=container.name,
                config_digest=config_digest(container, config), criu_version=criu.version(),
                created_at=time.time(), node=socket.gethostname(), stopped=stop, stamp=stamp,
                terminals=[list(t) for t in terminals], netns=netns[0] if netns else None,
                masks=masks, tcp_established=tcp_established,
                checksums=_checksums(directory))
            _write_atomic(os.path.join(directory, METADATA), json.dumps(metadata.as_dict()))
        except OSError as exc:
            raise StateError(f"container {container.name}: dumped, but the checkpoint's "
                             f"metadata could not be written in {directory}: "
                             f"{exc.strerror or exc}") from None
        finally:
            if stop:
                container._cleanup(container.status(config), stopping=True)
    return metadata


def _refuse_unsupported(container, config, current):
    from hacontain.runtime.status import FROZEN
    why = None
    if current.name == FROZEN:
        why = "it is frozen: unfreeze it first"
    elif config.idmap:
        why = "it has a user namespace (lxc.idmap), which this checkpoint does not carry"
    elif config.namespace_keep or config.shares_host_network():
        why = "it shares namespaces with the host (lxc.namespace.keep or lxc.net type none)"
    elif container._volume(config) is not None:
        why = _VOLUME
    elif any(i.type == "phys" for i in container._interfaces(config)):
        why = "it has a physical interface (lxc.net type phys), which cannot move"
    if why:
        raise StateError(f"container {container.name} cannot be checkpointed: {why}")


_VOLUME = ("its rootfs is a volume its init mounts (overlay, loop, lvm, btrfs, block): "
           "checkpoints need a directory rootfs (one on a filesystem the node mounts, e.g. "
           "by a Filesystem resource, moves as well)")


def _fresh_directory(directory):
    """An empty `directory` with its images subdirectory (an older checkpoint there goes)."""
    if os.path.lexists(directory):
        if not os.path.isdir(directory) or os.path.islink(directory):
            raise StateError(f"checkpoint directory {directory} exists and is not a directory")
        shutil.rmtree(directory)
    os.makedirs(os.path.join(directory, IMAGES), mode=0o700)


def _terminals(pid, ttys):
    """[(name, criu's tty[rdev:dev] id)] of the container's /dev/console and /dev/ttyN:
    pseudo-terminals whose masters are the holder's, outside the dumped tree."""
    found = []
    for name in ["console"] + [f"tty{n}" for n in range(1, ttys + 1)]:
        try:
            info = os.stat(f"/proc/{pid}/root/dev/{name}")
        except FileNotFoundError:
            continue
        found.append((name, f"tty[{info.st_rdev:x}:{info.st_dev:x}]"))
    return found


def _masks(pid):
    """The container's masked /proc and /sys directories (security/masks.py): empty
    read-only tmpfs mounts, external to criu (which would archive each with tar)
    and masked again at restore."""
    from hacontain.runtime.security.masks import PROC_MASKED, SYS_MASKED
    masked = {f"/proc/{name}" for name in PROC_MASKED} | {f"/sys/{name}" for name in SYS_MASKED}
    found = []
    with open(f"/proc/{pid}/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            fields, _, rest = line.partition(" - ")
            point = fields.split()[4]
            if point in masked and rest.split()[0] == "tmpfs":
                found.append(point)
    return found


def mask_key(path):
    """criu's name of the external mount of masked directory `path`."""
    return "mask" + path.replace("/", "-")


def _netns_key(pid):
    """("netns", inode) of the init's netns when it is its own (hacontain makes it
    again at restore, with the interfaces); None when it is this process's."""
    inode = os.stat(f"/proc/{pid}/ns/net").st_ino
    if inode == os.stat("/proc/self/ns/net").st_ino:
        return None
    return ("netns", inode)


# criu locks the network of a netns it dumps; an external one is ours to lock: no
# TCP segment in or out, so the connections' sockets, killed once dumped, send no
# reset to their peers (the netns goes with the container; the restored one is new).
TCP_LOCK = """table inet hacontain-checkpoint {
    chain in { type filter hook input priority -300; meta l4proto tcp drop; }
    chain out { type filter hook output priority -300; meta l4proto tcp drop; }
}
"""


def _nft(pid, rules, what):
    """Run nft with `rules` in the netns of process `pid`."""
    import subprocess
    from hacontain.sys import libc
    try:
        result = libc.in_netns(f"/proc/{pid}/ns/net", lambda: subprocess.run(
            ["nft", "-f", "-"], input=rules, capture_output=True, text=True, check=False))
    except OSError as exc:
        raise StateError(f"could not {what} the container's TCP connections: nft: "
                         f"{exc.strerror or exc}") from None
    if result.returncode != 0:
        raise StateError(f"could not {what} the container's TCP connections (nft): "
                         f"{result.stderr.strip()}")


def _checksums(directory):
    images = os.path.join(directory, IMAGES)
    return {name: _sha256(os.path.join(images, name)) for name in sorted(os.listdir(images))}


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic(path, text):
    """Write `path` by a rename after fsync (it must survive a node's crash)."""
    temp = f"{path}.{os.getpid()}.tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(temp, path)
    folder = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


# -- restore -------------------------------------------------------------------

def read_metadata(directory):
    """The Metadata of the checkpoint in `directory`; NotFound when there is none (no
    clean checkpoint: its marker is written last), StaleCheckpoint when unreadable."""
    path = os.path.join(directory, METADATA)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise NotFound(f"no checkpoint in {directory} (no {METADATA}: none was made, or "
                       "it did not finish)") from None
    except (OSError, ValueError) as exc:
        raise StaleCheckpoint(f"checkpoint metadata {path} is unreadable: {exc}") from None
    try:
        return Metadata(**data)
    except (TypeError, ValueError) as exc:
        raise StaleCheckpoint(f"checkpoint metadata {path} is not this version's: {exc}") \
            from None


def stale_reason(metadata, container, config, directory):
    """Why the checkpoint `metadata` (in `directory`) must not be restored, or None."""
    if metadata.format != FORMAT:
        return f"it has checkpoint format {metadata.format}, this hacontain reads {FORMAT}"
    if metadata.name != container.name:
        return f"it is container {metadata.name}'s, not {container.name}'s"
    if not metadata.stopped:
        return ("it was made with the container left running (without --stop: its files "
                "changed since)")
    if metadata.config_digest != config_digest(container, config):
        return "the container's config (or the agent's parameters) changed since"
    current = criu.version()
    if metadata.criu_version != current:
        return f"it was made by criu {metadata.criu_version}, this node has criu {current}"
    try:
        with open(os.path.join(container._rootfs(config), STAMP), encoding="utf-8") as handle:
            stamp = handle.read().strip()
    except OSError:
        stamp = None
    if stamp != metadata.stamp:
        return "the container was started since (its rootfs is not the checkpoint's)"
    return _damage(metadata, directory)


def _damage(metadata, directory):
    images = os.path.join(directory, IMAGES)
    present = set(os.listdir(images)) if os.path.isdir(images) else set()
    for name, digest in metadata.checksums.items():
        if name not in present:
            return f"its image {name} is missing"
        if _sha256(os.path.join(images, name)) != digest:
            return f"its image {name} is damaged (checksum differs)"
    return None


def restore(container, directory=None, timeout=30.0):
    """Start `container` from its checkpoint in `directory` (default_directory), then
    delete the checkpoint. StaleCheckpoint (nothing made) when it must not be used;
    the State of the restored init."""
    from hacontain.runtime.restore_launch import restore_container
    with statefile.Lock(container.name):
        current = container.status()
        container._check_same(current)
        if current.running:
            raise StateError(f"container {container.name} is running: stop it before "
                             "restoring a checkpoint")
        if current.present:
            container._cleanup(current)
        config = container.load_config()
        if container._volume(config) is not None:
            raise StateError(f"container {container.name} cannot be restored: {_VOLUME}")
        directory = os.path.abspath(directory or default_directory(container, config))
        metadata = read_metadata(directory)
        reason = stale_reason(metadata, container, config, directory)
        if reason:
            raise StaleCheckpoint(f"checkpoint in {directory} not used: {reason}")
        record = restore_container(container, config, metadata,
                                   os.path.join(directory, IMAGES), timeout)
    discard(container, directory, config)
    return record


def discard(container, directory=None, config=None):
    """Delete the checkpoint in `directory` (default_directory) and the rootfs's stamp."""
    config = config or container.load_config()
    directory = directory or default_directory(container, config)
    shutil.rmtree(directory, ignore_errors=True)
    try:
        os.unlink(os.path.join(container._rootfs(config), STAMP))
    except FileNotFoundError:
        pass
