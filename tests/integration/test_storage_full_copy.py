"""Full copies (`hacontain copy` without -s) that make a new volume and copy the files
into it: dir to dir, dir to loop (-B), loop back to dir; each runs with its own host
name and the source's data, its files its own."""

import pytest
from test_storage import NAME_AND_MARKER, cli, containers, inside  # noqa: F401 (fixture)

from clitools import unique_name

pytestmark = pytest.mark.root


def run_once(lxcpath, name, script):
    cli(lxcpath, "start", name)
    try:
        return inside(lxcpath, name, script)
    finally:
        cli(lxcpath, "stop", name)


def test_full_copies_across_backends(lxcpath, containers):  # noqa: F811
    base, plain, looped, back = (unique_name() for _ in range(4))
    containers += [base, plain, looped, back]
    cli(lxcpath, "create", base, "-t", "busybox")
    run_once(lxcpath, base, "echo kept > /root-marker && sync")

    cli(lxcpath, "copy", base, plain)
    config = (lxcpath / plain / "config").read_text()
    assert f"lxc.rootfs.path = dir:{lxcpath}/{plain}/rootfs" in config
    assert run_once(lxcpath, plain, NAME_AND_MARKER + "; echo own > /own").split() == [
        plain, "kept"]
    assert not (lxcpath / base / "rootfs" / "own").exists()

    cli(lxcpath, "copy", "-B", "loop", "--fssize", "128M", base, looped)
    image = lxcpath / looped / "rootdev"
    assert f"lxc.rootfs.path = loop:{image}" in (lxcpath / looped / "config").read_text()
    seen = run_once(lxcpath, looped, NAME_AND_MARKER + "; grep ' / ' /proc/mounts").split()
    assert seen[:2] == [looped, "kept"] and seen[2].startswith("/dev/loop") and seen[4] == "ext4"

    cli(lxcpath, "copy", "-B", "dir", looped, back)
    assert run_once(lxcpath, back, NAME_AND_MARKER).split() == [back, "kept"]
