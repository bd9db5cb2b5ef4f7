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

from hacontain.errors import KernelError
from hacontain.runtime.network import ip, netlink


def setup(interfaces, netns_fd, netns_path):
    """Create and configure `interfaces` in the netns open at `netns_fd`."""
    host = netlink.host()
    try:
        for interface in interfaces:
            _create(interface, host, netns_fd)
    finally:
        host.close()
    inside = netlink.inside(netns_path)
    try:
        for interface in interfaces:
            _configure(interface, inside)
    finally:
        inside.close()


def _link_settings(interface):
    """The IFLA_ADDRESS / IFLA_MTU attributes the config sets."""
    return [(key, value) for key, value in (("IFLA_ADDRESS", interface.hwaddr),
                                            ("IFLA_MTU", interface.mtu)) if value]


def _create(interface, host, netns_fd):
    if interface.type == "veth":
        peer = [("IFLA_IFNAME", interface.name), ("IFLA_NET_NS_FD", netns_fd),
                *_link_settings(interface)]
        attrs = [("IFLA_IFNAME", interface.host_name),
                 netlink.link_info("veth", [("VETH_INFO_PEER", {"attrs": peer})])]
        if interface.link_index:
            attrs.append(("IFLA_MASTER", interface.link_index))
        if interface.mtu:
            attrs.append(("IFLA_MTU", interface.mtu))
        host.add_link("create veth", interface.host_name, attrs, up=True)
    elif interface.type == "macvlan":
        host.add_link("create macvlan", interface.name, [
            ("IFLA_IFNAME", interface.name), ("IFLA_LINK", interface.link_index),
            ("IFLA_NET_NS_FD", netns_fd), *_link_settings(interface),
            netlink.link_info("macvlan", [("IFLA_MACVLAN_MODE", interface.mode)])])
    else:
        host.set_link("move into the container", interface.link, interface.link_index,
                      [("IFLA_NET_NS_FD", netns_fd), ("IFLA_IFNAME", interface.name)])


def _configure(interface, inside):
    name = interface.name
    link = inside.link(name)
    if link is None:
        raise KernelError("look up in the container", errno.ENODEV, name)
    index = link["index"]
    if interface.type == "phys" and _link_settings(interface):
        inside.set_link("set MAC/MTU", name, index, _link_settings(interface))
    for text in interface.ipv4 + interface.ipv6:
        inside.add_address(f"add address {text}", name, index, ip.parse(text))
    if not interface.up:
        return
    inside.set_link("set up", name, index, up=True)
    for gateway, addresses in ((interface.gateway4, interface.ipv4),
                               (interface.gateway6, interface.ipv6)):
        if gateway:
            _add_default_route(inside, name, index, ip.parse(gateway), addresses)


def _add_default_route(inside, name, index, gateway, addresses):
    if not any(ip.parse(text).contains(gateway) for text in addresses):
        inside.add_route(f"add route to gateway {gateway.text}", name, index, gateway)
    inside.add_route(f"add default route via {gateway.text}", name, index,
                     ip.default_route(gateway.version), gateway)
