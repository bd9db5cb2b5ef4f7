"""The debian template reports its progress (a fake debootstrap on PATH stands in for
the real one, which tests/integration/test_debian_template.py runs)."""

import os

import pytest

from hacontain.errors import CommandError
from hacontain.templates import debian

FAKE = """#!/bin/sh
# debootstrap --variant=minbase --include=... SUITE TARGET MIRROR
target=$4
for word in Retrieving Retrieving Validating Validating Extracting Installing Configuring; do
    echo "I: $word something"
done
[ -n "$FAIL" ] && { echo "E: Couldn't download packages"; exit 1; }
mkdir -p "$target/etc/init.d" "$target/var/cache/apt/archives" "$target/var/lib/apt/lists"
echo "l0:0:wait:/etc/init.d/rc 0" > "$target/etc/inittab"
echo "I: Base system installed successfully."
"""


@pytest.fixture
def fake_debootstrap(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "debootstrap").write_text(FAKE)
    (folder / "debootstrap").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    monkeypatch.setattr(debian, "CACHE", str(tmp_path / "cache"))


def test_an_uncached_build_says_what_it_does(fake_debootstrap, tmp_path, capsys):
    debian.build_rootfs(str(tmp_path / "rootfs"), "box")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("hacontain: no cached Debian bookworm (sysvinit) in ")
    assert "HACONTAIN_DEBIAN_MIRROR" in lines[0]
    phases = [line.split(": ", 2)[2].split()[0] for line in lines if ": debootstrap: " in line]
    assert phases == ["Retrieving", "Validating", "Extracting", "Installing", "Configuring",
                      "Base"]
    assert lines[-2].startswith("hacontain: cached in ")
    assert lines[-1].startswith("hacontain: unpacking ")
    assert (tmp_path / "rootfs/etc/hostname").read_text() == "box\n"
    debian.build_rootfs(str(tmp_path / "again"), "box")
    assert capsys.readouterr().err.startswith("hacontain: unpacking ")


def test_a_failed_debootstrap_says_why_and_leaves_no_cache(fake_debootstrap, tmp_path,
                                                            monkeypatch):
    monkeypatch.setenv("FAIL", "1")
    with pytest.raises(CommandError, match="Couldn't download packages"):
        debian.build_rootfs(str(tmp_path / "rootfs"), "box")
    assert os.listdir(tmp_path / "cache") == []
