"""A move's downtime in the VM cluster: checkpoint_on_move=true against stop + cold start.

One two-node cluster of VM-tier VMs (testbed/vmcluster.py) with a busybox container
whose rootfs is a directory on an ext4 LV of the VG on DRBD, mounted by
ocf:heartbeat:Filesystem, and whose init runs a shell counter appending its value to
/counts every 0.2 s (testbed/vmcluster_counters.py). Each run moves the container to
the other node with `crm_resource --move` (what `crm resource move` runs), with
checkpoint_on_move=true (checkpoint, the volume follows, restore: the counter goes on
from its value) or false (stop, the volume follows, cold start: the counter starts from
1), the two in alternating order (round 1: checkpoint first, round 2: cold first, ...)
in the same cluster.

Downtime: from the move command until the counter writes again on the other node
(polled inside it: once the Filesystem is mounted there, the first new line of /counts).
The container's own part, from the Pacemaker logs: its stop operation on the source
(with the checkpoint: criu's dump) plus its start on the target (with the checkpoint:
the restore), each from the controller's "Requesting local execution" to its "Result"
line. Prints each run, the medians and the ratios checkpoint / cold.

    /opt/hacontain/venv/bin/python bench/vm_checkpoint.py [--rounds 2]

Needs root, qemu and the VM tier's image (built on first use). TCG makes every step
slow: a run takes minutes.
"""

import argparse
import datetime
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # testbed/

from testbed.vm.image import ensure_image  # noqa: E402
from testbed.vmcluster import VmCluster  # noqa: E402
from testbed.vmcluster_counters import (FILESYSTEM_OPTION, MOUNT, STEP, counts,  # noqa: E402
                                        make_counter_containers, rootfs, set_checkpoint_on_move,
                                        wait_counts, with_checkpoint_on_move)
from vm_failover import PACEMAKER_LOG, log_size, timeline  # noqa: E402  (bench/ is sys.path[0])

NAME = "bb"
RESOURCE = f"ct_{NAME}"
MODES = ("checkpoint", "cold")


def answering(name, timeout):
    """A shell loop, run on the target from the move command on: once the Filesystem is
    mounted there (the source has stopped the container and let go of the volume), wait
    until the counter appends a line to what the volume held when it came."""
    counts_file = f"{rootfs(name)}/counts"
    return (f"deadline=$(( $(date +%s) + {timeout} )); "
            f"until mountpoint -q {MOUNT}; do [ \"$(date +%s)\" -lt \"$deadline\" ] || exit 1; "
            f"sleep 0.2; done; came=$(wc -l < {counts_file}); "
            f"until [ \"$(wc -l < {counts_file})\" -gt \"$came\" ]; do "
            f"[ \"$(date +%s)\" -lt \"$deadline\" ] || exit 1; sleep 0.2; done")


def operation(node, offset, what):
    """Seconds of operation `what` (e.g. "stop operation for ct_bb") in `node`'s
    Pacemaker log after byte `offset`, once its result is logged."""
    node.sh(f"for i in $(seq 300); do tail -c +{offset + 1} {PACEMAKER_LOG} | grep -q "
            f"'Result of {what} ' && exit 0; sleep 0.2; done; exit 1", timeout=120)
    lines = node.sh(f"tail -c +{offset + 1} {PACEMAKER_LOG} | "
                    "grep -E 'Requesting local execution|log_executor_event'").splitlines()
    return timeline(lines, datetime.date.today().year)[1][what]


def one_move(cluster, mode):
    """Move the container to the other node with checkpoint_on_move for `mode`: (downtime,
    its stop on the source, its start on the target), in seconds."""
    set_checkpoint_on_move(cluster, [NAME], "true" if mode == "checkpoint" else "false")
    cluster.wait_idle(timeout=STEP)                    # the parameter reloaded
    source = cluster.node(cluster.wait_started(RESOURCE, timeout=STEP))
    target = cluster.node(cluster.other(source))
    wait_counts(cluster, source.name, NAME, 25)
    starts = counts(cluster, source.name, NAME)[0]
    offsets = {node.name: log_size(node) for node in (source, target)}
    started = time.monotonic()
    try:
        target.sh(f"crm_resource --move --resource {RESOURCE} --node {target.name}")
        target.sh(answering(NAME, STEP), timeout=STEP + 30)
        downtime = time.monotonic() - started
        cluster.wait_idle(timeout=STEP)
    finally:
        target.sh(f"crm_resource --clear --resource {RESOURCE}")
    restarted = counts(cluster, target.name, NAME)[0] - starts
    if restarted != (0 if mode == "checkpoint" else 1):
        raise RuntimeError(f"the {mode} move started the counter {restarted} times: "
                           f"not what checkpoint_on_move={mode == 'checkpoint'} does")
    stop = operation(source, offsets[source.name], f"stop operation for {RESOURCE}")
    start = operation(target, offsets[target.name], f"start operation for {RESOURCE}")
    return downtime, stop, start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="moves per mode (default 2)")
    args = parser.parse_args()
    runs = {mode: [] for mode in MODES}
    with VmCluster(ensure_image(), data_disk_size="768M") as cluster:
        cluster.make_volume_group()
        make_counter_containers(cluster, {NAME: "busybox"})
        cluster.release_storage()
        cluster.configure(with_checkpoint_on_move(
            cluster.generated_configuration(NAME, options=FILESYSTEM_OPTION), [NAME]))
        cluster.wait_idle(timeout=STEP)
        for round_ in range(args.rounds):
            for mode in MODES if round_ % 2 == 0 else tuple(reversed(MODES)):
                downtime, stop, start = one_move(cluster, mode)
                runs[mode].append((downtime, stop, start))
                print(f"round {round_ + 1} {mode}: downtime {downtime:.1f} s "
                      f"(its stop {stop:.1f} s, its start {start:.1f} s)", flush=True)
    medians = {mode: [statistics.median(run[i] for run in runs[mode]) for i in range(3)]
               for mode in MODES}
    for mode, (downtime, stop, start) in medians.items():
        print(f"{mode}: median downtime {downtime:.1f} s, its stop {stop:.1f} s + its start "
              f"{start:.1f} s = {stop + start:.1f} s ({len(runs[mode])} moves)")
    (down_c, stop_c, start_c), (down_s, stop_s, start_s) = medians["checkpoint"], medians["cold"]
    print(f"downtime checkpoint/cold: {down_c / down_s:.2f}x; the container's own part "
          f"(stop + start): {(stop_c + start_c) / (stop_s + start_s):.2f}x")


if __name__ == "__main__":
    main()
