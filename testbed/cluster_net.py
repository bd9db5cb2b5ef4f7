"""The test cluster's network: one netns per node, joined through a switch netns.

Every interface lives in a namespace made here: a bridge `br0` in the
switch netns `<prefix>sw`, and per node a veth pair created directly
between the switch (`pN`) and the node's netns (`eth0`, address
192.0.2.(10+N)/24). Cutting a node's link sets its switch port down, like
pulling a cable. Nothing is routed to or from the host.
"""

import os
import subprocess

from hacontain.errors import CommandError

SUBNET = "192.0.2"
NETNS_DIR = "/run/netns"


def ip(*args):
    """Run `ip ARGS`; CommandError naming the command on failure."""
    argv = ["ip", *args]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stderr)
    return proc.stdout


def netns_names():
    """Names of the network namespaces in /run/netns."""
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


class Network:
    """Namespaces and links of `count` nodes numbered 1..count."""

    def __init__(self, prefix, count):
        self.prefix = prefix
        self.count = count
        self.switch = f"{prefix}sw"

    def node_netns(self, index):
        return f"{self.prefix}n{index}"

    @staticmethod
    def address(index):
        """Node `index`'s address (no prefix length)."""
        return f"{SUBNET}.{10 + index}"

    def create(self):
        """Make the namespaces, the bridge and one veth pair per node, all up."""
        ip("netns", "add", self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        for index in range(1, self.count + 1):
            netns = self.node_netns(index)
            ip("netns", "add", netns)
            ip("-n", netns, "link", "set", "lo", "up")
            ip("-n", self.switch, "link", "add", f"p{index}", "type", "veth",
               "peer", "name", "eth0", "netns", netns)
            ip("-n", self.switch, "link", "set", f"p{index}", "master", "br0", "up")
            ip("-n", netns, "addr", "add", f"{self.address(index)}/24", "dev", "eth0")
            ip("-n", netns, "link", "set", "eth0", "up")

    def set_link(self, index, up):
        """Plug (up=True) or pull (up=False) node `index`'s cable at the switch."""
        ip("-n", self.switch, "link", "set", f"p{index}", "up" if up else "down")
