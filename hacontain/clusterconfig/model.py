"""The stack `hacontain cluster-config` describes: one DRBD resource, the VG on it,
the volumes the containers' rootfs are on (LVs the runtime mounts, or filesystems
ocf:heartbeat:Filesystem mounts), the containers and their service IPs. Read from
the containers' LXC configs; every inconsistency is a one-line error."""

import ipaddress
import os
import re

from hacontain import config, paths
from hacontain.errors import ConfigError, NotFound, ParameterError
from hacontain.record import Record

ACCESS_MODES = ("system_id", "tagging")
_DRBD_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}")    # drbdadm's resource names
_VG_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,126}")    # lvm's VG and LV names


class Filesystem(Record):
    """A volume of the VG mounted by ocf:heartbeat:Filesystem at `directory`."""
    device: str
    lv: str
    directory: str
    fstype: str


class Container(Record):
    """One container of the stack: `mounted_by` "runtime" (its rootfs is an LV or a
    device of the VG) or "filesystem" (a directory on `filesystem`)."""
    name: str
    rootfs: str
    mounted_by: str
    filesystem: Filesystem | None = None
    ip: ipaddress.IPv4Interface | ipaddress.IPv6Interface | None = None


class Stack(Record):
    drbd: str
    vg: str
    access_mode: str
    containers: tuple
    filesystems: tuple
    lxcpath: str | None            # None: the default, which the agent finds itself
    nic: str | None = None


def describe(names, drbd, vg, access_mode="system_id", filesystems=(), ips=(), nic=None,
             lxcpath=None):
    """The Stack of containers `names` (their configs in `lxcpath`) on VG `vg` on DRBD
    resource `drbd`. `filesystems`: "DEVICE:DIRECTORY:FSTYPE" specs; `ips`:
    "[NAME=]ADDRESS/PREFIX" specs."""
    if not names:
        raise ParameterError("name at least one container")
    if not drbd:
        raise ParameterError("name the DRBD resource the VG is on with --drbd RESOURCE")
    if not _DRBD_NAME.fullmatch(drbd):
        raise ParameterError(f"invalid DRBD resource name {drbd!r}")
    if not vg:
        raise ParameterError("name the volume group on the DRBD device with --vg VG")
    if not _VG_NAME.fullmatch(vg) or vg in (".", ".."):
        raise ParameterError(f"invalid volume group name {vg!r}")
    if access_mode not in ACCESS_MODES:
        raise ParameterError(f"vg_access_mode {access_mode!r}: one of {', '.join(ACCESS_MODES)}")
    if nic is not None and not re.fullmatch(r"[A-Za-z0-9_.:-]{1,15}", nic):
        raise ParameterError(f"invalid interface name {nic!r} (--nic)")
    for name in names:
        config.valid_name(name)
    if len(set(names)) != len(names):
        raise ParameterError(f"container {_first_repeated(names)} is named twice")
    mounts = tuple(parse_filesystem(spec, vg) for spec in filesystems)
    for key, what in ((lambda fs: fs.device, "device"), (lambda fs: fs.directory, "directory")):
        repeated = _first_repeated([key(fs) for fs in mounts])
        if repeated:
            raise ParameterError(f"--filesystem: {what} {repeated} is given twice")
    addresses = parse_ips(ips, names)
    root = paths.lxcpath(lxcpath)
    containers = tuple(_container(name, root, vg, mounts, addresses.get(name)) for name in names)
    unused = [fs.device for fs in mounts if all(ct.filesystem != fs for ct in containers)]
    if unused:
        raise ParameterError(f"--filesystem {unused[0]}: no container's rootfs is on it")
    return Stack(drbd=drbd, vg=vg, access_mode=access_mode, containers=containers,
                 filesystems=mounts, nic=nic,
                 lxcpath=None if root == paths.DEFAULT_LXCPATH else root)


def parse_filesystem(spec, vg):
    """Filesystem of "DEVICE:DIRECTORY:FSTYPE", DEVICE an LV of `vg`."""
    parts = spec.split(":")
    if len(parts) != 3 or not all(parts):
        raise ParameterError(f"--filesystem {spec!r}: expected DEVICE:DIRECTORY:FSTYPE, e.g. "
                             f"/dev/{vg}/data:/srv/data:ext4")
    device, directory, fstype = os.path.normpath(parts[0]), os.path.normpath(parts[1]), parts[2]
    lv = lv_of(device, vg)
    if lv is None:
        raise ParameterError(f"--filesystem {spec!r}: {device} is not an LV of VG {vg} "
                             f"(/dev/{vg}/LV)")
    if not directory.startswith("/") or directory == "/":
        raise ParameterError(f"--filesystem {spec!r}: the mount point must be an absolute "
                             "path other than /")
    if not re.fullmatch(r"[a-z0-9_.]{1,32}", fstype):
        raise ParameterError(f"--filesystem {spec!r}: invalid filesystem type {fstype!r}")
    return Filesystem(device=device, lv=lv, directory=directory, fstype=fstype)


def parse_ips(specs, names):
    """{container name: ip_interface} of "[NAME=]ADDRESS/PREFIX" specs."""
    found = {}
    for spec in specs:
        name, sep, text = spec.rpartition("=")
        if not sep:
            if len(names) != 1:
                raise ParameterError(f"--ip {spec}: with several containers, say whose "
                                     "address it is: --ip NAME=ADDRESS/PREFIX")
            name = names[0]
        if name not in names:
            raise ParameterError(f"--ip {spec}: {name} is not one of the containers named")
        if "/" not in text:
            raise ParameterError(f"--ip {spec}: give the prefix length, e.g. {text}/24")
        try:
            address = ipaddress.ip_interface(text)
        except ValueError as exc:
            raise ParameterError(f"--ip {spec}: {exc}") from None
        if name in found:
            raise ParameterError(f"--ip {spec}: container {name} has an address already "
                                 f"({found[name]})")
        if address.ip in [known.ip for known in found.values()]:
            raise ParameterError(f"--ip {spec}: {address.ip} is given twice")
        found[name] = address
    return found


def lv_of(device, vg):
    """The LV name of `device` when it is an LV of `vg` (/dev/VG/LV or
    /dev/mapper/VG-LV, whose dashes are doubled), else None."""
    parts = device.split("/")
    if len(parts) == 4 and parts[:3] == ["", "dev", vg] and _VG_NAME.fullmatch(parts[3]):
        return parts[3]
    prefix = f"/dev/mapper/{vg.replace('-', '--')}-"
    rest = device[len(prefix):] if device.startswith(prefix) else ""
    if rest and "-" not in rest.replace("--", ""):
        return rest.replace("--", "-")
    return None


def _container(name, root, vg, mounts, ip):
    path = os.path.join(root, name, "config")
    if not os.path.isfile(path):
        raise NotFound(f"container {name}: no config {path}")
    loaded = config.load(path)
    if not loaded.rootfs:
        raise ConfigError("sets no lxc.rootfs.path", path)
    for mount in loaded.mounts:
        if (mount.source.startswith("/dev/") and not {"bind", "rbind"} & set(mount.options)
                and lv_of(mount.source, vg) is None):
            raise mount.origin.error(f"mounts {mount.source}, which is not an LV of VG {vg}: "
                                     "it cannot follow the DRBD resource")
    if ip is not None:
        for net in loaded.nets:
            for own in net.ipv4 + net.ipv6:
                if ipaddress.ip_interface(own).ip == ip.ip:
                    raise ParameterError(f"--ip {ip}: that is container {name}'s own address "
                                         f"(lxc.net.{net.index} in {path}): a service IP "
                                         "must be another")
    kind, _, rest = loaded.rootfs.partition(":")
    device = rest if kind == "lvm" else loaded.rootfs if loaded.rootfs.startswith("/dev/") else None
    if device is not None:
        if lv_of(device, vg) is None:
            raise ConfigError(f"rootfs {loaded.rootfs} is not an LV of VG {vg} (--vg): it "
                              "cannot follow the DRBD resource", path)
        return Container(name=name, rootfs=loaded.rootfs, mounted_by="runtime", ip=ip)
    if not loaded.rootfs.startswith("/"):
        raise ConfigError(f"rootfs {loaded.rootfs} is node-local: only an LV of VG {vg} "
                          f"(lvm:/dev/{vg}/LV) or a directory on a --filesystem fails over",
                          path)
    around = [fs for fs in mounts if loaded.rootfs.startswith(fs.directory.rstrip("/") + "/")]
    if not around:
        raise ConfigError(f"rootfs {loaded.rootfs} is a directory: name the LV of VG {vg} "
                          f"mounted below it with --filesystem /dev/{vg}/LV:MOUNTPOINT:FSTYPE",
                          path)
    filesystem = max(around, key=lambda fs: len(fs.directory))
    return Container(name=name, rootfs=loaded.rootfs, mounted_by="filesystem",
                     filesystem=filesystem, ip=ip)


def _first_repeated(items):
    seen = set()
    for item in items:
        if item in seen:
            return item
        seen.add(item)
    return None
