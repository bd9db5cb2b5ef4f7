"""netlink.Socket against the real kernel, in a netns this test makes (never the machine's).

The socket is made inside the test netns as start makes it (netlink.inside);
what it encodes is checked with `ip -d -j` (iproute2's own decoding), what
it decodes against the same.
"""

import subprocess

import pytest

from netnstools import Netns
from hacontain.errors import KernelError
from hacontain.runtime.network import ip, netlink

pytestmark = pytest.mark.root


@pytest.fixture
def netns():
    made = Netns("hcu")
    yield made
    made.remove()


@pytest.fixture
def sock(netns):
    made = netlink.inside(netns.path)
    yield made
    made.close()


def test_veth_with_peer_master_mac_mtu_and_up(netns, sock):
    netns.ip("link", "add", "br0", "type", "bridge")
    bridge = sock.link("br0")
    peer = [("IFLA_IFNAME", "inner0"), ("IFLA_ADDRESS", "02:16:3e:00:00:07"), ("IFLA_MTU", 1400)]
    sock.add_link("create veth", "outer0", [
        ("IFLA_IFNAME", "outer0"), ("IFLA_MASTER", bridge["index"]), ("IFLA_MTU", 1400),
        netlink.link_info("veth", [("VETH_INFO_PEER", {"attrs": peer})])], up=True)
    links = netns.links()
    assert links["outer0"]["master"] == "br0" and links["outer0"]["mtu"] == 1400
    assert "UP" in links["outer0"]["flags"] and "UP" not in links["inner0"]["flags"]
    assert links["inner0"]["address"] == "02:16:3e:00:00:07" and links["inner0"]["mtu"] == 1400
    assert links["inner0"]["linkinfo"]["info_kind"] == "veth"
    inner = sock.link("inner0")
    assert inner.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") == "veth"
    assert (inner.get_attr("IFLA_ADDRESS"), inner.get_attr("IFLA_MTU")) == \
        ("02:16:3e:00:00:07", 1400)
    sock.set_link("set up", "inner0", inner["index"], up=True)
    sock.set_link("set down", "outer0", sock.link("outer0")["index"], up=False)
    links = netns.links()
    assert "UP" in links["inner0"]["flags"] and "UP" not in links["outer0"]["flags"]
    sock.delete_link("delete veth", "outer0", sock.link("outer0")["index"])
    assert sorted(netns.links()) == ["br0", "lo"]


@pytest.mark.parametrize("mode", ["private", "vepa", "bridge", "passthru"])
def test_every_macvlan_mode_is_encoded_and_decoded(netns, sock, mode):
    netns.ip("link", "add", "par0", "type", "veth", "peer", "name", "par1")
    sock.add_link("create macvlan", "mv0", [
        ("IFLA_IFNAME", "mv0"), ("IFLA_LINK", sock.link("par0")["index"]),
        netlink.link_info("macvlan", [("IFLA_MACVLAN_MODE", mode)])])
    assert netns.links()["mv0"]["linkinfo"]["info_data"]["mode"] == mode
    link = sock.link("mv0")
    assert link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") == "macvlan"
    assert link.get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA", "IFLA_MACVLAN_MODE") == mode


def test_macvlan_mode_rename_and_move_to_another_netns(netns, sock):
    netns.ip("link", "add", "par0", "type", "veth", "peer", "name", "par1")
    other = Netns("hcu")
    try:
        sock.add_link("create macvlan", "mv0", [
            ("IFLA_IFNAME", "mv0"), ("IFLA_LINK", sock.link("par0")["index"]),
            netlink.link_info("macvlan", [("IFLA_MACVLAN_MODE", "bridge")])])
        assert netns.links()["mv0"]["linkinfo"]["info_data"]["mode"] == "bridge"
        sock.set_link("move", "mv0", sock.link("mv0")["index"],
                      [("IFLA_NET_NS_FD", other.fd), ("IFLA_IFNAME", "moved0")])
        assert "mv0" not in netns.links() and "moved0" in other.links()
    finally:
        other.remove()


def test_addresses_routes_and_their_dumps(netns, sock):
    netns.ip("link", "add", "d0", "type", "bridge")
    index = sock.link("d0")["index"]
    sock.set_link("set up", "d0", index, up=True)
    for text in ("192.0.2.5/24", "2001:db8::5/64"):
        sock.add_address(f"add address {text}", "d0", index, ip.parse(text))
    gateway = ip.parse("198.51.100.1")
    sock.add_route("on-link", "d0", index, gateway)
    sock.add_route("default", "d0", index, ip.default_route(4), gateway)
    assert "192.0.2.5/24" in netns.ip("addr", "show", "d0")
    routes = [line.strip() for line in netns.ip("route", "show").splitlines()]
    assert "default via 198.51.100.1 dev d0" in routes
    assert "198.51.100.1 dev d0 scope link" in routes
    shown = {(item.get_attr("IFA_ADDRESS"), item["prefixlen"]) for item in sock.addresses()
             if item["index"] == index}
    assert {("192.0.2.5", 24), ("2001:db8::5", 64)} <= shown
    assert {item.get_attr("IFA_ADDRESS") for item in sock.addresses(4)} == {"192.0.2.5"}
    assert all(item["family"] == 10 for item in sock.addresses(6))


def test_kernel_errors_name_the_operation_and_the_interface(netns, sock):
    assert sock.link("nosuch0") is None
    netns.ip("link", "add", "d0", "type", "bridge")
    with pytest.raises(KernelError) as caught:
        sock.add_link("create bridge", "d0", [("IFLA_IFNAME", "d0"),
                                              netlink.link_info("bridge")])
    assert str(caught.value).startswith("create bridge d0: EEXIST")
    with pytest.raises(KernelError) as caught:
        sock.set_link("set MTU", "d0", sock.link("d0")["index"], [("IFLA_MTU", 1 << 20)])
    assert caught.value.op == "set MTU" and caught.value.path == "d0"
    with pytest.raises(KernelError) as caught:
        sock.delete_link("delete", "gone0", 999999)
    assert netlink.missing(caught.value)
    assert sock.link("d0") is not None, "the socket still works after errors"


def test_a_dump_bigger_than_one_datagram_comes_whole(netns, sock):
    """300 links (~1.5 KiB each) are far more than the kernel puts in one datagram."""
    batch = "".join(f"link add a{number} type veth peer name b{number}\n"
                    for number in range(150))
    subprocess.run(["ip", "-n", netns.name, "-batch", "-"], input=batch, text=True, check=True)
    names = [message.get_attr("IFLA_IFNAME") for message in sock.links()]
    assert sorted(names) == sorted(["lo"] + [f"{end}{number}" for number in range(150)
                                             for end in "ab"])


def test_a_dump_the_kernel_marks_interrupted_is_asked_again(netns, sock):
    """The kernel's first reply is flagged NLM_F_DUMP_INTR (links changed during the dump)."""
    receive, datagrams = sock._receive, []

    def first_flagged(*args):
        data = bytearray(receive(*args))
        if not datagrams:
            data[6] |= netlink.NLM_F_DUMP_INTR   # nlmsghdr.nlmsg_flags, low byte
        datagrams.append(data)
        return bytes(data)

    sock._receive = first_flagged
    before = sock._sequence
    assert [message.get_attr("IFLA_IFNAME") for message in sock.links()] == ["lo"]
    assert sock._sequence == before + 2, "the dump was asked twice"
