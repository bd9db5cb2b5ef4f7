"""What the VM cluster tier's scenarios share: the one cluster's containers, the data
written in ct's volume, the checks of the stack, the agent's log.

The cluster (conftest.py) runs three containers on the VG over DRBD: ct (busybox on
its own LV, which the runtime mounts) and the counter containers bb (busybox) and deb
(Debian, sysvinit) on an ext4 LV that ocf:heartbeat:Filesystem mounts, with
checkpoint_on_move=true (testbed/vmcluster_counters.py). All three follow the storage,
so every move and failover moves the three."""

from testbed.vmcluster_counters import STEP, wait_counts

SCENARIO_CT = "ct"
CONTAINER = "ct_ct"      # container ct's resource, as hacontain cluster-config names it
COUNTERS = {"bb": "busybox", "deb": "debian"}
RESOURCES = {name: f"ct_{name}" for name in COUNTERS}
LOG = "/var/log/pacemaker/pacemaker.log"   # the agent's stderr, as pacemaker-execd logs it
WRITTEN = {}   # file in container ct -> its content, every scenario's data so far


def healthy(cluster):
    """The cluster recovered from the last scenario (both VMs up, DRBD in sync, nothing
    pending), the three containers running, both counters counting; their node."""
    cluster.recover(timeout=STEP)
    node = cluster.wait_started(CONTAINER, timeout=STEP)
    for name, rsc in RESOURCES.items():
        assert cluster.wait_started(rsc, timeout=STEP) == node, f"{rsc} not on {node}"
        wait_counts(cluster, node, name, 5)
    return node


def write(cluster, node, name):
    """Write a file named `name` in container ct, synced, remembered for check_stack_on."""
    content = f"written before the {name}"
    cluster.container_sh(node, SCENARIO_CT, f"echo '{content}' > /{name} && sync")
    WRITTEN[f"/{name}"] = content


def check_stack_on(cluster, node):
    """DRBD Primary, the VG's LV active, ct running, every scenario's data there."""
    host = cluster.node(node)
    assert host.sh("drbdadm role r0").split("/")[0] == "Primary"
    assert host.sh("lvs --noheadings -o lv_active ha/ct").strip() == "active"
    assert host.sh("vgs --noheadings -o systemid ha").strip() == node
    for path, content in WRITTEN.items():
        assert cluster.container_sh(node, SCENARIO_CT, f"cat {path}").strip() == content


def log_mark(cluster, node):
    """The line count of `node`'s Pacemaker log: where the next scenario's lines begin."""
    return int(cluster.node(node).sh(f"wc -l < {LOG}"))


def agent_log(cluster, node, mark, name):
    """The agent's lines about container `name` logged on `node` since `mark`."""
    return cluster.node(node).sh(f"tail -n +{mark + 1} {LOG} | grep -F 'container {name}:' "
                                 f"| cut -c1-400 || true")
