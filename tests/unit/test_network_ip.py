"""hacontain.runtime.network.ip against the standard library's ipaddress, as the oracle."""

import ipaddress

import pytest

from hacontain.runtime.network import ip

ADDRESSES = ["192.0.2.10/24", "192.0.2.10/32", "10.1.2.3/8", "0.0.0.0/0", "198.51.100.1",
             "2001:db8::5/64", "2001:DB8:0:0:0:0:0:1/128", "fe80::1/10", "::/0", "::ffff:1.2.3.4/96"]


@pytest.mark.parametrize("text", ADDRESSES)
def test_parse_agrees_with_ipaddress(text):
    oracle = ipaddress.ip_interface(text)
    parsed = ip.parse(text)
    assert (parsed.version, parsed.packed, parsed.prefix) == \
        (oracle.version, oracle.ip.packed, oracle.network.prefixlen)
    assert parsed.network().packed == oracle.network.network_address.packed
    assert parsed.is_link_local() == oracle.ip.is_link_local


@pytest.mark.parametrize("network, address", [
    ("192.0.2.0/24", "192.0.2.255"), ("192.0.2.0/24", "192.0.3.1"), ("10.0.0.0/8", "10.255.0.1"),
    ("0.0.0.0/0", "203.0.113.9"), ("2001:db8::/32", "2001:db8:ffff::1"),
    ("2001:db8::/64", "2001:db8:0:1::1"), ("192.0.2.0/24", "2001:db8::1"),
    ("169.254.0.0/16", "169.254.7.7"), ("192.0.2.77/25", "192.0.2.1")])
def test_contains_agrees_with_ipaddress(network, address):
    oracle_net = ipaddress.ip_interface(network).network
    oracle_address = ipaddress.ip_address(address)
    expected = oracle_address.version == oracle_net.version and oracle_address in oracle_net
    assert ip.parse(network).contains(ip.parse(address)) == expected


@pytest.mark.parametrize("text, message", [
    ("192.0.2.300/24", "neither an IPv4 nor an IPv6"), ("192.0.2.1/33", "not 0-32"),
    ("2001:db8::1/129", "not 0-128"), ("192.0.2.1/", "not 0-32"), ("192.0.2.1/x", "not 0-32"),
    ("192.0.2.1/\u00b2", "not 0-32"), ("eth0", "neither"), ("", "neither")])
def test_bad_addresses_say_why(text, message):
    with pytest.raises(ValueError, match=message):
        ip.parse(text)


def test_a_prefix_can_be_required_or_forbidden():
    with pytest.raises(ValueError, match="a prefix length is needed"):
        ip.parse("192.0.2.3", prefix="required")
    with pytest.raises(ValueError, match="no prefix length here"):
        ip.parse("192.0.2.3/24", prefix="forbidden")
    assert ip.parse("192.0.2.3").prefix == 32 and ip.parse("2001:db8::3").prefix == 128


def test_default_routes():
    assert (ip.default_route(4).text, ip.default_route(4).prefix) == ("0.0.0.0", 0)
    assert (ip.default_route(6).text, ip.default_route(6).prefix) == ("::", 0)
