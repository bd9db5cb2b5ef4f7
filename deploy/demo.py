"""The README's demo: a container fails over between two cluster nodes on one host.

Two nodes of a real Corosync + Pacemaker cluster come up in network
namespaces; a busybox container runs as a cluster resource on a shared
volume (ocf:heartbeat:Filesystem + ocf:hacontain:container in group `g`);
the node running it is crashed; the container comes up on the other node
and the failover time is printed. Everything is then torn down, or with
--keep left up with the commands to explore it and tear it down.

    /opt/hacontain/venv/bin/python deploy/demo.py [--keep] [--no-container]
    /opt/hacontain/venv/bin/python deploy/demo.py --teardown FOOTPRINT

Needs root.
"""

import argparse
import os
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # testbed/

from testbed.cluster import SHARED_MOUNTPOINT, Cluster
from testbed.cluster_footprint import Footprint, destroy
from testbed.cluster_volume import assert_mounted_on_exactly_one

NAME = "demo"
DATA = "/root/hello"


def step(text):
    print(f"==> {text}", flush=True)


def configure(cluster, with_container):
    """Group g: the shared volume, then the container (or Dummy); returns the node running it."""
    cluster.run(1, f"crm configure primitive fs ocf:heartbeat:Filesystem params "
                   f"device={cluster.volume.device} directory={SHARED_MOUNTPOINT} fstype=ext4 "
                   f"op monitor interval=10s")
    node = cluster.wait_started("fs")
    if with_container:
        step(f"creating busybox container '{NAME}' on the shared volume ({node})")
        cluster.run(node, ["hacontain", "create", NAME, "-t", "busybox", "-P", SHARED_MOUNTPOINT])
        app = (f"primitive app ocf:hacontain:container params name={NAME} "
               f"lxcpath={SHARED_MOUNTPOINT} op start timeout=30s op stop timeout=30s "
               f"op monitor interval=5s timeout=20s")
    else:
        app = "primitive app ocf:heartbeat:Dummy op monitor interval=5s"
    cluster.run(node, ["crm", "configure"], input=f"{app}\ngroup g fs app\ncommit\n")
    return cluster.wait_started("app", timeout=60)


def write_data(cluster, node, with_container):
    text = f"written on {node} before the crash"
    if with_container:
        cluster.run(node, ["hacontain", "attach", NAME, "-P", SHARED_MOUNTPOINT, "--",
                           "sh", "-c", f"echo '{text}' > {DATA} && sync"])
    else:
        cluster.run(node, f"echo '{text}' > {SHARED_MOUNTPOINT}/hello && sync")


def read_data(cluster, node, with_container):
    if with_container:
        argv = ["hacontain", "attach", NAME, "-P", SHARED_MOUNTPOINT, "--", "cat", DATA]
    else:
        argv = ["cat", f"{SHARED_MOUNTPOINT}/hello"]
    return cluster.run(node, argv).stdout.strip()


def explore_commands(cluster):
    enter = {node.name: shlex.join(node.enter_argv()) for node in cluster.nodes}
    lines = ["The cluster is left up. Explore it:"]
    for name, prefix in enter.items():
        lines.append(f"  {prefix} bash          # a shell on {name}")
    first = enter["node1"]
    lines += [
        f"  {first} crm_mon -1",
        f"  {first} crm resource move g node1     # move the group",
        f"  {first} hacontain ls -P {SHARED_MOUNTPOINT}",
        "Tear it down:",
        f"  {shlex.quote(sys.executable)} {shlex.quote(os.path.abspath(__file__))} "
        f"--teardown {cluster.footprint.path}",
    ]
    return "\n".join(lines)


def run_demo(keep, with_container):
    started = time.monotonic()
    step("bringing up two Corosync + Pacemaker nodes in network namespaces")
    cluster = Cluster(nodes=2, token_ms=1000, volume_mb=128)
    try:
        cluster.up()
        print(f"    cluster {cluster.prefix}: node1, node2 online "
              f"({time.monotonic() - started:.1f} s); shared volume {cluster.volume.device}")
        what = "container" if with_container else "Dummy stand-in (container agent not switched on)"
        step(f"starting group g = Filesystem + {what}")
        node = configure(cluster, with_container)
        print(cluster.run(node, "crm_mon -1 | sed -n '/Node List/,$p'").stdout.rstrip())
        write_data(cluster, node, with_container)

        step(f"crashing {node} (SIGKILL to every process of the node)")
        seconds, victim, survivor = cluster.timed_failover("app")
        step(f"failover: g started on {survivor} {seconds:.2f} s after {victim} crashed")
        assert assert_mounted_on_exactly_one(cluster, cluster.volume.device) == survivor
        print(f"    data on the volume: {read_data(cluster, survivor, with_container)!r}")

        if keep:
            step(f"booting {victim} again")
            cluster.start(victim)
            cluster.wait_online()
            print(explore_commands(cluster))
            return 0
    except BaseException:
        cluster.teardown()
        raise
    step("tearing everything down")
    cluster.teardown()
    print(f"    nothing left behind; demo took {time.monotonic() - started:.1f} s")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true",
                        help="leave the cluster up and print how to explore and tear it down")
    parser.add_argument("--container", dest="container", action="store_true",
                        default=True, help="run the container resource")
    parser.add_argument("--no-container", dest="container", action="store_false",
                        help="run ocf:heartbeat:Dummy in its place")
    parser.add_argument("--teardown", metavar="FOOTPRINT",
                        help="tear down a cluster left by --keep (its footprint.json)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces, mounts, loop devices)")
    if args.teardown:
        errors = destroy(Footprint.load(args.teardown))
        for error in errors:
            print(f"demo: {error}", file=sys.stderr)
        return 1 if errors else 0
    return run_demo(args.keep, args.container)


if __name__ == "__main__":
    sys.exit(main())
