"""Fixtures of the VM cluster tier: one two-node cluster for the whole tier, the events
several scenarios check (one move, one move during a backup, one crash: each done once),
the scenarios' order, and the times they measured, printed at the end of the run.

The order: what keeps both VMs up first (stops and starts in place, the moves), then the
link cut (a fenced VM boots again within it), and last the crash, after which no VM has
to boot again."""

from types import SimpleNamespace

import pytest

from cluster_tier import CONTAINER, COUNTERS, RESOURCES, SCENARIO_CT, healthy, log_mark, write
from testbed.vmcluster import VmCluster
from testbed.vmcluster_counters import (FILESYSTEM_OPTION, STEP, counts, make_counter_containers,
                                        set_checkpoint_on_move, wait_counts,
                                        with_checkpoint_on_move)

MEASURED = []
BACKUP_OUT = "/tmp/backup.out"
ORDER = (
    "test_vm_cluster_checkpoint.py::test_a_damaged_or_stale_checkpoint_leads_to_a_cold_start",
    "test_vm_cluster_scenarios.py::test_graceful_move",
    "test_vm_cluster_checkpoint.py::test_a_move_keeps_the_processes",
    "test_vm_cluster_backup.py::test_a_move_during_a_snapshot_backup",
    "test_vm_cluster_checkpoint.py::test_the_same_move_without_checkpoint",
    "test_vm_cluster_scenarios.py::test_link_cut_with_fencing",
    "test_vm_cluster_scenarios.py::test_crash_of_the_node_running_the_container",
    "test_vm_cluster_checkpoint.py::test_a_crash_leads_to_a_cold_start",
)


def pytest_collection_modifyitems(items):
    """The tier's scenarios in ORDER (the rest after them, as collected)."""
    def rank(item):
        name = item.nodeid.rsplit("/", 1)[-1]
        return ORDER.index(name) if name in ORDER else len(ORDER)

    items.sort(key=rank)        # stable: other directories' tests keep their order


@pytest.fixture(scope="session")
def cluster(vm_image):
    """Two VMs running Corosync + Pacemaker with fencing, the configuration `hacontain
    cluster-config` prints for the three containers loaded: ct on its own LV of the VG on
    DRBD, bb and deb (checkpoint_on_move=true) on the Filesystem LV."""
    with VmCluster(vm_image, data_disk_size="1G") as made:
        made.make_volume_group()
        made.create_container(SCENARIO_CT)
        make_counter_containers(made, COUNTERS)
        made.release_storage()
        text = made.generated_configuration(SCENARIO_CT, *COUNTERS, options=FILESYSTEM_OPTION)
        made.configure(with_checkpoint_on_move(text, COUNTERS))
        yield made


def _move(cluster, source, what):
    """crm_resource --move of the three containers from `source` to the other node, timed
    until ct runs there, then until bb and deb run there too; the constraint cleared.
    Returns the target."""
    target = cluster.other(source)
    try:
        seconds = cluster.timed_move(CONTAINER, target, timeout=STEP)
        MEASURED.append((what, seconds))
        for rsc in RESOURCES.values():
            cluster.wait_started(rsc, not_on=source, timeout=STEP)
    finally:
        cluster.node(target).sh(f"crm_resource --clear --resource {CONTAINER}")
    return target


@pytest.fixture(scope="session")
def planned_move(cluster):
    """The tier's planned move, done once: data written in ct, the counters' state and the
    log marks taken, then crm_resource --move (bb and deb checkpointed)."""
    source = healthy(cluster)
    other = cluster.other(source)
    write(cluster, source, "move")
    marks = {node: log_mark(cluster, node) for node in (source, other)}
    before = {name: counts(cluster, source, name) for name in COUNTERS}
    target = _move(cluster, source, "crm_resource --move: ct, bb and deb (both checkpointed)")
    return SimpleNamespace(source=source, target=target, marks=marks, before=before)


@pytest.fixture(scope="session")
def move_during_backup(cluster):
    """The tier's move during a snapshot backup of ct, done once, with checkpoint_on_move
    false for bb and deb (stop + cold start): 8 MiB and a marker written in ct, the backup
    (slowed by --bwlimit, its LV snapshot mounted) running when the move begins."""
    source = healthy(cluster)
    set_checkpoint_on_move(cluster, COUNTERS, "false")
    node = cluster.node(source)
    try:
        cluster.wait_idle(timeout=STEP)                 # the parameter reloaded
        starts = {name: counts(cluster, source, name)[0] for name in COUNTERS}
        cluster.container_sh(source, SCENARIO_CT, "dd if=/dev/urandom of=/data bs=1M count=8 "
                                                  "2>/dev/null && echo kept > /marker && sync")
        node.sh(f"mkdir -p /tmp/dump && setsid hacontain backup {SCENARIO_CT} --mode snapshot "
                f"--dumpdir /tmp/dump --compress none --bwlimit 256 > {BACKUP_OUT} 2>&1 < /dev/null &")
        node.sh(f"timeout 300 sh -c 'until grep -q archiving {BACKUP_OUT}; do sleep 0.2; done' "
                f"|| {{ cat {BACKUP_OUT}; exit 1; }}", timeout=330)
        snapshots = node.sh("lvs --noheadings -o lv_name ha").split().count(f"{SCENARIO_CT}-hcbackup")
        fencings = len(cluster.fence_device.history)
        target = _move(cluster, source, "crm_resource --move during a snapshot backup of ct: "
                                        "ct, bb and deb (stop + cold start)")
    finally:
        set_checkpoint_on_move(cluster, COUNTERS, "true")
    return SimpleNamespace(source=source, target=target, starts=starts, snapshots=snapshots,
                           fencings=fencings)


@pytest.fixture(scope="session")
def crash(cluster):
    """The tier's crash of the node running the containers, done once: data written in
    ct, both counters past 50, then the VM's qemu killed; the survivor fences it."""
    victim = healthy(cluster)
    survivor = cluster.other(victim)
    write(cluster, victim, "crash")
    for name in COUNTERS:                   # a value above any a cold start reaches soon
        wait_counts(cluster, victim, name, 50)
    starts = {name: counts(cluster, victim, name)[0] for name in COUNTERS}
    mark = log_mark(cluster, survivor)
    fencings = len(cluster.fence_device.history)
    seconds, running = cluster.timed_failover(CONTAINER, timeout=STEP)
    MEASURED.append(("failover after the crash of the node running ct, bb and deb "
                     "(ct running on the survivor)", seconds))
    for rsc in RESOURCES.values():
        cluster.wait_started(rsc, not_on=victim, timeout=STEP)
    return SimpleNamespace(victim=victim, running=running, mark=mark, starts=starts,
                           fencings=fencings)


@pytest.fixture
def measured():
    """Call with (what, seconds) to report a measured time at the end of the run."""
    return lambda what, seconds: MEASURED.append((what, seconds))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed scenario's report carries the cluster's state."""
    outcome = yield
    report = outcome.get_result()
    made = item.funcargs.get("cluster") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(made, VmCluster):
        report.sections.append(("VM cluster", made.diagnostics()))


def pytest_terminal_summary(terminalreporter):
    if MEASURED:
        terminalreporter.section("VM cluster: measured")
        for what, seconds in MEASURED:
            terminalreporter.write_line(f"{what}: {seconds:.1f} s")
