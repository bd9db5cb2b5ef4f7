"""A real Corosync 3 + Pacemaker 2.1 cluster of namespace nodes on this host.

    with Cluster(nodes=2, token_ms=1000) as cluster:
        cluster.run("node1", "crm configure primitive d ocf:heartbeat:Dummy")
        node = cluster.wait_started("d")
        cluster.crash(node)
        cluster.wait_started("d", not_on=node)

Each node has its own network, mount, UTS and PID namespace (see nsnode),
per-node state directories that survive crash/start like a disk, a
private /run, and a cgroup parent for containers of its own
(`hacontain-<prefix>-nodeN`, in $HACONTAIN_CGROUP_PARENT and
/etc/hacontain/cgroup-parent). Nodes talk over veths in 192.0.2.0/24 inside
namespaces of the run. A shared loop-device volume and a test fence device
are optional. teardown() removes everything, also after a failed test, and
raises if anything is left.
"""

import grp
import os
import pwd
import secrets
import tempfile
import threading
import time
from pathlib import Path

from hacontain.errors import HacontainError, StateError, Timeout
from testbed import cluster_cgroups, cluster_config, cluster_footprint
from testbed.cluster_fence import DEVICE_ID, FenceDevice, device_xml, install_agent
from testbed.cluster_net import Network
from testbed.cluster_node import ClusterNode
from testbed.cluster_status import CrmStatus, parse_failcount
from testbed.cluster_volume import SharedVolume
from testbed.cluster_wait import wait_for
from testbed.nsnode import NodeDir

# Node paths backed by per-node directories (state that survives a crash).
BIND_DIRS = ("/etc/corosync", "/var/lib/corosync", "/var/lib/pacemaker", "/var/log",
             "/etc/hacontain", "/var/lib/hacontain", "/srv")
# Per-node files: the nodes' names resolve as on a real cluster (crmsh needs it).
BIND_FILES = ("/etc/hosts",)
_HA = ("hacluster", "haclient")
PERSISTENT_DIRS = tuple(NodeDir(path) for path in BIND_DIRS) + (
    NodeDir("/etc/corosync/uidgid.d"),
    *(NodeDir(f"/var/lib/pacemaker/{d}", *_HA, 0o750) for d in ("cib", "blackbox", "cores", "pengine")),
    NodeDir("/var/log/pacemaker", *_HA, 0o770),
    NodeDir("/var/log/pacemaker/bundles", *_HA, 0o770),
    NodeDir("/var/log/corosync"),
    NodeDir("/var/log/crmsh", *_HA, 0o775),
)
# What a real node's tmpfiles.d and packages make in /run at boot.
RUN_DIRS = (
    NodeDir("/run/lock", mode=0o1777),
    NodeDir("/run/crm", *_HA, 0o750),
    NodeDir("/run/resource-agents", mode=0o1755),
    NodeDir("/run/fence-agents", mode=0o1755),
)
# Mount points hacontain's own install owns; made on the host if missing.
HOST_MOUNTPOINTS = ("/etc/hacontain", "/var/lib/hacontain")

# Where the shared volume is mounted by ocf:heartbeat:Filesystem in tests and the demo.
SHARED_MOUNTPOINT = "/srv/hacontain"


class Cluster:
    """`nodes` namespace nodes named node1..nodeN running Corosync and Pacemaker.

    fencing=True enables stonith with the test bed's power switch
    (cluster_fence); volume_mb > 0 adds a shared ext4 loop volume
    (`cluster.volume.device`). `properties` override the seeded cluster
    options.
    """

    def __init__(self, nodes=2, token_ms=1000, fencing=False, volume_mb=0,
                 properties=None, workdir_root=None):
        if nodes < 2:
            raise ValueError("a cluster needs at least two nodes")
        self.prefix = "hc" + secrets.token_hex(4)
        self.token_ms = token_ms
        self.fencing = fencing
        self.workdir = Path(tempfile.mkdtemp(prefix=f"hacontain-testbed-{self.prefix}-",
                                             dir=workdir_root))
        self.network = Network(self.prefix, nodes)
        self.footprint = cluster_footprint.Footprint(
            self.prefix, str(self.workdir),
            addresses=[self.network.address(i) for i in range(1, nodes + 1)])
        self.footprint.save()
        self.properties = {
            "dc-deadtime": "2s",
            "stonith-enabled": "true" if fencing else "false",
            # two_node keeps the survivor quorate, so the default policy is right.
            "no-quorum-policy": "stop",
            **(properties or {}),
        }
        self.rsc_defaults = {"resource-stickiness": 100}
        self.fence_device = FenceDevice(self, self.workdir / "fence") if fencing else None
        overlays = {"/usr/sbin": str(self.workdir / "sbin")} if fencing else {}
        self.nodes = [
            ClusterNode(
                index, netns=self.network.node_netns(index),
                state_dir=self.workdir / f"node{index}", binds=BIND_DIRS + BIND_FILES,
                run_dirs=RUN_DIRS, overlays=overlays,
                env={cluster_footprint.MARKER: self.prefix,
                     "HACONTAIN_CGROUP_PARENT": self.cgroup_parent(f"node{index}")})
            for index in range(1, nodes + 1)]
        self.volume = SharedVolume(self.workdir / "shared.img", volume_mb) if volume_mb else None
        self._seeded_cib = None
        self._lock = threading.RLock()
        self._torn_down = False

    # -- life cycle of the whole cluster ---------------------------------

    def __enter__(self):
        try:
            self.up()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc):
        self.teardown()

    def up(self, timeout=60):
        """Create network, state, volume; boot every node; wait until all are online."""
        for path in HOST_MOUNTPOINTS:
            os.makedirs(path, mode=0o755, exist_ok=True)
        self.network.create()
        self._write_node_state()
        if self.volume is not None:
            self.volume.create()
        if self.fence_device is not None:
            install_agent(self.workdir / "sbin")
            self.fence_device.start()
        for node in self.nodes:
            self.start(node)
        self.wait_online(timeout=timeout)

    def _write_node_state(self):
        names = [node.name for node in self.nodes]
        conf = cluster_config.corosync_conf(
            self.prefix, [(n.index, n.name, self.network.address(n.index)) for n in self.nodes],
            self.token_ms)
        primitives = ([device_xml(self.fence_device.request_dir, names)]
                      if self.fence_device is not None else [])
        cib = cluster_config.seeded_cib(self.properties, self.rsc_defaults, primitives)
        self._seeded_cib = cib
        hosts = "127.0.0.1 localhost\n::1 localhost\n" + "".join(
            f"{self.network.address(n.index)} {n.name}\n" for n in self.nodes)
        key = os.urandom(256)
        uid, gid = pwd.getpwnam("hacluster").pw_uid, grp.getgrnam("haclient").gr_gid
        for node in self.nodes:
            node.make_dirs(PERSISTENT_DIRS)
            node.host_path("/etc/hosts").write_text(hosts)
            node.host_path("/etc/corosync/corosync.conf").write_text(conf)
            cluster_config.write_authkey(node.host_path("/etc/corosync/authkey"), key)
            cluster_config.write_cib(node.host_path("/var/lib/pacemaker/cib/cib.xml"), cib, uid, gid)
            node.host_path("/etc/hacontain/cgroup-parent").write_text(
                self.cgroup_parent(node.name) + "\n")

    def teardown(self):
        """Kill every node and remove everything of the run; raise if anything is left."""
        if self._torn_down:
            return
        self._torn_down = True
        if self.fence_device is not None:
            self.fence_device.stop()
        errors = []
        for node in self.nodes:
            try:
                self._kill(node)
            except HacontainError as exc:
                errors.append(str(exc))
        errors += cluster_footprint.destroy(self.footprint)
        if errors:
            raise HacontainError(f"teardown of test cluster {self.prefix} incomplete: "
                                 + "; ".join(errors))

    def reset(self, timeout=60):
        """Back to a healthy cluster as seeded: links up, every node running and
        online, none in standby, only the seeded resources, options and
        constraints, no failure history. For reusing one cluster across tests."""
        self.restore_link()
        for node in self.nodes:
            self.start(node)
        for node in self.nodes:
            self.wait_online(timeout=timeout, via=node)
        via = self.nodes[0]
        for tag in ("constraints", "resources", "crm_config", "rsc_defaults"):
            via.run(["cibadmin", "--replace", "--scope", tag, "--xml-text",
                     cluster_config.cib_section(self._seeded_cib, tag)])
        for node in self.nodes:
            via.run(["crm_attribute", "--node", node.name, "--name", "standby", "--update", "off"])
        seeded = {DEVICE_ID} if self.fencing else set()

        def only_seeded_active():
            return set(self.status(via).active_resources()) <= seeded

        wait_for(only_seeded_active, timeout, what="removed resources stopped")
        via.run(["crm_resource", "--cleanup"])

    # -- nodes ------------------------------------------------------------

    def node(self, ref):
        """The ClusterNode for a name ("node1"), a number (1) or a node."""
        if isinstance(ref, ClusterNode):
            return ref
        name = f"node{ref}" if isinstance(ref, int) else ref
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node {ref!r} in cluster {self.prefix}")

    def other(self, ref):
        """The name of the other node of a two-node cluster."""
        (name,) = [n.name for n in self.nodes if n.name != self.node(ref).name]
        return name

    def has_file(self, ref, path):
        """True if `path` exists inside node `ref`; False if not, or if the node is (going) down."""
        node = self.node(ref)
        if not node.alive():
            return False
        try:
            return node.run(["test", "-e", path], check=False, timeout=10).returncode == 0
        except HacontainError:
            return False

    def cgroup_parent(self, name):
        """The cgroup parent node `name` gives containers (relative to its own cgroup)."""
        return cluster_cgroups.parent_name(self.prefix, name)

    def run(self, node, cmd, check=True, timeout=60, input=None):
        """Run argv or a shell string inside `node` (see NsNode.run)."""
        return self.node(node).run(cmd, check=check, timeout=timeout, input=input)

    def start(self, ref):
        """Power a node on (if it is off) and start its cluster stack (if stopped)."""
        node = self.node(ref)
        with self._lock:
            if not node.alive():
                node.boot()
                self.footprint.holders[node.name] = [
                    node.holder_pid, cluster_footprint.start_time(node.holder_pid)]
                self.footprint.save()
            if not node.stack_running():
                node.start_stack()

    def stop(self, ref, timeout=120):
        """Graceful stop of a node's cluster stack (pacemakerd, then corosync)."""
        with self._lock:
            self.node(ref).stop_stack(timeout)

    def crash(self, ref):
        """Hard crash: SIGKILL every process of the node at once.

        What a reboot clears goes too: /run, the mounts, and the node's
        container cgroups.
        """
        node = self.node(ref)
        with self._lock:
            self._kill(node)
            for path in cluster_cgroups.find(self.cgroup_parent(node.name)):
                cluster_cgroups.remove(path)

    def _kill(self, node):
        try:
            node.kill(timeout=5)
        except Timeout:
            # A frozen container cgroup keeps its tasks from dying.
            for path in cluster_cgroups.find(self.cgroup_parent(node.name)):
                cluster_cgroups.thaw(path)
            node.kill(timeout=10)
        node.reap()

    def cut_link(self, *refs):
        """Pull the network cable of the given nodes (default: all, a full partition)."""
        for node in self._nodes(refs):
            self.network.set_link(node.index, up=False)

    def restore_link(self, *refs):
        """Plug the cables back in (default: all)."""
        for node in self._nodes(refs):
            self.network.set_link(node.index, up=True)

    def _nodes(self, refs):
        return [self.node(ref) for ref in refs] if refs else list(self.nodes)

    def running_nodes(self):
        """Nodes whose cluster stack is running."""
        return [node for node in self.nodes if node.alive() and node.stack_running()]

    # -- Pacemaker's view -------------------------------------------------

    def _via(self, via):
        if via is not None:
            return self.node(via)
        running = self.running_nodes()
        if not running:
            raise StateError(f"cluster {self.prefix}: no node runs the cluster stack")
        return running[0]

    def status(self, via=None):
        """A CrmStatus from `crm_mon --output-as=xml` inside `via` (default: a running node)."""
        node = self._via(via)
        return CrmStatus.parse(node.name, node.run(["crm_mon", "--output-as=xml"], timeout=30).stdout)

    def started_on(self, rsc, via=None):
        """Nodes where `rsc` is Started, as `via` sees it."""
        return self.status(via).started_on(rsc)

    def failcount(self, rsc, node, via=None):
        """Fail count of `rsc` on `node` (crm_failcount), math.inf for INFINITY."""
        name = self.node(node).name
        out = self._via(via).run(["crm_failcount", "--query", "--resource", rsc, "--node", name]).stdout
        return parse_failcount(out)

    def settle(self, timeout=60, via=None):
        """Wait until Pacemaker has no actions pending (crm_resource --wait)."""
        self._via(via).run(["crm_resource", "--wait", f"--timeout={timeout}s"], timeout=timeout + 10)

    def timed_failover(self, rsc, timeout=60, interval=0.05):
        """Crash the node running `rsc` and time its recovery: seconds from the
        crash until a survivor's crm_mon (polled inside it every `interval` s)
        reports `rsc` Started there. Returns (seconds, crashed node, survivor)."""
        (victim,) = self.started_on(rsc)
        via = next(n for n in self.running_nodes() if n.name != victim)
        started = time.monotonic()
        self.crash(victim)
        survivor = self.wait_started(rsc, not_on=victim, timeout=timeout, via=via, interval=interval)
        return time.monotonic() - started, victim, survivor

    def wait_online(self, nodes=None, timeout=60, via=None):
        """Wait until every given node (default: all) is online as `via` sees it."""
        names = {self.node(n).name for n in nodes} if nodes else {n.name for n in self.nodes}

        def online():
            return names <= self.status(via).online()

        wait_for(online, timeout, what=f"nodes {sorted(names)} online")

    def wait_started(self, rsc, on=None, not_on=None, timeout=60, via=None, interval=0.1):
        """Wait until `rsc` is Started on exactly one node (`on`, or any but
        `not_on`); returns that node's name."""
        want = self.node(on).name if on is not None else None
        avoid = self.node(not_on).name if not_on is not None else None

        def started():
            nodes = self.started_on(rsc, via)
            if len(nodes) == 1 and nodes[0] != avoid and want in (None, nodes[0]):
                return nodes[0]
            return None

        where = f" on {want}" if want else f" off {avoid}" if avoid else ""
        return wait_for(started, timeout, interval=interval, what=f"{rsc} started{where}")
