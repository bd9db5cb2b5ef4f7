"""The cached VM image: kernel, initramfs and root disk, built once per recipe digest."""

import fcntl
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hacontain.errors import NotInstalled

from . import apt, initrd, kernel, recipe, rootfs

DEFAULT_CACHE_DIR = Path(os.environ.get("HACONTAIN_VM_CACHE", "/var/cache/hacontain/vm"))
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class VmImage:
    """A built image in its cache folder; read-only once built (VMs use overlays)."""

    directory: Path
    manifest: dict

    @property
    def kernel(self):
        return self.directory / "vmlinuz"

    @property
    def initrd(self):
        return self.directory / "initrd.img"

    @property
    def rootfs(self):
        return self.directory / "rootfs.img"


def ensure_image(cache_dir=DEFAULT_CACHE_DIR, log=lambda message: None):
    """Return the image for the current recipe and package versions, building it if needed."""
    kernel_package = apt.kernel_package()
    versions = apt.candidate_versions([kernel_package, *recipe.PACKAGES])
    key = recipe.digest(versions)[:16]
    target = Path(cache_dir) / key
    if (target / MANIFEST).exists():
        return load(target)
    if os.geteuid() != 0:
        raise NotInstalled(f"building the VM image needs root (debootstrap); nothing cached at {target}")
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    with locked(Path(cache_dir) / ".lock"):
        if not (target / MANIFEST).exists():
            log(f"building VM image {key} in {cache_dir}")
            build(target, kernel_package, versions, log)
            prune(cache_dir, keep=key)
    return load(target)


def load(directory):
    """The image in ``directory``."""
    return VmImage(directory, json.loads((directory / MANIFEST).read_text()))


def build(target, kernel_package, versions, log):
    """Build into a temporary folder next to ``target``, then rename it into place."""
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    timings = {}
    try:
        out = work / "image"
        out.mkdir()
        root = work / "root"
        with timed(timings, "debootstrap", log):
            rootfs.debootstrap(root, apt.debian_mirror())
        with timed(timings, "kernel", log):
            deb = apt.download(kernel_package, work)
            unpacked = kernel.unpack(deb, work / "kernel")
            shutil.copyfile(unpacked.vmlinuz, out / "vmlinuz")
            modules = kernel.install_modules(unpacked, root)
            initrd.build_initrd(modules, root / "bin/busybox", out / "initrd.img")
        with timed(timings, "mkfs", log):
            rootfs.slim(root)
            rootfs.install_guest_files(root)
            rootfs.make_ext4(root, out / "rootfs.img")
        manifest = {"kernel_release": unpacked.release, "packages": versions, "build_seconds": timings}
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        os.rename(out, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def prune(cache_dir, keep):
    """Remove images of older recipes and leftovers of interrupted builds."""
    for entry in Path(cache_dir).iterdir():
        if entry.is_dir() and entry.name != keep:
            shutil.rmtree(entry, ignore_errors=True)


@contextmanager
def locked(path):
    """Hold an exclusive lock on ``path`` so concurrent runs build an image only once."""
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


@contextmanager
def timed(timings, step, log):
    """Record the wall time of ``step`` in ``timings``."""
    start = time.monotonic()
    yield
    timings[step] = round(time.monotonic() - start, 1)
    log(f"{step}: {timings[step]} s")
