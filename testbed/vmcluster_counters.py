"""Containers with a counter in the VM cluster (testbed/vmcluster.py), for checkpoints.

Each container's rootfs is a directory on an ext4 LV of the cluster's VG, which
ocf:heartbeat:Filesystem mounts (`hacontain cluster-config --filesystem`), and its
init starts a shell counter that keeps its value in a shell variable and appends it
to /counts every 0.2 s, after a line "start" when it starts: a counter that goes on
from its value was restored, one from 1 was started cold.

    make_counter_containers(cluster, {"bb": "busybox", "deb": "debian"})
    text = with_checkpoint_on_move(cluster.generated_configuration("bb", "deb",
                                   options=FILESYSTEM_OPTION), ["bb", "deb"])
"""

import os
import re
import shutil

from testbed.vmcluster import EXCHANGE, LXCPATH, VG

MOUNT = "/srv/cts"                   # the LV "cts" of VG ha, mounted by Filesystem
LV = "cts"
LV_SIZE = "560M"                     # a busybox and a Debian rootfs with their checkpoints
FILESYSTEM_OPTION = f"--filesystem /dev/{VG}/{LV}:{MOUNT}:ext4"
STEP = 900                           # seconds: a step of a TCG VM on a loaded machine
COUNTER = ("#!/bin/sh\ni=0\necho start >> /counts\n"
           "while :; do i=$((i+1)); echo $i >> /counts; sleep 0.2; done\n")
# busybox init starts it once booted; Debian's sysvinit from its first sysinit line, in
# the background and its own session (its rc scripts take minutes in a TCG VM, and go
# on meanwhile)
INITTAB_LINE = {"busybox": "::once:/counter.sh",
                "debian": "hc::sysinit:setsid /counter.sh </dev/null >/dev/null 2>\\&1 \\&"}


def rootfs(name):
    return f"{MOUNT}/{name}/rootfs"


def make_counter_containers(cluster, templates):
    """The LV mounted on the first node, containers {name: template} made on it (their
    configs in LXCPATH on both nodes), unmounted again; the Debian rootfs comes from the
    host's cached tarball (the VMs have no network for debootstrap)."""
    first = cluster.nodes[0]
    first.sh(f"lvcreate -q -y -L {LV_SIZE} -n {LV} {VG} && mkfs.ext4 -q /dev/{VG}/{LV} && "
             f"mkdir -p {MOUNT} && mount /dev/{VG}/{LV} {MOUNT}", timeout=STEP)
    cache = cluster.exchange / "cache"
    if "debian" in templates.values():
        from hacontain.templates import debian
        cache.mkdir()
        tarball = debian.cached_tarball("sysvinit")
        shutil.copyfile(tarball, cache / os.path.basename(tarball))
    try:
        for name, template in templates.items():
            _make_container(cluster, name, template)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    first.sh(f"umount {MOUNT}")
    for node in cluster.nodes:
        node.sh(f"mkdir -p {MOUNT}")


def _make_container(cluster, name, template):
    """Container `name` from `template` with its rootfs in MOUNT/NAME (on the LV), the
    counter started by its init, its config in LXCPATH on both nodes."""
    first = cluster.nodes[0]
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


def with_checkpoint_on_move(text, names):
    """Generated crm input `text` with checkpoint_on_move=true for containers `names`."""
    for name in names:
        text, found = re.subn(rf"params name={name} ",
                              f"params name={name} checkpoint_on_move=true ", text)
        if found != 1:
            raise ValueError(f"no single primitive of container {name} in:\n{text}")
    return text


def set_checkpoint_on_move(cluster, names, value):
    """Change the parameter of containers `names`' resources (reloadable: no restart)."""
    for name in names:
        cluster.nodes[0].sh(f"crm_resource --resource ct_{name} --set-parameter checkpoint_on_move "
                            f"--parameter-value {value}")


def counts(cluster, node, name):
    """(how many times the counter started, its values since it last started), the
    last line (maybe half written) left out. A crash can leave NUL bytes where the
    file's last blocks were not written yet: they end a line."""
    text = cluster.node(node).sh(f"cat {rootfs(name)}/counts").replace("\x00", "\n")
    lines = text.split()[:-1]
    starts = [i for i, line in enumerate(lines) if line == "start"]
    return len(starts), [int(v) for v in lines[starts[-1] + 1:]]


def wait_counts(cluster, node, name, at_least, timeout=STEP):
    """Wait until container `name`'s counter on `node` wrote `at_least` values since it
    last started."""
    since_start = f"awk '/start$/ {{n = 0; next}} {{n++}} END {{print n + 0}}' {rootfs(name)}/counts"
    _wait_above(cluster, node, name, since_start, at_least, timeout)


def wait_starts(cluster, node, name, more_than, timeout=300):
    """Wait until container `name`'s counter on `node` started more than `more_than` times
    and wrote 3 values since (a cold start's counter; a restored one writes no "start")."""
    _wait_above(cluster, node, name, f"grep -c '^start$' {rootfs(name)}/counts", more_than,
                timeout)
    wait_counts(cluster, node, name, 3, timeout)


def _wait_above(cluster, node, name, measure, threshold, timeout):
    """Wait on `node` until shell command `measure` (0 when it fails) prints more than
    `threshold`; the counts file's last lines in the error when `timeout` passes."""
    cluster.node(node).sh(
        f"deadline=$(( $(date +%s) + {timeout} )); "
        f"until [ \"$({measure} 2>/dev/null || echo 0)\" -gt {threshold} ]; do "
        f"[ \"$(date +%s)\" -lt \"$deadline\" ] || {{ tail -3 {rootfs(name)}/counts; exit 1; }}; "
        f"sleep 0.5; done", timeout=timeout + 30)
