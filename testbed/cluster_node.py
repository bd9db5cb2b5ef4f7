"""A namespace node running the cluster stack: corosync, then pacemakerd.

The daemons run in the foreground under nsenter; their Popen handles are
kept so they are reaped. Their output goes to .out files in the node's
/var/log next to the daemons' own logs.
"""

import os
import signal
import subprocess

from hacontain.errors import HacontainError, StateError, Timeout
from testbed.cluster_wait import wait_for
from testbed.nsnode import NsNode

# Environment pacemakerd gets from /etc/default/pacemaker on a real node.
PACEMAKER_ENV = {
    "PCMK_logfile": "/var/log/pacemaker/pacemaker.log",
    "PCMK_logfacility": "none",
}


class ClusterNode(NsNode):
    """Node number `index` (name nodeN) of a test cluster."""

    def __init__(self, index, **kwargs):
        super().__init__(name=f"node{index}", **kwargs)
        self.index = index
        self.corosync = None
        self.pacemakerd = None

    def stack_running(self):
        """True while both corosync and pacemakerd run."""
        return all(proc is not None and proc.poll() is None
                   for proc in (self.corosync, self.pacemakerd))

    def start_stack(self, timeout=30):
        """Start corosync, wait until it answers, then start pacemakerd."""
        if not self.alive():
            raise StateError(f"{self.name}: node is down, boot it first")
        if self.stack_running():
            raise StateError(f"{self.name}: cluster stack already running")
        self.corosync = self.popen(["corosync", "-f"],
                                   self.host_path("/var/log/corosync/corosync.out"))

        def corosync_answers():
            if self.corosync.poll() is not None:
                raise StateError(f"{self.name}: corosync exited with {self.corosync.returncode}, "
                                 f"see {self.host_path('/var/log/corosync/corosync.out')}")
            return self.run(["corosync-cfgtool", "-s"], check=False).returncode == 0

        try:
            wait_for(corosync_answers, timeout, what=f"{self.name}: corosync-cfgtool -s")
        except StateError as exc:
            raise HacontainError(str(exc)) from None
        self.pacemakerd = self.popen(["pacemakerd"],
                                     self.host_path("/var/log/pacemaker/pacemakerd.out"),
                                     env=PACEMAKER_ENV)

    def stop_stack(self, timeout=120):
        """Graceful stop: SIGTERM pacemakerd (it stops or moves its resources
        first), wait for it, then SIGTERM corosync and wait."""
        for attr in ("pacemakerd", "corosync"):
            proc = getattr(self, attr)
            if proc is None:
                continue
            inner = self.inner_pid(proc)
            if inner is not None:
                os.kill(inner, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                raise Timeout(f"{self.name}: {attr} did not stop within {timeout} s "
                              f"of SIGTERM") from None
            setattr(self, attr, None)

    def reap(self, timeout=10):
        """Wait for the daemons' nsenter processes after the node was killed."""
        for attr in ("pacemakerd", "corosync"):
            proc = getattr(self, attr)
            if proc is not None:
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    raise Timeout(f"{self.name}: {attr} (nsenter PID {proc.pid}) still "
                                  f"runs after the node was killed") from None
                setattr(self, attr, None)
