"""The seven container scenarios of issue 5, with ocf:hacontain:container.

Every container lives on the shared volume: `fs` (ocf:heartbeat:Filesystem)
mounts it at LXCPATH, `ct` runs the container from LXCPATH/NAME, grouped as
`g` (fs, then ct). The busybox template's init writes SHUTDOWN_MARKER on a
clean halt and deletes it at boot, so each test's rootfs also appends the
marker to /var/log/shutdowns on every clean stop: that history survives the
next boot on the other node.
"""

import json
import time
import uuid

import pytest

from hacontain.templates.busybox import SHUTDOWN_MARKER
from testbed.cluster import SHARED_MOUNTPOINT
from testbed.cluster_volume import assert_mounted_on_exactly_one, mounts_of, where_mounted
from testbed.cluster_wait import wait_for

LXCPATH = SHARED_MOUNTPOINT

pytestmark = pytest.mark.cluster

# An init that ignores every signal a halt could use (SIGPWR, SIGTERM, SIGINT, SIGUSR1/2...).
STUBBORN_INIT = "#!/bin/sh\ntrap '' 1 2 3 10 12 15 30\nwhile :; do sleep 1; done\n"


def hacontain(cluster, node, *args, check=True):
    """`hacontain ARGS` inside `node`, on the shared LXCPATH."""
    return cluster.run(node, ["hacontain", *args], check=check, timeout=60)


def attach(cluster, node, name, command):
    """Output of a shell command run inside container `name` on `node`."""
    return hacontain(cluster, node, "attach", name, "-P", LXCPATH, "--", "sh", "-c", command).stdout


def info(cluster, node, name):
    """`hacontain info --json` of `name` on `node`, or None when the node has no such container
    (its volume is not mounted there) or is down."""
    if not cluster.node(node).alive():
        return None
    result = hacontain(cluster, node, "info", name, "-P", LXCPATH, "--json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def container_copies(cluster, name):
    """Nodes where container `name` really runs, asked inside each node."""
    return [n.name for n in cluster.nodes
            if (info(cluster, n, name) or {}).get("state") == "RUNNING"]


def shutdowns(cluster, node, name):
    """Clean shutdowns recorded in the container's rootfs (read on the node holding the volume)."""
    path = f"{LXCPATH}/{name}/rootfs/var/log/shutdowns"
    result = cluster.run(node, ["cat", path], check=False)
    return result.stdout.splitlines() if result.returncode == 0 else []


def container_group(cluster, stop_timeout=30, init=None, meta=""):
    """Create a busybox container on the shared volume and run it as group g
    (fs, ct); returns (container name, node it runs on)."""
    name = "c" + uuid.uuid4().hex[:6]
    cluster.run(1, f"crm configure primitive fs ocf:heartbeat:Filesystem params "
                   f"device={cluster.volume.device} directory={LXCPATH} fstype=ext4 "
                   f"op monitor interval=5s")
    node = cluster.wait_started("fs")
    hacontain(cluster, node, "create", name, "-t", "busybox", "-P", LXCPATH)
    rootfs, config = f"{LXCPATH}/{name}/rootfs", f"{LXCPATH}/{name}/config"
    cluster.run(node, f"echo 'cat {SHUTDOWN_MARKER} >> /var/log/shutdowns; sync' "
                      f">> {rootfs}/etc/init.d/rcK")
    if init is not None:
        script = (f"cat > {rootfs}/sbin/custom-init && chmod 755 {rootfs}/sbin/custom-init && "
                  f"sed -i 's|^lxc.init.cmd.*|lxc.init.cmd = /sbin/custom-init|' {config}")
        cluster.run(node, ["sh", "-c", script], input=init)
    cluster.run(node, ["crm", "configure"], input=(
        f"primitive ct ocf:hacontain:container params name={name} lxcpath={LXCPATH} "
        f"op start timeout=30s op stop timeout={stop_timeout}s op monitor interval=2s timeout=20s\n"
        f"group g fs ct {meta}\n"
        "commit\n"))
    assert cluster.wait_started("ct", timeout=60) == node
    return name, node


def test_1_container_runs_from_the_shared_volume(cluster):
    name, node = container_group(cluster)
    assert attach(cluster, node, name, "hostname").strip() == name
    details = info(cluster, node, name)
    assert details["state"] == "RUNNING"
    assert details["rootfs"] == f"{LXCPATH}/{name}/rootfs"
    inside = attach(cluster, node, name, "cat /proc/self/mountinfo")
    assert "/" in mounts_of(inside, cluster.volume.device), "the container's / is not on the volume"
    assert assert_mounted_on_exactly_one(cluster, cluster.volume.device) == node
    assert container_copies(cluster, name) == [node]


def test_2_node_crash_moves_the_container_with_its_data(cluster):
    name, node = container_group(cluster)
    attach(cluster, node, name, "echo written-before-crash > /root/data && sync")
    cluster.crash(node)
    survivor = cluster.wait_started("ct", not_on=node, timeout=60)
    assert attach(cluster, survivor, name, "cat /root/data").strip() == "written-before-crash"
    assert assert_mounted_on_exactly_one(cluster, cluster.volume.device) == survivor
    assert shutdowns(cluster, survivor, name) == [], "a crash is no clean shutdown"


def test_3_killed_init_is_restarted_in_place(cluster):
    name, node = container_group(cluster)
    old_pid = info(cluster, node, name)["pid"]
    cluster.run(node, ["kill", "-KILL", str(old_pid)])
    wait_for(lambda: cluster.failcount("ct", node) == 1, 30, what="fail count 1 for ct")
    assert cluster.wait_started("ct", timeout=60) == node
    wait_for(lambda: (info(cluster, node, name) or {}).get("pid") not in (None, old_pid), 30,
             what=f"{name} running again with a new init")
    assert cluster.started_on("fs") == [node], "the volume must stay where it is"
    assert cluster.failcount("ct", node) == 1


def test_4_move_stops_cleanly_and_starts_on_the_other_node(cluster):
    name, node = container_group(cluster)
    target = cluster.other(node)
    cluster.run(node, ["crm", "resource", "move", "g", target])
    assert cluster.wait_started("ct", on=target, timeout=60) == target
    history = shutdowns(cluster, target, name)
    assert len(history) == 1 and history[0].startswith("shutdown"), history
    assert container_copies(cluster, name) == [target]
    assert cluster.status().failures() == []


def test_5_standby_moves_it_and_online_respects_stickiness(cluster):
    name, node = container_group(cluster)
    cluster.run(1, ["crm", "node", "standby", node])
    second = cluster.wait_started("ct", not_on=node, timeout=60)
    assert len(shutdowns(cluster, second, name)) == 1
    cluster.run(1, ["crm", "node", "online", node])
    cluster.settle()
    assert cluster.started_on("ct") == [second]
    assert container_copies(cluster, name) == [second]


def test_6_init_ignoring_the_halt_signal_is_stopped_within_the_stop_timeout(cluster):
    stop_timeout = 20
    name, node = container_group(cluster, stop_timeout=stop_timeout, init=STUBBORN_INIT)
    target = cluster.other(node)
    started = time.monotonic()
    cluster.run(node, ["crm", "resource", "move", "g", target])
    cluster.wait_started("ct", on=target, timeout=stop_timeout + 40)
    # stop (escalated) + fs stop + fs start + ct start
    assert time.monotonic() - started < stop_timeout + 15
    assert cluster.status().failures() == [], "escalation must not be a stop failure"
    assert cluster.failcount("ct", node) == 0
    assert shutdowns(cluster, target, name) == [], "this init never halts cleanly"
    assert container_copies(cluster, name) == [target]


def _one_copy(cluster, name):
    copies = container_copies(cluster, name)
    return copies[0] if len(copies) == 1 and cluster.started_on("ct") == copies else None


def _assert_one_copy_stays(cluster, name, node, seconds=3):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert container_copies(cluster, name) == [node]
        time.sleep(0.5)
    assert assert_mounted_on_exactly_one(cluster, cluster.volume.device) == node


def test_7_link_cut_without_fencing_two_copies_then_one(cluster):
    """Without fencing both sides mount the volume and run the container:
    the reason to configure fencing. On reconnect Pacemaker stops both and
    starts one."""
    name, _ = container_group(cluster)
    cluster.cut_link()
    wait_for(lambda: container_copies(cluster, name) == ["node1", "node2"], 60,
             what=f"{name} running on both sides of the cut")
    assert set(where_mounted(cluster, cluster.volume.device)) == {"node1", "node2"}

    cluster.restore_link()
    cluster.wait_online()
    node = wait_for(lambda: _one_copy(cluster, name), 90, what=f"one copy of {name}")
    cluster.settle()
    _assert_one_copy_stays(cluster, name, node)


def test_7_link_cut_with_fencing_never_two_copies(fenced_cluster):
    cluster = fenced_cluster
    name, winner = container_group(cluster, meta="meta priority=10")
    loser = cluster.other(winner)
    cluster.fence_device.history.clear()
    cluster.cut_link()
    deadline = time.monotonic() + 30
    while not cluster.fence_device.history and time.monotonic() < deadline:
        assert container_copies(cluster, name) == [winner]
        time.sleep(0.2)
    assert cluster.fence_device.history[0] == (winner, "reboot", loser, 0)
    cluster.wait_online(nodes=[loser], via=loser, timeout=30)
    for _ in range(10):
        assert container_copies(cluster, name) == [winner]
        time.sleep(0.3)

    cluster.restore_link()
    cluster.wait_online()
    cluster.settle()
    _assert_one_copy_stays(cluster, name, winner)
