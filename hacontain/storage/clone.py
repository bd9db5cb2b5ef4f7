"""Copies of containers, like lxc-copy: a snapshot (overlay over a stopped source,
btrfs snapshot, LVM thin or thick snapshot) or a full copy on any backend.

A clone that depends on its base staying as it is (an overlay's lower, a thick LVM
snapshot's origin) is recorded in the base's directory, file `clones` (one line per
clone: KIND CLONE-DIRECTORY), and the clone names its base in its file `clone-of`:
the base is never destroyed, nor (under an overlay) started, while such a clone exists.
"""

import contextlib
import os
import re
import shutil

from hacontain.config import valid_name
from hacontain.errors import AlreadyExists, ConfigError, StateError, StorageError
from hacontain.storage import backends, private

CLONES, CLONE_OF = "clones", "clone-of"
_MAC = re.compile(r"^([0-9a-fA-F]{2}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}):[0-9a-fA-F:]{8}$")


def copy(source, name, snapshot=False, backend=None, options=None, allow_running=False):
    """Copy stopped Container `source` to a new container `name` in its LXCPATH; a
    running one only with `allow_running` (frozen while its rootfs is copied:
    crash-consistent). Returns the new directory."""
    valid_name(name)
    target = os.path.join(source.lxcpath, name)
    if os.path.lexists(target):
        raise AlreadyExists(f"container {name} already exists at {target}")
    config = source.load_config()
    running = source.status(config).running
    if running and not allow_running:
        raise StateError(f"container {source.name} is running: stop it first, or copy it "
                         "crash-consistent with --allow-running (frozen while copied)")
    volume = backends.open_volume(config.rootfs or os.path.join(source.directory, "rootfs"),
                                  config.rootfs_options)
    options = options or backends.Options()
    building = os.path.join(source.lxcpath, f".{name}.copying-{os.getpid()}")
    os.makedirs(building, mode=0o770)
    made = None
    try:
        with _frozen(source, running):
            if running and not snapshot and volume.kind != "loop":
                from hacontain.storage.directory import Directory   # its mounted root
                volume = Directory(f"/proc/{source.status(config).state.pid}/root")
            made, relation = _clone_volume(volume, building, name, snapshot, backend, options,
                                           running)
        os.makedirs(os.path.join(building, "rootfs"), exist_ok=True)   # mount point
        spec = made.spec.replace(building, target)
        with open(source.config_path, encoding="utf-8") as handle:
            text = handle.read()
        with open(os.path.join(building, "config"), "w", encoding="utf-8") as handle:
            handle.write(new_config(text, source.directory, target, name, spec))
        if relation:
            with open(os.path.join(building, CLONE_OF), "w", encoding="utf-8") as handle:
                handle.write(source.directory + "\n")
        os.rename(building, target)
    except BaseException:
        if made is not None:
            made.destroy()
        shutil.rmtree(building, ignore_errors=True)
        raise
    if relation:
        with open(os.path.join(source.directory, CLONES), "a", encoding="utf-8") as handle:
            handle.write(f"{relation} {target}\n")
    return target


@contextlib.contextmanager
def _frozen(container, running):
    """Freeze a running container's processes for the copy; always thaw."""
    if not running:
        yield
        return
    container.freeze()
    try:
        os.sync()
        yield
    finally:
        container.unfreeze()


def _clone_volume(volume, building, name, snapshot, backend, options, running):
    """(new Volume in `building`, relation to the source or None)."""
    if snapshot:
        kind = backend or ("overlay" if volume.kind in ("dir", "overlay") else volume.kind)
        if kind == "overlay":
            if running:
                raise StateError("an overlay clone needs a stopped source: its lower layer "
                                 "must not change")
            if volume.kind == "overlay":
                return volume.snapshot(building, name, options), "overlay"
            if volume.host_path is None:
                raise StorageError(f"rootfs {volume.spec}: an overlay needs a directory lower "
                                   "layer (dir, btrfs or overlay source)")
            from hacontain.storage import overlay
            return overlay.over(volume.host_path, building), "overlay"
        if kind != volume.kind:
            raise StorageError(f"a snapshot of a {volume.kind} rootfs is {volume.kind} (or "
                               f"overlay), not {kind}: copy without -s for a {kind} copy")
        relation = volume.clone_relation()
        return volume.snapshot(building, name, options), relation
    kind = backend or volume.kind
    if kind == "block":
        raise ConfigError("a full copy of a block-device rootfs needs -B (dir, btrfs, loop, lvm)")
    if kind not in backends.CREATABLE:
        raise ConfigError(f"unknown backend {kind!r}: use {', '.join(backends.CREATABLE)}")
    if kind == "loop" and volume.kind == "loop":
        return volume.duplicate(building, name, options), None
    made = backends.module(kind).create(building, name, options)
    try:
        private.with_mounted([volume, made], copy_tree, building)
    except BaseException:
        made.destroy()
        raise
    return made, None


def copy_tree(source, target):
    """Copy every file of directory `source` into `target` (owners, modes, links, xattrs)."""
    from hacontain.storage.command import run
    run(["cp", "-a", "--sparse=always", "--one-file-system", f"{source}/.", target],
        "copy the rootfs")


def new_config(text, source_dir, target_dir, name, spec):
    """The clone's config: its own host name and rootfs, new concrete MACs (same OUI;
    `xx` patterns stay, filled anew at each start), paths in the source's directory
    moved to its own."""
    from hacontain.runtime.network.spec import fill_hwaddr
    lines = []
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key.startswith("#"):
            lines.append(line)
        elif key in ("lxc.uts.name", "lxc.utsname"):
            lines.append(f"{key} = {name}")
        elif key in ("lxc.rootfs.path", "lxc.rootfs"):
            lines.append(f"{key} = {spec}")
        elif key.endswith(".hwaddr") and _MAC.match(value):
            lines.append(f"{key} = {fill_hwaddr(_MAC.match(value).group(1) + ':xx:xx:xx')}")
        else:
            lines.append(line.replace(source_dir.rstrip("/") + "/", target_dir + "/"))
    return "\n".join(lines) + "\n"


def live_clones(directory):
    """[(kind, clone directory)] of the clones recorded for base `directory` that exist."""
    try:
        with open(os.path.join(directory, CLONES), encoding="utf-8") as handle:
            rows = [line.split(None, 1) for line in handle if line.strip()]
    except FileNotFoundError:
        return []
    return [(kind, path.strip()) for kind, path in rows
            if os.path.exists(os.path.join(path.strip(), CLONE_OF))]


def refuse_changing_base(directory, name):
    """StateError when starting base `name` would change the lower of overlay clones."""
    overlays = [path for kind, path in live_clones(directory) if kind == "overlay"]
    if overlays:
        raise StateError(f"container {name} is the lower layer of overlay clones "
                         f"{', '.join(map(os.path.basename, overlays))}: starting it would "
                         "change their files under them; destroy them first (or copy "
                         "without -s)")


def refuse_destroying_base(directory, name):
    clones = live_clones(directory)
    if clones:
        raise StateError(f"container {name} has clones that depend on it: "
                         f"{', '.join(os.path.basename(path) for _, path in clones)}; "
                         "destroy them first")


def forget_clone(directory):
    """Remove clone `directory` from its base's `clones` file (before it is removed)."""
    try:
        with open(os.path.join(directory, CLONE_OF), encoding="utf-8") as handle:
            base = handle.read().strip()
    except FileNotFoundError:
        return
    path = os.path.join(base, CLONES)
    try:
        with open(path, encoding="utf-8") as handle:
            rows = [line for line in handle if line.split(None, 1)[-1].strip() != directory]
    except FileNotFoundError:
        return
    if rows:
        with open(path + ".new", "w", encoding="utf-8") as handle:
            handle.writelines(rows)
        os.replace(path + ".new", path)
    else:
        os.unlink(path)


def destroy_volume(container, config):
    """Remove a volume rootfs's storage: kept when outside the container's directory
    (like a dir: rootfs elsewhere), an LV only when hacontain made it (tag hacontain)."""
    forget_clone(container.directory)
    if config.rootfs is None or not backends.is_volume(config.rootfs):
        return
    volume = backends.open_volume(config.rootfs, config.rootfs_options)
    if volume.kind == "lvm":
        from hacontain.storage.lvm import TAG
        if TAG in volume.info().get("lv_tags", "").split(","):
            volume.destroy()
    elif volume.kind in ("btrfs", "loop", "overlay") and volume.path.startswith(
            container.directory.rstrip("/") + "/"):
        volume.destroy()
