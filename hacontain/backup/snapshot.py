"""A consistent view of a container's rootfs for a backup, in three modes:

- snapshot: syncfs the container's root filesystem (through its init's root), freeze
  its cgroup, snapshot the volume (btrfs read-only subvolume snapshot, LVM thin, or
  LVM thick with a COW size), thaw; the freeze window (freeze start to thaw end) is
  measured and logged. What was written between the syncfs and the freeze is in the
  snapshot too: a btrfs snapshot flushes the subvolume's dirty data in its own
  transaction, lvcreate suspends the origin "with filesystem sync" (the kernel
  freezes the filesystem on it). The snapshot is mounted read-only in the backup's
  private mount namespace (ext4 `noload`, xfs `norecovery,nouuid`). Backends without
  snapshots fall back to suspend.
- suspend: the live tree; `second_pass()` freezes the container while the caller
  copies what changed, then thaws.
- stop: stop the container, the stopped rootfs, start it again; refused for a
  container Pacemaker manages (never fight the cluster).

A stopped container gives its rootfs as it is (mounted read-only here for a volume),
no freeze. The backup registers itself (registry.py) so that a stop aborts it; its
snapshot is named after the volume (LV `LV-hcbackup`, subvolume `.hcbackup-NAME`
beside the rootfs), found and removed when an earlier run crashed, and always removed,
also on an error, SIGINT or SIGTERM.
"""

import contextlib
import os
import signal
import time
from pathlib import Path

from hacontain import paths
from hacontain.backup import registry
from hacontain.errors import ConfigError, HacontainError, StateError
from hacontain.sys import libc

MODES = ("snapshot", "suspend", "stop")
LV_SUFFIX = "-hcbackup"
SUBVOLUME_PREFIX = ".hcbackup-"
MOUNT_DIR = ".hcbackup-root"      # in RUNDIR/NAME: where the view is mounted (privately)
FREEZE_TIMEOUT = 5.0
MOUNT_OPTIONS = {"ext4": "noload", "xfs": "norecovery,nouuid"}   # a snapshot, read-only
RESTART_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0


class Interrupted(HacontainError):
    """The backup got SIGTERM (or SIGINT) while it held the container's view."""


class View:
    """What consistent_view yields: `root` (the tree to archive), `mode` (the mode
    used), `freeze_ms` (the freeze window, None without a freeze), `second_pass()`."""

    def __init__(self, root, mode, freeze_ms=None, second_pass=None):
        self.root, self.mode, self.freeze_ms = Path(root), mode, freeze_ms
        self._second_pass = second_pass

    @contextlib.contextmanager
    def second_pass(self):
        """suspend: the container frozen while the caller copies the changes (a no-op
        in the other modes)."""
        if self._second_pass is None:
            yield self
            return
        with self._second_pass(self):
            yield self


def enter_private_mount_namespace():
    """Give this process its own mount namespace (host mounts still propagate in,
    none of ours out): every mount the backup makes goes with its last process."""
    libc.unshare(libc.CLONE_NEWNS)
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_SLAVE)


def in_private_mount_namespace():
    own = registry.mount_namespace("self")
    return own is not None and own != registry.mount_namespace(1)


@contextlib.contextmanager
def consistent_view(name, lxcpath, mode, log, cow_size=None):
    """The View of container `name`'s rootfs in `mode` (see the module's docstring);
    `log(line)` writes the backup's log; `cow_size`: a thick LV snapshot's COW space
    (lvcreate -L, default 20% of the origin). Call enter_private_mount_namespace first."""
    from hacontain.runtime.container import Container
    if mode not in MODES:
        raise ConfigError(f"backup mode {mode!r}: use one of {', '.join(MODES)}")
    if not in_private_mount_namespace():
        raise StateError("a backup view needs a private mount namespace "
                         "(enter_private_mount_namespace first)")
    container = Container(name, lxcpath)
    config = container.load_config()
    registration = registry.Registration(name, container.lxcpath)
    _clear_earlier_run(name, container.lxcpath, log)
    registration.update()
    with _signals_raise():
        try:
            status = container.status(config)
            volume = _volume(container, config)
            if not status.running:
                log(f"container {name} is {status.name}: its rootfs as it is, no freeze")
                with _stopped_view(container, config, registration, "stop") as view:
                    yield view
            elif mode == "stop":
                with _stop_view(container, config, status, registration, log) as view:
                    yield view
            elif mode == "snapshot" and _can_snapshot(volume):
                with _snapshot_view(container, volume, status, registration, log,
                                    cow_size) as view:
                    yield view
            else:
                if mode == "snapshot":
                    spec = volume.spec if volume else f"dir:{_host_directory(container, None)}"
                    log(f"container {name}: rootfs {spec} cannot be "
                        "snapshotted: falling back to suspend mode")
                with _suspend_view(container, volume, status, registration, log) as view:
                    yield view
        finally:
            with _signals_blocked():
                registration.close()


# -- the modes -------------------------------------------------------------------

@contextlib.contextmanager
def _snapshot_view(container, volume, status, registration, log, cow_size):
    snapshot = planned_snapshot(container.name, volume)
    registration.update(snapshot=snapshot)
    made = False
    try:
        freeze_ms = _frozen_snapshot(container, status.state, snapshot, registration,
                                     cow_size)
        made = True
        log(f"freeze window {freeze_ms:.1f} ms (freeze, {_describe(snapshot)}, thaw)")
        if snapshot["kind"] == "btrfs":
            yield View(snapshot["path"], "snapshot", freeze_ms)
        else:
            with _mounted_lv(container.name, snapshot, registration) as root:
                yield View(root, "snapshot", freeze_ms)
    finally:
        with _signals_blocked():
            if made or snapshot_exists(snapshot):
                remove_snapshot(snapshot, log)
                log(f"removed {_describe(snapshot)}")
            registration.update(snapshot=None)


def _frozen_snapshot(container, state, snapshot, registration, cow_size):
    """syncfs, then freeze, snapshot, thaw; the freeze window in ms. SIGINT and SIGTERM
    wait (blocked) until the container is thawed and the snapshot tool has finished."""
    from hacontain.runtime.cgroups import open_cgroup
    cgroup = open_cgroup(container.name, paths=state.cgroup)
    root = f"/proc/{state.pid}/root"
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    ours = not cgroup.frozen()            # one frozen by its admin stays frozen
    if ours:
        registration.update(frozen=True, cgroup=state.cgroup)  # before: a kill still thaws
    try:
        libc.syncfs(root_fd, root)        # the dirty data written while the container runs
        with _signals_blocked():
            began = time.perf_counter()
            try:
                if ours:
                    cgroup.freeze(FREEZE_TIMEOUT)
                make_snapshot(snapshot, cow_size)     # flushes what came since the syncfs
            finally:
                if ours:
                    cgroup.thaw()
                window = (time.perf_counter() - began) * 1000
    finally:
        os.close(root_fd)
    registration.update(frozen=False)
    return window


@contextlib.contextmanager
def _suspend_view(container, volume, status, registration, log):
    """The live tree (read-only bind of a host directory, else the init's root);
    second_pass freezes."""
    from hacontain.runtime.cgroups import open_cgroup
    state = status.state
    cgroup = open_cgroup(container.name, paths=state.cgroup)

    @contextlib.contextmanager
    def second_pass(view):
        ours = not cgroup.frozen()        # one frozen by its admin stays frozen
        if ours:
            registration.update(frozen=True, cgroup=state.cgroup)
        began = time.perf_counter()
        try:
            if ours:
                cgroup.freeze(FREEZE_TIMEOUT)
            yield
        finally:
            with _signals_blocked():
                if ours:
                    cgroup.thaw()
                view.freeze_ms = (time.perf_counter() - began) * 1000
                registration.update(frozen=False)
                log(f"freeze window {view.freeze_ms:.1f} ms (second pass, suspend mode)")

    host_dir = _host_directory(container, volume)
    if host_dir is None:
        yield View(f"/proc/{state.pid}/root", "suspend", None, second_pass)
        return
    with _bound_readonly(container.name, host_dir, registration) as root:
        yield View(root, "suspend", None, second_pass)


@contextlib.contextmanager
def _stop_view(container, config, status, registration, log):
    from hacontain.backup.managed import resource_of
    resource = resource_of(container.name, status.state)
    if resource:
        raise StateError(f"container {container.name} is managed by Pacemaker (resource "
                         f"{resource}): a stop-mode backup would fight the cluster; use "
                         f"--mode snapshot (or suspend), or stop it with `crm resource stop "
                         f"{resource}` and back up the stopped container")
    log(f"stopping container {container.name}")
    container.stop(timeout=STOP_TIMEOUT)
    try:
        with _stopped_view(container, config, registration, "stop") as view:
            yield view
    finally:
        with _signals_blocked():
            log(f"starting container {container.name} again")
            container.start(timeout=RESTART_TIMEOUT)


@contextlib.contextmanager
def _stopped_view(container, config, registration, mode):
    """The stopped container's rootfs, read-only: a directory bound, a volume mounted."""
    volume = _volume(container, config)
    host_dir = _host_directory(container, volume)
    if host_dir is not None:
        with _bound_readonly(container.name, host_dir, registration) as root:
            yield View(root, mode)
        return
    from hacontain.storage import backends
    options = ",".join(filter(None, ["ro", config.rootfs_options]))
    volume = backends.open_volume(config.rootfs, options)
    volume.check()
    with _mount_dir(container.name, registration) as target:
        try:
            volume.mount(target)
        finally:
            volume.release()
        yield View(target, mode)


# -- snapshots ---------------------------------------------------------------------

def planned_snapshot(name, volume):
    """The record of the snapshot this backup makes of `volume` (registry.json)."""
    if volume.kind == "btrfs":
        return {"kind": "btrfs", "origin": volume.path,
                "path": os.path.join(os.path.dirname(volume.path), SUBVOLUME_PREFIX + name)}
    info = volume.info()
    return {"kind": "lvm", "vg": volume.vg, "lv": volume.lv + LV_SUFFIX, "origin": volume.lv,
            "thin": bool(info.get("pool_lv"))}


def make_snapshot(snapshot, cow_size=None):
    from hacontain.storage.command import run
    if snapshot["kind"] == "btrfs":
        run(["btrfs", "subvolume", "snapshot", "-r", snapshot["origin"], snapshot["path"]],
            "snapshot the subvolume for the backup")
        return
    argv = ["lvcreate", "-q", "-s", "-n", snapshot["lv"], "--addtag", "hcbackup"]
    if not snapshot["thin"]:
        argv += ["-L", cow_size] if cow_size else ["-l", "20%ORIGIN"]
    run(argv + [f"{snapshot['vg']}/{snapshot['origin']}"], "snapshot the LV for the backup")


def snapshot_exists(snapshot):
    if snapshot["kind"] == "btrfs":
        return os.path.lexists(snapshot["path"])
    from hacontain.storage.command import run_json
    try:
        report = run_json(["lvs", "-o", "lv_name", f"{snapshot['vg']}/{snapshot['lv']}"])
    except HacontainError:
        return False
    return bool(report.get("report", [{}])[0].get("lv"))


def remove_snapshot(snapshot, log=None):
    """Remove the backup's snapshot if it is there (StorageError naming it when it
    cannot be removed)."""
    from hacontain.storage.command import run
    if not snapshot_exists(snapshot):
        return
    if snapshot["kind"] == "btrfs":
        run(["btrfs", "subvolume", "delete", snapshot["path"]],
            "remove the backup's subvolume snapshot")
    else:
        run(["lvremove", "-q", "-y", f"{snapshot['vg']}/{snapshot['lv']}"],
            "remove the backup's LV snapshot")


def _can_snapshot(volume):
    """Whether `volume` takes a backup snapshot here: a btrfs subvolume, an LV with
    ext4 or xfs."""
    if volume is None or volume.kind not in ("btrfs", "lvm"):
        return False
    if volume.kind == "lvm":
        from hacontain.storage import probe
        return probe.filesystem_type(volume.path) in MOUNT_OPTIONS
    return True


@contextlib.contextmanager
def _mounted_lv(name, snapshot, registration):
    """The LV snapshot mounted read-only on the mount directory (here only)."""
    from hacontain.storage import lvm, newmount, probe
    lvm.activate(snapshot["vg"], snapshot["lv"])
    device = f"/dev/{snapshot['vg']}/{snapshot['lv']}"
    fstype = probe.filesystem_type(device)
    with _mount_dir(name, registration) as target:
        fd = newmount.open_mount(device, fstype, libc.MS_RDONLY, MOUNT_OPTIONS[fstype])
        try:
            newmount.attach(fd, target)
        finally:
            os.close(fd)
        yield target


# -- mounts in the private namespace -----------------------------------------------

@contextlib.contextmanager
def _mount_dir(name, registration):
    """RUNDIR/NAME/.hcbackup-root, unmounted and removed afterwards."""
    target = os.path.join(paths.rundir(), name, MOUNT_DIR)
    os.makedirs(target, mode=0o700, exist_ok=True)
    registration.update(mount=target)
    try:
        yield target
    finally:
        with _signals_blocked():
            _unmount(target)
            try:
                os.rmdir(target)
            except OSError:
                pass
            registration.update(mount=None)


@contextlib.contextmanager
def _bound_readonly(name, directory, registration):
    from hacontain.runtime import rootfs
    with _mount_dir(name, registration) as target:
        libc.mount(directory, target, None, libc.MS_BIND)
        rootfs.remount_readonly(target)
        yield target


def _unmount(target):
    """Unmount what is on `target` (lazily if something still uses it) until nothing is
    (a bind of a directory of the same filesystem is no mount point to os.path.ismount)."""
    import errno
    from hacontain.errors import KernelError
    while True:
        try:
            libc.umount(target)
        except KernelError as exc:
            if exc.errno == errno.EINVAL:          # not (or no longer) a mount point
                return
            if exc.errno != errno.EBUSY:
                raise
            libc.umount(target, libc.MNT_DETACH)


# -- helpers -------------------------------------------------------------------------

def _volume(container, config):
    """The rootfs Volume, or None for a plain directory."""
    from hacontain.storage import backends
    if config.rootfs is None or not backends.is_volume(config.rootfs):
        return None
    return backends.open_volume(config.rootfs, config.rootfs_options)


def _host_directory(container, volume):
    """A directory on the host holding the rootfs (dir, btrfs), or None (mounted only
    in the container's namespace)."""
    if volume is None:
        config = container.load_config()
        return config.rootfs or os.path.join(container.directory, "rootfs")
    return volume.host_path


def _describe(snapshot):
    if snapshot["kind"] == "btrfs":
        return f"btrfs snapshot {snapshot['path']}"
    kind = "thin" if snapshot["thin"] else "thick"
    return f"LVM {kind} snapshot {snapshot['vg']}/{snapshot['lv']}"


def _clear_earlier_run(name, lxcpath, log):
    """Refuse while another backup of `name` runs; release what a crashed one left
    (its record: thaw, snapshot, mount directory) and a leftover named snapshot."""
    other = registry.running(name)
    if other is not None and other.get("pid") != os.getpid():
        raise StateError(f"a backup of container {name} is running already (pid "
                         f"{other['pid']})")
    if registry.read(name) is not None:
        registry.abort(name, log=log)
    from hacontain.runtime.container import Container
    container = Container(name, lxcpath)
    volume = _volume(container, container.load_config())
    if volume is not None and volume.kind in ("btrfs", "lvm"):
        try:
            snapshot = planned_snapshot(name, volume)
        except (HacontainError, OSError):
            return
        if snapshot_exists(snapshot):
            log(f"removing {_describe(snapshot)} left by an earlier backup")
            remove_snapshot(snapshot, log)
    try:
        os.rmdir(os.path.join(paths.rundir(), name, MOUNT_DIR))
    except OSError:
        pass


@contextlib.contextmanager
def _signals_raise():
    """While the view is open, SIGTERM raises Interrupted and SIGINT KeyboardInterrupt
    (so every finally runs: thaw, unmount, remove the snapshot)."""
    raised = []

    def interrupted(signum, frame):
        if not raised:                    # once: a second signal must not cut the cleanup
            raised.append(signum)
            raise Interrupted(f"backup interrupted by {signal.Signals(signum).name}")
    previous = {sig: signal.signal(sig, interrupted) for sig in (signal.SIGTERM,
                                                                  signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _signals_blocked():
    """SIGINT and SIGTERM held back (delivered afterwards): for cleanup and for the
    freeze window, which a signal must not cut short."""
    held = {signal.SIGINT, signal.SIGTERM}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
