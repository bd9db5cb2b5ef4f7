"""The whole stack in a two-node Pacemaker cluster of VMs (opt-in: -m vmcluster): a
promotable DRBD clone, LVM-activate and ocf:hacontain:container, fencing by the
harness's power switch. Each scenario writes data in the container's volume before
and reads it after: the crash of the node running the container, a graceful move,
the link cut with fencing on."""

import pytest

pytestmark = pytest.mark.vmcluster

CONTAINER = "ct_ct"     # container ct's resource, as hacontain cluster-config names it
WRITTEN = {}   # file in the container -> its content, every scenario's data so far


def healthy(cluster):
    """The cluster recovered from the last scenario; the node running ct."""
    cluster.recover()
    return cluster.wait_started(CONTAINER)


def write(cluster, node, name):
    content = f"written before the {name}"
    cluster.container_sh(node, "ct", f"echo '{content}' > /{name} && sync")
    WRITTEN[f"/{name}"] = content


def check_stack_on(cluster, node):
    """DRBD Primary, the VG's LV active, ct running, every scenario's data there."""
    host = cluster.node(node)
    assert host.sh("drbdadm role r0").split("/")[0] == "Primary"
    assert host.sh("lvs --noheadings -o lv_active ha/ct").strip() == "active"
    assert host.sh("vgs --noheadings -o systemid ha").strip() == node
    for path, content in WRITTEN.items():
        assert cluster.container_sh(node, "ct", f"cat {path}").strip() == content


def test_crash_of_the_node_running_the_container(cluster, measured):
    victim = healthy(cluster)
    write(cluster, victim, "crash")
    seconds, survivor = cluster.timed_failover(CONTAINER)
    measured("failover after the crash of the node running ct", seconds)
    assert survivor == cluster.other(victim)
    check_stack_on(cluster, survivor)
    assert (survivor, "off", victim, 0) in cluster.fence_device.history


def test_graceful_move(cluster, measured):
    source = healthy(cluster)
    target = cluster.other(source)
    write(cluster, source, "move")
    seconds = cluster.timed_move(CONTAINER, target)
    measured("crm_resource --move of the container to the other node", seconds)
    try:
        check_stack_on(cluster, target)
        assert cluster.node(source).sh("drbdadm role r0").split("/")[0] == "Secondary"
        assert cluster.node(source).sh("hacontain ls").split("\n")[1].split()[1] == "STOPPED"
    finally:
        cluster.node(target).sh(f"crm_resource --clear --resource {CONTAINER}")


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
