"""The interfaces inside a running container, read from its netns (for `hacontain info`)."""

from hacontain.runtime.network import netlink


def interfaces(pid):
    """{name: {"state", "mtu", "hwaddr", "addresses"}} for each interface in the netns of `pid`."""
    inside = netlink.inside(f"/proc/{pid}/ns/net")
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
