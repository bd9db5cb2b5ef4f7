"""The debian template: debootstrap'ed bookworm (cached) with sysvinit that halts on SIGPWR."""

import os

import pytest

from clitools import hacontain, unique_name

pytestmark = pytest.mark.root


def test_debian_container_boots_and_halts_cleanly(lxcpath, rundir):
    name = unique_name("deb")
    hacontain("create", name, "-t", "debian", "-P", str(lxcpath), timeout=900)
    rootfs = lxcpath / name / "rootfs"
    try:
        hacontain("start", name, "-P", str(lxcpath))
        out = hacontain("attach", name, "-P", str(lxcpath), "--", "/bin/sh", "-c",
                        "cat /etc/debian_version; hostname; readlink /proc/1/exe").stdout.split()
        assert out[0].startswith("12.") and out[1] == name and out[2] == "/usr/sbin/init"  # merged /usr: sysvinit
        stopped = hacontain("stop", name, "-P", str(lxcpath), "-t", "30")
        assert "killed" not in stopped.stderr
        assert (rootfs / "var/log/shutdown-marker").read_text().startswith("shutdown ")
    finally:
        hacontain("stop", name, "-P", str(lxcpath), "-k", check=False)
    hacontain("destroy", name, "-P", str(lxcpath))
    assert not os.path.exists(lxcpath / name)
