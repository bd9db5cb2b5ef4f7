"""Make a container's interfaces, in its netns, before its init runs.

From the host's netns: a veth pair is created with its container end
placed straight into the container's netns under its final name (MAC and
MTU set at creation) and its host end attached to the bridge and up; a
macvlan is created on its parent directly in the container's netns; a phys
NIC is moved in and renamed in one request. Then, through a socket inside
the container's netns: a phys NIC's MAC and MTU, the addresses, `up`, and
the gateway routes (a gateway outside the interface's prefixes gets an
on-link host route first, as LXC does). An interface without
`flags = up` is made and addressed but left down.
"""

import errno
import ipaddress

from hacontain.errors import KernelError
from hacontain.runtime.network import netlink

SCOPE_LINK = 253


def setup(interfaces, netns_fd, netns_path):
    """Create and configure `interfaces` in the netns open at `netns_fd`."""
    host = netlink.host()
    try:
        for interface in interfaces:
            _create(interface, host, netns_fd)
    finally:
        host.close()
    inside = netlink.inside(netns_fd, netns_path)
    try:
        for interface in interfaces:
            _configure(interface, inside)
    finally:
        inside.close()


def _link_settings(interface):
    settings = {}
    if interface.hwaddr:
        settings["address"] = interface.hwaddr
    if interface.mtu:
        settings["mtu"] = interface.mtu
    return settings


def _create(interface, host, netns_fd):
    if interface.type == "veth":
        peer = {"ifname": interface.name, "net_ns_fd": netns_fd, **_link_settings(interface)}
        extra = {"master": interface.link_index} if interface.link_index else {}
        if interface.mtu:
            extra["mtu"] = interface.mtu
        netlink.call("create veth", interface.host_name, host.link, "add",
                     ifname=interface.host_name, kind="veth", state="up", peer=peer, **extra)
    elif interface.type == "macvlan":
        netlink.call("create macvlan", interface.name, host.link, "add", ifname=interface.name,
                     kind="macvlan", link=interface.link_index, macvlan_mode=interface.mode,
                     net_ns_fd=netns_fd, **_link_settings(interface))
    else:
        netlink.call("move into the container", interface.link, host.link, "set",
                     index=interface.link_index, net_ns_fd=netns_fd, ifname=interface.name)


def _configure(interface, inside):
    name = interface.name
    found = netlink.call("look up", name, inside.link_lookup, ifname=name)
    if not found:
        raise KernelError("look up in the container", errno.ENODEV, name)
    index = found[0]
    if interface.type == "phys" and _link_settings(interface):
        netlink.call("set MAC/MTU", name, inside.link, "set", index=index,
                     **_link_settings(interface))
    for text in interface.ipv4 + interface.ipv6:
        address = ipaddress.ip_interface(text)
        netlink.call(f"add address {text}", name, inside.addr, "add", index=index,
                     address=str(address.ip), prefixlen=address.network.prefixlen)
    if not interface.up:
        return
    netlink.call("set up", name, inside.link, "set", index=index, state="up")
    for gateway, addresses in ((interface.gateway4, interface.ipv4),
                               (interface.gateway6, interface.ipv6)):
        if gateway:
            _add_default_route(inside, name, index, ipaddress.ip_address(gateway), addresses)


def _add_default_route(inside, name, index, gateway, addresses):
    networks = [ipaddress.ip_interface(text).network for text in addresses]
    width = gateway.max_prefixlen
    if not any(gateway in network for network in networks):
        netlink.call(f"add route to gateway {gateway}", name, inside.route, "add",
                     dst=f"{gateway}/{width}", oif=index, scope=SCOPE_LINK)
    default = "0.0.0.0/0" if gateway.version == 4 else "::/0"
    netlink.call(f"add default route via {gateway}", name, inside.route, "add",
                 dst=default, gateway=str(gateway), oif=index)
