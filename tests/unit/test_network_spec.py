"""The pure part of networking: names, MAC fill, type checks (no kernel needed)."""

import random

import pytest

from hacontain import config as configfile
from hacontain.errors import ConfigError
from hacontain.runtime.network import spec


def load(tmp_path, text):
    path = tmp_path / "config"
    path.write_text(text)
    return configfile.load(str(path))


def test_default_names_skip_configured_ones_and_host_names_are_short(tmp_path):
    config = load(tmp_path, "lxc.net.0.type = veth\nlxc.net.1.type = veth\nlxc.net.1.name = eth0\n"
                            "lxc.net.2.type = empty\nlxc.net.3.type = macvlan\nlxc.net.3.link = x\n")
    name = "a-very-long-container-name-" + "x" * 30
    made = spec.interfaces(config, name)
    assert [(item.index, item.name) for item in made] == [(0, "eth1"), (1, "eth0"), (3, "eth2")]
    assert made[0].host_name != made[1].host_name
    assert all(len(item.host_name) <= 15 for item in made[:2])
    assert made[2].host_name is None and made[2].mode == "private"
    assert made[0].host_name == spec.generated_host_name(name, 0) != spec.generated_host_name("b", 0)


@pytest.mark.parametrize("seed", range(20))
def test_random_mac_fill_keeps_a_local_unicast_first_octet(seed):
    mac = spec.fill_hwaddr("xx:16:3e:xx:xx:xx", random.Random(seed))
    first = int(mac[:2], 16)
    assert first & 0x02 and not first & 0x01
    assert mac[2:9] == ":16:3e:" and "x" not in mac
    assert spec.fill_hwaddr("00:16:3e:00:00:0x", random.Random(seed)).startswith("00:16:3e")


def test_unsupported_type_and_none_with_others(tmp_path):
    with pytest.raises(ConfigError, match=r"config:1: lxc.net.0.type: network type 'vlan'"):
        spec.interfaces(load(tmp_path, "lxc.net.0.type = vlan\nlxc.net.0.link = x\n"), "c")
    config = load(tmp_path, "lxc.net.0.type = veth\nlxc.net.1.type = none\n")
    with pytest.raises(ConfigError, match="lxc.net.1.type: type none .* cannot be combined"):
        spec.interfaces(config, "c")
    assert load(tmp_path, "lxc.net.0.type = none\n").shares_host_network()
    assert spec.interfaces(load(tmp_path, "lxc.net.0.type = none\n"), "c") == []
