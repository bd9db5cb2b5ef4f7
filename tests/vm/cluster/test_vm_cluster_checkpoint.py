"""Planned moves keep the containers' processes, in the two-node Pacemaker cluster of VMs
(opt-in: -m vmcluster). Two containers with checkpoint_on_move=true have their rootfs as
directories on an ext4 LV of the VG on DRBD, which ocf:heartbeat:Filesystem mounts
(`hacontain cluster-config --filesystem`): a busybox container and a Debian (sysvinit)
one, each running a shell counter that keeps its value in a shell variable and appends
it to /counts every 0.2 s, after a line "start" when it starts. The checkpoint goes into
the rootfs, so it travels with the DRBD volume.

- `crm_resource --move`: on the other node both counters go on from their value (no
  restart from 1), and the agent logs the checkpoint and the restore;
- the crash of the node running them: a cold start on the survivor (the counters start
  from 1), the agent's log says there was no checkpoint;
- a stop and start in place with a damaged image, then with a changed config: cold
  starts, the reason in the log;
- for comparison, the same move with checkpoint_on_move=false (stop + cold start);
- last (no reboot of the fenced VM needed after it): the crash.
"""

import os
import re
import shutil

import pytest

from testbed.vmcluster import EXCHANGE, LXCPATH, VG, VmCluster

pytestmark = pytest.mark.vmcluster

MOUNT = "/srv/cts"                   # the LV "cts" of VG ha, mounted by Filesystem
LV = "cts"
CONTAINERS = {"ct": "busybox", "deb": "debian"}
RESOURCES = {name: f"ct_{name}" for name in CONTAINERS}
LOG = "/var/log/pacemaker/pacemaker.log"   # the agent's stderr, as pacemaker-execd logs it
COUNTER = ("#!/bin/sh\ni=0\necho start >> /counts\n"
           "while :; do i=$((i+1)); echo $i >> /counts; sleep 0.2; done\n")
# busybox init starts it once booted; Debian's sysvinit from its first sysinit line, in
# the background and its own session (its rc scripts take minutes in a TCG VM, and go
# on meanwhile)
INITTAB_LINE = {"busybox": "::once:/counter.sh",
                "debian": "hc::sysinit:setsid /counter.sh </dev/null >/dev/null 2>\\&1 \\&"}
STEP = 900                           # seconds: a step of a TCG VM on a loaded machine


def rootfs(name):
    return f"{MOUNT}/{name}/rootfs"


def make_container(cluster, name, template):
    """Container `name` from `template` with its rootfs in MOUNT/NAME (on the LV), the
    counter started by its init, its config in LXCPATH on both nodes."""
    first, second = cluster.nodes
    cache = f"HACONTAIN_CACHE={EXCHANGE}/cache " if template == "debian" else ""
    first.sh(f"{cache}hacontain create {name} -t {template} -P {MOUNT} > /dev/null", timeout=STEP)
    first.install(f"{rootfs(name)}/counter.sh", COUNTER, 0o755)
    if template == "busybox":
        first.sh(f"printf '::sysinit:/etc/init.d/rcS\\n{INITTAB_LINE[template]}\\n"
                 f"::shutdown:/etc/init.d/rcK\\n' > {rootfs(name)}/etc/inittab")
    else:
        first.sh(f"sed -i '1i {INITTAB_LINE[template]}' {rootfs(name)}/etc/inittab")
    config = first.sh(f"cat {MOUNT}/{name}/config && rm {MOUNT}/{name}/config")
    for node in cluster.nodes:
        node.install(f"{LXCPATH}/{name}/config", config)


@pytest.fixture(scope="module")
def cluster(vm_image):
    """The VM cluster with containers ct (busybox) and deb (debian) on the Filesystem
    LV, checkpoint_on_move=true on both; the Debian rootfs comes from the host's
    cached tarball (the VMs have no network for debootstrap)."""
    from hacontain.templates import debian
    with VmCluster(vm_image, data_disk_size="768M") as made:
        made.make_volume_group()
        cache = made.exchange / "cache"
        cache.mkdir()
        tarball = debian.cached_tarball("sysvinit")
        shutil.copyfile(tarball, cache / os.path.basename(tarball))
        first = made.nodes[0]
        first.sh(f"lvcreate -q -y -L 560M -n {LV} {VG} && mkfs.ext4 -q /dev/{VG}/{LV} && "
                 f"mkdir -p {MOUNT} && mount /dev/{VG}/{LV} {MOUNT}", timeout=STEP)
        for name, template in CONTAINERS.items():
            make_container(made, name, template)
        shutil.rmtree(cache)
        first.sh(f"umount {MOUNT}")
        for node in made.nodes:
            node.sh(f"mkdir -p {MOUNT}")
        made.release_storage()
        text = made.generated_configuration(*CONTAINERS,
                                            options=f"--filesystem /dev/{VG}/{LV}:{MOUNT}:ext4")
        for name in CONTAINERS:
            text, found = re.subn(rf"params name={name} ",
                                  f"params name={name} checkpoint_on_move=true ", text)
            assert found == 1, text
        made.configure(text)
        yield made


def healthy(cluster):
    """The cluster recovered from the last scenario, both counters counting; the node
    running the containers."""
    cluster.recover()
    node = cluster.wait_started(RESOURCES["ct"], timeout=STEP)
    cluster.wait_started(RESOURCES["deb"], timeout=STEP)
    cluster.wait_idle(timeout=STEP)
    for name in CONTAINERS:
        wait_counts(cluster, node, name, 5)
    return node


def counts(cluster, node, name):
    """(how many times the counter started, its values since it last started), the
    last line (maybe half written) left out. A crash can leave NUL bytes where the
    file's last blocks were not written yet: they end a line."""
    text = cluster.node(node).sh(f"cat {rootfs(name)}/counts").replace("\x00", "\n")
    lines = text.split()[:-1]
    starts = [i for i, line in enumerate(lines) if line == "start"]
    return len(starts), [int(v) for v in lines[starts[-1] + 1:]]


def wait_counts(cluster, node, name, at_least):
    """Wait until container `name`'s counter on `node` wrote `at_least` values since it
    last started."""
    since_start = f"awk '/start$/ {{n = 0; next}} {{n++}} END {{print n + 0}}' {rootfs(name)}/counts"
    cluster.node(node).sh(
        f"deadline=$(( $(date +%s) + {STEP} )); "
        f"until [ \"$({since_start} 2>/dev/null || echo 0)\" -gt {at_least} ]; do "
        f"[ \"$(date +%s)\" -lt \"$deadline\" ] || {{ tail -3 {rootfs(name)}/counts; exit 1; }}; "
        f"sleep 0.5; done", timeout=STEP + 30)


def log_mark(cluster, node):
    """The line count of `node`'s Pacemaker log: where the next scenario's lines begin."""
    return int(cluster.node(node).sh(f"wc -l < {LOG}"))


def agent_log(cluster, node, mark, name):
    """The agent's lines about container `name` logged on `node` since `mark`."""
    text = cluster.node(node).sh(f"tail -n +{mark + 1} {LOG} | grep -F 'container {name}:' "
                                 f"| cut -c1-400 || true")
    return text


def set_role(cluster, rsc, role):
    cluster.nodes[0].sh(f"crm_resource --resource {rsc} --meta --set-parameter target-role "
                        f"--parameter-value {role}")


def set_checkpoint_on_move(cluster, value):
    for rsc in RESOURCES.values():
        cluster.nodes[0].sh(f"crm_resource --resource {rsc} --set-parameter checkpoint_on_move "
                            f"--parameter-value {value}")


def test_a_move_keeps_the_processes(cluster, measured):
    source = healthy(cluster)
    target = cluster.other(source)
    marks = {node: log_mark(cluster, node) for node in (source, target)}
    before = {name: counts(cluster, source, name) for name in CONTAINERS}
    seconds = cluster.timed_move(RESOURCES["ct"], target, timeout=STEP)
    measured("crm_resource --move, checkpointed (both containers)", seconds)
    try:
        cluster.wait_started(RESOURCES["deb"], not_on=source, timeout=STEP)
        for name in CONTAINERS:
            starts, values = before[name]
            wait_counts(cluster, target, name, len(values) + 5)
            assert counts(cluster, target, name)[0] == starts, f"{name}'s counter restarted"
            values = counts(cluster, target, name)[1]
            assert values == list(range(1, len(values) + 1)), \
                f"{name}'s counter skipped: {values}"
            assert "checkpointed in" in agent_log(cluster, source, marks[source], name)
            assert "restored from its checkpoint" in agent_log(cluster, target, marks[target], name)
            assert cluster.node(target).sh(f"ls -A {rootfs(name)}/.hacontain-checkpoint "
                                           "2>/dev/null || true") == ""
    finally:
        cluster.node(target).sh(f"crm_resource --clear --resource {RESOURCES['ct']}")


def _stop_with_checkpoint(cluster, node, name):
    """Stop resource of container `name` (planned: it checkpoints); the log mark and
    how many times its counter started."""
    mark = log_mark(cluster, node)
    starts = counts(cluster, node, name)[0]
    set_role(cluster, RESOURCES[name], "Stopped")
    cluster.wait_idle(timeout=STEP)         # the stop done (not just begun)
    assert not cluster.status().started_on(RESOURCES[name])
    assert "checkpointed in" in agent_log(cluster, node, mark, name)
    cluster.node(node).sh(f"test -s {rootfs(name)}/.hacontain-checkpoint/checkpoint.json")
    return mark, starts


def _start_cold(cluster, node, name, stopped):
    """Start it again: a cold start (its counter from 1); the agent's log."""
    mark, starts = stopped
    set_role(cluster, RESOURCES[name], "Started")
    assert cluster.wait_started(RESOURCES[name], timeout=STEP) == node
    wait_counts(cluster, node, name, 3)
    assert counts(cluster, node, name)[0] == starts + 1
    assert counts(cluster, node, name)[1][0] == 1
    assert cluster.node(node).sh(f"ls -A {rootfs(name)}/.hacontain-checkpoint "
                                 "2>/dev/null || true") == ""
    return agent_log(cluster, node, mark, name)


def test_a_damaged_or_stale_checkpoint_leads_to_a_cold_start(cluster):
    node = healthy(cluster)
    name = "ct"
    wait_counts(cluster, node, name, 50)
    stopped = _stop_with_checkpoint(cluster, node, name)
    cluster.node(node).sh(f"image=$(ls -S {rootfs(name)}/.hacontain-checkpoint/images/pages-*.img "
                          f"| head -1) && printf damaged | dd of=$image bs=1 seek=64 "
                          f"conv=notrunc 2>/dev/null")
    log = _start_cold(cluster, node, name, stopped)
    assert "cold start" in log and "is damaged (checksum differs)" in log, log

    wait_counts(cluster, node, name, 50)
    stopped = _stop_with_checkpoint(cluster, node, name)
    for each in cluster.nodes:              # the same config on both nodes, changed
        each.sh(f"echo '# changed after the checkpoint' >> {LXCPATH}/{name}/config")
    log = _start_cold(cluster, node, name, stopped)
    assert "cold start" in log and "config" in log and "changed since" in log, log


def test_the_same_move_without_checkpoint(cluster, measured):
    """For comparison with the checkpointed move: stop + cold start of both containers."""
    healthy(cluster)
    set_checkpoint_on_move(cluster, "false")
    source = healthy(cluster)
    target = cluster.other(source)
    before = {name: counts(cluster, source, name)[0] for name in CONTAINERS}
    seconds = cluster.timed_move(RESOURCES["ct"], target, timeout=STEP)
    measured("crm_resource --move, stop + cold start (both containers)", seconds)
    try:
        cluster.wait_started(RESOURCES["deb"], not_on=source, timeout=STEP)
        for name in CONTAINERS:
            wait_counts(cluster, target, name, 3)
            starts, values = counts(cluster, target, name)
            assert starts == before[name] + 1 and values[0] == 1
    finally:
        cluster.node(target).sh(f"crm_resource --clear --resource {RESOURCES['ct']}")
        set_checkpoint_on_move(cluster, "true")


def test_a_crash_leads_to_a_cold_start(cluster, measured):
    victim = healthy(cluster)
    survivor = cluster.other(victim)
    for name in CONTAINERS:                 # a value above any a cold start reaches soon
        wait_counts(cluster, victim, name, 50)
    before = {name: counts(cluster, victim, name)[0] for name in CONTAINERS}
    mark = log_mark(cluster, survivor)
    seconds, running = cluster.timed_failover(RESOURCES["ct"], timeout=STEP)
    measured("failover after a crash (cold start of both containers)", seconds)
    assert running == survivor
    cluster.wait_started(RESOURCES["deb"], not_on=victim, timeout=STEP)
    for name in CONTAINERS:
        wait_counts(cluster, survivor, name, 3)
        starts, values = counts(cluster, survivor, name)
        assert starts == before[name] + 1 and values[0] == 1 and len(values) < 50, values
        assert "cold start: no checkpoint" in agent_log(cluster, survivor, mark, name)
