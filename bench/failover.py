"""Failover time after a hard node crash: ocf:hacontain:container vs ocf:heartbeat:Dummy.

Both resources run together (the container colocated with Dummy) on a
two-node namespace cluster, token 1000 ms by default. Each run crashes the
node running them (SIGKILL of its whole PID namespace) and polls crm_mon
inside the survivor every 50 ms until each is Started there; the crashed
node then boots again and rejoins before the next run. Crash detection,
membership and DC election vary by a second between runs, so the figure
that isolates the agent is the paired difference (container minus Dummy
in the same run), together with the start operations' exec-time that
Pacemaker records. The container is a busybox container created on every
node's own LXCPATH, so no storage moves.

    /opt/hacontain/venv/bin/python bench/failover.py [--runs 5] [--token-ms 1000]

Needs root. Without the installed agent only Dummy is measured.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # testbed/

from hacontain.errors import Timeout
from testbed.cluster import Cluster

AGENT = "/usr/lib/ocf/resource.d/hacontain/container"
CONTAINER = "bench"
LXCPATH = "/var/lib/hacontain"
POLL = 0.05


def one_run(cluster, resources, timeout=60):
    """Crash the node running `resources`; ({rsc: seconds to Started}, {rsc: start exec ms},
    crashed node, survivor)."""
    (victim,) = cluster.started_on(resources[0])
    survivor = cluster.other(victim)
    crashed = time.monotonic()
    cluster.crash(victim)
    seconds = {}
    while len(seconds) < len(resources):
        polled = time.monotonic()
        status = cluster.status(via=survivor)
        seen = time.monotonic() - crashed
        for rsc in resources:
            if rsc not in seconds and status.started_on(rsc) == [survivor]:
                seconds[rsc] = seen
        if seen > timeout:
            raise Timeout(f"{sorted(set(resources) - set(seconds))} not started on {survivor} "
                          f"{timeout} s after {victim} crashed")
        time.sleep(max(0.0, polled + POLL - time.monotonic()))
    exec_ms = {rsc: status.exec_ms(rsc, survivor) for rsc in resources}
    return seconds, exec_ms, victim, survivor


def measure(cluster, resources, runs):
    """{rsc: [seconds]} and {rsc: [start exec ms]} over `runs` crashes."""
    seconds = {rsc: [] for rsc in resources}
    exec_ms = {rsc: [] for rsc in resources}
    for run in range(1, runs + 1):
        took, ms, victim, survivor = one_run(cluster, resources)
        for rsc in resources:
            seconds[rsc].append(took[rsc])
            exec_ms[rsc].append(ms[rsc])
        detail = ", ".join(f"{rsc} {took[rsc]:.3f} s (start {ms[rsc]} ms)" for rsc in resources)
        print(f"  run {run}: {victim} crashed -> {survivor}: {detail}", flush=True)
        cluster.start(victim)
        cluster.wait_online()
        cluster.settle()
    return seconds, exec_ms


def spread(values, unit, digits):
    return (f"median {statistics.median(values):.{digits}f} {unit}  "
            f"min {min(values):.{digits}f} {unit}  max {max(values):.{digits}f} {unit}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="node crashes (default 5)")
    parser.add_argument("--token-ms", type=int, default=1000, help="corosync token (default 1000)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces, mounts)")

    have_agent = os.path.exists(AGENT)
    resources = ["dummy", "ct"] if have_agent else ["dummy"]
    with Cluster(nodes=2, token_ms=args.token_ms) as cluster:
        print(f"cluster {cluster.prefix} up, token {args.token_ms} ms", flush=True)
        cluster.run(1, "crm configure primitive dummy ocf:heartbeat:Dummy op monitor interval=10s")
        if have_agent:
            for node in cluster.nodes:
                cluster.run(node, ["hacontain", "create", CONTAINER, "-t", "busybox", "-P", LXCPATH])
            cluster.run(1, ["crm", "configure"], input=(
                f"primitive ct ocf:hacontain:container params name={CONTAINER} lxcpath={LXCPATH} "
                "op start timeout=30s op stop timeout=30s op monitor interval=10s timeout=20s\n"
                "colocation ct-with-dummy inf: ct dummy\n"
                "commit\n"))
        for rsc in resources:
            cluster.wait_started(rsc)
        seconds, exec_ms = measure(cluster, resources, args.runs)

    print(f"\nfailover after a node crash, token {args.token_ms} ms, {args.runs} runs:")
    names = {"dummy": "ocf:heartbeat:Dummy", "ct": "ocf:hacontain:container"}
    for rsc in resources:
        print(f"  {names[rsc]:<24} {spread(seconds[rsc], 's', 3)}   "
              f"start exec {spread(exec_ms[rsc], 'ms', 0)}")
    if not have_agent:
        print(f"  ocf:hacontain:container  not measured: {AGENT} is not installed "
              "(hacontain install-agent)")
        return 0
    paired = [c - d for c, d in zip(seconds["ct"], seconds["dummy"])]
    print(f"  container - Dummy, same crash: {spread(paired, 's', 3)}  (target: at most +0.300 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
