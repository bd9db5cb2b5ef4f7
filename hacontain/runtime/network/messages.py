"""The rtnetlink messages hacontain sends and reads: pyroute2's message classes.

The only module that imports pyroute2. Addresses and routes are pyroute2's
ifaddrmsg and rtmsg. Links are `ifinfmsg` below: pyroute2's own message
machinery (nlmsg, nla) with just the attributes hacontain reads or writes;
attributes not listed decode as UNKNOWN and are not used. pyroute2's
ifinfmsg would load all its link-kind plugins and pyroute2.config
(multiprocessing, platform) and compile 33 regular expressions: 11-14 ms
more on every start of a container with interfaces.

pyroute2's package __init__ imports every pyroute2 API (IPRoute, NDB,
nftables...: ~100 ms). The package is registered bare (its path only), so
importing a submodule loads only what that submodule imports.
"""

import importlib.util
import sys

if "pyroute2" not in sys.modules:
    sys.modules["pyroute2"] = importlib.util.module_from_spec(importlib.util.find_spec("pyroute2"))

from pyroute2.netlink import nla, nlmsg, nlmsg_atoms  # noqa: E402  (after the bare package)
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg  # noqa: E402,F401
from pyroute2.netlink.rtnl.rtmsg import rtmsg  # noqa: E402,F401

IFINFOMSG_FIELDS = (("family", "B"), ("__align", "x"), ("ifi_type", "H"), ("index", "i"),
                    ("flags", "I"), ("change", "I"))
# (number from linux/if_link.h, name, pyroute2 type or method of the class)
LINK_ATTRIBUTES = ((1, "IFLA_ADDRESS", "l2addr"), (3, "IFLA_IFNAME", "asciiz"),
                   (4, "IFLA_MTU", "uint32"), (5, "IFLA_LINK", "uint32"),
                   (10, "IFLA_MASTER", "uint32"), (18, "IFLA_LINKINFO", "linkinfo"),
                   (28, "IFLA_NET_NS_FD", "uint32"))


class linkinfo(nla):
    """IFLA_LINKINFO: the kind, and the data of the kinds hacontain makes."""
    prefix = "IFLA_INFO_"
    nla_map = ((1, "IFLA_INFO_KIND", "asciiz"), (2, "IFLA_INFO_DATA", "info_data"))

    @staticmethod
    def info_data(self, *argv, **kwarg):
        """IFLA_INFO_DATA's class, by IFLA_INFO_KIND (undecoded for other kinds)."""
        return {"veth": veth_data, "macvlan": macvlan_data}.get(
            self.get_attr("IFLA_INFO_KIND"), self.hex)


class veth_data(nla):
    nla_map = ((1, "VETH_INFO_PEER", "peer"),)

    @staticmethod
    def peer(self, *argv, **kwarg):
        return veth_peer


class macvlan_data(nla):
    prefix = "IFLA_"
    nla_map = ((1, "IFLA_MACVLAN_MODE", "mode"),)

    class mode(nlmsg_atoms.uint32):
        value_map = {1: "private", 2: "vepa", 4: "bridge", 8: "passthru"}


class veth_peer(nla):
    """VETH_INFO_PEER: an ifinfomsg header and link attributes, for the peer."""
    prefix = "IFLA_"
    fields = IFINFOMSG_FIELDS
    nla_map = LINK_ATTRIBUTES
    linkinfo = linkinfo


class ifinfmsg(nlmsg):
    """struct ifinfomsg and the link attributes above."""
    prefix = "IFLA_"
    fields = IFINFOMSG_FIELDS
    nla_map = LINK_ATTRIBUTES
    linkinfo = linkinfo
