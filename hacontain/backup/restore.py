"""`hacontain restore ARCHIVE NAME`: a new container from a backup, or over a stopped
one (--force), never over a running one. The rootfs lands on `-B` BACKEND (storage
create, default dir) with the owners, modes, xattrs, ACLs, holes and devices as
archived (ids kept as on disk: a shifted-uid rootfs stays shifted). The archive is
checked against its manifest while it is extracted: a truncated or corrupted archive
leaves nothing (no directory, no volume), and an existing container is replaced only
after the whole archive was extracted and checked."""

import io
import json
import os
import shutil
import subprocess

from hacontain import paths
from hacontain.backup import archive
from hacontain.backup.verify import read_checked
from hacontain.config import valid_name
from hacontain.errors import AlreadyExists, KernelError, StateError

_FOUND = ".restored"       # in the building directory: what the extraction found


def restore(path, name, lxcpath=None, backend="dir", options=None, force=False):
    """Restore archive `path` as container `name` in LXCPATH; its directory."""
    from hacontain.runtime.container import Container
    from hacontain.storage import backends, private
    valid_name(name)
    path = os.path.abspath(path)
    archive.compression_of(path)                    # a clear error for a missing archive
    lxcpath = paths.lxcpath(lxcpath)
    container = Container(name, lxcpath)
    replacing = os.path.lexists(container.directory)
    if replacing:
        _refuse_replacing(container, force)
    os.makedirs(lxcpath, exist_ok=True)
    building = os.path.join(lxcpath, f".{name}.restoring-{os.getpid()}")
    os.makedirs(building)
    os.chmod(building, 0o755)                 # a user-namespaced root must pass it
    volume = None
    try:
        if backend not in backends.CREATABLE:
            from hacontain.errors import ConfigError
            raise ConfigError(f"unknown backend {backend!r}: use {', '.join(backends.CREATABLE)}")
        volume = backends.module(backend).create(building, name, options or backends.Options())
        private.with_mounted([volume], lambda root: extract(path, root, building), building)
        os.makedirs(os.path.join(building, "rootfs"), exist_ok=True)      # the mount point
        with open(os.path.join(building, _FOUND), encoding="utf-8") as handle:
            found = json.load(handle)
        os.unlink(os.path.join(building, _FOUND))
        spec = volume.spec.replace(building, container.directory)
        with open(os.path.join(building, "config"), "w", encoding="utf-8") as handle:
            handle.write(restored_config(found["config"], found["info"].get("directory"),
                                         container.directory, spec))
        if replacing:
            from hacontain.runtime.destroy import destroy
            destroy(container)                # refuses a container started meanwhile
        try:
            os.rename(building, container.directory)
        except OSError:
            raise AlreadyExists(f"container {name} was made at {container.directory} while "
                                "this restore ran") from None
    except BaseException as exc:
        if volume is not None:
            volume.destroy()
        shutil.rmtree(building, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise KernelError("restore", exc.errno, exc.filename) from None
        raise
    return container.directory


def _refuse_replacing(container, force):
    status = container.status()
    if status.running or status.processes:
        raise StateError(f"container {container.name} is running: a restore never replaces a "
                         "running container (stop it first)")
    if not force:
        raise AlreadyExists(f"container {container.name} exists at {container.directory}: "
                            "--force restores over it (it is stopped)")


def extract(path, root, building):
    """Extract the rootfs members of archive `path` into directory `root` while checking
    the whole archive against its manifest; the config and info go to building/_FOUND."""
    tar = archive.start_process(["tar", "-x", "-f", "-", "-C", root, "--numeric-owner",
                          "--same-owner", "--same-permissions", "--xattrs",
                          "--xattrs-include=*", "--acls", "--warning=no-timestamp",
                          r"--transform=s,^rootfs/*,./,S"], stdin=subprocess.PIPE)
    errors = archive.StderrLines(tar.stderr)
    sink = io.BufferedWriter(archive.CountingWriter(tar.stdin), 1 << 20)
    try:
        with archive.reading(path) as stream:
            checked, config = read_checked(
                path, stream, lambda member: sink.write if member.startswith(archive.ROOTFS)
                else None)
        if config is None:
            raise archive.ArchiveError(f"{path}: no {archive.CONFIG}: not a hacontain backup")
        sink.write(bytes(archive.RECORD))
        sink.flush()
        tar.stdin.close()
    except BrokenPipeError:
        pass                                    # tar stopped: its status says why
    finally:
        if tar.poll() is None and not tar.stdin.closed:
            tar.kill()
        status = tar.wait()
        errors.join()
    if status != 0 and any("Wrote only" in line or "No space left" in line
                           for line in errors.lines):
        raise archive.ArchiveError(f"extracting {path}: the new rootfs is full (no space left "
                                   f"on device; a larger --fssize?): "
                                   f"{archive.tar_error(errors.lines)}")
    if status != 0:
        raise archive.ArchiveError(f"extracting {path} onto the new rootfs failed: "
                                   f"{archive.tar_error(errors.lines) or f'tar exited {status}'}")
    with open(os.path.join(building, _FOUND), "w", encoding="utf-8") as handle:
        json.dump({"config": config.decode("utf-8", "surrogateescape"), "info": checked.info},
                  handle)


def restored_config(text, old_directory, new_directory, spec):
    """The archived config with lxc.rootfs.path `spec` and paths in the container's
    old directory moved to the new one (host name and MACs stay: it is the same
    container)."""
    lines = []
    for line in text.splitlines():
        key, sep, _ = line.partition("=")
        if sep and key.strip() in ("lxc.rootfs.path", "lxc.rootfs"):
            lines.append(f"{key.strip()} = {spec}")
        elif old_directory and not key.strip().startswith("#"):
            lines.append(line.replace(old_directory.rstrip("/") + "/", new_directory + "/"))
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"
