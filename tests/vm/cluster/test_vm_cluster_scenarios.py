"""The whole stack in a two-node Pacemaker cluster of VMs (opt-in: -m vmcluster): a
promotable DRBD clone, LVM-activate and ocf:hacontain:container, fencing by the
harness's power switch. Each scenario writes data in container ct's volume before
and reads it after: a graceful move, the link cut with fencing on, the crash of the
node running the container. The move and the crash are the tier's shared events
(conftest.py): other modules check the other containers in the same ones."""

import pytest

from cluster_tier import CONTAINER, SCENARIO_CT, check_stack_on, healthy, write

pytestmark = pytest.mark.vmcluster


def test_graceful_move(cluster, planned_move):
    source, target = planned_move.source, planned_move.target
    check_stack_on(cluster, target)
    assert cluster.node(source).sh("drbdadm role r0").split("/")[0] == "Secondary"
    states = {row.split()[0]: row.split()[1]
              for row in cluster.node(source).sh("hacontain ls").splitlines()[1:]}
    assert states[SCENARIO_CT] == "STOPPED"


def test_link_cut_with_fencing(cluster, measured):
    running = healthy(cluster)
    write(cluster, running, "link-cut")
    fencings = len(cluster.fence_device.history)
    seconds, survivor = cluster.timed_partition(CONTAINER)
    measured("link cut until one node was fenced and ct ran on the other", seconds)
    fenced = cluster.other(survivor)
    assert not cluster.node(fenced).alive()
    served = [entry for entry in cluster.fence_device.history[fencings:] if entry[3] == 0]
    assert served and set(served) == {(survivor, "off", fenced, 0)}
    check_stack_on(cluster, survivor)
    # no split brain: the fenced node comes back and syncs from the survivor
    healthy(cluster)
    assert cluster.status().started_on(CONTAINER) == [survivor]
    check_stack_on(cluster, survivor)


def test_crash_of_the_node_running_the_container(cluster, crash):
    assert crash.running == cluster.other(crash.victim)
    check_stack_on(cluster, crash.running)
    assert (crash.running, "off", crash.victim, 0) in cluster.fence_device.history[crash.fencings:]
