"""Checkpoint commands' bad input, on any host (criu is not needed to refuse): one-line
errors, nothing made. Checkpoint and restore themselves run in the VM tier
(tests/vm/guest/test_checkpoint.py)."""

import os

import pytest

from clitools import hacontain

pytestmark = pytest.mark.root


def one_line_error(result):
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hacontain: error: "), result.stderr
    return lines[0]


def test_checkpoint_of_a_stopped_container_says_so(make_container):
    container = make_container()
    line = one_line_error(hacontain("checkpoint", container.name, "--stop", check=False))
    assert f"container {container.name} is not running (STOPPED)" in line
    assert not os.path.exists(os.path.join(container.directory, "rootfs",
                                           ".hacontain-checkpoint"))


def test_restore_without_a_checkpoint_says_where_it_looked(make_container, tmp_path):
    container = make_container()
    line = one_line_error(hacontain("restore-checkpoint", container.name, check=False))
    assert "no checkpoint in " + os.path.join(container.directory, "rootfs",
                                              ".hacontain-checkpoint") in line
    line = one_line_error(hacontain("restore-checkpoint", container.name, "--dir",
                                    str(tmp_path / "none"), check=False))
    assert f"no checkpoint in {tmp_path / 'none'}" in line
    assert container.status().name == "STOPPED"


def test_restore_refuses_unreadable_metadata_and_a_running_container(make_container, tmp_path):
    container = make_container()
    (tmp_path / "checkpoint.json").write_text("{not json")
    line = one_line_error(hacontain("restore-checkpoint", container.name, "--dir",
                                    str(tmp_path), check=False))
    assert "checkpoint metadata" in line and "unreadable" in line
    hacontain("start", container.name)
    line = one_line_error(hacontain("restore-checkpoint", container.name, check=False))
    assert f"container {container.name} is running" in line


def test_checkpoint_of_a_container_of_an_unknown_name(lxcpath, rundir):
    line = one_line_error(hacontain("checkpoint", "nosuchcontainer", check=False))
    assert "nosuchcontainer" in line


def test_a_container_on_a_volume_its_init_mounts_is_refused(lxcpath, rundir):
    from clitools import unique_name
    name = unique_name()
    hacontain("create", name, "-t", "busybox", "-B", "loop", "--fssize", "64M",
              "-P", str(lxcpath))
    try:
        line = one_line_error(hacontain("restore-checkpoint", name, "-P", str(lxcpath),
                                        check=False))
        assert "its rootfs is a volume" in line and "directory rootfs" in line
    finally:
        hacontain("destroy", name, "-P", str(lxcpath), check=False)
