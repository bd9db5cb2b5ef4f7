"""A two-node Pacemaker cluster of VM-tier VMs running the whole stack: DRBD, LVM, containers.

    with VmCluster(image) as cluster:   # two linked VMs provisioned by deploy/node, fencing on
        cluster.make_volume_group()     # VG "ha" on /dev/drbd0 (DRBD r0 on each data disk)
        cluster.create_container("ct")  # an LV of ha for its rootfs, its config on both nodes
        cluster.release_storage()       # VG inactive, DRBD down: Pacemaker's from here
        cluster.configure(cluster.generated_configuration("ct"))   # hacontain cluster-config
        node = cluster.wait_started("ct_ct")
        seconds, survivor = cluster.timed_failover("ct_ct")

The VMs are ha-a (192.0.2.11) and ha-b (192.0.2.12) of testbed.vm.fleet, each
with its data disk (/dev/vdb) as DRBD backing disk. There is no systemd in
them: corosync and pacemakerd are started as daemons after each boot.
Fencing is testbed.cluster_fence's: the fence_testbed agent in the VMs
writes its request into the VMs' read-write exchange folder (9p) and this
harness's power switch answers, killing the target's qemu (stonith-action
off; a fenced VM stays off until the test boots it again).

TCG makes everything slow (a Pacemaker operation takes seconds), so the
operation timeout default is raised to OP_TIMEOUT and the loaded
configuration's timeouts are multiplied by TIMEOUT_SCALE; the admin's
configuration is turned into CIB XML by crmsh on the host (the same
crmsh and Pacemaker versions as bookworm's), since crmsh itself takes a
minute per command inside a TCG VM.
"""

import os
import re
import shlex
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from hacontain.errors import CommandError, StateError
from testbed.cluster_fence import AGENT, AGENT_NAME, FenceDevice, device_xml
from testbed.cluster_status import CrmStatus
from testbed.cluster_wait import wait_for
from testbed.vm.fleet import CHECKOUT, booted

NAMES = ("ha-a", "ha-b")
ADDRESSES = ("192.0.2.11", "192.0.2.12")
BACKING_DISK = "/dev/vdb"
DRBD_RESOURCE, DRBD_DEVICE = "r0", "/dev/drbd0"
VG = "ha"
EXCHANGE = "/run/exchange"          # the exchange folder's mount point in the VMs
FENCE_DIR = f"{EXCHANGE}/fence"
TOKEN_MS = 3000
OP_TIMEOUT = "120s"
# The operation timeouts of a loaded configuration are multiplied by this: under TCG on a
# shared host a VM runs 10-20 times slower than a real node (crm_mon alone takes 5-15 s).
TIMEOUT_SCALE = 5
# Waits poll inside a VM (no round trip per poll) with Pacemaker's cheapest queries
# (cibadmin, crm_resource --locate; crm_mon takes 5-15 s of a TCG VM), every POLL s:
# each poll takes the VM's one CPU from the work it waits for.
POLL = 1
MEMORY_MB = 768
LXCPATH = "/var/lib/hacontain"
DEPLOY = CHECKOUT / "deploy" / "node"
DRBD_ARGS = (f"--resource {DRBD_RESOURCE} " +
             " ".join(f"--node {n}={a}:{BACKING_DISK}" for n, a in zip(NAMES, ADDRESSES)))
COROSYNC_ARGS = f"--name vmcluster --token {TOKEN_MS} " + " ".join(f"--node {n}={a}" for n, a in zip(NAMES, ADDRESSES))

# Every boot: what systemd and tmpfiles.d would do on a real node, then the stack.
BRING_UP = f"""set -e
mkdir -p {EXCHANGE}
mountpoint -q {EXCHANGE} || mount -t 9p -o trans=virtio,version=9p2000.L exchange {EXCHANGE}
install -d -o hacluster -g haclient -m 750 /run/crm
install -d -m 1755 /run/resource-agents
mkdir -p /var/log/corosync
modprobe -a drbd dm_mod dm_snapshot
setsid -f corosync -f > /var/log/corosync/corosync.out 2>&1 < /dev/null
deadline=$(( $(date +%s) + 60 ))
until corosync-cfgtool -s > /dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || {{ tail -20 /var/log/corosync/corosync.out; exit 1; }}
    sleep 0.2
done
setsid -f pacemakerd > /var/log/pacemaker/pacemakerd.out 2>&1 < /dev/null
"""


class VmNode:
    """One VM of the cluster, as the power switch and the tests see it."""

    def __init__(self, vm):
        self.vm = vm
        self.name = vm.name

    def alive(self):
        """True while the VM's qemu runs."""
        process = self.vm.process
        return process is not None and process.poll() is None

    def sh(self, script, timeout=120, input=None):
        """Run a shell script in the VM; its stdout, or GuestCommandError with its output."""
        return self.vm.check(["sh", "-c", script], timeout=timeout, input=input,
                             env={"PYTHONDONTWRITEBYTECODE": "1"}).stdout

    def deploy(self, script_and_args, timeout=120):
        """Run one of deploy/node's scripts (from the shared checkout) in the VM; its stdout."""
        return self.vm.check(["bash", "-c", f"bash {DEPLOY}/{script_and_args}"], timeout=timeout).stdout

    def install(self, path, text, mode=0o644):
        """Write a file in the VM."""
        self.sh(f"mkdir -p {shlex.quote(os.path.dirname(path))} && cat > {shlex.quote(path)} && "
                f"chmod {mode:o} {shlex.quote(path)}", input=text)


class VmCluster:
    """Two VMs running Corosync + Pacemaker with fencing; see the module's docstring."""

    def __init__(self, image, memory_mb=MEMORY_MB, data_disk_size="320M"):
        self.image = image
        self.memory_mb = memory_mb
        self.data_disk_size = data_disk_size
        self.nodes = []
        self.fence_device = None
        self.exchange = None
        self._lock = threading.RLock()
        self._stack = ExitStack()

    # -- life cycle -------------------------------------------------------

    def __enter__(self):
        try:
            self.up()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc):
        self._stack.close()

    def up(self, timeout=600):
        """Boot both VMs, provision them, start the stack, wait until both are online."""
        vms = self._stack.enter_context(booted(
            self.image, list(NAMES), linked=True, memory_mb=self.memory_mb,
            data_disk_size=self.data_disk_size, exchange=True))
        self.nodes = [VmNode(vm) for vm in vms]
        self.exchange = vms[0].spec.exchange
        self.fence_device = FenceDevice(self, self.exchange / "fence")
        self.fence_device.start()
        self._stack.callback(self.fence_device.stop)
        self._provision()
        on_each(self.nodes, lambda node: node.sh(BRING_UP))
        self.wait_online(timeout=timeout)
        self._seed_cib()

    def _provision(self):
        """What an admin runs once per node: deploy/node's scripts (packages, LVM, the
        DRBD resource up, Corosync; the first node's key on the second; blank disks
        marked in sync), and the node names in /etc/hosts."""
        hosts = "".join(f"{address} {name}\n" for name, address in zip(NAMES, ADDRESSES))
        first, second = self.nodes

        def each(node):           # both VMs at once: each has its own CPU
            node.sh(f"mkdir -p {EXCHANGE} && mount -t 9p -o trans=virtio,version=9p2000.L exchange {EXCHANGE} && "
                    "cat >> /etc/hosts", input=hosts)
            node.install(f"/usr/sbin/{AGENT_NAME}", AGENT, 0o755)
            node.deploy("packages.sh --without pcs --without fence-agents", timeout=600)
            node.deploy(f"lvm.sh --backing {BACKING_DISK} --vg {VG} --local-vg ''")
            node.deploy(f"drbd.sh {DRBD_ARGS}", timeout=600)

        on_each(self.nodes, each)
        first.deploy(f"corosync.sh {COROSYNC_ARGS}")
        first.sh(f"install -m 400 /etc/corosync/authkey {EXCHANGE}/authkey")
        second.deploy(f"corosync.sh {COROSYNC_ARGS} --authkey {EXCHANGE}/authkey")
        first.sh(f"rm {EXCHANGE}/authkey")
        second.deploy(f"drbd.sh {DRBD_ARGS} --new", timeout=600)

    def _seed_cib(self):
        """Cluster options for a TCG cluster and the fence device."""
        node = self.nodes[0]
        node.sh(f"crm_attribute --type crm_config --name stonith-action --update off && "
                # a TCG VM's load is always high: no throttling of the cluster's jobs for it
                f"crm_attribute --type crm_config --name load-threshold --update 1000% && "
                f"crm_attribute --type rsc_defaults --name resource-stickiness --update 100 && "
                f"crm_attribute --type op_defaults --name timeout --update {OP_TIMEOUT} && "
                f"cibadmin --create --scope resources --xml-text {shlex.quote(self.fence_xml())}")

    def fence_xml(self):
        """The CIB primitive of the fence device (the power switch of this harness)."""
        return device_xml(FENCE_DIR, list(NAMES))

    # -- storage and containers (before Pacemaker manages them) -------------

    def make_volume_group(self):
        """The VG "ha" on /dev/drbd0, made on ha-a (Primary for it), its autoactivation
        turned off by lvm.sh as on a real node."""
        first = self.nodes[0]
        first.sh(_until(f'[ "$(drbdadm dstate {DRBD_RESOURCE})" = UpToDate/UpToDate ]', 300), timeout=330)
        first.sh(f"drbdadm primary {DRBD_RESOURCE} && pvcreate -q {DRBD_DEVICE} && "
                 f"vgcreate -q {VG} {DRBD_DEVICE}")
        first.deploy(f"lvm.sh --backing {BACKING_DISK} --vg {VG} --local-vg ''")

    def create_container(self, name, fssize="96M"):
        """Container `name` from the busybox template on an LV of the VG (on ha-a), its
        config on both nodes."""
        first, second = self.nodes
        first.sh(f"hacontain create {name} -t busybox -B lvm --vgname {VG} --fssize {fssize} > /dev/null",
                 timeout=600)
        config = first.sh(f"cat {LXCPATH}/{name}/config")
        second.sh(f"mkdir -p {LXCPATH}/{name}/rootfs")
        second.install(f"{LXCPATH}/{name}/config", config)

    def release_storage(self):
        """The VG deactivated and DRBD down on both nodes: Pacemaker takes over from here."""
        first = self.nodes[0]
        first.sh(f"vgchange -q -an {VG} && drbdadm secondary {DRBD_RESOURCE}")
        for node in self.nodes:
            node.sh(f"drbdadm down {DRBD_RESOURCE}")

    # -- configuration ---------------------------------------------------

    def generated_configuration(self, *names, options=""):
        """`hacontain cluster-config` for containers `names` on ha-a (with `options`, e.g.
        --filesystem DEV:DIR:FSTYPE): crm input of the stack."""
        return self.nodes[0].sh(f"hacontain cluster-config {' '.join(names)} --drbd {DRBD_RESOURCE} --vg {VG} "
                                f"{options}", timeout=600)

    def configure(self, crm_text, via=None):
        """Load `crm_text` (crm configure input) over the running configuration."""
        self.crm(f"configure load update {{crm}}", crm_text, via)

    def crm(self, command, crm_text="", via=None):
        """Run crmsh `command` ({crm}: a file holding `crm_text`) against a copy of the
        cluster's CIB on the host, then replace the cluster's configuration with the result."""
        node = self._via(via)
        with tempfile.TemporaryDirectory(prefix="hacontain-vmcluster-") as folder:
            cib = Path(folder) / "cib.xml"
            cib.write_text(node.sh("cibadmin --query"))
            source = Path(folder) / "input.crm"
            source.write_text(crm_text)
            argv = ["crm", *shlex.split(command.format(crm=source))]
            proc = subprocess.run(argv, env=dict(os.environ, CIB_file=str(cib)), capture_output=True,
                                  text=True)
            if proc.returncode != 0:
                raise CommandError(argv, proc.returncode, proc.stderr)
            configuration = ET.parse(cib).getroot().find("configuration")
        scale_timeouts(configuration, TIMEOUT_SCALE)
        node.sh("cibadmin --replace --scope configuration --xml-pipe",
                input=ET.tostring(configuration, encoding="unicode"))

    # -- nodes --------------------------------------------------------------

    def node(self, ref):
        """The VmNode named `ref` (or `ref` itself)."""
        if isinstance(ref, VmNode):
            return ref
        for node in self.nodes:
            if node.name == ref:
                return node
        raise KeyError(f"no node {ref!r} in the VM cluster")

    def other(self, ref):
        """The other node's name."""
        (name,) = [n.name for n in self.nodes if n.name != self.node(ref).name]
        return name

    def crash(self, ref):
        """Power a VM off at once (its qemu killed); safe from the power switch's thread."""
        node = self.node(ref)
        with self._lock:
            process = node.vm.process
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()

    def start(self, ref, timeout=600):
        """Boot a VM that is off and start its cluster stack; wait until it is online."""
        node = self.node(ref)
        with self._lock:
            if node.alive():
                raise StateError(f"VM {node.name} is running already")
            node.vm.crash()            # forget the old qemu and agent connection
            node.vm.start()
        node.sh(BRING_UP)
        self.wait_online(timeout=timeout, via=node)

    def recover(self, timeout=600):
        """Back to health after a scenario: every VM up with its link, both online, DRBD
        connected and in sync on both, no action pending."""
        down = [node for node in self.nodes if not node.alive()]
        for node in self.nodes:
            if node not in down:
                node.sh("ip link set eth0 up")
        for node in down:
            self.start(node.name, timeout)
        self.wait_online(timeout)
        in_sync = _until(f'[ "$(drbdadm dstate {DRBD_RESOURCE} 2>/dev/null)" = UpToDate/UpToDate ]',
                         timeout, interval=POLL)
        on_each(self.nodes, lambda node: node.sh(in_sync, timeout=timeout + 30))
        self.wait_idle(timeout)

    def cut_link(self):
        """Pull the cable: both VMs' link goes down at once (each a command in its VM)."""
        threads = [threading.Thread(target=node.sh, args=("ip link set eth0 down",)) for node in self.nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # -- Pacemaker's view ---------------------------------------------------

    def _via(self, via):
        if via is not None:
            return self.node(via)
        for node in self.nodes:
            if node.alive():
                return node
        raise StateError("no VM of the cluster is running")

    def status(self, via=None):
        """A CrmStatus from `crm_mon --output-as=xml` in `via` (default: a running VM)."""
        node = self._via(via)
        return CrmStatus.parse(node.name, node.sh("crm_mon --output-as=xml", timeout=60))

    def wait_online(self, timeout=600, via=None):
        """Wait until both nodes are online as `via` sees it: their node_state in the CIB
        says the controller is online and has joined (what crm_mon calls online)."""
        xpath = "//node_state[@crmd='online'][@join='member']"
        online = (f"[ \"$(cibadmin --query --xpath \"{xpath}\" 2>/dev/null | "
                  f"grep -Ec '<node_state [^>]*uname=\"({'|'.join(NAMES)})\"')\" = {len(NAMES)} ]")
        node = self._via(via)
        try:
            node.sh(_until(online, timeout, interval=POLL), timeout=timeout + 30)
        except CommandError as e:
            raise StateError(f"{' and '.join(NAMES)} not online in {node.name} after {timeout} s: "
                             f"{node.sh('crm_node -l || true')}") from e

    def wait_started(self, rsc, not_on=None, timeout=600, via=None):
        """Wait until `rsc` runs on exactly one node (not `not_on`) as crm_resource --locate
        reports it, with no operation of it pending (a start in progress is located too:
        its pending operation is in the CIB with op-status -1); its name."""
        node = self._via(via)
        located = f"crm_resource --locate --resource {rsc} 2>/dev/null | sed -n 's/.* is running on: //p'"
        pending = f"//lrm_resource[@id='{rsc}']/lrm_rsc_op[@op-status='-1']"
        none_pending = f'{{ cibadmin --query --xpath "{pending}" > /dev/null 2>&1; [ $? = 105 ]; }}'
        script = (f"deadline=$(( $(date +%s) + {int(timeout)} )); "
                  f"until at=$({located}) && [ -n \"$at\" ] && [ \"$(echo \"$at\" | wc -l)\" = 1 ] "
                  f"&& [ \"$at\" != {shlex.quote(str(not_on))} ] && {none_pending}; do "
                  f'[ "$(date +%s)" -lt "$deadline" ] || exit 1; sleep {POLL}; done; echo "$at"')
        try:
            return node.sh(script, timeout=timeout + 30).strip()
        except CommandError as e:
            raise StateError(f"{rsc} not started in {node.name} after {timeout} s (not on {not_on}): "
                             f"{node.sh(f'crm_resource --locate --resource {rsc} 2>&1 || true')}") from e

    def wait_idle(self, timeout=600, via=None):
        """Wait until Pacemaker has no action pending (crm_resource --wait)."""
        self._via(via).sh(f"crm_resource --wait --timeout={timeout}s", timeout=timeout + 30)

    def timed_failover(self, rsc, timeout=600):
        """Crash the node running `rsc` and time the recovery: seconds from the crash until
        `rsc` runs on the survivor (polled inside it). Returns (seconds, survivor)."""
        victim = self.wait_started(rsc)
        survivor = self.node(self.other(victim))
        started = time.monotonic()
        self.crash(victim)
        survivor.sh(_running_on(rsc, survivor.name, timeout), timeout=timeout + 30)
        return time.monotonic() - started, survivor.name

    def timed_move(self, rsc, target, timeout=600):
        """`crm_resource --move` of `rsc` to `target` (what `crm resource move` runs) and
        the seconds until it runs there (polled inside it)."""
        node = self.node(target)
        started = time.monotonic()
        node.sh(f"crm_resource --move --resource {rsc} --node {node.name}")
        node.sh(_running_on(rsc, node.name, timeout), timeout=timeout + 30)
        return time.monotonic() - started

    def timed_partition(self, rsc, timeout=600):
        """Cut the link and time until one VM was fenced and `rsc` runs on the other.
        Returns (seconds, survivor)."""
        started = time.monotonic()
        self.cut_link()
        alive = wait_for(lambda: [n for n in self.nodes if n.alive()] if not all(
            n.alive() for n in self.nodes) else None, timeout, interval=0.2, what="a VM fenced")
        if len(alive) != 1:
            raise StateError(f"after the link cut {len(alive)} VMs run")
        (survivor,) = alive
        survivor.sh(_running_on(rsc, survivor.name, timeout), timeout=timeout + 30)
        return time.monotonic() - started, survivor.name

    def diagnostics(self):
        """crm_mon and the last Pacemaker notices of each running VM, for a failure report."""
        text = f"fencing served: {self.fence_device.history if self.fence_device else []}\n"
        for node in self.nodes:
            if not node.alive():
                text += f"--- {node.name}: off\n"
                continue
            try:
                text += f"--- {node.name}\n" + node.sh(
                    "crm_mon -1 -r; cat /proc/drbd; grep -E 'notice|warning|error' "
                    "/var/log/pacemaker/pacemaker.log | tail -40 | cut -c1-250", timeout=120)
            except Exception as e:  # a report of what could be read, whatever failed
                text += f"--- {node.name}: {e}\n"
        return text

    def container_sh(self, ref, name, script):
        """Run a shell script in container `name` on node `ref`; its stdout."""
        return self.node(ref).sh(f"hacontain attach {name} -- /bin/sh -c {shlex.quote(script)}")


def on_each(nodes, action):
    """Run `action(node)` for every node at once, in threads; raise the first error."""
    errors = []

    def run(node):
        try:
            action(node)
        except BaseException as e:    # re-raised in the caller's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(node,)) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def scale_timeouts(configuration, factor):
    """Multiply every operation's timeout (e.g. "20s") in a CIB configuration element."""
    for op in configuration.iter("op"):
        match = re.fullmatch(r"(\d+)(ms|s|m|min)?", op.get("timeout", ""))
        if match:
            op.set("timeout", f"{int(match[1]) * factor}{match[2] or ''}")


def _running_on(rsc, node, timeout):
    """A shell loop waiting until Pacemaker reports `rsc` running on `node`."""
    return _until(f"crm_resource --locate --resource {rsc} 2>/dev/null | grep -q 'running on: {node}$'",
                  timeout, interval=POLL)


def _until(condition, timeout, interval=0.5):
    """A shell loop waiting until `condition` (a shell command) succeeds; exit 1 after `timeout`."""
    return (f"deadline=$(( $(date +%s) + {int(timeout)} )); until {condition}; do "
            f'[ "$(date +%s)" -lt "$deadline" ] || exit 1; sleep {interval}; done')
