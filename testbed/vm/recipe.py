"""What goes into the VM image, in one place, and the digest that names a build of it."""

import hashlib
import json
from pathlib import Path

SUITE = "bookworm"
KERNEL_METAPACKAGE = "linux-image-amd64"

# Debian packages of the root file system (debootstrap --variant=minbase adds
# the essential ones). Python ones are hacontain's own dependencies and pytest.
PACKAGES = (
    "python3", "lvm2", "thin-provisioning-tools", "drbd-utils", "iproute2", "kmod",
    "busybox-static", "procps", "e2fsprogs", "util-linux", "iputils-ping",
    "python3-click", "python3-lxml", "python3-psutil", "python3-pyroute2", "python3-pytest",
    # The VM cluster (Pacemaker stack, LXC as the peer), backups, checkpoints.
    "pacemaker", "corosync", "crmsh", "resource-agents", "psmisc", "lxc", "criu",
    "zstd", "acl", "attr", "xfsprogs",
    # Shared volume groups under lvmlockd (sanlock lock manager).
    "lvm2-lockd", "sanlock",
)

# Module folders (under lib/modules/VERSION/kernel) no test VM needs.
TRIMMED_MODULE_DIRS = (
    "sound", "net/wireless", "net/mac80211", "net/bluetooth",
    "drivers/gpu", "drivers/media", "drivers/usb", "drivers/infiniband", "drivers/iio",
    "drivers/staging", "drivers/hid", "drivers/hwmon", "drivers/comedi", "drivers/input",
    "drivers/mtd", "drivers/isdn", "drivers/bluetooth", "drivers/mmc", "drivers/scsi",
    "drivers/video", "drivers/target", "drivers/platform", "drivers/net/wireless",
    "drivers/net/ethernet", "drivers/net/usb", "drivers/net/can",
)

# Root file system trimmings: documentation and apt's download state.
TRIMMED_ROOT_PATHS = (
    "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
    "var/cache/apt", "var/lib/apt/lists",
)

# Modules the initramfs loads, in this order with their dependencies first,
# to find and mount the ext4 root on the first virtio disk. crc32c is loaded
# by name at mount time, so it is listed too.
INITRD_MODULES = ("virtio_pci", "virtio_blk", "crc32c_generic", "ext4")

GUEST_DIR = Path(__file__).parent / "guest"
# Guest files copied into the root file system: name in guest/ -> path in the VM.
GUEST_FILES = {
    "agent.py": "usr/lib/hacontain-vm/agent.py",
    "setup.sh": "usr/lib/hacontain-vm/setup.sh",
    "inittab": "etc/inittab",
    "lvm.conf": "etc/lvm/lvm.conf",
}
INITRD_INIT = GUEST_DIR / "initrd-init"

ROOT_IMAGE_SIZE = "1536M"

# Builder modules whose code shapes the image: a change to them is a new recipe.
BUILDER_MODULES = ("recipe.py", "rootfs.py", "kernel.py", "initrd.py", "cpio.py")


def digest(package_versions):
    """Hash of the recipe, the builder's code, the guest files and the package versions."""
    h = hashlib.sha256()
    h.update(json.dumps(sorted(package_versions.items())).encode())
    here = Path(__file__).parent
    for path in [here / m for m in BUILDER_MODULES] + sorted(p for p in GUEST_DIR.iterdir() if p.is_file()):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()
