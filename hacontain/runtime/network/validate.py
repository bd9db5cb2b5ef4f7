"""Check a container's interfaces against this host before any interface is made.

Every problem is a ConfigError naming the config file, line and key (a
problem of this node: another may have the bridge, so the agent answers 2,
never 6): a link (bridge, macvlan parent, phys NIC) that does not exist in
the netns hacontain runs in, a veth link that is not a bridge, a host-side veth name
already in use, two interfaces with one container-side name or one phys
NIC, a gateway on an interface that is not brought up, `auto` without an
address on the link to take. What the host says (link indexes, the auto
gateways, a phys NIC's name/MTU/MAC to restore) comes back in the
Interfaces, so setup looks nothing up again.
"""

from hacontain.runtime.network import ip, netlink


def check(config, interfaces):
    """`interfaces` (spec.interfaces of `config`) checked against this netns, host facts filled in."""
    host = netlink.host()
    try:
        return resolve(config, interfaces, host)
    finally:
        host.close()


def resolve(config, interfaces, host):
    """`interfaces` checked against the netns of socket `host`, host facts filled in.

    Each link is asked for by name (RTM_GETLINK with IFLA_IFNAME), so the cost
    does not grow with the number of links on the host."""
    links = _Links(host)
    problems = _Problems(config)
    _check_unique(interfaces, problems)
    return [_resolve_one(interface, links, host, problems) for interface in interfaces]


class _Links:
    """The host's links by name, each looked up once when first asked for."""

    def __init__(self, host):
        self.host, self.known = host, {}

    def get(self, name):
        """The ifinfmsg of link `name`, or None when there is none."""
        if name not in self.known:
            self.known[name] = self.host.link(name)
        return self.known[name]


class _Problems:
    """Raises ConfigError at the config line of `lxc.net.N.<sub>` (or the type line)."""

    def __init__(self, config):
        self.config = config
        self.nets = {net.index: net for net in config.nets}

    def error(self, interface, sub, message):
        entry = self.config.entry(f"lxc.net.{interface.index}.{sub}") or \
            self.nets[interface.index].origin
        return entry.error(message)


def _check_unique(interfaces, problems):
    seen = {}
    for interface in interfaces:
        for key, sub in ((("name", interface.name), "name"),
                         (("host", interface.host_name), "veth.pair"),
                         (("phys", interface.link if interface.type == "phys" else None), "link")):
            if key[1] is None:
                continue
            if key in seen:
                raise problems.error(interface, sub, f"{key[1]} is already used by interface "
                                                     f"{seen[key]} of this container")
            seen[key] = interface.index
        if interface.name == "lo":
            raise problems.error(interface, "name", "lo is the container's loopback")


def _resolve_one(interface, links, host, problems):
    facts = {}
    if interface.host_name is not None and links.get(interface.host_name) is not None:
        raise problems.error(interface, "veth.pair", f"interface {interface.host_name} already "
                                                     "exists in this network namespace")
    if interface.link is not None:
        link = links.get(interface.link)
        if link is None:
            raise problems.error(interface, "link", f"interface {interface.link} does not exist "
                                                    "in this network namespace")
        kind = link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")
        if interface.type == "veth" and kind != "bridge":
            raise problems.error(interface, "link", f"{interface.link} is not a bridge "
                                                    f"(it is {kind or 'a plain device'})")
        if interface.type == "phys" and (kind in ("bridge", "macvlan") or interface.link == "lo"):
            raise problems.error(interface, "link", f"{interface.link} is a {kind or 'loopback'} "
                                                    "interface, not a NIC to give away")
        facts["link_index"] = link["index"]
        if interface.type == "phys":
            facts["original"] = {"name": interface.link, "index": link["index"], "kind": kind,
                                 "mtu": link.get_attr("IFLA_MTU"),
                                 "hwaddr": link.get_attr("IFLA_ADDRESS")}
    for family, field in ((4, "gateway4"), (6, "gateway6")):
        gateway = getattr(interface, field)
        if gateway is None:
            continue
        sub = f"ipv{family}.gateway"
        if not interface.up:
            raise problems.error(interface, sub, "a gateway needs the interface up "
                                                 f"(lxc.net.{interface.index}.flags = up)")
        if gateway == "auto":
            facts[field] = _link_address(interface, family, facts.get("link_index"), host,
                                         problems)
    return interface.replace(**facts)


def _link_address(interface, family, link_index, host, problems):
    """For gateway `auto`: the first address of the interface's host-side link."""
    sub = f"ipv{family}.gateway"
    if link_index is None or interface.type == "phys":
        raise problems.error(interface, sub, "auto needs a bridge or parent in "
                                             f"lxc.net.{interface.index}.link")
    for message in host.addresses(family):
        if message["index"] != link_index:
            continue
        address = ip.parse(message.get_attr("IFA_ADDRESS"))
        if not address.is_link_local():
            return address.text
    raise problems.error(interface, sub, f"auto: {interface.link} has no IPv{family} address")
