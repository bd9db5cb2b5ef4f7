"""The streaming tar reader behind backup, verify and restore (backup.tarstream) on
archives Python's tarfile writes (ustar, GNU long names, pax), tar's listing read into
the manifest (backup.tarlisting) against what the real GNU tar writes for odd names,
and the progress display (backup.progress)."""

import hashlib
import io
import json
import os
import tarfile
import threading

import pytest

from hacontain.backup import archive as backup_archive
from hacontain.backup import progress, tarlisting, tarstream, verify
from hacontain.backup.tarstream import Member, Reader, TarFormatError

LONG = "d/" + "x" * 150 + "/file-with-a-long-name"


def archive(fmt):
    """A tar of every member kind, in tarfile format `fmt`; {path: content}."""
    buffer, contents = io.BytesIO(), {}
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for path, data in (("a", b"hello\n"), (LONG, b"long\n" * 1000),
                           ("big", bytes(range(256)) * 9000), ("empty", b"")):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            contents[path] = data
        for path, kind, link in (("dir", tarfile.DIRTYPE, ""), ("sym", tarfile.SYMTYPE, "a"),
                                 ("hard", tarfile.LNKTYPE, LONG), ("null", tarfile.CHRTYPE, "")):
            info = tarfile.TarInfo(path)
            info.type, info.linkname = kind, link
            tar.addfile(info)
    return buffer.getvalue(), contents


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_members_paths_types_and_sums(fmt):
    if fmt == tarfile.USTAR_FORMAT:       # ustar: a long name goes to the prefix field
        data, contents = archive_without_long_link(fmt)
    else:
        data, contents = archive(fmt)
    forwarded = []
    members = list(Reader(io.BytesIO(data)).members(lambda path: copier(forwarded)))
    files = {m.path: m for m in members if m.type == "file"}
    assert set(files) == set(contents)
    for path, content in contents.items():
        assert files[path].sha256 == hashlib.sha256(content).hexdigest()
        assert files[path].size == len(content)
    kinds = {m.path.rstrip("/"): (m.type, m.linkname) for m in members if m.type != "file"}
    assert kinds["dir"][0] == "dir" and kinds["sym"] == ("symlink", "a")
    assert kinds["null"][0] == "char"
    passed = b"".join(forwarded)                        # every byte before the end blocks
    assert data.startswith(passed) and not data[len(passed):].strip(b"\0")


def copier(pieces):
    """A sink keeping copies (a sink gets views of the reader's reused buffer)."""
    return lambda piece: pieces.append(bytes(piece))


def archive_without_long_link(fmt):
    data, contents = archive(tarfile.PAX_FORMAT)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data)) as source, \
            tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for info in source.getmembers():
            if info.type == tarfile.LNKTYPE:
                continue
            tar.addfile(info, source.extractfile(info) if info.isfile() else None)
    return buffer.getvalue(), contents


def test_kept_content_and_a_dropped_member():
    data, contents = archive(tarfile.PAX_FORMAT)
    sink = []
    members = list(Reader(io.BytesIO(data)).members(
        lambda path: None if path == "big" else copier(sink), keep=("a",)))
    assert next(m for m in members if m.path == "a").content == b"hello\n"
    assert bytes(range(256)) * 9000 not in b"".join(sink)


class Trickle(io.RawIOBase):
    """A source giving at most `step` bytes per read (a slow pipe): headers and contents
    straddle the reader's buffer refills."""

    def __init__(self, data, step):
        super().__init__()
        self.data, self.step, self.position = data, step, 0

    def readable(self):
        return True

    def readinto(self, target):
        piece = self.data[self.position:self.position + min(self.step, len(target))]
        target[:len(piece)] = piece
        self.position += len(piece)
        return len(piece)


class Collector:
    """A copy_to writer keeping what it gets."""

    def __init__(self):
        self.pieces = []

    def write(self, view):
        self.pieces.append(bytes(view))

    def splice(self, source, size):
        raise AssertionError("no splice while hashing")


@pytest.mark.parametrize("step", [97, 511, 7001, 1 << 20])
def test_copy_to_gets_the_stream_in_order(step):
    data, contents = archive(tarfile.PAX_FORMAT)
    copied = Collector()
    reader = Reader(Trickle(data, step), copy_to=copied)
    members = list(reader.members(lambda path: None))
    passed = b"".join(copied.pieces)                    # every byte before the end blocks
    assert data.startswith(passed) and not data[len(passed):].strip(b"\0")
    if step == 1 << 20:                                 # a write per read, not per member
        assert len(copied.pieces) <= len(data) // tarstream.READ + 1
    sums = {m.path: m.sha256 for m in members if m.type == "file"}
    assert sums == {path: hashlib.sha256(content).hexdigest()
                    for path, content in contents.items()}


def test_without_digests_large_content_is_spliced(tmp_path):
    data, contents = archive(tarfile.PAX_FORMAT)
    read_end, write_end = os.pipe()
    feeder = threading.Thread(target=lambda: (os.write(write_end, data), os.close(write_end)))
    feeder.start()
    try:
        with open(read_end, "rb", buffering=0) as source, \
                open(tmp_path / "out", "wb") as output:
            writer = backup_archive.CountingWriter(output)
            spliced = []
            splice = writer.splice
            writer.splice = lambda fd, size: spliced.append(splice(fd, size)) or spliced[-1]
            members = list(Reader(source, copy_to=writer, digests=False).members(
                lambda path: None))
    finally:
        feeder.join()
    passed = (tmp_path / "out").read_bytes()
    assert data.startswith(passed) and not data[len(passed):].strip(b"\0")
    assert writer.count == len(passed) and sum(spliced) > 0      # "big" (2.3 MB) by splice
    files = {m.path: (m.size, m.sha256) for m in members if m.type == "file"}
    assert files == {path: (len(content), None) for path, content in contents.items()}


def test_manifest_without_sums_checks_the_entries():
    member = Member("rootfs/a", "file", 6, "", hashlib.sha256(b"hello\n").hexdigest())
    summed = json.dumps({"members": [member.record()]}).encode()
    unsummed = json.dumps({"members": [{"path": "rootfs/a", "type": "file", "size": 6}]})
    backup_archive.check_manifest("x", [member], summed)
    backup_archive.check_manifest("x", [member], unsummed.encode())
    with pytest.raises(backup_archive.ArchiveError, match="rootfs/a: entry differs"):
        backup_archive.check_manifest("x", [Member("rootfs/a", "file", 7, "", None)],
                                      unsummed.encode())
    with pytest.raises(backup_archive.ArchiveError, match="rootfs/a: sha256 differs"):
        backup_archive.check_manifest("x", [Member("rootfs/a", "file", 6, "", "0" * 64)],
                                      summed)


@pytest.mark.parametrize("cut", [100, 700, 5000, "before the end blocks"])
def test_truncated_stream(cut):
    data, _ = archive(tarfile.PAX_FORMAT)
    if not isinstance(cut, int):
        passed = []
        list(Reader(io.BytesIO(data)).members(lambda path: copier(passed)))
        cut = len(b"".join(passed))
    with pytest.raises(TarFormatError, match="truncated"):
        list(Reader(io.BytesIO(data[:cut])).members(lambda path: None))


def test_corrupted_header():
    data, _ = archive(tarfile.PAX_FORMAT)
    damaged = bytearray(data)
    damaged[3] ^= 0x20                                  # the first header's name
    with pytest.raises(TarFormatError, match="checksum"):
        list(Reader(io.BytesIO(bytes(damaged))).members(lambda path: None))


def test_archives_one_after_the_other_read_as_one():
    """A backup's manifest follows the end of tar's own archive (its zero blocks and
    padding): read on, the zeros given to no sink."""
    first, _ = archive(tarfile.PAX_FORMAT)
    second, _ = archive(tarfile.GNU_FORMAT)
    passed = []
    members = list(Reader(io.BytesIO(first + second)).members(lambda path: copier(passed)))
    assert [m.path for m in members] == 2 * [m.path for m in Reader(
        io.BytesIO(first)).members(lambda path: None)]
    assert b"\0" * 1024 not in b"".join(passed)


ODD_NAMES = [b"with space", b"new\nline", b"back\\slash", b'q"uote', b"a -> b",
             b"x link to y", b"tab\tname", b"not utf-8 \xff\xfe", "ünïcode".encode(),
             b"bell\a and del\x7f", b"?? trigraph", b"l" * 200]


def odd_tree(root):
    """A tree whose every name and link target is one tar's listing must quote."""
    for name in ODD_NAMES:
        folder = os.path.join(root, b"dir " + name)
        os.makedirs(folder)
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(name * 3)
        os.symlink(name + b" target", os.path.join(folder, b"sym " + name))
        os.link(os.path.join(folder, name), os.path.join(folder, b"hard " + name))
    with open(os.path.join(root, b"sparse"), "wb") as handle:
        handle.truncate(8 << 20)
        handle.seek(3 << 20)
        handle.write(b"island")


@pytest.mark.parametrize("compress", ["gzip", "zstd"])
def test_manifest_from_tars_listing_matches_the_archive(tmp_path, compress):
    """The real GNU tar writing straight into the compressor: the manifest made from
    its listing is member for member what verify reads back from the archive, and has
    every name of the tree exactly (bytes as on disk)."""
    tree = os.fsencode(tmp_path / "tree")
    odd_tree(tree)
    path = str(tmp_path / f"out{backup_archive.SUFFIXES[compress]}")
    seen = []
    with open(path, "wb") as output:
        written = backup_archive.write(os.fsdecode(tree), {backup_archive.CONFIG: b"config\n"},
                                       output, backup_archive.Settings(compress=compress),
                                       seen.append)
    checked = verify.verify(path)
    assert checked.members == written.members - 1 and sum(seen) > 0
    with backup_archive.reading(path) as stream:
        members = list(Reader(stream).members(lambda p: None, keep=(backup_archive.MANIFEST,)))
    manifest = json.loads(members[-1].content)["members"]
    assert "sha256" not in manifest[-1]
    expected = {os.fsdecode(b"rootfs/" + os.path.relpath(os.path.join(folder, name), tree))
                for folder, dirs, files in os.walk(tree) for name in dirs + files}
    assert {m["path"].rstrip("/") for m in manifest[1:]} == expected | {"rootfs"}
    links = {m["path"]: m.get("link") for m in manifest if m["type"] != "file"}
    assert links["rootfs/dir with space/sym with space"] == "with space target"
    pairs = [{m["path"], m["link"]} for m in manifest if m["type"] == "hardlink"]
    assert sorted(map(sorted, pairs)) == sorted(sorted(
        {f"rootfs/dir {name}/{name}", f"rootfs/dir {name}/hard {name}"})
        for name in map(os.fsdecode, ODD_NAMES))
    assert next(m for m in manifest if m["path"] == "rootfs/sparse")["size"] == 8 << 20


def test_listing_lines_it_does_not_know_are_errors():
    line = rb'-rw-r--r--* 0/0   5 2026-01-01 00:00 "./a\\b\303\274\n\""'
    assert tarlisting.member(line).record() == {"path": './a\\bü\n"', "type": "file", "size": 5}
    for bad in (b'srw-r--r--  0/0   0 2026-01-01 00:00 "./socket"',
                b'-rw-r--r--  0/0   5 2026-01-01 00:00 ./unquoted',
                b'lrwxrwxrwx  0/0   0 2026-01-01 00:00 "./sym"',
                rb'-rw-r--r--  0/0   5 2026-01-01 00:00 "./a\qb"'):
        with pytest.raises(tarlisting.ListingError):
            tarlisting.member(bad)
    listing = tarlisting.Listing(str)
    listing.feed(line + b"\n" + line[:20])
    with pytest.raises(tarlisting.ListingError, match="ends inside a line"):
        listing.close()


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_progress_bar_on_a_terminal(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    screen, lines = io.StringIO(), []
    shown = progress.Progress(lines.append, screen, total=4 << 20)
    clock.now += 1
    shown.advance(2 << 20)
    assert screen.getvalue().startswith("\r[" + "#" * 15 + "-" * 15 + "] 2.0 MiB read (50%), "
                                        "2.0 MiB/s")
    shown.finish()
    assert screen.getvalue().endswith("\r\x1b[K") and lines == []


def test_progress_lines_without_a_terminal(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    lines = []
    shown = progress.Progress(lines.append, None, total=None)
    shown.advance(1 << 20)
    assert lines == []                                  # not before INTERVAL
    clock.now += progress.INTERVAL
    shown.advance(1 << 20)
    assert lines == ["progress: 2.0 MiB read, 204.8 KiB/s"]          # 2 MiB in 10 s
