"""Backup archives: a POSIX tar stream, compressed (zstd with threads, gzip, none).

Members, in order: `hacontain/info.json` (container, time, mode, node, original
directory and rootfs), `hacontain/config` (the container's config as it was),
`rootfs/...` (the tree, by GNU tar: numeric owners as on disk, so a shifted-uid rootfs
stays shifted; xattrs of every namespace, security.capability included; POSIX ACLs;
hard links; sparse files; device nodes; one filesystem), and last
`hacontain/manifest.json`: every member's path, type, size and link target, and with
sums_files() the sha256 of each file's content (`sha256sum` of the file, holes read as
zeros); without them the compressor's checksum of the whole stream covers the content.

The tree is read once. By default tar writes straight into the compressor and lists
every member it writes (tarlisting), which makes the manifest; it follows tar's
end-of-archive blocks (`tar --ignore-zeros` lists it). With file sums or a bandwidth
limit tar's output flows through tarstream.Reader, which parses its headers (hashing
the content, holding the reading back) while passing it on to the compressor, a buffer
at a time, large files by splice(2); the manifest is appended at the end.
"""

import contextlib
import dataclasses
import fcntl
import hashlib
import io
import json
import os
import select
import signal
import subprocess
import tarfile
import threading
import time

from hacontain.backup import tarlisting
from hacontain.backup.tarstream import BLOCK, Member, Reader, TarFormatError
from hacontain.errors import HacontainError, NotInstalled
from hacontain.sys import libc

SUFFIXES = {"zstd": ".tar.zst", "gzip": ".tar.gz", "none": ".tar"}
STDEXCLUDES = ("/tmp/?*", "/var/tmp/?*", "/var/run/?*.pid")     # vzdump's --stdexcludes
INFO, CONFIG, MANIFEST = "hacontain/info.json", "hacontain/config", "hacontain/manifest.json"
ROOTFS = "rootfs/"
RECORD = 10240                  # tar's record: the archive's length is a multiple of it
PIPE_SIZE = 1 << 20             # fewer wake-ups between tar, the reader and the compressor
# (not between tar and the compressor alone: on a busy machine tar -> zstd -T0 through
# a pipe of 1 MiB ran at 0.75-0.8x the speed of the default 64 KiB, at the same CPU time)
PROGRESS_POLL = 0.2             # s between looks at how much tar read
_PR_SET_PDEATHSIG = 1
_MAGIC = {b"\x28\xb5\x2f\xfd": "zstd", b"\x1f\x8b": "gzip"}


class ArchiveError(HacontainError):
    """A backup archive cannot be written, or is not a whole, intact hacontain archive."""


@dataclasses.dataclass
class Settings:
    """How to write: compressor and its threads (0: one per core), --exclude-path globs
    (a leading / anchors at the container's root, else any directory), bandwidth limit
    in KiB/s of the tree read, ionice level 0-7 (best effort) or 8 (idle), `checksums`:
    the sha256 of every file in the manifest (see sums_files)."""
    compress: str = "zstd"
    threads: int = 0
    excludes: tuple = ()
    bwlimit: int | None = None
    ionice: int | None = None
    checksums: bool = False


@dataclasses.dataclass
class Written:
    members: int
    read: int        # bytes of the tar stream (the tree)
    written: int     # bytes of the archive file
    warnings: list


def tar_command(root, settings, listing_fd=None):
    """GNU tar writing the tree `root` as `rootfs/...` on stdout; with `listing_fd`, its
    listing of every member to that file descriptor (tarlisting)."""
    argv = ["tar", "-c", "-f", "-", "--format=posix", "--blocking-factor=2048",
            "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls", "--sparse",
            "--sparse-version=1.0", "--pax-option=delete=atime,delete=ctime",
            "--one-file-system", "--warning=no-file-ignored",
            r"--transform=s,^\.,rootfs,S"]
    anchored = [glob for glob in settings.excludes if glob.startswith("/")]
    floating = [glob for glob in settings.excludes if not glob.startswith("/")]
    argv += ["--anchored"] + [f"--exclude=.{glob}" for glob in anchored]
    argv += ["--no-anchored"] + [f"--exclude={glob}" for glob in floating]
    if listing_fd is not None:
        argv += [*tarlisting.OPTIONS, f"--index-file=/dev/fd/{listing_fd}"]
    argv += ["-C", str(root), "."]
    if settings.ionice is not None:
        argv = (["ionice", "-c", "3"] if settings.ionice >= 8 else
                ["ionice", "-c", "2", "-n", str(settings.ionice)]) + argv
    return argv


def compressor_command(settings):
    if settings.compress == "zstd":
        return ["zstd", "-q", "-c", "--check", f"-T{settings.threads}"]
    if settings.compress == "gzip":
        return ["gzip", "-c"]
    return None


def sums_files(settings):
    """Whether the manifest holds the sha256 of every file: asked for (--checksums), or
    no compressor, whose checksum covers the content otherwise (zstd's XXH64, gzip's
    CRC-32, both checked on every decompression)."""
    return settings.checksums or compressor_command(settings) is None


def write(root, files, output, settings, on_read=None):
    """Write the archive of tree `root` to binary file `output`: the members `files`
    ({path: bytes}, e.g. INFO and CONFIG) first, then the tree, then the manifest.
    on_read(n) is called for every n bytes of the tree read (progress).

    tar writes straight into the compressor, and lists what it wrote for the manifest
    (the manifest then follows tar's end-of-archive blocks); with file sums or a
    bandwidth limit its output goes through tarstream.Reader instead (hashing,
    holding back), which leaves its end-of-archive blocks out."""
    relayed = sums_files(settings) or settings.bwlimit
    compressor = start_process(compressor_command(settings), widen=relayed,
                               stdin=subprocess.PIPE, stdout=output)
    processes = [compressor] if compressor else []
    sink = CountingWriter(compressor.stdin if compressor else output)
    try:
        records = []
        for path, data in files.items():
            sink.write(_member_bytes(path, data))
            records.append(Member(path, "file", len(data), "", hashlib.sha256(data).hexdigest()))
        tree, warnings = (_relayed if relayed else _direct)(root, sink, settings, on_read,
                                                             processes, compressor)
        records += tree
        manifest = json.dumps({"format": 1, "members": [m.record() for m in records]},
                              separators=(",", ":")).encode()
        ending = _member_bytes(MANIFEST, manifest) + bytes(2 * BLOCK)
        sink.write(ending + bytes(-(sink.count + len(ending)) % RECORD))
        if compressor:
            compressor.stdin.close()
            stderr = compressor.stderr.read().decode(errors="replace")
            if compressor.wait() != 0:
                raise ArchiveError(f"{compressor.args[0]} failed: "
                                   f"{last_line(stderr.splitlines())}")
        read = sum(member.size for member in tree if member.type == "file")
        return Written(len(records) + 1, read, _size(output), warnings)
    except BrokenPipeError:
        raise _compressor_failure(compressor) from None
    except TarFormatError as exc:
        raise ArchiveError(f"tar's output of {root}: {exc}") from None
    except tarlisting.ListingError as exc:
        raise ArchiveError(f"archiving {root}: {exc}") from None
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def _direct(root, sink, settings, on_read, processes, compressor):
    """tar of `root` writing into `sink`'s file descriptor (the compressor's pipe), its
    listing into a memory file, read as it grows every PROGRESS_POLL (nothing wakes this
    process up in between, and little of it is left to read when tar ends: the
    compressor waits for the manifest); (the tree's Members, tar's warnings)."""
    listing_fd = os.memfd_create("hacontain-backup-listing")
    listing = tarlisting.Listing(lambda path: ROOTFS[:-1] + path.removeprefix("."))
    with open(listing_fd, "rb") as listed:
        tar = start_process(tar_command(root, settings, listing_fd), stdout=sink.fd,
                            stderr=subprocess.PIPE, pass_fds=(listing_fd,),
                            env={**os.environ, **tarlisting.ENVIRONMENT},
                            preexec_fn=_die_with_parent)
        processes.insert(0, tar)
        errors = StderrLines(tar.stderr)
        progress = _ReadProgress(tar.pid, on_read)
        ended = os.pidfd_open(tar.pid)
        try:
            while not select.select([ended], [], [], PROGRESS_POLL)[0]:
                progress.poll()
                listing.feed(listed.read())
            progress.poll()                   # its last reads (not reaped yet)
        finally:
            os.close(ended)
        status = tar.wait()
        errors.join()
        _check_tar(root, status, errors.lines, compressor)
        listing.feed(listed.read())
    listing.close()
    return listing.members, errors.lines


def _relayed(root, sink, settings, on_read, processes, compressor):
    """tar of `root` read by tarstream.Reader on its way to `sink` (hashing when the
    manifest sums files, held to --bwlimit); (the tree's Members, tar's warnings)."""
    tar = start_process(tar_command(root, settings), stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)
    processes.insert(0, tar)
    errors = StderrLines(tar.stderr)
    reader = Reader(tar.stdout.raw, _Limiter(settings.bwlimit, on_read), copy_to=sink,
                    digests=sums_files(settings))
    members = list(reader.members(lambda path: None, trusted=True))
    status = tar.wait()
    errors.join()
    _check_tar(root, status, errors.lines, compressor)
    return members, errors.lines


def _check_tar(root, status, lines, compressor):
    """ArchiveError for a failed tar (exit 1: a file changed while read, a warning);
    the compressor's own failure when it broke tar's pipe (a full disk)."""
    if status in (0, 1):
        return
    if compressor is not None and compressor.poll() is not None:
        raise _compressor_failure(compressor)
    raise ArchiveError(f"tar of {root} failed (exit {status}): "
                       f"{tar_error(lines) or 'no message'}")


class CountingWriter(io.RawIOBase):
    """A raw writer over a file (each write whole), counting the bytes written."""

    def __init__(self, target):
        super().__init__()
        self.fd = target if isinstance(target, int) else target.fileno()
        self.count = 0

    def writable(self):
        return True

    def write(self, data):
        view, size = memoryview(data), len(data)
        while view:
            view = view[os.write(self.fd, view):]
        self.count += size
        return size

    def splice(self, source, size):
        """Up to `size` bytes from file descriptor `source` (splice(2): one end a
        pipe); how many (0 at its end)."""
        count = os.splice(source, self.fd, size)
        self.count += count
        return count


def _compressor_failure(compressor):
    if compressor is None:
        return ArchiveError("writing the archive failed")
    compressor.wait()
    stderr = compressor.stderr.read().decode(errors="replace")
    return ArchiveError(f"{compressor.args[0]} failed: "
                        f"{last_line(stderr.splitlines()) or 'exited'}")


def _member_bytes(path, data):
    """A whole tar member (pax format): header and padded content."""
    info = tarfile.TarInfo(path)
    info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
    return info.tobuf(tarfile.PAX_FORMAT) + data + bytes(-len(data) % BLOCK)


def start_process(argv, widen=True, **kwargs):
    """Popen of `argv` (None for None), its data pipes widened to PIPE_SIZE if `widen`."""
    if argv is None:
        return None
    try:
        process = subprocess.Popen(argv, stdin=kwargs.pop("stdin", subprocess.DEVNULL),
                                   stderr=kwargs.pop("stderr", subprocess.PIPE), **kwargs)
    except FileNotFoundError:
        raise NotInstalled(f"{argv[0]} is not installed on this node") from None
    for pipe in (process.stdin, process.stdout):
        if pipe is not None and widen:
            try:
                fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            except OSError:
                pass                  # above /proc/sys/fs/pipe-max-size: the default
    return process


class StderrLines(threading.Thread):
    """Reads a process's stderr lines in the background (so it never blocks on it)."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream, self.lines = stream, []
        self.start()

    def run(self):
        for line in self.stream:
            self.lines.append(line.decode(errors="replace").rstrip())


def tar_error(lines):
    """The first error of tar's stderr lines (not its closing 'Exiting with failure')."""
    found = [line for line in lines if line.strip() and "Exiting with failure" not in line]
    return found[0] if found else last_line(lines)


def last_line(lines):
    lines = [line for line in lines if line.strip()]
    return lines[-1] if lines else ""


def _size(output):
    try:
        return os.fstat(output.fileno()).st_size
    except (OSError, AttributeError, io.UnsupportedOperation):
        return 0


def _die_with_parent():
    """In tar's child process: SIGKILL when the backup dies, so a backup killed outright
    leaves no tar writing on (tar writes into the compressor, not into the backup)."""
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class _ReadProgress:
    """on_read(n) for every n bytes process `pid` read (its rchar in /proc/PID/io)."""

    def __init__(self, pid, on_read):
        self.path, self.on_read, self.seen = f"/proc/{pid}/io", on_read, 0

    def poll(self):
        if self.on_read is None:
            return
        try:
            with open(self.path, "rb") as handle:
                total = int(handle.readline().split()[1])
        except (OSError, IndexError, ValueError):
            return                            # tar has ended, or /proc is not readable
        if total > self.seen:
            self.on_read(total - self.seen)
            self.seen = total


class _Limiter:
    """Called per read of the tree: progress, then a sleep when over --bwlimit."""

    def __init__(self, kib_per_s, on_read):
        self.rate = kib_per_s * 1024 if kib_per_s else None
        self.on_read, self.start, self.total = on_read, time.monotonic(), 0

    def __call__(self, size):
        self.total += size
        if self.on_read is not None:
            self.on_read(size)
        if self.rate:
            ahead = self.total / self.rate - (time.monotonic() - self.start)
            if ahead > 0:
                time.sleep(ahead)             # the limit itself: hold the reading back


def compression_of(path):
    """'zstd', 'gzip' or 'none', from the archive's first bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except FileNotFoundError:
        raise ArchiveError(f"{path}: no such archive") from None
    except IsADirectoryError:
        raise ArchiveError(f"{path}: is a directory, not an archive") from None
    except OSError as exc:
        raise ArchiveError(f"{path}: {exc.strerror}") from None
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return "none"


@contextlib.contextmanager
def reading(path):
    """The decompressed tar stream of archive `path` (a binary file). A failure inside
    is reported as the decompressor's own error when it failed (a corrupted or
    truncated archive), else as raised."""
    kind = compression_of(path)
    if kind == "none":
        with open(path, "rb", buffering=0) as handle:
            try:
                yield handle
            except TarFormatError as exc:
                raise ArchiveError(f"{path}: {exc}") from None
        return
    argv = ["zstd", "-q", "-d", "-c", path] if kind == "zstd" else ["gzip", "-d", "-c", path]
    process = start_process(argv, stdout=subprocess.PIPE)
    try:
        yield process.stdout
    except (TarFormatError, ArchiveError) as exc:
        stderr = _drain(process)
        if process.returncode != 0:
            raise _undecompressable(path, stderr) from None
        raise ArchiveError(f"{path}: {str(exc).removeprefix(path + ': ')}") from None
    except BaseException:
        _drain(process)
        raise
    else:
        stderr = _drain(process)
        if process.returncode != 0:
            raise _undecompressable(path, stderr)


def _drain(process):
    """Let the decompressor finish (or stop it), its last stderr line."""
    try:
        process.stdout.close()
        stderr = process.stderr.read().decode(errors="replace")
    finally:
        if process.poll() is None:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return last_line(line.removeprefix("zstd: ").strip() for line in stderr.splitlines())


def _undecompressable(path, message):
    detail = message.removeprefix(f"{path} : ").removeprefix(f"{path}: ")
    return ArchiveError(f"{path}: truncated or corrupted: {detail or 'cannot be decompressed'}")


def check_manifest(path, members, manifest):
    """ArchiveError naming the first member that differs from manifest bytes."""
    if manifest is None:
        raise ArchiveError(f"{path}: no manifest at its end: not a hacontain backup, or "
                           "truncated")
    try:
        expected = json.loads(manifest)["members"]
    except (ValueError, KeyError, TypeError):
        raise ArchiveError(f"{path}: its manifest is corrupted") from None
    found = [member.record() for member in members]
    for want, got in zip(expected, found):
        if "sha256" not in want:              # no sums: the compressor's checksum
            got.pop("sha256", None)
        if want != got:
            if want.get("path") != got["path"]:
                raise ArchiveError(f"{path}: {got['path']} where the manifest has "
                                   f"{want.get('path')}")
            what = "sha256" if want.get("sha256") != got.get("sha256") else "entry"
            raise ArchiveError(f"{path}: {got['path']}: {what} differs from the manifest")
    if len(expected) != len(found):
        raise ArchiveError(f"{path}: {len(found)} members, the manifest lists {len(expected)}")
