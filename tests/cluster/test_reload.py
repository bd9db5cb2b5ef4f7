"""OCF 1.1 in a real cluster: Pacemaker applies a changed limit with the
agent's reload-agent (the container keeps running, same init), and restarts
the container when its identity (name) changes.

The containers are busybox containers on each node's own LXCPATH (no shared
storage moves). What Pacemaker did is read from its log in the node running
the resource ("Result of <action> operation for ct").
"""

import json
import uuid

import pytest

from testbed.cluster_wait import wait_for

pytestmark = pytest.mark.cluster

LXCPATH = "/var/lib/hacontain"
PACEMAKER_LOG = "/var/log/pacemaker/pacemaker.log"


def hacontain(cluster, node, *args, check=True):
    return cluster.run(node, ["hacontain", *args, "-P", LXCPATH], check=check, timeout=60)


def info(cluster, node, name):
    """`hacontain info --json` of `name` on `node` (None when it has none)."""
    result = hacontain(cluster, node, "info", name, "--json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def running_on(cluster, name):
    """Nodes where container `name` runs, asked inside each node."""
    return [node.name for node in cluster.nodes
            if (info(cluster, node, name) or {}).get("state") == "RUNNING"]


def results(cluster, node):
    """Actions Pacemaker's executor ran for `ct` on `node`, in order."""
    log = cluster.run(node, ["cat", PACEMAKER_LOG]).stdout
    marker = "Result of "
    return [line.split(marker, 1)[1].split(" operation for ct ", 1)[0]
            for line in log.splitlines() if marker in line and " operation for ct " in line]


@pytest.fixture
def containers(cluster):
    """Factory: busybox containers with these names on every node; destroyed at the end,
    after the cluster has removed the resources."""
    made = []

    def create(*names):
        for node in cluster.nodes:
            for name in names:
                hacontain(cluster, node, "create", name, "-t", "busybox")
        made.extend(names)
        return names

    yield create
    cluster.reset()
    for node in cluster.nodes:
        for name in made:
            hacontain(cluster, node, "destroy", name, "-f", check=False)


def configure(cluster, name, **params):
    words = " ".join(f"{key}={value}" for key, value in params.items())
    cluster.run(1, f"crm configure primitive ct ocf:hacontain:container params name={name} "
                   f"lxcpath={LXCPATH} {words} op monitor interval=2s timeout=20s")
    return cluster.wait_started("ct", timeout=60)


def set_parameter(cluster, key, value):
    cluster.run(1, ["crm_resource", "--resource", "ct", "--set-parameter", key,
                    "--parameter-value", value])


def test_a_changed_memory_limit_is_reloaded_without_a_restart(cluster, containers):
    (name,) = containers("m" + uuid.uuid4().hex[:6])
    node = configure(cluster, name, memory="64M")
    pid = info(cluster, node, name)["pid"]
    assert hacontain(cluster, node, "cgroup", name, "hacontain.limit.memory").stdout.strip() \
        == str(64 << 20)
    before = results(cluster, node)

    set_parameter(cluster, "memory", "128M")
    wait_for(lambda: hacontain(cluster, node, "cgroup", name, "hacontain.limit.memory")
             .stdout.strip() == str(128 << 20), 60, what=f"{name}'s memory limit at 128M")
    cluster.settle()

    assert cluster.started_on("ct") == [node]
    assert info(cluster, node, name)["pid"] == pid, "the init must keep running"
    done = results(cluster, node)[len(before):]
    assert "reload-agent" in done, done
    assert not {"stop", "start"} & set(done), done
    assert cluster.status().failures() == []


def test_a_changed_name_restarts_the_container(cluster, containers):
    first, second = containers("n" + uuid.uuid4().hex[:6], "n" + uuid.uuid4().hex[:6])
    node = configure(cluster, first, memory="64M")
    before = {n.name: len(results(cluster, n)) for n in cluster.nodes}

    set_parameter(cluster, "name", second)
    wait_for(lambda: len(running_on(cluster, second)) == 1, 60, what=f"{second} running")
    cluster.settle()

    assert running_on(cluster, first) == [], f"{first} must have been stopped"
    (where,) = running_on(cluster, second)
    assert cluster.started_on("ct") == [where]
    done = {n.name: results(cluster, n)[before[n.name]:] for n in cluster.nodes}
    assert "stop" in done[node], done
    assert "start" in done[where], done
    assert not any("reload-agent" in actions for actions in done.values()), done
    assert cluster.status().failures() == []
