"""`hacontain backup NAME|--all-running`: the backup job, like vzdump's.

Per container: a consistent view of its rootfs (snapshot.py: snapshot, suspend or
stop), archived (archive.py) to a temporary name in the dump directory, renamed to
`hacontain-NAME-YYYY_MM_DD-HH_MM_SS.tar.zst` only when whole and synced, with its
`.log` (and `.notes`, `.protected`) beside it; then the retention (--prune-backups).
A failed or interrupted backup leaves no archive under a final name (its temporary
file is removed, or by the next run when the process was killed). A hook script gets
vzdump's phases: job-start, backup-start, pre-stop, pre-restart, post-restart,
backup-end, backup-abort, log-end, job-end, job-abort.
"""

import dataclasses
import datetime
import errno
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import time

from hacontain import paths
from hacontain.backup import archive, catalog
from hacontain.errors import (AlreadyExists, CommandError, ConfigError, HacontainError,
                              KernelError, NotFound, NotInstalled, StateError, StorageError)

PARTIAL = ".partial"


@dataclasses.dataclass
class Job:
    """A backup job's options (the CLI's)."""
    names: list
    lxcpath: str | None = None
    mode: str = "snapshot"
    dumpdir: str | None = None
    settings: archive.Settings = dataclasses.field(default_factory=archive.Settings)
    stdexcludes: bool = True
    notes: str | None = None
    protected: bool = False
    script: str | None = None
    prune: dict | None = None
    terminal: object = None             # a stream on a terminal for the progress bar
    tmpdir: str | None = None           # suspend mode's staging copy (default: the dump dir)


def running_here(lxcpath=None):
    """Names of the containers of LXCPATH running on this node (--all-running)."""
    from hacontain.runtime.container import Container
    root = paths.lxcpath(lxcpath)
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    return [name for name in names if os.path.isfile(os.path.join(root, name, "config"))
            and Container(name, root).status().running]


def _say(text, err=False):
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


def run_job(job, say=_say):
    """Back up each of job.names; [archive paths]. A failure of one container is
    reported (say) and the others go on; HacontainError at the end if any failed.
    Moves this process into a mount namespace of its own (the backup's mounts go
    with it): call it from a process that ends after, as the CLI."""
    directory = prepare_dumpdir(job.dumpdir)
    if job.tmpdir is not None and not os.path.isdir(job.tmpdir):
        raise NotFound(f"--tmpdir {job.tmpdir} is not a directory")
    if job.script is not None and not os.access(job.script, os.X_OK):
        raise ConfigError(f"hook script {job.script} does not exist or is not executable")
    if job.settings.compress not in archive.SUFFIXES:
        raise ConfigError(f"--compress {job.settings.compress}: use zstd, gzip or none")
    if job.stdexcludes:
        job.settings.excludes = tuple(job.settings.excludes) + archive.STDEXCLUDES
    from hacontain.backup.snapshot import enter_private_mount_namespace
    enter_private_mount_namespace()          # our mounts go with this process
    hook(job, "job-start", directory)
    made, failed = [], []
    for name in job.names:
        try:
            made.append(backup_one(name, job, directory, say))
        except HacontainError as exc:
            if len(job.names) == 1:
                hook(job, "job-abort", directory, check=False)
                raise
            failed.append(name)
            say(f"hacontain: error: backup of {name} failed: {exc}", err=True)
    if failed:
        hook(job, "job-abort", directory, check=False)
        raise HacontainError(f"backup failed for {', '.join(failed)}"
                             + (f" ({len(made)} done)" if made else ""))
    hook(job, "job-end", directory)
    return made


def prepare_dumpdir(value):
    """The dump directory, checked: it must exist (the default one is made) and be a
    writable directory."""
    directory = catalog.dumpdir(value)
    if value is None and os.environ.get("HACONTAIN_DUMPDIR") is None:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    if not os.path.exists(directory):
        raise NotFound(f"dump directory {directory} does not exist")
    if not os.path.isdir(directory):
        raise NotFound(f"dump directory {directory} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StateError(f"dump directory {directory} is not writable")
    return directory


class Log:
    """The backup's log: timestamped lines to its .log file and to `say`."""

    def __init__(self, path, say):
        self.path, self.say = path, say
        self.handle = open(path, "x", encoding="utf-8")

    def __call__(self, text, level="INFO"):
        line = f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S} {level}: {text}"
        self.handle.write(line + "\n")
        self.handle.flush()
        self.say(line, err=True)

    def close(self):
        self.handle.close()


def backup_one(name, job, directory, say):
    """Back up container `name`; the archive's path."""
    from hacontain.backup import registry
    from hacontain.runtime.container import Container
    container = Container(name, job.lxcpath)
    config = container.load_config()                       # NotFound for a missing one
    with open(container.config_path, "rb") as handle:
        config_bytes = handle.read()
    other = registry.running(name)
    if other:
        raise StateError(f"a backup of {name} is running already (pid {other.get('pid')})")
    scratch = os.path.abspath(job.tmpdir or directory)
    remove_stale(directory, name)
    remove_stale(scratch, name)
    started, base, final = _free_name(directory, name, job.settings.compress)
    began = time.monotonic()
    partial = os.path.join(directory, f".{os.path.basename(final)}.{os.getpid()}{PARTIAL}")
    log_partial = os.path.join(directory, f".{base}.log.{os.getpid()}{PARTIAL}")
    staging = os.path.join(scratch, f".{base}.staging.{os.getpid()}{PARTIAL}")
    log = Log(log_partial, say)
    env = {"TARGET": final, "LOGFILE": catalog.log_path(final),
           "HOSTNAME": config.uts_name or name}
    renamed = False
    try:
        log(f"starting backup of container {name} on node {socket.gethostname()}")
        log(f"requested mode {job.mode}, compression {job.settings.compress}, "
            f"excludes {' '.join(job.settings.excludes) or 'none'}")
        hook(job, "backup-start", directory, name, env)
        written, mode = _archive(container, job, directory, partial, staging,
                                 config_bytes, started, log, env)
        os.rename(partial, final)
        renamed = True
        _fsync_directory(directory)
        if job.notes:
            _write(catalog.notes_path(final), _notes(job.notes, name, config))
        if job.protected:
            _write(catalog.protected_path(final), "")
        elapsed = time.monotonic() - began
        log(f"archive {final}: {catalog.human(written.written)} ({written.members} members, "
            f"{catalog.human(written.read)} read, {catalog.human(written.read / elapsed)}/s)")
        hook(job, "backup-end", directory, name, env, mode)
        log(f"finished backup of {name} in {elapsed:.1f} s")
        log.close()
        os.rename(log_partial, catalog.log_path(final))
        hook(job, "log-end", directory, name, env, mode, check=False)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if renamed and not log.handle.closed:        # the archive is whole: keep its log
            log(f"error after the archive was made: {exc}", "ERROR")
            log.close()
            os.rename(log_partial, catalog.log_path(final))
        if not log.handle.closed:
            log.close()
        for path in (partial, log_partial):
            _unlink(path)
        if isinstance(exc, HacontainError):
            hook(job, "backup-abort", directory, name, env, check=False)
        raise _disk_full(exc, directory) or _as_error(exc) or exc
    if job.prune:
        prune_container(directory, name, job.prune, say)
    return final


def _free_name(directory, name, compress):
    """(start time, base name, archive path) of a new backup: names have seconds, so a
    second backup within the same second takes the next one."""
    for _ in range(3):
        now = datetime.datetime.now()
        started = now.replace(microsecond=0)
        base = catalog.base_name(name, started)
        final = os.path.join(directory, base + archive.SUFFIXES[compress])
        if not any(os.path.lexists(os.path.join(directory, base + suffix)) for suffix in
                   list(archive.SUFFIXES.values()) + [".log"]):
            return started, base, final
        time.sleep(1 - now.microsecond / 1e6)          # until the clock's next second
    raise AlreadyExists(f"{final} exists")


def _archive(container, job, directory, partial, staging, config_bytes, started, log, env):
    """The view in job.mode, archived to `partial`; (archive.Written, mode used)."""
    from hacontain.backup.progress import Progress
    from hacontain.backup.snapshot import consistent_view
    was_running = container.status().running
    if job.mode == "stop" and was_running:
        hook(job, "pre-stop", directory, container.name, env, "stop")
    with consistent_view(container.name, container.lxcpath, job.mode, log) as view:
        log(f"backup mode: {view.mode}")
        root = view.root
        if view.mode == "suspend":
            root = _suspend_copy(view, staging, job.settings.excludes, log)
        info = {"format": 1, "name": container.name, "time": started.isoformat(),
                "mode": view.mode, "node": socket.gethostname(),
                "directory": container.directory, "freeze_ms": view.freeze_ms,
                "file_sha256": archive.sums_files(job.settings)}
        files = {archive.INFO: json.dumps(info).encode(), archive.CONFIG: config_bytes}
        progress = Progress(log, job.terminal, _expected_bytes(root))
        log(f"archiving {root}")
        try:
            with open(partial, "xb") as output:
                written = archive.write(root, files, output, job.settings, progress.advance)
                os.fsync(output.fileno())
        finally:
            progress.finish()
        for warning in written.warnings:
            log(f"tar: {warning}", "WARN")
        if job.mode == "stop" and was_running:
            hook(job, "pre-restart", directory, container.name, env, "stop")
    if job.mode == "stop" and was_running:
        hook(job, "post-restart", directory, container.name, env, "stop")
    shutil.rmtree(staging, ignore_errors=True)
    return written, view.mode


def _suspend_copy(view, staging, excludes, log):
    """vzdump's suspend mode: copy the live tree, then the changes with the container
    frozen; the copy's path."""
    os.makedirs(staging, mode=0o700)
    # --modify-window=-1: mtimes compared to the nanosecond, so a file changed within
    # the second of the first pass's copy, at the same size, is copied again
    argv = ["rsync", "-aHAX", "--numeric-ids", "--delete", "--sparse", "--one-file-system",
            "--modify-window=-1",
            *[f"--exclude={glob}" for glob in excludes], f"{view.root}/", f"{staging}/"]
    began = time.monotonic()
    _rsync(argv, "first pass", allow_vanished=True)
    log(f"suspend mode: first pass (running) copied to {staging} in "
        f"{time.monotonic() - began:.1f} s")
    with view.second_pass():
        _rsync(argv, "second pass (frozen)")
    return staging


def _rsync(argv, what, allow_vanished=False):
    try:
        result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise NotInstalled("rsync is not installed on this node (suspend mode needs it)") \
            from None
    if result.returncode != 0 and not (allow_vanished and result.returncode == 24):
        raise CommandError(argv[:1] + [what], result.returncode, result.stderr)


def _expected_bytes(root):
    """Bytes in use on the filesystem of `root` when it is a mount of its own (a volume
    or snapshot), for the progress bar; None for a directory in a larger filesystem."""
    try:
        if os.stat(root).st_dev == os.stat(os.path.join(root, "..")).st_dev:
            return None
        usage = os.statvfs(root)
    except OSError:
        return None
    return (usage.f_blocks - usage.f_bfree) * usage.f_frsize


def hook(job, phase, directory, name=None, env=None, mode=None, check=True):
    """Run the hook script for `phase` (args: PHASE [MODE NAME]); vzdump's variables."""
    if job.script is None:
        return
    argv = [job.script, phase] + ([mode or job.mode, name] if name else [])
    environ = dict(os.environ, DUMPDIR=directory, VMTYPE="lxc", **(env or {}))
    if name:
        environ["HACONTAIN_NAME"] = name
    result = subprocess.run(argv, env=environ, stdin=subprocess.DEVNULL, check=False,
                            stdout=sys.stderr.fileno())
    if result.returncode != 0 and check:
        raise HacontainError(f"hook script {job.script} failed in phase {phase} "
                             f"(exit {result.returncode})")


def remove_stale(directory, name):
    """Remove temporary files a killed backup of `name` left (their process is gone)."""
    for path in glob.glob(os.path.join(glob.escape(directory),
                                       f".hacontain-{glob.escape(name)}-*{PARTIAL}")):
        pid = path[:-len(PARTIAL)].rsplit(".", 1)[-1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                _unlink(path)


def prune_container(directory, name, keep, say):
    """Apply the retention to container `name`'s backups in `directory`."""
    from hacontain.backup.prune import prune
    removed = []
    for backup, mark in prune(catalog.backups(directory, name), keep):
        if mark == "remove":
            catalog.remove(backup)
            removed.append(backup)
            say(f"pruned {backup.path}", err=True)
    return removed


def _disk_full(exc, directory):
    """A StorageError for a backup that failed because the dump directory filled up."""
    full = isinstance(exc, OSError) and exc.errno == errno.ENOSPC
    full = full or "No space left on device" in str(exc)
    if not full:
        try:
            usage = os.statvfs(directory)
            full = isinstance(exc, HacontainError) and usage.f_bavail == 0
        except OSError:
            pass
    if full:
        return StorageError(f"dump directory {directory} is full (no space left on device): "
                            "the partial archive was removed")
    return None


def _as_error(exc):
    """A KernelError (one line, naming the path) for an OSError, else None."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return KernelError("backup", exc.errno, exc.filename)
    return None


def _notes(template, name, config):
    """vzdump's notes template variables."""
    return (template.replace("{{guestname}}", config.uts_name or name)
            .replace("{{vmid}}", name).replace("{{node}}", socket.gethostname())
            .replace("{{cluster}}", "")).replace("\\n", "\n")


def _write(path, text):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text + ("\n" if text else ""))


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_directory(directory):
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
