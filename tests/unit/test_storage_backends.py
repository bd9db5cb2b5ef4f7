"""storage: the lxc.rootfs.path forms, sizes, the clone's config and clone records,
the loop ioctl structures and the superblock probe (no root needed)."""

import struct

import pytest

from hacontain.errors import ConfigError, StateError, StorageError
from hacontain.storage import backends, clone, loopdev, probe


@pytest.mark.parametrize("value, kind, spec", [
    ("dir:/srv/a/", "Directory", "dir:/srv/a"),
    ("/srv/a", "Directory", "dir:/srv/a"),
    ("overlay:/l:/u", "Overlay", "overlay:/l:/u"),
    ("overlayfs:/l/:/u", "Overlay", "overlay:/l:/u"),
    ("btrfs:/b/rootfs", "Btrfs", "btrfs:/b/rootfs"),
    ("loop:/c/rootdev", "Loop", "loop:/c/rootdev"),
    ("lvm:/dev/vg0/web", "Lvm", "lvm:/dev/vg0/web"),
])
def test_rootfs_forms(value, kind, spec):
    volume = backends.open_volume(backends.canonical(value))
    assert (type(volume).__name__, volume.spec) == (kind, spec)


@pytest.mark.parametrize("value, message", [
    ("overlay:/l", "overlay takes overlay:LOWER:UPPER"),
    ("loop:relative", "not an absolute path"),
    ("zfs:tank/ct", "unknown backend 'zfs'"),
])
def test_bad_rootfs_forms(value, message):
    with pytest.raises(ConfigError, match=message):
        backends.canonical(value)


def test_lvm_path_must_name_vg_and_lv():
    with pytest.raises(ConfigError, match="expected lvm:/dev/VG/LV"):
        backends.open_volume("lvm:/dev/web")


def test_sizes():
    assert backends.parse_size("2G") == 2 << 30
    assert backends.parse_size("512M") == 512 << 20
    assert backends.parse_size("4096") == 4096
    with pytest.raises(ConfigError, match="invalid size"):
        backends.parse_size("two")


def test_clone_config_gets_name_rootfs_new_macs_and_own_paths():
    text = ("lxc.uts.name = base\n"
            "lxc.rootfs.path = dir:/var/lib/hacontain/base/rootfs\n"
            "lxc.net.0.hwaddr = 00:16:3e:12:34:56\n"
            "lxc.net.1.hwaddr = 00:16:3e:xx:xx:xx\n"
            "lxc.console.logfile = /var/lib/hacontain/base/console.log\n"
            "# lxc.uts.name = kept comment\n")
    lines = clone.new_config(text, "/var/lib/hacontain/base", "/var/lib/hacontain/web",
                             "web", "overlay:/l:/u").splitlines()
    assert lines[0] == "lxc.uts.name = web"
    assert lines[1] == "lxc.rootfs.path = overlay:/l:/u"
    mac = lines[2].split(" = ")[1]
    assert mac.startswith("00:16:3e:") and mac != "00:16:3e:12:34:56"
    assert lines[3] == "lxc.net.1.hwaddr = 00:16:3e:xx:xx:xx"       # filled at each start
    assert lines[4] == "lxc.console.logfile = /var/lib/hacontain/web/console.log"
    assert lines[5] == "# lxc.uts.name = kept comment"


def test_clone_records_guard_the_base_until_the_clone_is_forgotten(tmp_path):
    base, overlay_clone, gone = tmp_path / "base", tmp_path / "c1", tmp_path / "c2"
    for path in (base, overlay_clone):
        path.mkdir()
    (overlay_clone / clone.CLONE_OF).write_text(f"{base}\n")
    (base / clone.CLONES).write_text(f"overlay {overlay_clone}\noverlay {gone}\n")
    assert clone.live_clones(str(base)) == [("overlay", str(overlay_clone))]
    with pytest.raises(StateError, match="lower layer of overlay clones c1"):
        clone.refuse_changing_base(str(base), "base")
    with pytest.raises(StateError, match="clones that depend on it: c1"):
        clone.refuse_destroying_base(str(base), "base")
    clone.forget_clone(str(overlay_clone))
    assert (base / clone.CLONES).read_text() == f"overlay {gone}\n"
    clone.refuse_destroying_base(str(base), "base")


def test_loop_ioctl_structures_match_the_kernel():
    assert struct.calcsize(loopdev._INFO64) == 232                 # struct loop_info64
    assert len(loopdev._info("/x", loopdev.LO_FLAGS_AUTOCLEAR)) == 232


@pytest.mark.parametrize("offset, magic, kind", [
    (1080, b"\x53\xef", "ext4"), (0, b"XFSB", "xfs"), (65600, b"_BHRfS_M", "btrfs")])
def test_probe_reads_superblock_magic(tmp_path, offset, magic, kind):
    image = tmp_path / "image"
    with open(image, "wb") as handle:
        handle.truncate(128 * 1024)
        handle.seek(offset)
        handle.write(magic)
    assert probe.filesystem_type(str(image)) == kind


def test_probe_names_a_device_without_filesystem(tmp_path):
    image = tmp_path / "empty"
    image.write_bytes(bytes(128 * 1024))
    with pytest.raises(StorageError, match="no ext4, xfs or btrfs filesystem"):
        probe.filesystem_type(str(image))
