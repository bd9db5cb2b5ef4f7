"""checkpoint_on_move's planned-stop signal against real Pacemaker 2.1: the stop of
`crm resource move` is planned (the resource's fail count on the node is 0) and
checkpoints; the stop that recovers from a failure (crm_resource --fail, as a failed
monitor records it: fail count above 0) does not.

Pacemaker 2.1.5 counts one `crm_resource --fail` once or twice: its controller
handles the simulated result for each history entry the CIB change touches
(ct_last_0 and a new ct_last_failure_0), so the count reads 1 or 2.

criu's own check fails on this host's kernel, so the checkpoint attempted here
fails, and the test also shows that path: the normal stop follows, and the start
on the other node is a cold start. Checkpoint and restore themselves are tested in
the VM tier (tests/vm/guest/test_checkpoint.py).
"""

import re

import pytest

from test_container import LXCPATH, container_group, info, shutdowns
from testbed.cluster_wait import wait_for

pytestmark = pytest.mark.cluster

PACEMAKER_LOG = "/var/log/pacemaker/pacemaker.log"


def agent_lines(cluster, node, name):
    """The lines the agent logged about container `name` on `node`."""
    log = cluster.run(node, ["cat", PACEMAKER_LOG]).stdout
    return [line for line in log.splitlines() if f"container {name}:" in line]


def test_a_move_is_a_planned_stop_and_a_recovery_is_not(cluster):
    name, node = container_group(cluster)
    cluster.run(node, ["crm", "resource", "param", "ct", "set", "checkpoint_on_move", "true"])
    cluster.settle()
    target = cluster.other(node)
    cluster.run(node, ["crm", "resource", "move", "g", target])
    assert cluster.wait_started("ct", on=target, timeout=90) == target
    lines = agent_lines(cluster, node, name)
    assert any("a planned stop" in line and "fail count 0" in line for line in lines), lines
    assert any("checkpoint failed, stopping it normally" in line for line in lines), lines
    assert len(shutdowns(cluster, target, name)) == 1, "the normal stop did not follow"
    assert not cluster.has_file(target, f"{LXCPATH}/{name}/rootfs/.hacontain-checkpoint")

    old_pid = info(cluster, target, name)["pid"]          # a failure Pacemaker recovers
    cluster.run(target, ["crm_resource", "--fail", "--resource", "ct", "--node", target])
    wait_for(lambda: cluster.failcount("ct", target) >= 1, 30, what="a fail count for ct")
    wait_for(lambda: (info(cluster, target, name) or {}).get("pid") not in (None, old_pid), 60,
             what=f"{name} recovered")
    lines = agent_lines(cluster, target, name)
    assert any("not a planned stop" in line and re.search(r"fail count [12]\)", line)
               for line in lines), lines
    cluster.run(node, ["crm", "resource", "clear", "g"])
