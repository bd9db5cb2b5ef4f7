"""A cut link between the two nodes: what runs where, without and with fencing.

The ground truth of where ocf:heartbeat:Dummy runs is its state file in the
node's private /run, read inside every node, not what either partition
believes.
"""

import time

import pytest

from testbed.cluster_wait import wait_for

pytestmark = pytest.mark.cluster


def dummy_copies(cluster, rsc):
    """Nodes where Dummy `rsc` really runs."""
    return [n.name for n in cluster.nodes
            if cluster.has_file(n, f"/run/resource-agents/Dummy-{rsc}.state")]


def assert_one_copy_stays(cluster, rsc, node, seconds=3):
    """`rsc` runs on `node` only, in every node's view, for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert dummy_copies(cluster, rsc) == [node]
        for viewer in cluster.nodes:
            assert cluster.started_on(rsc, via=viewer) == [node]
        time.sleep(0.5)


def node_fenced_by(cluster, node):
    """The node that `node`'s fencing history says it fenced successfully, or None."""
    history = cluster.run(node, "stonith_admin --history '*'", check=False).stdout
    for line in history.splitlines():
        target, _, outcome = line.partition(" successful:")
        if outcome and target.startswith("reboot of "):
            return target.removeprefix("reboot of ")
    return None


def recovered_to_one_copy(cluster, rsc):
    copies = dummy_copies(cluster, rsc)
    return copies[0] if len(copies) == 1 and cluster.started_on(rsc) == copies else None


def test_link_cut_without_fencing_runs_two_copies_until_reconnect(cluster):
    cluster.run(1, "crm configure primitive d ocf:heartbeat:Dummy op monitor interval=2s")
    first = cluster.wait_started("d")
    cluster.cut_link()
    # Each partition thinks the other node died and (stonith-enabled=false) starts it too.
    wait_for(lambda: dummy_copies(cluster, "d") == ["node1", "node2"], 30,
             what="d running on both sides of the cut")
    for node in cluster.nodes:       # each side's controller records the loss in its own time
        wait_for(lambda: cluster.status(via=node).online() == {node.name}, 30,
                 what=f"{node.name} seeing only itself online")
        wait_for(lambda: cluster.started_on("d", via=node) == [node.name], 30,
                 what=f"{node.name} seeing d started on itself only")

    cluster.restore_link()
    cluster.wait_online()
    node = wait_for(lambda: recovered_to_one_copy(cluster, "d"), 60,
                    what="one copy of d after reconnect")
    cluster.settle()
    assert_one_copy_stays(cluster, "d", node)
    assert first in ("node1", "node2")


def test_link_cut_with_test_fence_device_never_runs_two_copies(fenced_cluster):
    cluster = fenced_cluster
    cluster.run(1, "crm configure primitive d ocf:heartbeat:Dummy op monitor interval=2s "
                   "meta priority=10")
    winner = cluster.wait_started("d")
    loser = cluster.other(winner)
    cluster.fence_device.history.clear()
    cluster.cut_link()
    # priority-fencing-delay delays fencing of the node running d: it wins the race.
    deadline = time.monotonic() + 30
    while not cluster.fence_device.history and time.monotonic() < deadline:
        assert dummy_copies(cluster, "d") == [winner]
        time.sleep(0.2)
    assert cluster.fence_device.history[0] == (winner, "reboot", loser, 0)
    # The fenced node came back (reboot) but, cut off and never having seen its
    # peer (two_node implies wait_for_all), stays without quorum and runs nothing.
    cluster.wait_online(nodes=[loser], via=loser, timeout=30)
    assert not cluster.status(via=loser).has_quorum()
    for _ in range(10):
        assert dummy_copies(cluster, "d") == [winner]
        time.sleep(0.3)

    cluster.restore_link()
    cluster.wait_online()
    cluster.settle()
    assert_one_copy_stays(cluster, "d", winner)
    assert [entry[2] for entry in cluster.fence_device.history] == [loser]


def test_fence_dummy_reports_success_without_fencing(cluster):
    """fence_dummy (Debian's fence-agents) is no protection: it only records a
    status in a file, so after a "successful" fencing both nodes run d."""
    status_file = cluster.workdir / "fence_dummy.status"
    cluster.run(1, f"crm configure primitive fd stonith:fence_dummy params type=file "
                   f"status_file={status_file} pcmk_host_list='node1 node2' "
                   f"op monitor interval=60s")
    cluster.run(1, "crm configure property stonith-enabled=true")
    cluster.run(1, "crm configure primitive d ocf:heartbeat:Dummy op monitor interval=2s")
    cluster.wait_started("d")
    cluster.cut_link()
    wait_for(lambda: dummy_copies(cluster, "d") == ["node1", "node2"], 30,
             what="d running on both sides despite fence_dummy")
    # Each partition "fences" the other; reconnecting before both fencings have
    # completed would deliver the late one to its target, whose Pacemaker then
    # stops itself ("we were allegedly just fenced") and leaves its copy of d.
    wait_for(lambda: all(node_fenced_by(cluster, n) == cluster.other(n) for n in cluster.nodes),
             30, what="each partition's fence_dummy reporting the other node fenced")
    assert all(n.stack_running() for n in cluster.nodes)

    cluster.restore_link()
    cluster.wait_online()
    wait_for(lambda: recovered_to_one_copy(cluster, "d"), 60, what="one copy of d after reconnect")
