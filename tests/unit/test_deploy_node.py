"""deploy/node/*.sh run as root against a temporary root (--root): the files they
write are read back by the tools that use them (corosync -t, lvmconfig --validate,
drbdadm dump), DRBD metadata on a loop device is made once, a second run changes
nothing, bad arguments get one line."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

NODE = Path(__file__).resolve().parents[2] / "deploy" / "node"
HOST = os.uname().nodename
DRBDADM = {"8.4": "/usr/lib/drbd/drbdadm-84", "9": "drbdadm"}


def script(name, *args, env=None, check=True):
    result = subprocess.run(["bash", str(NODE / name), *map(str, args)], capture_output=True,
                            text=True, timeout=300, env=dict(os.environ, **(env or {})))
    if check:
        assert result.returncode == 0, result.stderr
    return result


def refused(name, *args):
    result = script(name, *args, check=False)
    assert result.returncode != 0 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr.strip()


COROSYNC = ("--name", "ha", "--node", "a=127.0.0.1,198.51.100.11",
            "--node", "b=192.0.2.12,198.51.100.12")


def test_corosync_conf_passes_corosync_t_and_a_second_run_keeps_it(tmp_path):
    first = script("corosync.sh", *COROSYNC, "--root", tmp_path)
    assert first.stdout.splitlines()[0] == "/etc/corosync/corosync.conf: written"
    conf = tmp_path / "etc/corosync/corosync.conf"
    key = tmp_path / "etc/corosync/authkey"
    text, secret = conf.read_text(), key.read_bytes()
    assert oct(key.stat().st_mode & 0o777) == "0o400" and len(secret) >= 128
    for line in ("transport: knet", "two_node: 1", "ring1_addr: 198.51.100.12", "name: b",
                 "cluster_name: ha", "crypto_cipher: aes256"):
        assert line in text
    # corosync's own parser (the key path moved below the test root; node a is local).
    tested = tmp_path / "test.conf"
    tested.write_text(text.replace("/etc/corosync/authkey", str(key))
                      .replace("/var/log/corosync", str(tmp_path / "var/log/corosync")))
    result = subprocess.run(["corosync", "-c", str(tested), "-t"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    again = script("corosync.sh", *COROSYNC, "--root", tmp_path)
    assert again.stdout.splitlines() == ["/etc/corosync/corosync.conf: unchanged",
                                         "/etc/corosync/authkey: kept"]
    assert (conf.read_text(), key.read_bytes()) == (text, secret)


def test_corosync_installs_the_first_nodes_authkey_on_the_second(tmp_path):
    script("corosync.sh", *COROSYNC, "--root", tmp_path / "a")
    key = tmp_path / "a/etc/corosync/authkey"
    script("corosync.sh", *COROSYNC, "--root", tmp_path / "b", "--authkey", key)
    assert (tmp_path / "b/etc/corosync/authkey").read_bytes() == key.read_bytes()
    assert (tmp_path / "b/etc/corosync/corosync.conf").read_text() == \
        (tmp_path / "a/etc/corosync/corosync.conf").read_text()


@pytest.mark.parametrize("args, message", [
    (("--node", "a=192.0.2.11", "--node", "b=192.0.2.12"), "give the cluster's name with --name"),
    (("--name", "ha", "--node", "a=192.0.2.11"), "give the two nodes with --node NAME=ADDR twice"),
    (("--name", "ha", "--node", "a=192.0.2.11", "--node", "b=192.0.2.12,198.51.100.12"),
     "--node b=192.0.2.12,198.51.100.12: both nodes need the same number of addresses"),
    (("--name", "ha", "--node", "a=192.0.2.11", "--node", "a=192.0.2.12"),
     "the two nodes have the same name"),
    (("--name", "ha", "--node", "a", "--node", "b=192.0.2.12"), "--node a: expected NAME=ADDR"),
    (("--name", "ha", "--node", "a=x;y", "--node", "b=192.0.2.12"),
     "--node a=x;y: x;y is not an IP address"),
])
def test_corosync_bad_arguments(tmp_path, args, message):
    assert refused("corosync.sh", *args, "--root", tmp_path).startswith(
        f"deploy/node/corosync.sh: {message}")
    assert not (tmp_path / "etc").exists()


def lvmconfig(root, *keys):
    result = subprocess.run(["lvmconfig", "--validate"], capture_output=True, text=True,
                            env=dict(os.environ, LVM_SYSTEM_DIR=str(root / "etc/lvm")))
    assert "LVM configuration valid" in result.stdout, result.stdout + result.stderr
    result = subprocess.run(["lvmconfig", *keys], capture_output=True, text=True,
                            env=dict(os.environ, LVM_SYSTEM_DIR=str(root / "etc/lvm")))
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.fixture
def lvm_root(tmp_path):
    """A root with the host's lvm.conf, which lvmlocal.conf is read over."""
    (tmp_path / "etc/lvm").mkdir(parents=True)
    shutil.copy("/etc/lvm/lvm.conf", tmp_path / "etc/lvm/lvm.conf")
    return tmp_path


def test_lvm_system_id_filter_and_autoactivation(lvm_root):
    args = ("--backing", "/dev/vdb", "--backing", "/dev/disk/by-id/ata-x.1", "--vg", "ha",
            "--local-vg", "vg0", "--root", lvm_root)
    assert script("lvm.sh", *args).stdout == "/etc/lvm/lvmlocal.conf: written\n"
    # (lvmconfig shows a backslash of the value doubled)
    assert lvmconfig(lvm_root, "global/system_id_source", "devices/global_filter",
                     "activation/auto_activation_volume_list") == [
        'system_id_source="uname"',
        'global_filter=["a|^/dev/drbd[0-9]+$|","r|^/dev/vdb$|","r|^/dev/disk/by-id/ata-x\\\\.1$|"]',
        'auto_activation_volume_list="vg0"']
    assert script("lvm.sh", *args).stdout == "/etc/lvm/lvmlocal.conf: unchanged\n"


def test_lvm_tagging_sets_volume_list_to_the_local_vgs_only(lvm_root):
    script("lvm.sh", "--backing", "/dev/vdb", "--vg", "ha", "--mode", "tagging",
           "--local-vg", "vg0", "--local-vg", "data", "--root", lvm_root)
    shown = lvmconfig(lvm_root, "activation/volume_list", "activation/auto_activation_volume_list")
    assert shown == ['volume_list=["vg0","data"]', 'auto_activation_volume_list=["vg0","data"]']
    missing = subprocess.run(["lvmconfig", "global/system_id_source"], capture_output=True,
                             text=True,
                             env=dict(os.environ, LVM_SYSTEM_DIR=str(lvm_root / "etc/lvm")))
    assert "uname" not in missing.stdout


def test_lvm_no_local_vg_means_no_autoactivation(lvm_root):
    script("lvm.sh", "--backing", "/dev/vdb", "--local-vg", "", "--root", lvm_root)
    assert lvmconfig(lvm_root, "activation/auto_activation_volume_list") == \
        ["auto_activation_volume_list=[]"]


@pytest.mark.parametrize("args, message", [
    (("--vg", "ha"), "give the DRBD backing disk with --backing DISK"),
    (("--backing", "vdb"), "--backing vdb: expected a /dev path"),
    (("--backing", "/dev/vdb", "--mode", "clvm"), "--mode clvm: system_id or tagging"),
    (("--backing", "/dev/vdb", "--vg", "ha", "--local-vg", "ha"),
     "--local-vg ha is the cluster VG"),
])
def test_lvm_bad_arguments(tmp_path, args, message):
    assert refused("lvm.sh", *args, "--root", tmp_path) == f"deploy/node/lvm.sh: {message}"
    assert not (tmp_path / "etc").exists()


@pytest.mark.parametrize("version", ["8.4", "9"])
def test_drbd_resource_file_parses_with_drbdadm(tmp_path, version):
    args = ("--resource", "r0", "--minor", "3", "--port", "7790",
            "--node", f"{HOST}=192.0.2.11:/dev/vdb", "--node", "peer=192.0.2.12:/dev/vdb",
            "--version", version, "--config-only", "--root", tmp_path)
    assert script("drbd.sh", *args).stdout == "/etc/drbd.d/r0.res: written\n"
    path = tmp_path / "etc/drbd.d/r0.res"
    dumped = subprocess.run([DRBDADM[version], "-c", str(path), "dump", "r0"],
                            capture_output=True, text=True)
    assert dumped.returncode == 0, dumped.stderr
    assert "resource-and-stonith" in dumped.stdout and "/dev/drbd3" in dumped.stdout
    assert "192.0.2.12:7790" in dumped.stdout
    assert script("drbd.sh", *args).stdout == "/etc/drbd.d/r0.res: unchanged\n"
    plain = script("drbd.sh", *args, "--no-fencing")
    assert plain.stdout == "/etc/drbd.d/r0.res: written\n"
    assert "fencing" not in path.read_text()


@pytest.mark.parametrize("args, message", [
    (("--node", "a=192.0.2.11:/dev/vdb", "--node", "b=192.0.2.12:/dev/vdb"),
     "give the resource's name with --resource NAME"),
    (("--resource", "r0", "--node", "a=192.0.2.11:/dev/vdb"),
     "give the two nodes with --node NAME=ADDR:DISK twice"),
    (("--resource", "r0", "--node", "a=192.0.2.11", "--node", "b=192.0.2.12:/dev/vdb"),
     "--node a=192.0.2.11: expected NAME=IPV4ADDR:/dev/DISK"),
    (("--resource", "r0", "--port", "70000", "--node", "a=192.0.2.11:/dev/vdb",
      "--node", "b=192.0.2.12:/dev/vdb"), "--port 70000: a TCP port"),
    (("--resource", "r0", "--version", "10", "--node", "a=192.0.2.11:/dev/vdb",
      "--node", "b=192.0.2.12:/dev/vdb"), "--version 10: 8.4 or 9"),
    (("--resource", "r0", "--new", "--no-up", "--node", "a=192.0.2.11:/dev/vdb",
      "--node", "b=192.0.2.12:/dev/vdb"),
     "--new needs the resource up: not with --no-up, --config-only or --root"),
])
def test_drbd_bad_arguments(tmp_path, args, message):
    assert refused("drbd.sh", *args, "--root", tmp_path) == f"deploy/node/drbd.sh: {message}"
    assert not (tmp_path / "etc").exists()


def test_packages_skips_apt_when_all_are_installed_and_installs_the_agent(tmp_path):
    """All listed packages present (the VM image's case): no apt; hacontain's command
    is on PATH, so only the agent is installed below the root."""
    result = script("packages.sh", "--without", "pcs", "--root", tmp_path,
                    env={"NODE_PACKAGES": "pacemaker corosync crmsh pcs drbd-utils lvm2",
                         "PATH": f"/usr/local/bin:{os.environ['PATH']}"})
    assert result.stdout.splitlines()[0] == "Debian packages: all installed"
    agent = tmp_path / "usr/lib/ocf/resource.d/hacontain/container"
    assert os.access(agent, os.X_OK) and "hacontain.ocf.entry" in agent.read_text()
    again = script("packages.sh", "--root", tmp_path,
                   env={"NODE_PACKAGES": "lvm2", "PATH": f"/usr/local/bin:{os.environ['PATH']}"})
    assert again.stdout.splitlines()[1].startswith("hacontain: installed")


def test_packages_names_what_is_missing_below_a_root(tmp_path):
    result = script("packages.sh", "--root", tmp_path, check=False,
                    env={"NODE_PACKAGES": "lvm2 hacontain-no-such-package"})
    assert (result.returncode, result.stderr) == (
        1, "deploy/node/packages.sh: install these Debian packages first: "
           "hacontain-no-such-package\n")


@pytest.fixture
def backing_disk(tmp_path):
    """A 64 MiB loop device standing in for DRBD's backing disk; detached at teardown."""
    image = tmp_path / "disk"
    with open(image, "wb") as handle:
        handle.truncate(64 << 20)
    device = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True,
                            text=True, check=True).stdout.strip()
    yield device
    subprocess.run(["losetup", "-d", device], check=True)


def test_drbd_metadata_is_made_once_and_never_remade(tmp_path, backing_disk):
    """Real DRBD 9 metadata on a loop device (drbdmeta needs no module): made by the
    first run, kept by the next (its generation identifier, changed in between, stays)."""
    root = tmp_path / "root"
    args = ("--resource", "r9", "--minor", "9", "--version", "9", "--no-up", "--root", root,
            "--node", f"{HOST}=192.0.2.11:{backing_disk}",
            "--node", f"peer=192.0.2.12:{backing_disk}")
    assert script("drbd.sh", *args).stdout.splitlines() == [
        "/etc/drbd.d/r9.res: written", "DRBD r9: metadata created"]
    res = str(root / "etc/drbd.d/r9.res")
    marked = "0000000000ABCDE1:0000000000000000:0000000000000000:0000000000000000:1:1:0:0:0:0"
    subprocess.run(["drbdmeta", "--force", "9", "v09", backing_disk, "internal", "set-gi", marked,
                    "--node-id", "0"], capture_output=True, check=True)
    assert script("drbd.sh", *args).stdout.splitlines() == [
        "/etc/drbd.d/r9.res: unchanged", "DRBD r9: metadata present"]
    gi = subprocess.run(["drbdadm", "-c", res, "get-gi", "r9"], capture_output=True, text=True)
    assert gi.stdout.startswith("0000000000ABCDE1:"), gi.stdout + gi.stderr
