"""A full copy of a running loop container (--allow-running: frozen, crash-consistent)
gets its own filesystem UUID where the filesystem needs one (xfs, whose dirty log is
replayed first; btrfs) and runs beside its source with the data written before."""

import subprocess

import pytest
from test_storage import cli, containers, inside, inside_after_start  # noqa: F401 (fixture)

from clitools import unique_name

pytestmark = pytest.mark.root


def uuid(path):
    return subprocess.run(["blkid", "-p", "-o", "value", "-s", "UUID", str(path)], check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.mark.parametrize("fstype", ["xfs", "btrfs"])
def test_copy_of_a_running_source_gets_a_new_uuid(lxcpath, containers, fstype):  # noqa: F811
    base, copy = unique_name(), unique_name()
    containers += [base, copy]
    cli(lxcpath, "create", base, "-t", "busybox", "-B", "loop", "--fstype", fstype,
        "--fssize", "300M")
    cli(lxcpath, "start", base)
    inside(lxcpath, base, "echo live > /live && sync")
    cli(lxcpath, "copy", "--allow-running", base, copy)
    assert uuid(lxcpath / copy / "rootdev") not in ("", uuid(lxcpath / base / "rootdev"))
    assert inside_after_start(lxcpath, copy, "hostname; cat /live").split() == [copy, "live"]
    assert inside(lxcpath, copy, "grep ' / ' /proc/mounts").split()[2] == fstype
