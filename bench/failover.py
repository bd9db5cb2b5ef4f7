"""Failover time after a hard node crash: ocf:hacontain:container vs ocf:heartbeat:Dummy.

Both run on the same two-node namespace cluster in the same run (token
1000 ms by default). Each sample: crash the node running the resource
(SIGKILL of its whole PID namespace), then poll crm_mon inside the survivor
every 50 ms until the resource is Started there; the crashed node is then
booted again and rejoins before the next sample. The container is a
busybox container created on every node's own LXCPATH, so no storage
moves and the difference to Dummy is the agent's own cost.

    /opt/hacontain/venv/bin/python bench/failover.py [--runs 5] [--token-ms 1000]

Needs root, Corosync, Pacemaker and (for the container) the installed agent.
"""

import argparse
import os
import statistics
import sys

from hacontain.testbed.cluster import Cluster

AGENT = "/usr/lib/ocf/resource.d/hacontain/container"
CONTAINER = "bench"
LXCPATH = "/var/lib/hacontain"


def measure(cluster, rsc, runs):
    """Failover seconds of `rsc` over `runs` node crashes."""
    samples = []
    for run in range(1, runs + 1):
        seconds, victim, survivor = cluster.timed_failover(rsc)
        samples.append(seconds)
        print(f"  {rsc} run {run}: {seconds:.3f} s ({victim} crashed, started on {survivor})",
              flush=True)
        cluster.start(victim)
        cluster.wait_online()
        cluster.settle()
    return samples


def summary(name, samples):
    return (f"{name:<26} median {statistics.median(samples):.3f} s  "
            f"min {min(samples):.3f} s  max {max(samples):.3f} s  (n={len(samples)})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="crashes per agent (default 5)")
    parser.add_argument("--token-ms", type=int, default=1000, help="corosync token (default 1000)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces, mounts)")

    have_agent = os.path.exists(AGENT)
    results = {}
    with Cluster(nodes=2, token_ms=args.token_ms) as cluster:
        print(f"cluster {cluster.prefix} up, token {args.token_ms} ms", flush=True)
        cluster.run(1, "crm configure primitive dummy ocf:heartbeat:Dummy op monitor interval=10s")
        cluster.wait_started("dummy")
        results["ocf:heartbeat:Dummy"] = measure(cluster, "dummy", args.runs)
        print(summary("ocf:heartbeat:Dummy", results["ocf:heartbeat:Dummy"]), flush=True)
        cluster.run(1, "crm configure delete --force dummy")

        if have_agent:
            for node in cluster.nodes:
                cluster.run(node, ["hacontain", "create", CONTAINER, "-t", "busybox", "-P", LXCPATH])
            cluster.run(1, f"crm configure primitive ct ocf:hacontain:container params "
                           f"name={CONTAINER} lxcpath={LXCPATH} op start timeout=30s "
                           f"op stop timeout=30s op monitor interval=10s timeout=20s")
            cluster.wait_started("ct")
            results["ocf:hacontain:container"] = measure(cluster, "ct", args.runs)

    print()
    for name, samples in results.items():
        print(summary(name, samples))
    if not have_agent:
        print(f"ocf:hacontain:container    not measured: {AGENT} is not installed "
              "(hacontain install-agent)")
        return 0
    difference = (statistics.median(results["ocf:hacontain:container"])
                  - statistics.median(results["ocf:heartbeat:Dummy"]))
    print(f"container - Dummy (medians): {difference:+.3f} s (target: at most +0.300 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
