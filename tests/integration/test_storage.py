"""Rootfs volumes on the real kernel: overlay, loop (ext4, xfs), btrfs on a loop device
the test makes, a bare block device: create, start, write, stop, restart with the data,
clone, destroy; the guards (in use, mounted elsewhere, base of clones); a failed mount
leaves nothing (the session's leak check counts loop devices and mounts)."""

import json
import os
import shutil
import subprocess
import time

import pytest

from clitools import hacontain, mounts_below, unique_name

pytestmark = pytest.mark.root

AGENT = "/usr/lib/ocf/resource.d/hacontain/container"
NAME_AND_MARKER = "hostname; cat /root-marker"


def cli(lxcpath, command, *args, check=True):
    return hacontain(command, "-P", str(lxcpath), *args, check=check)


def inside(lxcpath, name, script):
    return cli(lxcpath, "attach", name, "--", "/bin/sh", "-c", script).stdout


def loops_backing(path):
    """Loop devices whose backing file is `path` (sysfs)."""
    found = []
    for name in os.listdir("/sys/block"):
        try:
            with open(f"/sys/block/{name}/loop/backing_file", encoding="utf-8") as handle:
                if handle.read().strip() == str(path):
                    found.append(name)
        except OSError:
            pass
    return found


def agent(action, name, lxcpath, **extra):
    """The installed OCF agent's `action` on container `name`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OCF_", "HA_"))}
    env.update(OCF_ROOT="/usr/lib/ocf", OCF_RESOURCE_INSTANCE=name, OCF_RESKEY_name=name,
               OCF_RESKEY_lxcpath=str(lxcpath), **extra)
    return subprocess.run([AGENT, action], env=env, capture_output=True, text=True, timeout=120)


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    return True


@pytest.fixture
def containers(lxcpath, rundir):
    """Names made in this test; each is stopped and destroyed (clones first) at teardown."""
    names = []
    yield names
    for name in reversed(names):
        if (lxcpath / name).exists():
            cli(lxcpath, "destroy", "-f", name, check=False)
    left = [name for name in names if (lxcpath / name).exists()]
    assert not left, f"could not destroy {left}"


def volume_of(lxcpath, name):
    """The storage.backends Volume of container `name`'s rootfs."""
    from hacontain.config import load
    from hacontain.storage import backends
    return backends.open_volume(load(str(lxcpath / name / "config")).rootfs)


def lifecycle(lxcpath, name):
    """Start, write, stop, start again: the data is there; the volume's mount is never
    in the host's mount table."""
    cli(lxcpath, "start", name)
    inside(lxcpath, name, "echo kept > /root-marker && sync")
    assert mounts_below(lxcpath / name) == [], "the host sees the container's rootfs mount"
    cli(lxcpath, "stop", name)
    cli(lxcpath, "start", name)
    assert inside(lxcpath, name, "cat /root-marker").strip() == "kept"
    cli(lxcpath, "stop", name)


def test_overlay_create_run_clone_destroy(lxcpath, containers):
    base, clone = unique_name(), unique_name()
    containers += [base, clone]
    cli(lxcpath, "create", base, "-t", "busybox", "-B", "overlay")
    config = (lxcpath / base / "config").read_text()
    assert f"lxc.rootfs.path = overlay:{lxcpath}/{base}/base:{lxcpath}/{base}/delta0" in config
    lifecycle(lxcpath, base)
    assert (lxcpath / base / "delta0" / "root-marker").exists()       # changes in the upper
    upper_size = volume_of(lxcpath, base).size()
    assert 0 < upper_size < 1024 * 1024                                # the upper only
    assert not (lxcpath / base / "base" / "root-marker").exists()

    second = unique_name()                       # a second container on the same overlay
    containers.append(second)
    cli(lxcpath, "create", second, "-t", "busybox")
    config = lxcpath / second / "config"
    config.write_text(config.read_text().replace(
        f"dir:{lxcpath}/{second}/rootfs",
        f"overlay:{lxcpath}/{base}/base:{lxcpath}/{base}/delta0"))
    cli(lxcpath, "start", base)
    refused = cli(lxcpath, "start", second, check=False)
    assert refused.returncode == 1
    assert f"delta0 is in use on this node by container {base}" in refused.stderr
    cli(lxcpath, "stop", base)
    cli(lxcpath, "destroy", second)

    cli(lxcpath, "copy", "-s", base, clone)
    assert inside_after_start(lxcpath, clone, NAME_AND_MARKER).split() == [clone, "kept"]
    inside(lxcpath, clone, "echo clone > /clone-only")
    cli(lxcpath, "stop", clone)
    assert not (lxcpath / base / "delta0" / "clone-only").exists()
    assert (lxcpath / clone / "delta0" / "clone-only").exists()

    refused = cli(lxcpath, "start", base, check=False)
    assert refused.returncode == 1 and "lower layer of overlay clones" in refused.stderr
    refused = cli(lxcpath, "destroy", base, check=False)
    assert refused.returncode == 1 and f"clones that depend on it: {clone}" in refused.stderr
    cli(lxcpath, "destroy", clone)
    cli(lxcpath, "start", base)                  # no clone left: the base is free again
    cli(lxcpath, "destroy", "-f", base)
    assert not (lxcpath / base).exists()


def inside_after_start(lxcpath, name, script):
    cli(lxcpath, "start", name)
    return inside(lxcpath, name, script)


@pytest.mark.parametrize("fstype", ["ext4", "xfs"])
def test_loop_create_run_copy_destroy(lxcpath, containers, fstype):
    if not shutil.which(f"mkfs.{fstype}"):
        pytest.fail(f"mkfs.{fstype} missing: deploy/testbed.sh installs it")
    base, copy = unique_name(), unique_name()
    containers += [base, copy]
    cli(lxcpath, "create", base, "-t", "busybox", "-B", "loop", "--fstype", fstype,
        "--fssize", "300M")
    image = lxcpath / base / "rootdev"
    assert f"lxc.rootfs.path = loop:{image}" in (lxcpath / base / "config").read_text()
    lifecycle(lxcpath, base)
    assert wait_until(lambda: not loops_backing(image)), "the loop device outlived the container"
    assert volume_of(lxcpath, base).size() == 300 * 1024 * 1024

    cli(lxcpath, "copy", base, copy)                # a full copy: its own image, new UUID (xfs)
    cli(lxcpath, "start", base)
    assert inside_after_start(lxcpath, copy, NAME_AND_MARKER).split() == [copy, "kept"]
    mounted = inside(lxcpath, copy, "grep ' / ' /proc/mounts").split()
    assert mounted[0].startswith("/dev/loop") and mounted[2] == fstype
    assert len(loops_backing(image)) == 1 and len(loops_backing(lxcpath / copy / "rootdev")) == 1
    cli(lxcpath, "destroy", "-f", copy)
    cli(lxcpath, "destroy", "-f", base)
    assert wait_until(lambda: not loops_backing(image))


def test_loop_in_use_is_refused_and_running_copy_needs_allow_running(lxcpath, containers):
    base, second, copy = unique_name(), unique_name(), unique_name()
    containers += [base, second, copy]
    cli(lxcpath, "create", base, "-t", "busybox", "-B", "loop", "--fssize", "128M")
    cli(lxcpath, "create", second, "-t", "busybox")
    image = lxcpath / base / "rootdev"
    config = lxcpath / second / "config"
    config.write_text(config.read_text().replace(f"dir:{lxcpath}/{second}/rootfs", f"loop:{image}"))
    cli(lxcpath, "start", base)
    refused = cli(lxcpath, "start", second, check=False)
    assert refused.returncode == 1 and f"{image} is in use on this node" in refused.stderr
    start = agent("start", second, lxcpath)                # node-local: bans only this node
    assert start.returncode == 2 and f"{image} is in use on this node" in start.stderr
    assert agent("monitor", second, lxcpath, OCF_RESKEY_CRM_meta_interval="0").returncode == 7
    valid = agent("validate-all", base, lxcpath)         # its own image, in use by itself
    assert valid.returncode == 0, valid.stderr

    refused = cli(lxcpath, "copy", base, copy, check=False)
    assert refused.returncode == 1 and "--allow-running" in refused.stderr
    inside(lxcpath, base, "echo live > /live && sync")
    cli(lxcpath, "copy", "--allow-running", base, copy)
    assert json.loads(cli(lxcpath, "info", "--json", base).stdout)["state"] == "RUNNING"  # thawed
    assert inside_after_start(lxcpath, copy, "cat /live").strip() == "live"


@pytest.fixture
def btrfs_dir(tmp_path):
    """A btrfs filesystem on a loop device this test makes (autoclear), mounted on a
    directory; unmounted and removed at teardown."""
    if not shutil.which("mkfs.btrfs"):
        pytest.fail("mkfs.btrfs missing: deploy/testbed.sh installs btrfs-progs")
    image, mountpoint = tmp_path / "btrfs.img", tmp_path / "btrfs"
    with open(image, "wb") as handle:
        handle.truncate(512 * 1024 * 1024)
    subprocess.run(["mkfs.btrfs", "-q", str(image)], check=True)
    mountpoint.mkdir()
    subprocess.run(["mount", "-o", "loop", str(image), str(mountpoint)], check=True)
    yield mountpoint
    subprocess.run(["umount", str(mountpoint)], check=True)
    assert wait_until(lambda: not loops_backing(image))


def test_btrfs_create_run_snapshot_destroy(btrfs_dir, rundir, monkeypatch):
    lxcpath = btrfs_dir / "lxc"
    lxcpath.mkdir()
    base, clone = unique_name(), unique_name()
    try:
        cli(lxcpath, "create", base, "-t", "busybox", "-B", "btrfs")
        subvolumes = subprocess.run(["btrfs", "subvolume", "list", str(btrfs_dir)],
                                    capture_output=True, text=True, check=True).stdout
        assert f"lxc/{base}/rootfs" in subvolumes
        lifecycle(lxcpath, base)
        cli(lxcpath, "copy", "-s", base, clone)
        subvolumes = subprocess.run(["btrfs", "subvolume", "list", "-s", str(btrfs_dir)],
                                    capture_output=True, text=True, check=True).stdout
        assert f"lxc/{clone}/rootfs" in subvolumes                       # a snapshot
        cli(lxcpath, "start", base)                    # snapshots are independent of the base
        assert inside_after_start(lxcpath, clone, NAME_AND_MARKER).split() == [clone, "kept"]
        cli(lxcpath, "destroy", "-f", base)            # ... so it may go first
        assert inside(lxcpath, clone, "cat /root-marker").strip() == "kept"
        cli(lxcpath, "destroy", "-f", clone)
        subvolumes = subprocess.run(["btrfs", "subvolume", "list", str(btrfs_dir)],
                                    capture_output=True, text=True, check=True).stdout
        assert base not in subvolumes and clone not in subvolumes
    finally:
        for name in (clone, base):
            if (lxcpath / name).exists():
                cli(lxcpath, "destroy", "-f", name, check=False)


@pytest.fixture
def loop_device(tmp_path):
    """An ext4 filesystem on a loop device attached by the test (losetup, detached at
    teardown): a bare block device."""
    image = tmp_path / "block.img"
    with open(image, "wb") as handle:
        handle.truncate(128 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    device = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True,
                            text=True, check=True).stdout.strip()
    yield device
    subprocess.run(["losetup", "-d", device], check=True)
    assert wait_until(lambda: not loops_backing(image))


def test_bare_block_device_mounted_elsewhere_is_refused(lxcpath, containers, loop_device,
                                                         tmp_path):
    name = unique_name()
    containers.append(name)
    cli(lxcpath, "create", name, "-t", "busybox")
    mountpoint = tmp_path / "m"
    mountpoint.mkdir()
    subprocess.run(["mount", loop_device, str(mountpoint)], check=True)
    try:
        subprocess.run(["cp", "-a", f"{lxcpath}/{name}/rootfs/.", str(mountpoint)], check=True)
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)
    config = lxcpath / name / "config"
    config.write_text(config.read_text().replace(f"dir:{lxcpath}/{name}/rootfs", loop_device))
    subprocess.run(["mount", loop_device, str(mountpoint)], check=True)
    try:
        refused = cli(lxcpath, "start", name, check=False)
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)
    assert refused.returncode == 1
    assert f"{loop_device} is already mounted on this node at {mountpoint}" in refused.stderr
    lifecycle(lxcpath, name)
    cli(lxcpath, "destroy", name)
    assert subprocess.run(["blkid", "-o", "value", "-s", "TYPE", loop_device],
                          capture_output=True, text=True).stdout.strip() == "ext4"  # kept


def test_failed_mount_leaves_nothing(lxcpath, containers, rundir):
    name = unique_name()
    containers.append(name)
    cli(lxcpath, "create", name, "-t", "busybox", "-B", "loop", "--fssize", "128M")
    image = lxcpath / name / "rootdev"
    config = lxcpath / name / "config"
    config.write_text(config.read_text() + "lxc.rootfs.options = nosuchoption\n")
    failed = cli(lxcpath, "start", name, check=False)
    assert failed.returncode == 1 and "nosuchoption" in failed.stderr
    assert wait_until(lambda: not loops_backing(image)), "a failed mount left its loop device"
    assert not (rundir / name / "state.json").exists()
    assert mounts_below(lxcpath) == []

    config.write_text(config.read_text().replace("lxc.rootfs.options = nosuchoption\n", ""))
    with open(image, "r+b") as handle:             # no filesystem any more
        handle.write(bytes(2 * 1024 * 1024))
    failed = cli(lxcpath, "start", name, check=False)
    assert failed.returncode == 1 and "no ext4, xfs or btrfs filesystem" in failed.stderr
    assert wait_until(lambda: not loops_backing(image))
    assert not (rundir / name / "state.json").exists()

    os.unlink(image)
    missing = cli(lxcpath, "start", name, check=False)
    assert missing.returncode == 1 and f"image file {image} does not exist" in missing.stderr
