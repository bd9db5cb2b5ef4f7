"""Planned moves keep the containers' processes, in the two-node Pacemaker cluster of VMs
(opt-in: -m vmcluster). Two containers with checkpoint_on_move=true have their rootfs as
directories on an ext4 LV of the VG on DRBD, which ocf:heartbeat:Filesystem mounts
(`hacontain cluster-config --filesystem`): a busybox container (bb) and a Debian
(sysvinit) one (deb), each running a shell counter that keeps its value in a shell
variable and appends it to /counts every 0.2 s, after a line "start" when it starts
(testbed/vmcluster_counters.py). The checkpoint goes into the rootfs, so it travels with
the DRBD volume.

- `crm_resource --move` (the tier's planned move): on the other node both counters go on
  from their value (no restart from 1), and the agent logs the checkpoint and the restore;
- a stop and start in place with a damaged image, then with a changed config: cold
  starts, the reason in the log;
- the same move with checkpoint_on_move=false (the tier's move during a backup): stop +
  cold start;
- the crash of the node running them (the tier's crash): a cold start on the survivor
  (the counters start from 1), the agent's log says there was no checkpoint.
"""

import pytest

from cluster_tier import COUNTERS, RESOURCES, agent_log, healthy, log_mark
from testbed.vmcluster import LXCPATH
from testbed.vmcluster_counters import STEP, counts, rootfs, wait_counts, wait_starts

pytestmark = pytest.mark.vmcluster


def set_role(cluster, rsc, role):
    cluster.nodes[0].sh(f"crm_resource --resource {rsc} --meta --set-parameter target-role "
                        f"--parameter-value {role}")


def checkpoint_left(cluster, node, name):
    return cluster.node(node).sh(f"ls -A {rootfs(name)}/.hacontain-checkpoint 2>/dev/null || true")


def test_a_move_keeps_the_processes(cluster, planned_move):
    source, target = planned_move.source, planned_move.target
    for name in COUNTERS:
        starts, values = planned_move.before[name]
        wait_counts(cluster, target, name, len(values) + 5)
        assert counts(cluster, target, name)[0] == starts, f"{name}'s counter restarted"
        values = counts(cluster, target, name)[1]
        assert values == list(range(1, len(values) + 1)), f"{name}'s counter skipped: {values}"
        assert "checkpointed in" in agent_log(cluster, source, planned_move.marks[source], name)
        assert "restored from its checkpoint" in agent_log(cluster, target,
                                                           planned_move.marks[target], name)
        assert checkpoint_left(cluster, target, name) == ""


def _stop_with_checkpoint(cluster, node, name):
    """Stop resource of container `name` (planned: it checkpoints); the log mark and
    how many times its counter started."""
    mark = log_mark(cluster, node)
    starts = counts(cluster, node, name)[0]
    set_role(cluster, RESOURCES[name], "Stopped")
    cluster.wait_idle(timeout=STEP)         # the stop done (not just begun)
    assert not cluster.status().started_on(RESOURCES[name])
    assert "checkpointed in" in agent_log(cluster, node, mark, name)
    cluster.node(node).sh(f"test -s {rootfs(name)}/.hacontain-checkpoint/checkpoint.json")
    return mark, starts


def _start_cold(cluster, node, name, stopped):
    """Start it again: a cold start (its counter from 1); the agent's log."""
    mark, starts = stopped
    set_role(cluster, RESOURCES[name], "Started")
    assert cluster.wait_started(RESOURCES[name], timeout=STEP) == node
    wait_starts(cluster, node, name, starts)
    assert counts(cluster, node, name)[0] == starts + 1
    assert counts(cluster, node, name)[1][0] == 1
    assert checkpoint_left(cluster, node, name) == ""
    return agent_log(cluster, node, mark, name)


def test_a_damaged_or_stale_checkpoint_leads_to_a_cold_start(cluster):
    node = healthy(cluster)
    name = "bb"
    wait_counts(cluster, node, name, 50)
    stopped = _stop_with_checkpoint(cluster, node, name)
    cluster.node(node).sh(f"image=$(ls -S {rootfs(name)}/.hacontain-checkpoint/images/pages-*.img "
                          f"| head -1) && printf damaged | dd of=$image bs=1 seek=64 "
                          f"conv=notrunc 2>/dev/null")
    log = _start_cold(cluster, node, name, stopped)
    assert "cold start" in log and "is damaged (checksum differs)" in log, log

    wait_counts(cluster, node, name, 50)
    stopped = _stop_with_checkpoint(cluster, node, name)
    for each in cluster.nodes:              # the same config on both nodes, changed
        each.sh(f"echo '# changed after the checkpoint' >> {LXCPATH}/{name}/config")
    log = _start_cold(cluster, node, name, stopped)
    assert "cold start" in log and "config" in log and "changed since" in log, log


def test_the_same_move_without_checkpoint(cluster, move_during_backup):
    """For comparison with the checkpointed move: stop + cold start of both containers."""
    for name in COUNTERS:
        wait_starts(cluster, move_during_backup.target, name, move_during_backup.starts[name])
        starts, values = counts(cluster, move_during_backup.target, name)
        assert starts == move_during_backup.starts[name] + 1 and values[0] == 1


def test_a_crash_leads_to_a_cold_start(cluster, crash):
    survivor = crash.running
    for name in COUNTERS:
        wait_starts(cluster, survivor, name, crash.starts[name])
        starts, values = counts(cluster, survivor, name)
        # a new start, and since it only values from 1 on: nothing of the counter that ran
        # before the crash (which had passed 50) goes on
        assert starts == crash.starts[name] + 1, values
        assert values == list(range(1, len(values) + 1)), values
        assert "cold start: no checkpoint" in agent_log(cluster, survivor, crash.mark, name)
