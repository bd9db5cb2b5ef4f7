"""IP addresses and prefixes as the config and setup use them, parsed with inet_pton.

`socket` comes with netlink anyway; the `ipaddress` module would add 2-5 ms
to every start of a container with interfaces. An Address is an address
with its prefix length (the whole address when none is written).
"""

import socket

from hacontain.record import Record

FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6}
LINK_LOCAL = {4: ("169.254.0.0", 16), 6: ("fe80::", 10)}


class Address(Record):
    """An IPv4 or IPv6 address (`text`, canonical) with a prefix length."""
    version: int
    text: str
    prefix: int

    @property
    def packed(self):
        return socket.inet_pton(FAMILIES[self.version], self.text)

    def contains(self, other):
        """Whether `other` lies in this address's network."""
        return other.version == self.version and \
            _leading_bits(self.packed, self.prefix) == _leading_bits(other.packed, self.prefix)

    def network(self):
        """The network of this address and prefix, as an Address (host bits cleared)."""
        bits = len(self.packed) * 8
        number = int.from_bytes(self.packed, "big") >> (bits - self.prefix) << (bits - self.prefix)
        packed = number.to_bytes(len(self.packed), "big")
        return Address(version=self.version, prefix=self.prefix,
                       text=socket.inet_ntop(FAMILIES[self.version], packed))

    def is_link_local(self):
        text, prefix = LINK_LOCAL[self.version]
        return parse(f"{text}/{prefix}").contains(self)


def parse(text, prefix="optional"):
    """The Address `text` ("192.0.2.10/24", "2001:db8::1", ...); ValueError saying why not.

    `prefix`: "optional" (none: the whole address), "required" or "forbidden".
    """
    address, slash, length = text.partition("/")
    if slash and prefix == "forbidden":
        raise ValueError("no prefix length here")
    for version, family in FAMILIES.items():
        try:
            packed = socket.inet_pton(family, address)
        except OSError:
            continue
        bits = len(packed) * 8
        if not slash:
            if prefix == "required":
                raise ValueError("a prefix length is needed, e.g. /24")
            return Address(version=version, text=socket.inet_ntop(family, packed), prefix=bits)
        if not (length.isascii() and length.isdigit()) or not 0 <= int(length) <= bits:
            raise ValueError(f"prefix length {length!r} is not 0-{bits}")
        return Address(version=version, text=socket.inet_ntop(family, packed),
                       prefix=int(length))
    raise ValueError(f"{address!r} is neither an IPv4 nor an IPv6 address")


def default_route(version):
    """0.0.0.0/0 or ::/0."""
    return parse("0.0.0.0/0" if version == 4 else "::/0")


def _leading_bits(packed, count):
    bits = len(packed) * 8
    return int.from_bytes(packed, "big") >> (bits - count)
