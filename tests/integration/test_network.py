"""Container networking on the real kernel, inside test-made "host" network namespaces.

Each test makes its own netns with a bridge br0 (192.0.2.1/24) and runs
hacontain in it with `nsenter --net`, so nothing touches this machine's
own network; the netns is removed at the end.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hacontain.runtime import state as statefile
from clitools import HACONTAIN, cgroups_named, mounts_below, unique_name
from netnstools import Netns

pytestmark = pytest.mark.root

AGENT = Path(__file__).resolve().parents[2] / "ocf" / "container"
VETH = ["type = veth", "link = br0", "flags = up"]


def run(argv, check=True, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr}")
    return result


class HostNetns(Netns):
    """A test-made netns standing in for the host: lo up, bridge br0 with 192.0.2.1/24."""

    def __init__(self):
        super().__init__("hcn")
        for command in (["link", "set", "lo", "up"], ["link", "add", "br0", "type", "bridge"],
                        ["addr", "add", "192.0.2.1/24", "dev", "br0"],
                        ["link", "set", "br0", "up"]):
            self.ip(*command)

    def hacontain(self, *args, check=True):
        return run(["nsenter", f"--net={self.path}", *HACONTAIN, *args], check=check)


@pytest.fixture
def host():
    netns = HostNetns()
    yield netns
    netns.remove()


@pytest.fixture
def container(host, lxcpath, rundir):
    """Factory: a busybox container with `lxc.net.*` lines, run inside `host`;
    killed and checked at teardown (no state, no mount left)."""
    from hacontain.templates import create
    made = []

    def factory(*nets, extra=()):
        name = unique_name()
        create(name, str(lxcpath), "busybox")
        lines = [f"lxc.net.{index}.{line}" for index, net in enumerate(nets) for line in net]
        with open(lxcpath / name / "config", "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines + list(extra)) + "\n")
        made.append(name)
        return name

    yield factory
    for name in made:
        host.hacontain("stop", name, "-k", check=False)
        assert statefile.read(name) is None, f"{name} left state behind"
    assert mounts_below(rundir) == []


def inside(host, name, script, check=True):
    return host.hacontain("attach", name, "--", "/bin/sh", "-c", script, check=check)


def init_pid(name):
    return statefile.read(name).pid


def kill_init(name):
    """SIGKILL the container's init (a crash) and wait until it is gone."""
    pid = init_pid(name)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)


def machine_links():
    """Interface names in this machine's own netns (must never change)."""
    return sorted(os.listdir("/sys/class/net"))


# -- veth into a bridge --------------------------------------------------------

def test_two_containers_on_a_bridge_ping_each_other_and_the_gateway(host, container):
    before = machine_links()
    one = container(VETH + ["ipv4.address = 192.0.2.10/24", "ipv4.gateway = auto"])
    two = container(VETH + ["ipv4.address = 192.0.2.11/24", "ipv4.address = 198.51.100.11/24",
                            "ipv4.gateway = 192.0.2.1", "ipv6.address = 2001:db8::11/64"])
    host.hacontain("start", one)
    host.hacontain("start", two)
    bridged = [name for name, link in host.links().items() if link.get("master") == "br0"]
    assert len(bridged) == 2
    assert "0% packet loss" in inside(host, one, "ping -c1 -W5 192.0.2.11").stdout
    assert "0% packet loss" in inside(host, two, "ping -c1 -W5 192.0.2.10").stdout
    for name in (one, two):
        assert "0% packet loss" in inside(host, name, "ping -c1 -W5 192.0.2.1").stdout
        assert inside(host, name, "ip route").stdout.startswith("default via 192.0.2.1 dev eth0")
    info = json.loads(host.hacontain("info", two, "--json").stdout)
    assert info["network"]["eth0"]["addresses"][:3] == [
        "192.0.2.11/24", "198.51.100.11/24", "2001:db8::11/64"]
    assert info["network"]["eth0"]["state"] == "up" and info["network"]["lo"]["state"] == "up"
    text = host.hacontain("info", one).stdout
    assert re.search(r"network\.eth0:\s+up mtu 1500 hwaddr \S+ 192\.0\.2\.10/24", text), text
    host.hacontain("stop", one, "-k")
    host.hacontain("stop", two, "-k")
    assert sorted(host.links()) == ["br0", "lo"], "host-side veth ends left behind"
    assert machine_links() == before


def test_a_gateway_outside_the_prefixes_gets_an_on_link_route_first(host, container):
    name = container(VETH + ["ipv4.address = 198.51.100.20/24", "ipv4.gateway = 192.0.2.1",
                             "ipv6.address = 2001:db8:1::20/64", "ipv6.gateway = 2001:db8::1"])
    host.hacontain("start", name)
    routes = [line.split(" proto")[0].strip()
              for line in inside(host, name, "ip route; ip -6 route").stdout.splitlines()]
    for expected in ("default via 192.0.2.1 dev eth0", "192.0.2.1 dev eth0 scope link",
                     "default via 2001:db8::1 dev eth0", "2001:db8::1 dev eth0"):
        assert any(route.startswith(expected) for route in routes), (expected, routes)


def test_veth_host_ends_go_away_after_a_crash_and_the_next_start(host, container, rundir):
    name = container(VETH + ["veth.pair = crashveth0", "ipv4.address = 192.0.2.20/24"])
    host.hacontain("start", name)
    assert "crashveth0" in host.links()
    kill_init(name)
    host.hacontain("start", name)  # cleans up the crashed one (same veth.pair name) first
    assert "0% packet loss" in inside(host, name, "ping -c1 -W5 192.0.2.1").stdout
    kill_init(name)
    host.hacontain("stop", name)
    assert sorted(host.links()) == ["br0", "lo"]
    assert statefile.read(name) is None


# -- MAC, MTU, names, flags ------------------------------------------------------

def test_mac_mtu_names_and_flags_are_applied(host, container):
    name = container(
        VETH + ["veth.pair = hostend0", "hwaddr = 02:16:3e:00:00:01", "mtu = 1400",
                "ipv4.address = 192.0.2.30/24"],
        ["type = veth", "link = br0", "hwaddr = xx:16:3e:xx:xx:xx"],
        ["type = veth", "name = data0", "flags = up", "mtu = 9000"])
    host.hacontain("start", name)
    info = json.loads(host.hacontain("info", name, "--json").stdout)["network"]
    assert sorted(info) == ["data0", "eth0", "eth1", "lo"]
    assert info["eth0"]["hwaddr"] == "02:16:3e:00:00:01" and info["eth0"]["mtu"] == 1400
    assert info["eth0"]["state"] == "up"
    random_mac = info["eth1"]["hwaddr"]
    assert re.fullmatch(r"[0-9a-f]{2}:16:3e:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}", random_mac)
    first = int(random_mac[:2], 16)
    assert first & 0x02 and not first & 0x01, f"{random_mac}: not a local unicast MAC"
    assert info["eth1"]["state"] == "down", "an interface without flags = up stays down"
    assert info["data0"]["mtu"] == 9000
    links = host.links()
    assert links["hostend0"]["mtu"] == 1400 and links["hostend0"].get("master") == "br0"
    generated = [link for link in links if link.startswith("hc")]
    assert len(generated) == 2 and all(len(link) <= 15 for link in generated)
    host.hacontain("stop", name, "-k")
    assert sorted(host.links()) == ["br0", "lo"]


def test_empty_and_none(host, container):
    own = container(["type = empty"])
    shared = container(["type = none"])
    host.hacontain("start", own)
    host.hacontain("start", shared)
    host_netns = os.stat(host.path).st_ino
    assert os.stat(f"/proc/{init_pid(own)}/ns/net").st_ino != host_netns
    assert os.stat(f"/proc/{init_pid(shared)}/ns/net").st_ino == host_netns
    assert "UP" in inside(host, own, "ip link show lo").stdout
    devices = inside(host, own, "cat /proc/net/dev").stdout.splitlines()[2:]
    assert [line.split(":")[0].strip() for line in devices] == ["lo"]
    assert "br0" in inside(host, shared, "cat /proc/net/dev").stdout


# -- macvlan ---------------------------------------------------------------------

def test_macvlan_bridge_mode_between_two_containers(host, container):
    host.ip("link", "add", "par0", "type", "veth", "peer", "name", "par1")
    host.ip("link", "set", "par0", "up")
    host.ip("link", "set", "par1", "up")
    macvlan = ["type = macvlan", "link = par0", "macvlan.mode = bridge", "flags = up"]
    one = container(macvlan + ["ipv4.address = 192.0.2.40/24"])
    two = container(macvlan + ["ipv4.address = 192.0.2.41/24", "name = mv0"])
    host.hacontain("start", one)
    host.hacontain("start", two)
    assert "0% packet loss" in inside(host, one, "ping -c1 -W5 192.0.2.41").stdout
    assert "0% packet loss" in inside(host, two, "ping -c1 -W5 192.0.2.40").stdout
    assert "mv0" in inside(host, two, "cat /proc/net/dev").stdout
    for name in (one, two):
        host.hacontain("stop", name, "-k")
    assert sorted(host.links()) == ["br0", "lo", "par0", "par1"]


# -- phys ------------------------------------------------------------------------

def test_phys_moves_in_renamed_and_returns_on_stop_and_after_a_crash(host, container, rundir):
    before = machine_links()
    host.ip("link", "add", "nic0", "mtu", "1450", "type", "veth", "peer", "name", "nicpeer")
    mac = host.links()["nic0"]["address"]
    name = container(["type = phys", "link = nic0", "name = ext0", "flags = up", "mtu = 1300",
                      "hwaddr = 02:00:00:00:00:42", "ipv4.address = 192.0.2.50/24"])

    def assert_given_back():
        links = host.links()
        assert "nic0" in links, f"nic0 is not back: {sorted(links)}"
        assert links["nic0"]["mtu"] == 1450 and links["nic0"]["address"] == mac
        assert mounts_below(rundir) == []
        assert machine_links() == before

    host.hacontain("start", name)
    assert "nic0" not in host.links()
    shown = inside(host, name, "ip addr show ext0").stdout
    assert "mtu 1300" in shown and "02:00:00:00:00:42" in shown and "192.0.2.50/24" in shown
    assert len(mounts_below(rundir)) == 1, "the container's netns is held while it runs"
    host.hacontain("stop", name, "-k")
    assert_given_back()

    host.hacontain("start", name)
    kill_init(name)
    assert "nic0" not in host.links() and machine_links() == before, \
        "after a crash the NIC waits in the held netns"
    host.hacontain("start", name)  # gives it back, then takes it again
    assert "192.0.2.50/24" in inside(host, name, "ip addr show ext0").stdout
    kill_init(name)
    host.hacontain("stop", name)
    assert_given_back()


# -- bad input -------------------------------------------------------------------

BAD = [
    (["type = tunnel"], "lxc.net.0.type: unknown network type 'tunnel'"),
    (["type = vlan", "link = br0"], "lxc.net.0.type: network type 'vlan' is not supported"),
    (["type = veth", "link = nosuchbr"], "lxc.net.0.link: interface nosuchbr does not exist"),
    (["type = veth", "link = lo"], "lxc.net.0.link: lo is not a bridge"),
    (["type = veth", "ipv4.address = 192.0.2.300/24"], "lxc.net.0.ipv4.address: invalid address"),
    (["type = veth", "ipv4.address = 192.0.2.3"], "a prefix length is needed"),
    (["type = veth", "veth.pair = br0"], "lxc.net.0.veth.pair: interface br0 already exists"),
    (["type = phys", "link = nonic"], "lxc.net.0.link: interface nonic does not exist"),
    (["type = veth", "link = br0", "ipv4.gateway = auto"], "lxc.net.0.ipv4.gateway: a gateway "
                                                            "needs the interface up"),
    (["type = veth", "flags = up", "ipv6.gateway = auto"], "lxc.net.0.ipv6.gateway: auto needs"),
]


@pytest.mark.parametrize("net, message", BAD)
def test_bad_input_is_a_clear_error_and_nothing_is_made(host, container, rundir, net, message):
    """The bad interface 0 comes before a good one: the good one is not made either.
    (Host checks run after the init is forked, see Container._make_network: its
    cgroup must be gone too.)"""
    name = container(net, VETH + ["ipv4.address = 192.0.2.60/24"])
    links = sorted(host.links())
    result = host.hacontain("start", name, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert re.search(rf"/config:\d+: .*{re.escape(message)}", result.stderr), result.stderr
    assert sorted(host.links()) == links
    assert statefile.read(name) is None and mounts_below(rundir) == []
    assert cgroups_named(name) == []


def test_duplicate_names_and_none_with_others_are_errors(host, container):
    for nets, message in (
            ((VETH + ["name = web0"], VETH + ["name = web0"]),
             "lxc.net.1.name: web0 is already used by interface 0"),
            ((VETH + ["veth.pair = same0"], VETH + ["veth.pair = same0", "name = x"]),
             "lxc.net.1.veth.pair: same0 is already used"),
            ((["type = none"], VETH), "lxc.net.0.type: type none (the host's network) cannot")):
        name = container(*nets)
        result = host.hacontain("start", name, check=False)
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert sorted(host.links()) == ["br0", "lo"]


def test_a_kept_host_netns_refuses_interfaces(host, container):
    """lxc.namespace.keep = net would put them, and their routes, on the host."""
    name = container(VETH + ["ipv4.address = 192.0.2.61/24", "ipv4.gateway = auto"],
                     extra=["lxc.namespace.keep = net"])
    links = sorted(host.links())
    result = host.hacontain("start", name, check=False)
    assert result.returncode == 1, result.stderr
    assert re.search(r"/config:\d+: lxc.namespace.keep: net keeps the host's network namespace",
                     result.stderr), result.stderr
    assert sorted(host.links()) == links and statefile.read(name) is None
    assert "default" not in host.ip("route", "show")


# -- depth-20 monitor ------------------------------------------------------------

def agent_monitor(host, name, lxcpath, python_flags=()):
    env = {**os.environ, "OCF_ROOT": "/usr/lib/ocf", "OCF_RESKEY_name": name,
           "OCF_RESKEY_lxcpath": str(lxcpath), "OCF_CHECK_LEVEL": "20",
           "OCF_RESOURCE_INSTANCE": name, "HA_LOGFILE": "/dev/null"}
    return run(["nsenter", f"--net={host.path}", sys.executable, *python_flags, str(AGENT),
                "monitor"], check=False, env=env)


INFO_MODULES = """
import sys
from hacontain.runtime.container import Container
assert Container(sys.argv[1]).info()["state"] == "RUNNING"
print(" ".join(sys.modules))
"""
START_MODULES = """
import sys
from hacontain.runtime.container import Container
Container(sys.argv[1]).start()
print(" ".join(sys.modules))
"""


def test_monitor_and_info_import_pyroute2_only_for_containers_with_interfaces(
        host, container, lxcpath):
    plain = container(["type = empty"])
    veth = container(VETH + ["ipv4.address = 192.0.2.90/24"])
    for name in (plain, veth):
        host.hacontain("start", name)
        monitor = agent_monitor(host, name, lxcpath, ["-X", "importtime"])
        assert monitor.returncode == 0 and "pyroute2" not in monitor.stderr
    loaded = {name: run(["nsenter", f"--net={host.path}", sys.executable, "-c", INFO_MODULES,
                         name]).stdout.split() for name in (plain, veth)}
    assert not [module for module in loaded[plain] if module.startswith("pyroute2")]
    assert "pyroute2.netlink.rtnl.ifaddrmsg" in loaded[veth]


def test_a_start_with_a_veth_loads_only_pyroute2_message_classes(host, container, lxcpath):
    """Not pyroute2's IPRoute, nor what it drags in (asyncio, ssl, concurrent.futures...),
    nor its ifinfmsg (all link-kind plugins, pyroute2.config with multiprocessing)."""
    name = container(VETH + ["ipv4.address = 192.0.2.95/24", "ipv4.gateway = auto"])
    modules = set(run(["nsenter", f"--net={host.path}", sys.executable, "-c", START_MODULES,
                       name]).stdout.split())
    assert {"pyroute2.netlink", "pyroute2.netlink.rtnl.rtmsg"} <= modules
    heavy = {"asyncio", "ssl", "concurrent.futures", "unittest", "pyroute2.iproute",
             "pyroute2.iproute.linux", "pyroute2.netlink.rtnl.ifinfmsg", "pyroute2.config",
             "multiprocessing"}
    assert not modules & heavy, sorted(modules & heavy)
    assert "0% packet loss" in inside(host, name, "ping -c1 -W5 192.0.2.1").stdout


def test_depth_20_monitor_finds_a_down_or_missing_interface(host, container, lxcpath):
    name = container(VETH + ["ipv4.address = 192.0.2.70/24"],
                     ["type = veth", "link = br0", "name = spare0"])
    host.hacontain("start", name)
    assert agent_monitor(host, name, lxcpath).returncode == 0, "spare0 is meant to be down"
    inside(host, name, "ip link set eth0 down")
    result = agent_monitor(host, name, lxcpath)
    assert result.returncode == 1 and "eth0 is not up" in result.stderr, result.stderr
    assert "spare0" not in result.stderr
    inside(host, name, "ip link set eth0 name other0 && ip link set other0 up")
    result = agent_monitor(host, name, lxcpath)
    assert result.returncode == 1 and "eth0 is missing" in result.stderr, result.stderr


# -- many cycles -----------------------------------------------------------------

CYCLES = """
import sys
from hacontain.runtime.container import Container
container = Container(sys.argv[1])
for _ in range(int(sys.argv[2])):
    container.start()
    container.stop(kill=True)
"""


def test_a_hundred_start_stop_cycles_leave_nothing_behind(host, container, rundir):
    before = machine_links()
    host.ip("link", "add", "nic0", "type", "veth", "peer", "name", "nicpeer")
    host.ip("link", "add", "par0", "type", "veth", "peer", "name", "par1")
    host.ip("link", "set", "par0", "up")
    links = host.links()
    name = container(VETH + ["ipv4.address = 192.0.2.80/24", "ipv4.gateway = auto"],
                     ["type = macvlan", "link = par0", "flags = up"],
                     ["type = phys", "link = nic0", "flags = up"])
    # One process for all cycles (the runtime's own code, as the CLI calls it):
    # a CLI call per start and stop would spend most of the time importing.
    run(["nsenter", f"--net={host.path}", sys.executable, "-c", CYCLES, name, "100"],
        timeout=170)
    assert host.links().keys() == links.keys()
    assert mounts_below(rundir) == [] and statefile.read(name) is None
    assert machine_links() == before
