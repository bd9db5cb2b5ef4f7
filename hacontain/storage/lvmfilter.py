"""Whether LVM's device filters keep it off DRBD's backing disks (for checkconfig).

A VG on a DRBD device has its PV label on the backing disk too: unless
devices/global_filter or devices/filter rejects the backing disk, LVM sees the PV
twice and may activate the VG on the backing disk, bypassing DRBD. The filters are
read from lvm's effective config (`lvmconfig --typeconfig full`, whose values are
lvm config arrays: JSON string arrays); the backing disks from `drbdadm sh-ll-dev
all`; a pattern applies as LVM's regex filter does (the first pattern matching a
device name decides; a device is accepted when one of its names is accepted first,
or none of them matches).
"""

import glob
import json
import os

from hacontain.errors import CommandError, NotInstalled
from hacontain.storage.command import run

KEYS = ("devices/global_filter", "devices/filter", "devices/scan_lvs")
FIX = ('add a filter to /etc/lvm/lvm.conf that accepts /dev/drbd* and rejects the backing '
       'disk, e.g. devices {{ global_filter = [ "a|^/dev/drbd.*|", "r|^{disk}$|" ] }}')


def read_config(text):
    """{"global_filter": [patterns], "filter": [...], "scan_lvs": 0 or 1} from the
    output of `lvmconfig --typeconfig full KEYS`."""
    config = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            value = json.loads(value)
            config[key.strip()] = [value] if isinstance(value, str) else value
    return config


def first_match(patterns, name):
    """'a' or 'r' of the first pattern (LVM syntax: a|REGEX| or r|REGEX|, any delimiter)
    that matches device name `name`, None when none does."""
    import re
    for pattern in patterns:
        if len(pattern) >= 3 and pattern[0] in "ar" and pattern[-1] == pattern[1]:
            try:
                if re.search(pattern[2:-1], name):
                    return pattern[0]
            except re.error:
                continue
    return None


def accepts(patterns, names):
    """Whether LVM's regex filter of `patterns` accepts a device known by `names`."""
    verdicts = [first_match(patterns, name) for name in names]
    return "a" in verdicts or "r" not in verdicts


def warnings(backing, config, drbd_present=False):
    """Warnings (text naming the fix) for an LVM `config` (read_config) and the DRBD
    backing disks `backing` {configured path: [all its names]} of this node (skipped:
    LVs, when LVM does not scan LVs). `drbd_present`: DRBD devices exist, whose backing
    disks are unknown (no resource configured): warn when the filters reject nothing."""
    filters = [config.get("global_filter", []), config.get("filter", [])]
    found = []
    for disk, names in sorted(backing.items()):
        if all(accepts(patterns, names) for patterns in filters):
            found.append(f"LVM filter: the DRBD backing disk {disk} is not rejected by "
                         "lvm.conf's devices/global_filter or devices/filter: a VG on DRBD "
                         "would be seen twice and may be activated on the backing disk; "
                         + FIX.format(disk=disk))
    if drbd_present and not any(
            pattern.startswith("r") for patterns in filters for pattern in patterns):
        found.append("LVM filter: DRBD devices exist and lvm.conf's devices/global_filter and "
                     "devices/filter reject no device: a VG on DRBD would be seen twice; "
                     + FIX.format(disk="BACKING-DISK"))
    return found


def device_names(path, dev="/dev"):
    """The names LVM knows block device `path` by: as given, its real path and the
    /dev/disk/by-*, /dev/block symlinks to it."""
    real = os.path.realpath(path)
    names = {path, real}
    for link in glob.glob(f"{dev}/disk/by-*/*") + glob.glob(f"{dev}/block/*"):
        if os.path.realpath(link) == real:
            names.add(link)
    return sorted(names)


def is_lv(path):
    """Whether block device `path` is an LVM logical volume (device-mapper uuid LVM-...)."""
    name = os.path.basename(os.path.realpath(path))
    try:
        with open(f"/sys/class/block/{name}/dm/uuid", encoding="ascii") as handle:
            return handle.read().startswith("LVM-")
    except OSError:
        return False


def host_warnings():
    """warnings() for this node: [] without DRBD (no resource configured, no
    /sys/block/drbd*) or without LVM."""
    try:
        disks = run(["drbdadm", "sh-ll-dev", "all"], "list the DRBD backing disks").split()
    except (NotInstalled, CommandError):      # no drbd-utils, or no resource defined
        disks = []
    present = bool(glob.glob("/sys/block/drbd*"))
    if not disks and not present:
        return []
    try:
        config = read_config(run(["lvmconfig", "--typeconfig", "full", *KEYS],
                                 "read LVM's device filters"))
    except NotInstalled:
        return []
    scans_lvs = config.get("scan_lvs") != 0
    backing = {disk: device_names(disk) for disk in disks if scans_lvs or not is_lv(disk)}
    return warnings(backing, config, drbd_present=present and not disks)
