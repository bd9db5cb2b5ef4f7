"""Failover with stock agents (ocf:heartbeat:Dummy, ocf:heartbeat:Filesystem):
node crash, `crm resource move`, standby/online."""

import pytest

from testbed.cluster import SHARED_MOUNTPOINT
from testbed.cluster_volume import assert_mounted_on_exactly_one

pytestmark = pytest.mark.cluster


def test_dummy_fails_over_after_a_node_crash_and_stays(cluster):
    cluster.run(1, "crm configure primitive d ocf:heartbeat:Dummy op monitor interval=2s")
    first = cluster.wait_started("d")
    cluster.crash(first)
    survivor = cluster.wait_started("d", not_on=first, timeout=30)
    assert first not in cluster.status(via=survivor).online()
    assert cluster.has_file(survivor, "/run/resource-agents/Dummy-d.state")

    cluster.start(first)
    cluster.wait_online()
    cluster.settle()
    # Stickiness keeps it where it is; the rebooted node's /run is empty.
    assert cluster.started_on("d") == [survivor]
    assert not cluster.has_file(first, "/run/resource-agents/Dummy-d.state")


def test_filesystem_moves_with_crm_resource_move(cluster):
    device = cluster.volume.device
    cluster.run(1, f"crm configure primitive fs ocf:heartbeat:Filesystem params device={device} "
                   f"directory={SHARED_MOUNTPOINT} fstype=ext4 op monitor interval=5s")
    first = cluster.wait_started("fs")
    cluster.run(first, f"echo written-on-{first} > {SHARED_MOUNTPOINT}/probe")
    target = cluster.other(first)

    cluster.run(first, ["crm", "resource", "move", "fs", target])
    assert cluster.wait_started("fs", on=target) == target
    assert assert_mounted_on_exactly_one(cluster, device) == target
    assert cluster.run(target, f"cat {SHARED_MOUNTPOINT}/probe").stdout.strip() == f"written-on-{first}"
    assert cluster.status().failures() == []


def test_filesystem_fails_over_after_a_node_crash(cluster):
    device = cluster.volume.device
    cluster.run(1, f"crm configure primitive fs ocf:heartbeat:Filesystem params device={device} "
                   f"directory={SHARED_MOUNTPOINT} fstype=ext4 op monitor interval=5s")
    first = cluster.wait_started("fs")
    cluster.crash(first)
    survivor = cluster.wait_started("fs", not_on=first, timeout=30)
    assert assert_mounted_on_exactly_one(cluster, device) == survivor


def test_standby_moves_the_resource_and_online_leaves_it(cluster):
    cluster.run(1, "crm configure primitive d ocf:heartbeat:Dummy op monitor interval=2s")
    first = cluster.wait_started("d")
    cluster.run(1, ["crm", "node", "standby", first])
    second = cluster.wait_started("d", not_on=first)
    assert cluster.status().standby() == {first}

    cluster.run(1, ["crm", "node", "online", first])
    cluster.settle()
    status = cluster.status()
    assert status.standby() == set()
    assert status.started_on("d") == [second], "resource-stickiness=100 must keep it in place"


def test_graceful_stop_moves_the_resource_and_start_rejoins(cluster):
    cluster.run(1, "crm configure primitive d ocf:heartbeat:Dummy op monitor interval=2s")
    first = cluster.wait_started("d")
    cluster.stop(first)
    second = cluster.other(first)
    # pacemakerd moved d away before it exited: it is already running on the other node.
    assert cluster.started_on("d", via=second) == [second]
    assert not cluster.node(first).stack_running()
    assert cluster.node(first).alive(), "a graceful stop leaves the node itself up"
    assert not cluster.has_file(first, "/run/resource-agents/Dummy-d.state")

    cluster.start(first)
    cluster.wait_online()
    cluster.settle()
    assert cluster.started_on("d") == [second]
