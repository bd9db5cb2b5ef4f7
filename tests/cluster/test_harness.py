"""The test bed itself: nodes are real, isolated cluster members, and the
shared-volume check catches what the kernel allows."""

import time

import pytest

from testbed.cluster_volume import assert_mounted_on_exactly_one, where_mounted

pytestmark = pytest.mark.cluster


def test_both_nodes_online_and_quorate_in_each_view(cluster):
    for node in cluster.nodes:
        status = cluster.status(via=node)
        assert status.online() == {"node1", "node2"}
        assert status.has_quorum()


def test_nodes_are_isolated_from_each_other_and_the_host(cluster):
    assert cluster.run(1, "hostname").stdout.strip() == "node1"
    assert cluster.run(2, "hostname").stdout.strip() == "node2"
    # Own PID namespace: each node sees one corosync, its own.
    for node in cluster.nodes:
        assert cluster.run(node, ["pgrep", "-c", "-x", "corosync"]).stdout.strip() == "1"
    # Private /run.
    cluster.run(1, "touch /run/only-on-node1")
    assert cluster.has_file(1, "/run/only-on-node1")
    assert not cluster.has_file(2, "/run/only-on-node1")
    # The nodes reach each other, and nothing else: not the host's address in the same subnet.
    cluster.run(1, ["ping", "-c1", "-W2", cluster.network.address(2)])
    assert cluster.run(1, ["ping", "-c1", "-W1", "192.0.2.2"], check=False).returncode != 0


def test_each_node_gives_containers_its_own_cgroup_parent(cluster):
    parents = set()
    for node in cluster.nodes:
        from_file = cluster.run(node, "cat /etc/hacontain/cgroup-parent").stdout.strip()
        from_env = cluster.run(node, "echo $HACONTAIN_CGROUP_PARENT").stdout.strip()
        assert from_file == from_env == cluster.cgroup_parent(node.name)
        parents.add(from_file)
    assert len(parents) == len(cluster.nodes)


def test_holder_reaps_orphans(cluster):
    # The subshell exits at once: its sleep is reparented to PID 1 of the node.
    cluster.run(1, "(sleep 1 </dev/null >/dev/null 2>&1 &) ; true")
    ppid = cluster.run(1, "ps -o ppid= -C sleep").stdout.split()
    assert ppid == ["1"], f"orphaned sleep not reparented to the holder: {ppid}"
    time.sleep(1.5)
    zombies = cluster.run(1, "ps -eo stat=,pid=,comm= | awk '$1 ~ /^Z/'").stdout
    assert zombies == "", f"zombies in node1: {zombies}"


def test_exactly_one_check_catches_a_double_mount(cluster):
    device = cluster.volume.device
    assert where_mounted(cluster, device) == {}
    for node in cluster.nodes:
        cluster.run(node, f"mkdir -p /srv/check && mount -t ext4 {device} /srv/check")
    try:
        assert set(where_mounted(cluster, device)) == {"node1", "node2"}
        with pytest.raises(AssertionError, match="exactly one node"):
            assert_mounted_on_exactly_one(cluster, device)
        cluster.run(2, "umount /srv/check")
        assert assert_mounted_on_exactly_one(cluster, device) == "node1"
    finally:
        for node in cluster.nodes:
            cluster.run(node, "! mountpoint -q /srv/check || umount /srv/check")
