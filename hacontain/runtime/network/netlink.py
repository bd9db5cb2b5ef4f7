"""rtnetlink over hacontain's own NETLINK_ROUTE socket, with pyroute2's message classes.

The messages (messages.py, the only module importing pyroute2) encode
requests and decode replies; pyroute2's IPRoute (asyncio, ssl,
concurrent.futures...) is not used. Every change is acknowledged
(NLM_F_ACK); a dump is read to NLMSG_DONE; a kernel error is a KernelError
naming the operation and the interface. `host()` is a socket in the netns
this process runs in; `inside(path)` one in the netns at `path`, made by
entering that netns with setns(2) for the socket() call only (no child
process; setns affects only the calling thread). A netlink socket keeps
the netns it was made in, so every later request on it acts there.
"""

import errno
import socket
import struct

from hacontain.errors import KernelError
from hacontain.runtime.network.ip import FAMILIES
from hacontain.sys import libc

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_GETADDR, RTM_NEWROUTE = 20, 22, 24
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP_INTR = 0x1, 0x4, 0x10
NLM_F_DUMP, NLM_F_EXCL, NLM_F_CREATE = 0x300, 0x200, 0x400
NLMSG_ERROR, NLMSG_DONE = 2, 3
IFF_UP = 0x1
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_LINK, RTN_UNICAST = 254, 3, 253, 1
HEADER = struct.Struct("=IHHII")     # struct nlmsghdr: length, type, flags, sequence, port
SEQUENCE, SEQUENCE_OFFSET = struct.Struct("=I"), 8
ERROR = struct.Struct("=i")          # -errno, after an NLMSG_ERROR / NLMSG_DONE header
BUFFER = 65536                       # > the 32 KiB the kernel puts in one datagram at most


def host():
    """A Socket in this process's netns."""
    return Socket()


def inside(path):
    """A Socket in the netns at `path` (/proc/PID/ns/net or a bind mount of one)."""
    return libc.in_netns(path, Socket)


def missing(error):
    """True when a KernelError says the interface is gone (ENODEV or ENOENT)."""
    return error.errno in (errno.ENODEV, errno.ENOENT)


def link_info(kind, data=()):
    """The IFLA_LINKINFO attribute of a `kind` link with IFLA_INFO_DATA `data` (attributes;
    veth and macvlan only, see messages.py)."""
    attrs = [("IFLA_INFO_KIND", kind)]
    if data:
        attrs.append(("IFLA_INFO_DATA", {"attrs": list(data)}))
    return ("IFLA_LINKINFO", {"attrs": attrs})


class Socket:
    """A NETLINK_ROUTE socket: queries and acknowledged changes of links, addresses, routes."""

    def __init__(self):
        self._socket = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                     NETLINK_ROUTE)
        self._sequence = 0

    def close(self):
        self._socket.close()

    def link(self, name):
        """The ifinfmsg of interface `name`; None when there is none."""
        try:
            return self._request("look up", name, RTM_GETLINK,
                                 _message("ifinfmsg", attrs=[("IFLA_IFNAME", name)]))[0]
        except KernelError as exc:
            if missing(exc):
                return None
            raise

    def links(self):
        """An ifinfmsg per interface."""
        return self._request("list interfaces", None, RTM_GETLINK, _message("ifinfmsg"),
                             dump=True)

    def addresses(self, version=None):
        """An ifaddrmsg per address (of IP `version` 4 or 6 only, when given)."""
        return self._request("list addresses", None, RTM_GETADDR,
                             _message("ifaddrmsg", family=FAMILIES.get(version, 0)), dump=True)

    def add_link(self, op, name, attrs, up=False):
        """Create a link from its IFLA_* `attrs`, up or not."""
        self._request(op, name, RTM_NEWLINK, _link_message(0, attrs, up),
                      NLM_F_CREATE | NLM_F_EXCL)

    def set_link(self, op, name, index, attrs=(), up=None):
        """Change link `index`: its IFLA_* `attrs`; up, down or as it is (None)."""
        self._request(op, name, RTM_NEWLINK, _link_message(index, attrs, up))

    def delete_link(self, op, name, index):
        """Delete link `index` (a veth takes its peer with it)."""
        self._request(op, name, RTM_DELLINK, _message("ifinfmsg", index=index))

    def add_address(self, op, name, index, address):
        """Add `address` (an ip.Address: address and prefix) to link `index`."""
        self._request(op, name, RTM_NEWADDR, _message(
            "ifaddrmsg", family=FAMILIES[address.version], prefixlen=address.prefix,
            index=index, attrs=[("IFA_LOCAL", address.text), ("IFA_ADDRESS", address.text)]),
            NLM_F_CREATE | NLM_F_EXCL)

    def add_route(self, op, name, index, destination, gateway=None):
        """Route `destination` (an ip.Address: network and prefix) out of link `index`,
        via `gateway` (an ip.Address) or on-link."""
        attrs = [("RTA_OIF", index)]
        if destination.prefix:
            attrs.append(("RTA_DST", destination.network().text))
        if gateway is not None:
            attrs.append(("RTA_GATEWAY", gateway.text))
        self._request(op, name, RTM_NEWROUTE, _message(
            "rtmsg", family=FAMILIES[destination.version], dst_len=destination.prefix,
            table=RT_TABLE_MAIN, proto=RTPROT_BOOT, type=RTN_UNICAST,
            scope=0 if gateway is not None else RT_SCOPE_LINK, attrs=attrs),
            NLM_F_CREATE | NLM_F_EXCL)

    def _request(self, op, target, kind, message, flags=0, dump=False):
        """Send `message` as a `kind` request; its decoded replies (a dump: all its parts).

        A dump that the kernel marks inconsistent (links changed meanwhile) is
        asked again.
        """
        header = message["header"]
        header["type"] = kind
        header["flags"] = NLM_F_REQUEST | (NLM_F_DUMP if dump else NLM_F_ACK | flags)
        message.encode()
        while True:
            replies, consistent = self._exchange(op, target, bytearray(message.data),
                                                 type(message))
            if consistent:
                return replies

    def _exchange(self, op, target, request, reply_class):
        """Send `request` under a new sequence number: (its replies, whether it was consistent)."""
        self._sequence += 1
        SEQUENCE.pack_into(request, SEQUENCE_OFFSET, self._sequence)
        self._socket.send(request)
        replies, consistent = [], True
        while True:
            data = self._receive(op, target)
            offset = 0
            while offset + HEADER.size <= len(data):
                length, kind, flags, sequence, _ = HEADER.unpack_from(data, offset)
                if not HEADER.size <= length <= len(data) - offset:
                    raise KernelError(op, errno.EBADMSG, target, "a malformed netlink reply")
                if sequence == self._sequence:
                    if kind in (NLMSG_ERROR, NLMSG_DONE):
                        error = ERROR.unpack_from(data, offset + HEADER.size)[0] \
                            if length >= HEADER.size + ERROR.size else 0
                        if error:
                            raise KernelError(op, -error, target)
                        return replies, consistent
                    consistent &= not flags & NLM_F_DUMP_INTR
                    reply = reply_class(data[offset:offset + length])
                    reply.decode()
                    replies.append(reply)
                offset += (length + 3) & ~3

    def _receive(self, op, target):
        """One datagram; EMSGSIZE if it did not fit in BUFFER."""
        data, _, flags, _ = self._socket.recvmsg(BUFFER)
        if flags & socket.MSG_TRUNC:
            raise KernelError(op, errno.EMSGSIZE, target, "netlink reply truncated")
        return data


def _link_message(index, attrs, up):
    fields = {} if up is None else {"flags": IFF_UP if up else 0, "change": IFF_UP}
    return _message("ifinfmsg", index=index, attrs=attrs, **fields)


def _message(name, attrs=(), **fields):
    """A `name` message (ifinfmsg, ifaddrmsg, rtmsg) with header `fields` and `attrs`."""
    from hacontain.runtime.network import messages
    message = getattr(messages, name)()
    message.update(fields)
    message["attrs"] = list(attrs)
    return message
