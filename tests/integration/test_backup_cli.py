"""Backups through the real CLI, as root: bad input (a dump directory that is missing
or fills up, a container that does not exist, a truncated or corrupted archive for
verify and restore, bad options) gets a one-line error, no traceback, and leaves
nothing behind; hooks see vzdump's phases; prune and the listing."""

import io
import json
import os
import shutil
import subprocess
import tarfile
import time

import pytest

from clitools import HACONTAIN, hacontain, mounts_below, unique_name
from hacontain.backup.tarstream import Reader, TarFormatError

pytestmark = pytest.mark.root


@pytest.fixture
def made(lxcpath, rundir, tmp_path):
    """(LXCPATH, dump directory, name of a stopped busybox container)."""
    name = unique_name("b")
    hacontain("-P", str(lxcpath), "create", name, "-t", "busybox")
    dumpdir = tmp_path / "dump"
    dumpdir.mkdir()
    yield str(lxcpath), str(dumpdir), name
    for entry in os.listdir(lxcpath):
        if (lxcpath / entry / "config").exists():
            hacontain("-P", str(lxcpath), "destroy", "-f", entry, check=False)


def failing(*args):
    """Run the CLI expecting a clean failure; its error line."""
    result = hacontain(*args, check=False)
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and result.stderr.splitlines()[-1] == errors[0], result.stderr
    return errors[0]


def backup(lxcpath, dumpdir, name, *extra):
    return hacontain("-P", lxcpath, "backup", name, "--dumpdir", dumpdir, *extra).stdout.strip()


def test_missing_dumpdir_and_container(made, tmp_path):
    lxcpath, dumpdir, name = made
    missing = tmp_path / "nowhere"
    line = failing("-P", lxcpath, "backup", name, "--dumpdir", str(missing))
    assert f"dump directory {missing} does not exist" in line
    assert not missing.exists()
    line = failing("-P", lxcpath, "backup", "nosuchct", "--dumpdir", dumpdir)
    assert "nosuchct" in line and "no config" in line
    assert os.listdir(dumpdir) == []
    line = failing("-P", lxcpath, "backup", "--dumpdir", dumpdir)
    assert "--all-running" in line
    line = failing("-P", lxcpath, "backup", name, "--dumpdir", dumpdir,
                   "--prune-backups", "keep-lots=2")
    assert "keep-lots" in line
    assert os.listdir(dumpdir) == []


def test_full_dumpdir_leaves_no_partial_archive(made, tmp_path):
    lxcpath, _, name = made
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)], check=True)
    try:
        line = failing("-P", lxcpath, "backup", name, "--dumpdir", str(small))
        assert f"dump directory {small} is full" in line
        assert os.listdir(small) == []
        assert not mounts_below(os.path.join(os.environ["HACONTAIN_RUNDIR"], name))
    finally:
        subprocess.run(["umount", str(small)], check=True)


@pytest.mark.parametrize("compress", ["zstd", "none"])
def test_truncated_or_corrupted_archive(made, compress):
    lxcpath, dumpdir, name = made
    path = backup(lxcpath, dumpdir, name, "--compress", compress)
    with open(path, "rb") as handle:
        whole = handle.read()
    # zstd: a byte of the compressed stream; none: a byte of a file's content (the
    # config's), which only the manifest can tell
    middle = len(whole) // 2 if compress == "zstd" else whole.index(b"lxc.uts.name = ")
    damaged = {
        "truncated": whole[:len(whole) // 2],
        "corrupted": whole[:middle] + bytes([whole[middle] ^ 0xFF]) + whole[middle + 1:],
    }
    for kind, data in damaged.items():
        bad = os.path.join(dumpdir, f"{kind}-" + os.path.basename(path))
        with open(bad, "wb") as handle:
            handle.write(data)
        line = failing("backup", "verify", bad)
        assert bad in line, line
        line = failing("-P", lxcpath, "restore", bad, "restored")
        assert bad in line, line
        assert sorted(os.listdir(lxcpath)) == [name], f"{kind}: restore left something"
    line = failing("backup", "verify", os.path.join(dumpdir, "corrupted-" + os.path.basename(path)))
    assert ("hacontain/config: sha256 differs from the manifest" if compress == "none" else
            "truncated or corrupted") in line, line
    assert "no such archive" in failing("backup", "verify", os.path.join(dumpdir, "nope.tar"))
    assert "no such archive" in failing("-P", lxcpath, "restore", "/nonexistent.tar.zst", "x")


def test_file_checksums(made):
    """By default the manifest has no sum of the tree's files (zstd's checksum covers the
    content); with --checksums it has their sha256, so even an archive edited and
    recompressed (a valid zstd checksum) fails verify, naming the file."""
    lxcpath, dumpdir, name = made
    for extra, summed in (((), False), (("--checksums",), True)):
        path = backup(lxcpath, dumpdir, name, *extra)
        tar = bytearray(subprocess.run(["zstd", "-d", "-c", path], capture_output=True,
                                       check=True).stdout)
        with tarfile.open(fileobj=io.BytesIO(tar), ignore_zeros=True) as members:
            info = json.load(members.extractfile("hacontain/info.json"))
            manifest = json.load(members.extractfile("hacontain/manifest.json"))
        entry = next(m for m in manifest["members"] if m["path"] == "rootfs/etc/passwd")
        assert info["file_sha256"] is summed and ("sha256" in entry) is summed, entry
        assert "ok:" in hacontain("backup", "verify", path).stdout
    at = tar.index(b"root:x:0:0:root:/root:/bin/sh\n")
    tar[at] ^= 0x20                                     # "Root:x:...", same size
    edited = os.path.join(dumpdir, "edited.tar.zst")
    subprocess.run(["zstd", "-q", "-o", edited], input=bytes(tar), check=True)
    line = failing("backup", "verify", edited)
    assert "rootfs/etc/passwd: sha256 differs from the manifest" in line, line
    line = failing("-P", lxcpath, "restore", edited, "restored")
    assert "rootfs/etc/passwd: sha256 differs" in line, line
    assert sorted(os.listdir(lxcpath)) == [name]


def test_restore_refuses_bad_names_and_backends(made):
    lxcpath, dumpdir, name = made
    path = backup(lxcpath, dumpdir, name)
    assert "exists" in failing("-P", lxcpath, "restore", path, name)
    line = failing("-P", lxcpath, "restore", path, "bad/name")
    assert "bad/name" in line
    assert sorted(os.listdir(lxcpath)) == [name]


def test_hooks_see_the_phases(made, tmp_path):
    lxcpath, dumpdir, name = made
    record = tmp_path / "phases"
    script = tmp_path / "hook"
    script.write_text(f"#!/bin/sh\necho \"$* $TARGET $HOSTNAME\" >> {record}\n"
                      f"[ \"$1\" != \"$FAIL\" ]\n")
    script.chmod(0o755)
    path = backup(lxcpath, dumpdir, name, "--script", str(script), "--mode", "stop")
    phases = record.read_text().splitlines()
    assert [line.split()[0] for line in phases] == [
        "job-start", "backup-start", "backup-end", "log-end", "job-end"]
    assert phases[1].split()[1:] == ["stop", name, path, name]
    record.unlink()
    os.environ["FAIL"] = "backup-start"
    try:
        line = failing("-P", lxcpath, "backup", name, "--dumpdir", dumpdir, "--script",
                       str(script))
    finally:
        del os.environ["FAIL"]
    assert "backup-start" in line
    assert [line.split()[0] for line in record.read_text().splitlines()] == [
        "job-start", "backup-start", "backup-abort", "job-abort"]
    assert sorted(os.listdir(dumpdir)) == sorted(
        [os.path.basename(path), os.path.basename(path)[:-len(".tar.zst")] + ".log"])
    assert "not executable" in failing("-P", lxcpath, "backup", name, "--dumpdir", dumpdir,
                                       "--script", str(tmp_path / "missing"))
    os.environ["FAIL"] = "backup-end"             # after the rename: the archive is whole
    try:
        line = failing("-P", lxcpath, "backup", name, "--dumpdir", dumpdir, "--script",
                       str(script))
    finally:
        del os.environ["FAIL"]
    assert "backup-end" in line
    assert len([f for f in os.listdir(dumpdir) if f.endswith(".tar.zst")]) == 2
    assert len([f for f in os.listdir(dumpdir) if f.endswith(".log")]) == 2
    assert not [f for f in os.listdir(dumpdir) if f.startswith(".")]


def test_prune_and_list(made):
    lxcpath, dumpdir, name = made
    path = backup(lxcpath, dumpdir, name, "--protected", "--notes", "keep me")
    older = []
    for day in (1, 2, 3):
        copy = os.path.join(dumpdir, f"hacontain-{name}-2026_01_0{day}-10_00_00.tar.zst")
        shutil.copy(path, copy)
        older.append(copy)
    listed = hacontain("backups", dumpdir).stdout
    assert listed.count(name) == 4 and "keep me" in listed and "yes" in listed
    dry = hacontain("backup", "prune", "--dumpdir", dumpdir, "--prune-backups", "keep-last=1",
                    "--dry-run").stdout
    assert dry.count("remove") == 2 and all(os.path.exists(p) for p in older)
    hacontain("backup", "prune", name, "--dumpdir", dumpdir, "--prune-backups", "keep-last=1")
    # the protected newest counts for no rule: keep-last=1 keeps the newest other one
    assert sorted(f for f in os.listdir(dumpdir) if f.endswith(".tar.zst")) == sorted(
        [os.path.basename(path), os.path.basename(older[2])])
    assert os.path.exists(path + ".protected") and os.path.exists(path + ".notes")
    assert "does not exist" in failing("backups", os.path.join(dumpdir, "nope"))


def test_all_running_backs_up_only_running_containers(made):
    lxcpath, dumpdir, name = made
    other = unique_name("b")
    hacontain("-P", lxcpath, "create", other, "-t", "busybox")
    quiet = hacontain("-P", lxcpath, "backup", "--all-running", "--dumpdir", dumpdir)
    assert quiet.returncode == 0 and "nothing to back up" in quiet.stderr
    hacontain("-P", lxcpath, "start", other)
    try:
        made_now = hacontain("-P", lxcpath, "backup", "--all-running", "--dumpdir", dumpdir,
                             "--prune-backups", "keep-last=1").stdout.split()
    finally:
        hacontain("-P", lxcpath, "stop", "-k", other)
    assert len(made_now) == 1 and f"hacontain-{other}-" in made_now[0]


def test_bwlimit_holds_the_reading_back_and_ionice_reaches_tar(made):
    """The limit is a floor on the time (never faster than KiB/s allows); tar runs at
    the asked I/O priority (seen with ionice -p while the limited backup runs)."""
    lxcpath, dumpdir, name = made
    rootfs = os.path.join(lxcpath, name, "rootfs")
    size = sum(os.lstat(os.path.join(folder, f)).st_size
               for folder, _, files in os.walk(rootfs) for f in files)
    started = time.monotonic()
    process = subprocess.Popen([*HACONTAIN, "-P", lxcpath, "backup", name, "--dumpdir",
                                dumpdir, "--bwlimit", "1024", "--ionice", "7"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    priority = None
    while process.poll() is None and priority is None:
        for tar in children_named(process.pid, "tar"):
            shown = subprocess.run(["ionice", "-p", str(tar)], capture_output=True, text=True)
            priority = shown.stdout.strip() or None
        time.sleep(0.05)
    out, err = process.communicate()
    elapsed = time.monotonic() - started
    assert process.returncode == 0, err
    assert priority == "best-effort: prio 7"
    assert elapsed >= size / (1024 * 1024) * 0.9, (elapsed, size)
    assert "verify" not in out and "ok:" in hacontain("backup", "verify", out.strip()).stdout


def children_named(pid, command):
    """PIDs of the descendants of `pid` whose command is `command`."""
    found, parents = [], {pid}
    for _ in range(3):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/comm", encoding="utf-8") as handle:
                    comm = handle.read().strip()
            except OSError:
                continue
            if int(fields[1]) in parents:
                parents.add(int(entry))
                if comm == command:
                    found.append(int(entry))
    return found


def test_restore_onto_a_loop_volume(made):
    lxcpath, dumpdir, name = made
    with open(os.path.join(lxcpath, name, "rootfs", "marker"), "w", encoding="utf-8") as handle:
        handle.write("on a loop volume\n")
    path = backup(lxcpath, dumpdir, name)
    copy = unique_name("r")
    hacontain("-P", lxcpath, "restore", path, copy, "-B", "loop", "--fssize", "64M")
    with open(os.path.join(lxcpath, copy, "config"), encoding="utf-8") as handle:
        assert f"lxc.rootfs.path = loop:{lxcpath}/{copy}/rootdev" in handle.read()
    hacontain("-P", lxcpath, "start", copy)
    try:
        assert hacontain("-P", lxcpath, "attach", copy, "--", "/bin/cat",
                         "/marker").stdout == "on a loop volume\n"
    finally:
        hacontain("-P", lxcpath, "stop", "-k", copy)
    with open(os.path.join(lxcpath, name, "rootfs", "big"), "wb") as handle:
        handle.write(os.urandom(80 << 20))            # more than a 64M volume holds
    path = backup(lxcpath, dumpdir, name, "--compress", "none")
    line = failing("-P", lxcpath, "restore", path, unique_name("r"), "-B", "loop", "--fssize",
                   "64M")
    assert "the new rootfs is full" in line, line
    assert sorted(os.listdir(lxcpath)) == sorted([name, copy])


RANDOM = 48 << 20


def start_slow_backup(lxcpath, dumpdir, name, direct):
    """A backup caught while tar runs, once its temporary archive exists; (the backup's
    process, the pids of its tar and compressor, how far tar had read the file `random`
    when caught reading it). `direct`: tar writing straight into gzip (slow on RANDOM
    bytes of random data), else through the reader held back by --bwlimit."""
    extra = ["--bwlimit", "256"]
    if direct:
        with open(os.path.join(lxcpath, name, "rootfs", "random"), "wb") as handle:
            handle.write(os.urandom(RANDOM))
        extra = ["--compress", "gzip"]
    process = subprocess.Popen([*HACONTAIN, "-P", lxcpath, "backup", name, "--dumpdir",
                                dumpdir, *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    tars = compressors = None
    while not (tars and compressors and any(f.endswith(".partial") and ".tar." in f
                                            for f in os.listdir(dumpdir))
               and (not direct or read_so_far(tars[0], "/random") is not None)):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        tars = children_named(process.pid, "tar")
        compressors = children_named(process.pid, "gzip" if direct else "zstd")
        time.sleep(0.02)
    return process, set(tars + compressors), direct and read_so_far(tars[0], "/random")


def read_so_far(pid, suffix):
    """The offset of process `pid` in the file it has open whose path ends with
    `suffix`, or None."""
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            if os.readlink(f"/proc/{pid}/fd/{fd}").endswith(suffix):
                with open(f"/proc/{pid}/fdinfo/{fd}", encoding="utf-8") as handle:
                    return int(handle.readline().split()[1])
    except OSError:
        pass
    return None


def wait_gone(pid):
    """Wait until process `pid` has ended (at most 30 s)."""
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{pid}") and _state(pid) != "Z":
        assert time.monotonic() < deadline, f"process {pid} still runs"
        time.sleep(0.02)


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


@pytest.mark.parametrize("direct", [True, False], ids=["tar-to-compressor", "through-reader"])
def test_interrupted_backup_leaves_no_partial_archive(made, direct):
    lxcpath, dumpdir, name = made
    process, workers, _ = start_slow_backup(lxcpath, dumpdir, name, direct)
    process.terminate()
    _, err = process.communicate(timeout=30)
    assert process.returncode != 0 and "Traceback" not in err, err
    for pid in workers:
        wait_gone(pid)
    assert os.listdir(dumpdir) == []
    assert not mounts_below(os.path.join(os.environ["HACONTAIN_RUNDIR"], name))
    assert not os.path.exists(os.path.join(os.environ["HACONTAIN_RUNDIR"], name, "backup.json"))


@pytest.mark.parametrize("direct", [True, False], ids=["tar-to-compressor", "through-reader"])
def test_killed_backup_leaves_only_a_temporary_name_that_the_next_removes(made, direct):
    """Killed outright: tar ends with it (also when it writes into the compressor, not
    into the backup: it dies with its parent, in the middle of the file it reads, not
    at its next member), so the temporary archive the compressor closes holds a tar
    stream cut short; that name is left for the next backup."""
    lxcpath, dumpdir, name = made
    process, workers, caught_at = start_slow_backup(lxcpath, dumpdir, name, direct)
    process.kill()
    process.communicate(timeout=30)
    for pid in workers:
        wait_gone(pid)
    left = os.listdir(dumpdir)
    assert left and all(f.startswith(".") and f.endswith(".partial") for f in left), left
    partial = os.path.join(dumpdir, next(f for f in left if ".tar." in f))
    stream = subprocess.run(["gzip" if direct else "zstd", "-d", "-c", partial],
                            capture_output=True, check=True).stdout
    with pytest.raises(TarFormatError, match="truncated"):
        list(Reader(io.BytesIO(stream)).members(lambda path: None))
    if caught_at is not None and caught_at < RANDOM // 2:
        found = stream.find(b"rootfs/random")          # not there: in tar's last record
        archived = len(stream) - found if found >= 0 else 0
        assert archived < caught_at + (8 << 20), (caught_at, archived)
    assert "no backups" in hacontain("backups", dumpdir).stdout
    path = backup(lxcpath, dumpdir, name)
    assert sorted(os.listdir(dumpdir)) == sorted(
        [os.path.basename(path), os.path.basename(path)[:-len(".tar.zst")] + ".log"])


def test_excludes_anchored_floating_and_standard(made):
    lxcpath, dumpdir, name = made
    rootfs = os.path.join(lxcpath, name, "rootfs")
    for path in ("data/skip.log", "data/keep.txt", "data/sub/old.bak", "var/tmp/scratch",
                 "tmp/junk", "var/run/app.pid", "other/data/skip.log"):
        os.makedirs(os.path.dirname(os.path.join(rootfs, path)), exist_ok=True)
        with open(os.path.join(rootfs, path), "w", encoding="utf-8") as handle:
            handle.write(path)

    def members(*options):
        path = backup(lxcpath, dumpdir, name, "--compress", "none", *options)
        listed = subprocess.run(["tar", "-tf", path], check=True, capture_output=True,
                                text=True).stdout.split()
        os.unlink(path)
        return {member.removeprefix("rootfs/").rstrip("/") for member in listed}

    found = members("--exclude-path", "/data/skip*", "--exclude-path", "*.bak")
    assert "data/keep.txt" in found and "other/data/skip.log" in found   # / anchors
    assert not {"data/skip.log", "data/sub/old.bak"} & found
    assert not {"var/tmp/scratch", "tmp/junk", "var/run/app.pid"} & found   # --stdexcludes
    assert {"tmp", "var/tmp"} <= found                                   # the dirs stay
    found = members("--no-stdexcludes")
    assert {"var/tmp/scratch", "tmp/junk", "var/run/app.pid", "data/skip.log"} <= found
