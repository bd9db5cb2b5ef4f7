"""Failover of the whole stack in the VM cluster: ocf:hacontain:container vs ocf:heartbeat:lxc.

One two-node cluster of VM-tier VMs (testbed/vmcluster.py): a promotable DRBD
clone, LVM-activate of the VG on it, and the container on an LV of the VG,
fencing by the harness's power switch. The container is either
ocf:hacontain:container or ocf:heartbeat:lxc (LXC's own lxc-start on the
same rootfs: the same config file, LXC's own keys added), the two stacks
taking turns in the same run. Each run crashes the VM running the container
(qemu killed) and times until Pacemaker reports it running on the survivor
(polled inside the survivor). The crashed VM then boots again and the
cluster recovers before the next run; the agents take turns in alternating
order (run 1: hacontain first, run 2: lxc first, ...). After each crash the
survivor's Pacemaker log gives the timeline: when fencing completed and how
long each resource operation of the recovery took (from the controller's
"Requesting local execution" to its "Result" line), so the difference
between the agents can be placed. Target: hacontain's median failover
<= 1.1x lxc's.

    /opt/hacontain/venv/bin/python bench/vm_failover.py [--runs 2]

Needs root, qemu and the VM tier's image (built on first use). TCG makes
every step slow: a run takes minutes.
"""

import argparse
import datetime
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # testbed/

from testbed.vm.image import ensure_image  # noqa: E402
from testbed.vmcluster import LXCPATH, VmCluster  # noqa: E402

CONTAINER = "ct"
LXC_CONFIG = f"{LXCPATH}/{CONTAINER}/lxc.conf"
# What LXC needs beyond the container's config: no AppArmor parser in these VMs, and the
# mounts hacontain makes itself for a container.
LXC_EXTRA = "lxc.apparmor.profile = unconfined\nlxc.mount.auto = proc:mixed sys:mixed cgroup:mixed\n"

RESOURCE = f"ct_{CONTAINER}"   # the container's resource, as hacontain cluster-config names it


def lxc_variant(generated):
    """The generated configuration with ocf:heartbeat:lxc in place of ocf:hacontain:container
    (same resource id, operations and constraints)."""
    lines = generated.splitlines(True)
    head = f"primitive {RESOURCE} ocf:hacontain:container \\\n"
    at = lines.index(head)
    if not lines[at + 1].startswith("    params "):
        raise ValueError(f"unexpected cluster-config output after {head!r}: {lines[at + 1]!r}")
    lines[at:at + 2] = [f"primitive {RESOURCE} ocf:heartbeat:lxc \\\n",
                        f"    params container={CONTAINER} config={LXC_CONFIG} \\\n"]
    return "".join(lines)


def lxc_config(cluster):
    """On both nodes: LXC's config for the container, the container's own config plus LXC_EXTRA."""
    for node in cluster.nodes:
        node.sh(f"cat {LXCPATH}/{CONTAINER}/config - > {LXC_CONFIG}", input=LXC_EXTRA)


def switch(cluster, configuration):
    """Stop the container's resource, delete it (crmsh deletes its constraints too), load
    `configuration`; wait until the container runs."""
    cluster.nodes[0].sh(f"crm_resource --resource {RESOURCE} --meta --set-parameter target-role "
                        "--parameter-value Stopped")
    cluster.wait_idle()
    cluster.crm(f"configure delete {RESOURCE}")
    cluster.configure(configuration)
    cluster.wait_idle()
    return cluster.wait_started(RESOURCE)


PACEMAKER_LOG = "/var/log/pacemaker/pacemaker.log"
REQUEST = "Requesting local execution of "
RESULT = "Result of "


def log_size(node):
    """Bytes in `node`'s Pacemaker log: where the next run's lines begin."""
    return int(node.sh(f"stat -c %s {PACEMAKER_LOG}").strip())


def timeline(lines, year):
    """[(seconds from the first line, what)] for fencing and each operation's duration in the
    controller's lines `lines` (e.g. "Nov 28 22:33:25.146 node ... notice: Requesting local
    execution of start operation for ct on ha-b | ..." and its "Result of start ..."), and
    {operation: seconds} of the last of each."""
    events, begun, first = [], {}, None
    durations = {}
    for line in lines:
        try:
            when = datetime.datetime.strptime(f"{year} {line[:19]}", "%Y %b %d %H:%M:%S.%f")
        except ValueError:
            continue
        first = first or when
        offset = (when - first).total_seconds()
        if REQUEST in line:
            operation = line.split(REQUEST, 1)[1].split(" on ", 1)[0]   # "start operation for X"
            begun[operation] = when
        elif RESULT in line and "(log_executor_event)" in line:
            operation = line.split(RESULT, 1)[1].split(" on ", 1)[0]
            if operation in begun:
                took = (when - begun.pop(operation)).total_seconds()
                durations[operation] = took
                events.append((offset, f"{operation}: {took:.1f} s"))
        elif "Result of fence operation" in line or "Fence operation" in line:
            events.append((offset, line.split(": ", 1)[-1].split(" | ")[0].strip()[:120]))
    return events, durations


def one_run(cluster):
    """Crash the VM running the container: seconds until it runs on the survivor, the
    survivor's timeline of the recovery and the container's start on it (seconds)."""
    victim = cluster.wait_started(RESOURCE)
    survivor = cluster.node(cluster.other(victim))
    offset = log_size(survivor)
    seconds, _ = cluster.timed_failover(RESOURCE)
    # the start's result is logged just after the CIB shows it running
    survivor.sh(f"for i in $(seq 100); do tail -c +{offset + 1} {PACEMAKER_LOG} | grep -q "
                f"'Result of start operation for {RESOURCE} ' && break; sleep 0.2; done")
    lines = survivor.sh(f"tail -c +{offset + 1} {PACEMAKER_LOG} | "
                        "grep -E 'Requesting local execution|log_executor_event|"
                        "Result of fence operation|Fence operation'").splitlines()
    cluster.recover()
    events, durations = timeline(lines, datetime.date.today().year)
    return seconds, events, durations.get(f"start operation for {RESOURCE}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="crashes per agent (default 2)")
    args = parser.parse_args()
    with VmCluster(ensure_image()) as cluster:
        cluster.make_volume_group()
        cluster.create_container(CONTAINER)
        cluster.release_storage()
        lxc_config(cluster)
        generated = cluster.generated_configuration(CONTAINER)
        configurations = {"hacontain": generated, "lxc": lxc_variant(generated)}
        results = {agent: [] for agent in configurations}
        starts = {agent: [] for agent in configurations}
        cluster.configure(generated)
        cluster.wait_started(RESOURCE)
        current = "hacontain"
        for run in range(args.runs):
            order = list(configurations) if run % 2 == 0 else list(reversed(configurations))
            for agent in order:
                if agent != current:
                    switch(cluster, configurations[agent])
                    current = agent
                seconds, events, start = one_run(cluster)
                results[agent].append(seconds)
                if start is not None:
                    starts[agent].append(start)
                print(f"run {run + 1} {agent}: failover {seconds:.1f} s", flush=True)
                for offset, what in events:
                    print(f"    +{offset:6.1f} s  {what}", flush=True)
    medians = {agent: statistics.median(runs) for agent, runs in results.items()}
    for agent, runs in results.items():
        print(f"{agent}: failover median {medians[agent]:.1f} s over {len(runs)} runs")
    print(f"ratio hacontain/lxc: {medians['hacontain'] / medians['lxc']:.2f}x (target <= 1.1x)")
    if all(starts.values()):
        start_medians = {agent: statistics.median(runs) for agent, runs in starts.items()}
        print("the container's start operation on the survivor, median: " + ", ".join(
            f"{agent} {value:.1f} s" for agent, value in start_medians.items()) +
            f" ({start_medians['hacontain'] / start_medians['lxc']:.2f}x)")


if __name__ == "__main__":
    main()
