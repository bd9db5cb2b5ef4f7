"""Whether a container's init is systemd, read through the rootfs's own links, and the
start check that refuses a systemd init without a cgroup mount (no kernel needed)."""

import os

import pytest

from hacontain.config import load
from hacontain.errors import ConfigError
from hacontain.runtime.container import _check_systemd_needs
from hacontain.runtime.rootfs import is_systemd


@pytest.fixture
def rootfs(tmp_path):
    root = tmp_path / "rootfs"
    for folder in ("usr/lib/systemd", "usr/sbin", "bin"):
        (root / folder).mkdir(parents=True)
    (root / "usr/lib/systemd/systemd").write_text("")
    (root / "bin/busybox").write_text("")
    os.symlink("usr/lib", root / "lib")                      # merged /usr, relative
    os.symlink("usr/sbin", root / "sbin")
    return root


def test_init_links_are_followed_inside_the_rootfs(rootfs):
    os.symlink("/lib/systemd/systemd", rootfs / "usr/sbin/init")   # absolute: the rootfs's /
    assert is_systemd(str(rootfs), "/sbin/init")
    assert is_systemd(str(rootfs), "/lib/systemd/systemd")
    os.symlink("../../bin/busybox", rootfs / "usr/sbin/busybox-init")
    assert not is_systemd(str(rootfs), "/sbin/busybox-init")


def test_systemd_without_a_cgroup_mount_is_refused_at_the_mount_auto_line(rootfs, tmp_path):
    os.symlink("/lib/systemd/systemd", rootfs / "usr/sbin/init")
    config = tmp_path / "config"
    config.write_text("lxc.uts.name = c1\nlxc.mount.auto = proc:mixed sys:mixed\n")
    with pytest.raises(ConfigError) as caught:
        _check_systemd_needs(load(str(config)), str(rootfs), "/sbin/init")
    assert str(caught.value).startswith(f"{config}:2: lxc.mount.auto: the init /sbin/init is systemd")
    config.write_text("lxc.mount.auto = proc:mixed\nlxc.mount.auto = cgroup:ro sys:ro\n")
    with pytest.raises(ConfigError, match=r"^.*config:2: lxc.mount.auto: .* needs a writable"):
        _check_systemd_needs(load(str(config)), str(rootfs), "/sbin/init")
    config.write_text("lxc.uts.name = c1\n")
    with pytest.raises(ConfigError, match=r"no lxc.mount.auto is set"):
        _check_systemd_needs(load(str(config)), str(rootfs), "/sbin/init")
    config.write_text("lxc.mount.auto = cgroup:mixed proc:mixed sys:mixed\n")
    _check_systemd_needs(load(str(config)), str(rootfs), "/sbin/init")   # fine
