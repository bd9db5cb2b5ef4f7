"""Network namespaces the network tests make (never the machine's): made, looked at
with iproute2, removed."""

import json
import os
import subprocess

from clitools import unique_name


class Netns:
    """A netns at /run/netns/NAME (NAME from `prefix`), held open at `fd`."""

    def __init__(self, prefix):
        self.name = unique_name(prefix)
        self.path = f"/run/netns/{self.name}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)

    def ip(self, *args):
        """`ip -n NAME ARGS`'s output; AssertionError with its stderr when it fails."""
        result = subprocess.run(["ip", "-n", self.name, *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise AssertionError(f"ip {' '.join(args)} exited {result.returncode}: "
                                 f"{result.stderr}")
        return result.stdout

    def links(self):
        """{name: `ip -d -j link` entry} of the interfaces in this netns."""
        return {link["ifname"]: link for link in json.loads(self.ip("-d", "-j", "link", "show"))}

    def remove(self):
        os.close(self.fd)
        subprocess.run(["ip", "netns", "del", self.name], check=False)
