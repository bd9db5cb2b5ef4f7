"""The VMs' root file system: debootstrap, guest files, then an ext4 image (no mount needed)."""

import os
import shutil
from pathlib import Path

from hacontain.errors import CommandError

from . import commands
from .recipe import GUEST_DIR, GUEST_FILES, PACKAGES, ROOT_IMAGE_SIZE, SUITE, TRIMMED_ROOT_PATHS


def debootstrap(root, mirror):
    """Install a minimal Debian ``SUITE`` with ``PACKAGES`` into the empty folder ``root``."""
    argv = [
        commands.tool("debootstrap", "debootstrap"), "--variant=minbase",
        "--include=" + ",".join(PACKAGES), SUITE, root, mirror,
    ]
    try:
        commands.run(argv, timeout=1200)
    except CommandError as e:
        log = Path(root) / "debootstrap/debootstrap.log"
        if not log.exists():
            raise
        raise commands.HostCommandError(e.argv, e.returncode, log.read_text(errors="replace")) from None


def slim(root):
    """Remove documentation and apt's download state from ``root``."""
    for sub in TRIMMED_ROOT_PATHS:
        shutil.rmtree(Path(root) / sub, ignore_errors=True)


def install_guest_files(root):
    """Copy the guest agent, setup script and configuration in; make busybox the init."""
    for name, target in GUEST_FILES.items():
        dest = Path(root) / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(GUEST_DIR / name, dest)
    init = Path(root) / "sbin/init"
    init.unlink(missing_ok=True)
    os.symlink("/bin/busybox", init)


def make_ext4(root, image):
    """Write ``root`` into a new sparse ext4 image file ``image``."""
    mkfs = commands.tool("mkfs.ext4", "e2fsprogs")
    commands.run([mkfs, "-q", "-F", "-L", "hacontain-vm", "-d", root, image, ROOT_IMAGE_SIZE])
