"""Parts of the image builder and runner that need no VM: cpio, module order, apt sources, qemu argv."""

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from hacontain.errors import NotFound, NotInstalled
from testbed.vm import apt
from testbed.vm.cpio import NewcWriter
from testbed.vm.image import VmImage
from testbed.vm.initrd import module_load_order
from testbed.vm.qemu import Link, VmSpec, qemu_argv


def test_newc_archive_unpacks_with_cpio(tmp_path):
    cpio = shutil.which("cpio") or shutil.which("busybox")
    if cpio is None:
        pytest.skip("no cpio or busybox on this host to read the archive back")
    out = io.BytesIO()
    archive = NewcWriter(out)
    archive.directory("bin")
    archive.file("bin/tool", b"#!/bin/sh\necho hi\n", mode=0o755)
    archive.file("odd", b"12345")
    archive.symlink("link", "bin/tool")
    archive.close()
    argv = [cpio, "-i", "-d"] if cpio.endswith("/cpio") else [cpio, "cpio", "-i", "-d"]
    subprocess.run(argv, input=out.getvalue(), cwd=tmp_path, check=True, capture_output=True)
    assert (tmp_path / "bin/tool").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert (tmp_path / "bin/tool").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "odd").read_bytes() == b"12345"
    assert (tmp_path / "link").readlink() == Path("bin/tool")


def test_modules_load_after_their_dependencies(tmp_path):
    (tmp_path / "modules.dep").write_text(
        "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n"
        "kernel/lib/crc16.ko:\n"
        "kernel/fs/mbcache.ko:\n"
        "kernel/fs/jbd2/jbd2.ko:\n"
        "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/virtio/virtio.ko:\n"
        "kernel/crypto/crc32c_generic.ko:\n"
    )
    order = module_load_order(tmp_path, ["virtio_blk", "crc32c_generic", "ext4"])
    assert order == [
        "kernel/drivers/virtio/virtio.ko", "kernel/drivers/block/virtio_blk.ko", "kernel/crypto/crc32c_generic.ko",
        "kernel/lib/crc16.ko", "kernel/fs/mbcache.ko", "kernel/fs/jbd2/jbd2.ko", "kernel/fs/ext4/ext4.ko",
    ]
    with pytest.raises(NotFound, match="kernel module drbd not in"):
        module_load_order(tmp_path, ["drbd"])


def test_mirror_comes_from_deb822_or_one_line_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb deb-src\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main contrib\n"
    )
    assert apt.debian_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list.d/debian.sources").unlink()
    (tmp_path / "sources.list").write_text("deb [arch=amd64] http://other.example/debian bookworm main\n")
    assert apt.debian_mirror(tmp_path) == "http://other.example/debian"
    (tmp_path / "sources.list").write_text("deb http://other.example/debian trixie main\n")
    with pytest.raises(NotInstalled, match="no apt source for Debian bookworm main"):
        apt.debian_mirror(tmp_path)


def test_qemu_argv_uses_tcg_overlays_a_read_only_share_and_a_udp_link(tmp_path):
    link = Link("52:54:00:c0:02:0b", 40001, 40002, "192.0.2.11/24")
    spec = VmSpec("node-a", link=link, share=Path("/src/checkout"))
    argv = qemu_argv(spec, VmImage(tmp_path / "image", {}), tmp_path / "work")
    joined = " ".join(argv)
    assert "-accel tcg -machine q35" in joined and "kvm" not in joined
    assert f"file={tmp_path}/work/root.qcow2,if=virtio,format=qcow2" in joined
    assert "path=/src/checkout,mount_tag=host,security_model=none,readonly=on" in joined
    assert "socket,id=link,udp=127.0.0.1:40002,localaddr=127.0.0.1:40001" in joined
    cmdline = argv[argv.index("-append") + 1].split()
    assert {"hacontain.hostname=node-a", "hacontain.ip=192.0.2.11/24", "hacontain.share=/src/checkout"} <= set(cmdline)
