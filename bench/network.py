#!/usr/bin/env python3
"""Benchmark container start with one veth: ocf:hacontain:container against ocf:heartbeat:lxc.

    /opt/hacontain/venv/bin/python bench/network.py [--rounds 10]

As root. Makes a "host" network namespace with a bridge br0 (192.0.2.1/24)
and a busybox container with `lxc-create -t busybox` in a temporary LXCPATH,
its network set to one veth on br0 (192.0.2.10/24, gateway auto, up). Then,
inside that netns, drives the container in turns with
/usr/lib/ocf/resource.d/heartbeat/lxc (LXC 5: lxc-start...) and with
ocf:hacontain:container of this source tree (installed into a temporary
root with `install-agent --root`), start and stop per round, and prints the
median wall time of each, with the ratio hacontain/lxc. Target from the
issue: start <= 1.0x.

The measuring part runs in the netns and in a private mount namespace
whose /sys is a sysfs of that netns (LXC attaches its veth to the bridge
through /sys/class/net), with the machine's cgroup mounts bound in; both
agents run there alike. Everything is removed at the end, also on failure.
Not a test: timings depend on the machine.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent import LXC_AGENT, Agent, cleanup, make_lxc_container  # noqa: E402

VETH = ["lxc.net.0.type = veth", "lxc.net.0.link = br0", "lxc.net.0.flags = up",
        "lxc.net.0.ipv4.address = 192.0.2.10/24", "lxc.net.0.ipv4.gateway = auto"]
SETTLE = 0.5
# Enter the netns, make /sys show it (cgroup mounts kept), then run the argv.
WITH_NETNS_SYSFS = ('d=$(mktemp -d) && mount -t sysfs sysfs "$d" && '
                    'mount --rbind /sys/fs/cgroup "$d/fs/cgroup" && mount --move "$d" /sys && '
                    'rmdir "$d" && exec "$@"')


def make_host_netns(name):
    for argv in (["ip", "netns", "add", name], ["ip", "-n", name, "link", "set", "lo", "up"],
                 ["ip", "-n", name, "link", "add", "br0", "type", "bridge"],
                 ["ip", "-n", name, "addr", "add", "192.0.2.1/24", "dev", "br0"],
                 ["ip", "-n", name, "link", "set", "br0", "up"]):
        subprocess.run(argv, check=True)


def use_veth(config):
    with open(config, encoding="utf-8") as handle:
        lines = [line for line in handle.read().splitlines() if not line.startswith("lxc.net.")]
    with open(config, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines + VETH) + "\n")


def measure(agents, rounds):
    """{agent label: {"start": [s], "stop": [s]}}, agents alternating first."""
    times = {agent.label: {"start": [], "stop": []} for agent in agents}
    for number in range(rounds):
        for agent in agents if number % 2 == 0 else agents[::-1]:
            times[agent.label]["start"].append(agent.run("start", 0)[0])
            time.sleep(SETTLE)
            times[agent.label]["stop"].append(agent.run("stop", 0)[0])
        print(f"round {number + 1}/{rounds} done", file=sys.stderr)
    return times


def report(times, ours, theirs, rounds):
    print(f"\nstart/stop with one veth on a bridge: ocf:hacontain:container vs "
          f"ocf:heartbeat:lxc, busybox, {rounds} rounds; medians in ms")
    print(f"{'action':<8} {'heartbeat/lxc':>14} {'hacontain':>10} {'ratio':>7}")
    for action in ("start", "stop"):
        lxc = statistics.median(times[theirs][action]) * 1000
        our = statistics.median(times[ours][action]) * 1000
        print(f"{action:<8} {lxc:>14.1f} {our:>10.1f} {our / lxc:>6.2f}x")
    ratio = statistics.median(times[ours]["start"]) / statistics.median(times[theirs]["start"])
    print(f"\ntarget start <= 1.0x: {ratio:.2f}x {'met' if ratio <= 1.0 else 'NOT met'}")


def inner(args):
    """In the netns: the container, both agents, the rounds, the report."""
    from hacontain.ocf.install import install_agent
    name = f"hcnetbench{os.getpid()}"
    lxcpath = tempfile.mkdtemp(prefix="hacontain-bench-lxc.")
    rundir = tempfile.mkdtemp(prefix="hacontain-bench-run.")
    root = tempfile.mkdtemp(prefix="hacontain-bench-agent.")
    theirs = Agent("heartbeat/lxc", LXC_AGENT, {
        "OCF_RESKEY_container": name, "OCF_RESKEY_config": os.path.join(lxcpath, name, "config"),
        "OCF_RESKEY_log": os.path.join(lxcpath, "lxc.log")})
    ours = Agent("hacontain", install_agent(root), {
        "OCF_RESKEY_name": name, "OCF_RESKEY_lxcpath": lxcpath, "HACONTAIN_RUNDIR": rundir})
    agents = [theirs, ours]
    try:
        use_veth(make_lxc_container(lxcpath, name))
        report(measure(agents, args.rounds), ours.label, theirs.label, args.rounds)
    finally:
        cleanup(lxcpath, name, rundir, agents)
        shutil.rmtree(root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="start/stop rounds (default 10)")
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        return inner(args)
    if os.geteuid() != 0:
        sys.exit("bench/network.py: must run as root")
    if not os.path.exists(LXC_AGENT):
        sys.exit(f"bench/network.py: {LXC_AGENT} missing: apt-get install resource-agents lxc")
    netns = f"hcnetbench{os.getpid()}"
    make_host_netns(netns)
    try:
        subprocess.run(["nsenter", f"--net=/run/netns/{netns}", "unshare", "-m",
                        "--propagation", "slave", "sh", "-c", WITH_NETNS_SYSFS, "sh",
                        sys.executable, os.path.abspath(__file__), "--rounds", str(args.rounds),
                        "--inside", netns], check=True)
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)


if __name__ == "__main__":
    main()
