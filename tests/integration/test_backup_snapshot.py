"""Consistent views for backups on the real kernel (hacontain/backup/snapshot.py and
registry.py): snapshot mode on a btrfs rootfs (a btrfs filesystem on a loop device the
test makes) with a process writing inside, the freeze window logged; the fallback to
suspend on a dir rootfs; suspend's frozen second pass; stop mode, refused for a
container the agent started; a backup interrupted (SIGTERM, SIGKILL) leaves no
snapshot, mount or frozen cgroup, or the next run and a stop clean up; the agent's
stop and start abort a running backup; a container its admin froze stays frozen. The
backups are `hacontain backup` (at --bwlimit where one must be caught halfway), or
tests/integration/backup_driver.py where a test needs the view held open at a given
point (the view archived with tar)."""

import json
import os
import re
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from clitools import HACONTAIN, mounts_below, unique_name
from test_storage import agent, btrfs_dir, cli, containers, wait_until  # noqa: F401 (fixtures)

pytestmark = pytest.mark.root

DRIVER = Path(__file__).with_name("backup_driver.py")
COUNTER = ("setsid sh -c 'i=0; while true; do i=$((i+1)); echo $i >> /log; "
           "echo $i > /c.tmp; mv /c.tmp /c; done' </dev/null >/dev/null 2>&1 &")


class Backup:
    """backup_driver.py running in the background; its stdout read line by line."""

    def __init__(self, name, lxcpath, mode, archive, hold=""):
        self.process = subprocess.Popen(
            [sys.executable, str(DRIVER), name, str(lxcpath), mode, str(archive), hold],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []

    def wait_for(self, prefix):
        """Read until a line starting with `prefix` (AssertionError if it exits first)."""
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith(prefix):
                return line.rstrip("\n")
        raise AssertionError(f"the backup ended without {prefix!r}: {self.finish()}")

    def finish(self, timeout=120):
        out, err = self.process.communicate(timeout=timeout)
        self.lines += out.splitlines()
        return self.process.returncode, "\n".join(self.lines), err


class SlowBackup:
    """`hacontain backup NAME --mode snapshot` at --bwlimit 256 KiB/s, in the background;
    its stderr (the log) read line by line."""

    def __init__(self, name, lxcpath, dumpdir):
        self.process = subprocess.Popen(
            HACONTAIN + ["backup", "-P", str(lxcpath), name, "--mode", "snapshot", "--dumpdir",
                         str(dumpdir), "--compress", "none", "--bwlimit", "256"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []

    def wait_for(self, text):
        for line in self.process.stderr:
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"the backup ended without {text!r}: {''.join(self.lines)}")

    def finish(self, timeout=120):
        self.lines.append(self.process.communicate(timeout=timeout)[1])
        return self.process.returncode, "".join(self.lines)


def big_btrfs_container(lxcpath, names):
    """A running btrfs container with 8 MiB of data: 30 s to back up at 256 KiB/s."""
    name = btrfs_container(lxcpath, names, counter=False)
    cli(lxcpath, "attach", name, "--", "/bin/sh", "-c",
        "dd if=/dev/urandom of=/data bs=1M count=8 2>/dev/null && sync")
    return name


def hacontain_backup(lxcpath, name, mode, dumpdir):
    """`hacontain backup` to an uncompressed archive in `dumpdir`; (its log, the archive)."""
    done = cli(lxcpath, "backup", name, "--mode", mode, "--dumpdir", str(dumpdir),
               "--compress", "none")
    [archive] = [dumpdir / path for path in os.listdir(dumpdir) if path.endswith(".tar")]
    return done.stderr, archive


def run_backup(name, lxcpath, mode, archive):
    code, out, err = Backup(name, lxcpath, mode, archive).finish()
    assert code == 0, f"backup failed: {out}\n{err}"
    return out


def read_member(archive, member):
    with tarfile.open(archive) as tar:
        return tar.extractfile(member).read().decode()


def state_of(lxcpath, name):
    return json.loads(cli(lxcpath, "info", "--json", name).stdout)["state"]


def hcbackup_subvolumes(filesystem):
    listing = subprocess.run(["btrfs", "subvolume", "list", str(filesystem)],
                             capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if ".hcbackup-" in line]


def assert_nothing_left(lxcpath, rundir, name, filesystem=None):
    """No snapshot, no mount, no frozen cgroup, no record of a backup."""
    if filesystem is not None:
        assert hcbackup_subvolumes(filesystem) == []
    assert mounts_below(rundir) == [] and mounts_below(lxcpath) == []
    assert not (rundir / name / "backup.json").exists()
    assert not (rundir / name / ".hcbackup-root").exists()
    if (lxcpath / name).exists() and state_of(lxcpath, name) != "STOPPED":
        assert state_of(lxcpath, name) == "RUNNING"


@pytest.fixture
def on_btrfs(btrfs_dir, rundir):
    """(LXCPATH on a test-made btrfs filesystem, names made there: destroyed at teardown)."""
    lxcpath = btrfs_dir / "lxc"
    lxcpath.mkdir()
    names = []
    yield lxcpath, names
    for name in names:
        cli(lxcpath, "destroy", "-f", name, check=False)
    assert [name for name in names if (lxcpath / name).exists()] == []


def btrfs_container(lxcpath, names, counter=True):
    name = unique_name()
    names.append(name)
    cli(lxcpath, "create", name, "-t", "busybox", "-B", "btrfs")
    cli(lxcpath, "start", name)
    if counter:
        cli(lxcpath, "attach", name, "--", "/bin/sh", "-c", COUNTER)
        assert wait_until(lambda: (lxcpath / name / "rootfs" / "c").exists())
    return name


def test_snapshot_mode_on_btrfs_is_consistent_and_logs_the_freeze_window(on_btrfs, rundir,
                                                                          tmp_path):
    lxcpath, names = on_btrfs
    name = btrfs_container(lxcpath, names)
    log, archive = hacontain_backup(lxcpath, name, "snapshot", tmp_path)
    assert "backup mode: snapshot" in log and f"archiving {lxcpath}/{name}/.hcbackup-{name}" in log
    window = re.search(r"freeze window ([0-9.]+) ms \(freeze, btrfs snapshot", log)
    assert window and 0 < float(window.group(1)) < 60000, log
    info = json.loads(read_member(archive, "hacontain/info.json"))
    assert f"{info['freeze_ms']:.1f}" == window.group(1) and info["mode"] == "snapshot"
    counted = [int(line) for line in read_member(archive, "rootfs/log").split()]
    assert counted == list(range(1, len(counted) + 1))      # every write whole, in order
    assert int(read_member(archive, "rootfs/c")) in (counted[-1], counted[-1] - 1)
    assert_nothing_left(lxcpath, rundir, name, lxcpath.parent)
    before = len((lxcpath / name / "rootfs" / "log").read_text().split())
    assert wait_until(lambda: len((lxcpath / name / "rootfs" / "log").read_text().split())
                      > before), "the counter stopped: the container was left frozen"

def test_snapshot_mode_on_a_dir_rootfs_falls_back_to_suspend(lxcpath, containers, rundir,
                                                             tmp_path):
    name = unique_name()
    containers.append(name)
    cli(lxcpath, "create", name, "-t", "busybox")
    cli(lxcpath, "start", name)
    cli(lxcpath, "attach", name, "--", "/bin/sh", "-c", COUNTER)
    log, archive = hacontain_backup(lxcpath, name, "snapshot", tmp_path)
    assert f"rootfs dir:{lxcpath}/{name}/rootfs cannot be snapshotted: falling back to " \
           "suspend mode" in log
    assert "backup mode: suspend" in log
    window = re.search(r"freeze window ([0-9.]+) ms \(second pass, suspend mode\)", log)
    assert window, log
    info = json.loads(read_member(archive, "hacontain/info.json"))
    assert f"{info['freeze_ms']:.1f}" == window.group(1) and info["mode"] == "suspend"
    counted = [int(line) for line in read_member(archive, "rootfs/log").split()]
    assert counted == list(range(1, len(counted) + 1))
    assert int(read_member(archive, "rootfs/c")) in (counted[-1], counted[-1] - 1)
    assert_nothing_left(lxcpath, rundir, name)

def test_interrupted_backup_leaves_nothing_and_the_next_run_cleans_up(on_btrfs, rundir,
                                                                      tmp_path):
    lxcpath, names = on_btrfs
    name = btrfs_container(lxcpath, names, counter=False)
    archive = tmp_path / "b.tar"

    backup = Backup(name, lxcpath, "snapshot", archive, hold="view")
    backup.wait_for("holding")
    assert len(hcbackup_subvolumes(lxcpath.parent)) == 1
    backup.process.send_signal(signal.SIGTERM)
    code, out, err = backup.finish()
    assert code != 0 and "backup interrupted by SIGTERM" in err
    assert f"removed btrfs snapshot {lxcpath}/{name}/.hcbackup-{name}" in out
    assert_nothing_left(lxcpath, rundir, name, lxcpath.parent)

    backup = Backup(name, lxcpath, "snapshot", archive, hold="view")
    backup.wait_for("holding")
    backup.process.kill()
    backup.finish()
    assert len(hcbackup_subvolumes(lxcpath.parent)) == 1     # what a crash leaves
    assert (rundir / name / "backup.json").exists()
    out = run_backup(name, lxcpath, "snapshot", archive)
    assert f"aborted the backup of container {name} (its process had ended)" in out
    assert_nothing_left(lxcpath, rundir, name, lxcpath.parent)

    backup = Backup(name, lxcpath, "snapshot", archive, hold="view")   # no record, only
    backup.wait_for("holding")                                         # the snapshot
    backup.process.kill()
    backup.finish()
    (rundir / name / "backup.json").unlink()
    out = run_backup(name, lxcpath, "snapshot", archive)
    assert f"removing btrfs snapshot {lxcpath}/{name}/.hcbackup-{name} left by an earlier " \
           "backup" in out
    assert_nothing_left(lxcpath, rundir, name, lxcpath.parent)


def test_the_agents_stop_aborts_a_running_backup(on_btrfs, rundir, tmp_path):
    lxcpath, names = on_btrfs
    name = btrfs_container(lxcpath, names, counter=False)
    backup = Backup(name, lxcpath, "snapshot", tmp_path / "b.tar", hold="view")
    backup.wait_for("holding")
    stopped = agent("stop", name, lxcpath, OCF_RESKEY_CRM_meta_timeout="20000")
    assert stopped.returncode == 0, stopped.stderr
    assert "aborted the backup of container" in stopped.stderr
    code, _, _ = backup.finish(timeout=10)
    assert code == -signal.SIGKILL
    assert state_of(lxcpath, name) == "STOPPED"
    assert_nothing_left(lxcpath, rundir, name, lxcpath.parent)


def test_a_backup_killed_while_frozen_is_thawed_by_stop(lxcpath, containers, rundir, tmp_path):
    name = unique_name()
    containers.append(name)
    cli(lxcpath, "create", name, "-t", "busybox")
    cli(lxcpath, "start", name)
    backup = Backup(name, lxcpath, "suspend", tmp_path / "b.tar", hold="second-pass")
    backup.wait_for("holding")
    assert state_of(lxcpath, name) == "FROZEN"
    backup.process.kill()
    backup.finish()
    assert state_of(lxcpath, name) == "FROZEN"              # what a crash leaves
    result = cli(lxcpath, "stop", name, "-t", "20")
    assert result.returncode == 0
    assert state_of(lxcpath, name) == "STOPPED"
    assert (lxcpath / name / "rootfs/var/log/shutdown-marker").exists()   # halted, thawed
    assert_nothing_left(lxcpath, rundir, name)


def test_stop_mode_restarts_the_container_and_refuses_one_the_agent_started(
        lxcpath, containers, rundir, tmp_path):
    name = unique_name()
    containers.append(name)
    cli(lxcpath, "create", name, "-t", "busybox")
    cli(lxcpath, "start", name)
    before = json.loads(cli(lxcpath, "info", "--json", name).stdout)["pid"]
    log, archive = hacontain_backup(lxcpath, name, "stop", tmp_path)
    assert f"stopping container {name}" in log and f"starting container {name} again" in log
    assert "rootfs/var/log/shutdown-marker" in tarfile.open(archive).getnames()   # halted
    after = json.loads(cli(lxcpath, "info", "--json", name).stdout)
    assert after["state"] == "RUNNING" and after["pid"] != before
    cli(lxcpath, "stop", name)

    started = agent("start", name, lxcpath)           # OCF_RESOURCE_INSTANCE: the name
    assert started.returncode == 0, started.stderr
    refused = cli(lxcpath, "backup", name, "--mode", "stop", "--dumpdir", str(tmp_path),
                  check=False)
    assert refused.returncode == 1
    assert f"container {name} is managed by Pacemaker (resource {name})" in refused.stderr
    assert f"crm resource stop {name}" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert state_of(lxcpath, name) == "RUNNING"
    assert_nothing_left(lxcpath, rundir, name)

def test_hacontain_backup_interrupted_halfway_leaves_nothing(on_btrfs, rundir, tmp_path):
    lxcpath, names = on_btrfs
    name = big_btrfs_container(lxcpath, names)
    dumpdir = tmp_path / "dump"
    dumpdir.mkdir()
    backup = SlowBackup(name, lxcpath, dumpdir)
    backup.wait_for("archiving")
    assert len(hcbackup_subvolumes(lxcpath.parent)) == 1
    backup.process.send_signal(signal.SIGTERM)
    code, log = backup.finish()
    assert code != 0 and "interrupted by SIGTERM" in log, log
    assert os.listdir(dumpdir) == []                  # no partial archive, no log
    assert_nothing_left(lxcpath, rundir, name, lxcpath.parent)

    backup = SlowBackup(name, lxcpath, dumpdir)       # killed outright: the next run
    backup.wait_for("archiving")                      # cleans up
    backup.process.kill()
    backup.finish()
    assert len(hcbackup_subvolumes(lxcpath.parent)) == 1
    done = cli(lxcpath, "backup", name, "--mode", "snapshot", "--dumpdir", str(dumpdir),
               "--compress", "none")
    assert f"aborted the backup of container {name} (its process had ended)" in done.stderr
    assert [path for path in os.listdir(dumpdir) if path.endswith(".tar")] != []
    assert_nothing_left(lxcpath, rundir, name, lxcpath.parent)


def test_the_agents_stop_aborts_hacontain_backup(on_btrfs, rundir, tmp_path):
    lxcpath, names = on_btrfs
    name = big_btrfs_container(lxcpath, names)
    dumpdir = tmp_path / "dump"
    dumpdir.mkdir()
    backup = SlowBackup(name, lxcpath, dumpdir)
    backup.wait_for("archiving")
    stopped = agent("stop", name, lxcpath, OCF_RESKEY_CRM_meta_timeout="20000")
    assert stopped.returncode == 0, stopped.stderr
    assert f"aborted the backup of container {name} (killed backup process " \
           f"{backup.process.pid})" in stopped.stderr
    assert backup.finish(timeout=10)[0] == -signal.SIGKILL
    assert state_of(lxcpath, name) == "STOPPED"
    assert_nothing_left(lxcpath, rundir, name, lxcpath.parent)


def test_the_agents_start_aborts_a_backup_holding_the_stopped_containers_volume(
        lxcpath, containers, rundir, tmp_path):
    name = unique_name()
    containers.append(name)
    cli(lxcpath, "create", name, "-t", "busybox", "-B", "loop", "--fssize", "128M")
    backup = Backup(name, lxcpath, "snapshot", tmp_path / "b.tar", hold="view")
    backup.wait_for("holding")            # the image mounted read-only in its namespace
    assert "container is STOPPED: its rootfs as it is, no freeze" in \
        "\n".join(backup.lines).replace(f"container {name} is", "container is")
    refused = cli(lxcpath, "start", name, check=False)      # the volume is in use ...
    assert refused.returncode == 1 and "loop" in refused.stderr, refused.stderr
    started = agent("start", name, lxcpath)                  # ... until the agent aborts
    assert started.returncode == 0, started.stderr
    assert started.returncode == 0, started.stderr
    assert f"aborted the backup of container {name}" in started.stderr
    assert backup.finish(timeout=10)[0] == -signal.SIGKILL
    assert state_of(lxcpath, name) == "RUNNING"
    assert agent("stop", name, lxcpath).returncode == 0
    assert_nothing_left(lxcpath, rundir, name)


def test_a_container_its_admin_froze_stays_frozen(on_btrfs, rundir, tmp_path):
    lxcpath, names = on_btrfs
    name = btrfs_container(lxcpath, names, counter=False)
    cli(lxcpath, "freeze", name)
    log, archive = hacontain_backup(lxcpath, name, "snapshot", tmp_path)
    assert "rootfs/bin/busybox" in tarfile.open(archive).getnames()
    assert state_of(lxcpath, name) == "FROZEN"
    cli(lxcpath, "unfreeze", name)
    assert_nothing_left(lxcpath, rundir, name, lxcpath.parent)
