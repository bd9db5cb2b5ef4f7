"""A container's interfaces as the config asks for them, with the gaps filled.

Pure: no netlink, no host access. Default container-side names are eth0,
eth1, ... (the first unused ones, skipping explicitly configured names);
the host end of a veth without `veth.pair` gets a name derived from the
container name and the interface index, so it is unique per container and
the same on every start. A MAC with `xx` digits is filled at random, the
first octet kept a locally administered unicast address.
"""

from hacontain.errors import ConfigError
from hacontain.record import Record

MADE_TYPES = ("veth", "macvlan", "phys")
SUPPORTED_TYPES = ("none", "empty") + MADE_TYPES


class Interface(Record):
    """One interface to make: what the config says plus resolved names.

    `link_index`, `gateway4`/`gateway6` (with `auto` resolved) and `original`
    (a phys interface's name, MTU and MAC before it was moved) are filled in
    by validate.
    """
    index: int
    type: str
    name: str
    link: str | None = None
    host_name: str | None = None
    mode: str | None = None
    hwaddr: str | None = None
    mtu: int | None = None
    up: bool = False
    ipv4: tuple = ()
    ipv6: tuple = ()
    gateway4: str | None = None
    gateway6: str | None = None
    link_index: int | None = None
    original: dict | None = None

    def record(self):
        """What stop and crash cleanup need to undo this interface (goes in State.network)."""
        record = {"type": self.type, "name": self.name, "up": self.up}
        if self.type == "veth":
            record["host"] = self.host_name
        if self.type == "phys":
            record.update(link=self.link, original=self.original)
        return record


def interfaces(config, container_name):
    """The Interfaces to make for `config` (veth, macvlan, phys), in config order.

    Raises ConfigError for a type hacontain cannot make or `none` mixed with others.
    """
    for net in config.nets:
        if net.type not in SUPPORTED_TYPES:
            raise net.origin.error(f"network type {net.type!r} is not supported "
                                   f"(one of {', '.join(SUPPORTED_TYPES)})")
    if config.shares_host_network() and len(config.nets) > 1:
        first = next(net for net in config.nets if net.type == "none")
        raise first.origin.error("type none (the host's network) cannot be combined with "
                                 "other interfaces")
    made = [net for net in config.nets if net.type in MADE_TYPES]
    if made and "net" in config.namespace_keep:
        raise config.entry("lxc.namespace.keep").error(
            "net keeps the host's network namespace: no lxc.net interface can be made there "
            f"(lxc.net.{made[0].index} is a {made[0].type}); use type none, or drop net")
    names = _container_names(made)
    return [_interface(net, names[net.index], container_name) for net in made]


def _container_names(nets):
    taken = {net.name for net in nets if net.name}
    result, number = {}, 0
    for net in nets:
        if net.name:
            result[net.index] = net.name
            continue
        while f"eth{number}" in taken:
            number += 1
        result[net.index] = f"eth{number}"
        taken.add(result[net.index])
    return result


def _interface(net, name, container_name):
    host_name = None
    if net.type == "veth":
        host_name = net.veth_pair or generated_host_name(container_name, net.index)
    return Interface(
        index=net.index, type=net.type, name=name, link=net.link, host_name=host_name,
        mode=(net.macvlan_mode or "private") if net.type == "macvlan" else None,
        hwaddr=fill_hwaddr(net.hwaddr) if net.hwaddr else None, mtu=net.mtu,
        up=net.flags == "up", ipv4=net.ipv4, ipv6=net.ipv6,
        gateway4=net.ipv4_gateway, gateway6=net.ipv6_gateway)


def generated_host_name(container_name, index):
    """`hc` + 8 hex digits of the container name's hash + `_` + index (<= 15 characters)."""
    import zlib
    digest = f"{zlib.crc32(container_name.encode()):08x}"
    name = f"hc{digest}_{index}"
    if len(name) > 15:
        raise ConfigError(f"interface index {index} too large for a generated veth name; "
                          "set veth.pair")
    return name


def fill_hwaddr(pattern, rng=None):
    """`pattern` with each `x` replaced by a random hex digit (from `rng`, default
    the random module); a random first octet is made locally administered (bit 1
    set) and unicast (bit 0 clear)."""
    if rng is None:
        import random as rng              # here: ~1.5 ms, paid only for a hwaddr
    digits = "".join(f"{rng.randrange(16):x}" if char in "xX" else char for char in pattern)
    octets = digits.lower().split(":")
    if "x" in pattern[:2].lower():
        octets[0] = f"{(int(octets[0], 16) & 0xFE) | 0x02:02x}"
    return ":".join(octets)

