"""Debian's kernel for the VMs: a downloaded .deb unpacked and trimmed, never installed on the host."""

import shutil
from dataclasses import dataclass
from pathlib import Path

from hacontain.errors import NotFound

from . import commands
from .recipe import TRIMMED_MODULE_DIRS


@dataclass(frozen=True)
class UnpackedKernel:
    """A kernel package unpacked into a folder."""

    release: str  # uname -r, e.g. 6.1.0-56-amd64
    vmlinuz: Path
    modules: Path  # .../lib/modules/RELEASE


def unpack(deb, dest):
    """Unpack the kernel package ``deb`` into ``dest`` and trim its modules."""
    commands.run([commands.tool("dpkg-deb", "dpkg"), "-x", deb, dest])
    images = sorted(Path(dest).glob("boot/vmlinuz-*"))
    if len(images) != 1:
        raise NotFound(f"{deb}: expected one boot/vmlinuz-*, found {len(images)}")
    release = images[0].name.removeprefix("vmlinuz-")
    modules = Path(dest) / "lib/modules" / release
    if not modules.is_dir():
        raise NotFound(f"{deb}: no lib/modules/{release}")
    for sub in TRIMMED_MODULE_DIRS:
        shutil.rmtree(modules / "kernel" / sub, ignore_errors=True)
    return UnpackedKernel(release, images[0], modules)


def install_modules(kernel, root):
    """Move the kernel's modules into the root file system ``root`` and index them with depmod."""
    target = Path(root) / "lib/modules" / kernel.release
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(kernel.modules, target)
    commands.run([commands.tool("depmod", "kmod"), "-b", root, kernel.release])
    return target
