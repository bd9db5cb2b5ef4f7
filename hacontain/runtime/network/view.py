"""The interfaces inside a running container, read from its netns (for `hacontain info`)."""

import os

from hacontain.errors import KernelError
from hacontain.runtime.network import netlink


def interfaces(pid):
    """{name: {"state", "mtu", "hwaddr", "addresses"}} for each interface in the netns of `pid`."""
    path = f"/proc/{pid}/ns/net"
    try:
        netns = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise KernelError("open", exc.errno, path) from None
    try:
        inside = netlink.inside(netns, path)
    finally:
        os.close(netns)
    try:
        links = inside.links()
        addresses = inside.addresses()
    finally:
        inside.close()
    result = {}
    for link in links:
        own = [f"{item.get_attr('IFA_ADDRESS')}/{item['prefixlen']}" for item in addresses
               if item["index"] == link["index"]]
        result[link.get_attr("IFLA_IFNAME")] = {
            "state": "up" if link["flags"] & netlink.IFF_UP else "down",
            "mtu": link.get_attr("IFLA_MTU"), "hwaddr": link.get_attr("IFLA_ADDRESS"),
            "addresses": own}
    return result
