"""Checkpoint and restore with CRIU (runtime/checkpoint.py, the agent's checkpoint_on_move),
in the VM tier: criu's own check fails on the host's kernel, Debian's passes.

A busybox container whose init (busybox init) runs a counter that appends 1, 2, 3...
to /tmp/counts every 0.2 s, and a shell on the console. After a restore the
counts go on from where they were (no second 1: a cold start would begin again);
the console and the network work; a damaged or stale checkpoint is refused and
the container stays stopped; the agent restores after a planned stop and starts
cold after a recovery, a crash, or with a stale checkpoint.
"""

import os
import subprocess
import time
from pathlib import Path

import pytest

from clitools import HACONTAIN, hacontain
from netnstools import Netns

pytestmark = pytest.mark.root

AGENT = Path(__file__).resolve().parents[3] / "ocf" / "container"
INITTAB = ("::sysinit:/etc/init.d/rcS\n"
           "::once:/counter.sh\n"
           "::respawn:/bin/sh\n"
           "::shutdown:/etc/init.d/rcK\n")
COUNTER = "#!/bin/sh\ni=0\nwhile :; do i=$((i+1)); echo $i >> /tmp/counts; sleep 0.2; done\n"


def wait_for(condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def counts(container):
    try:
        text = (Path(container.directory) / "rootfs/tmp/counts").read_text()
    except FileNotFoundError:
        return []
    return [int(line) for line in text.split("\n")[:-1]]   # the last line may be half-written


@pytest.fixture
def counter(make_container):
    """Factory: a busybox container with the counter and a console shell (not started)."""

    def factory(extra=()):
        container = make_container(extra)
        rootfs = Path(container.directory) / "rootfs"
        (rootfs / "etc/inittab").write_text(INITTAB)
        (rootfs / "counter.sh").write_text(COUNTER)
        (rootfs / "counter.sh").chmod(0o755)
        return container

    return factory


def started_and_counting(container, at_least=5):
    hacontain("start", container.name)
    return wait_for(lambda: len(counts(container)) >= at_least, what="the counter")


def assert_continued(container, before):
    """The counts go on past `before` values, consecutive from 1: never restarted."""
    wait_for(lambda: len(counts(container)) > before + 3, what="the counter after restore")
    values = counts(container)
    assert values == list(range(1, len(values) + 1)), f"the counter restarted: {values}"


def test_counter_continues_and_console_works_after_checkpoint_and_restore(counter):
    container = counter()
    started_and_counting(container)
    result = hacontain("checkpoint", container.name, "--stop")
    assert "checkpointed" in result.stderr
    assert container.status().name == "STOPPED"
    at_checkpoint = len(counts(container))
    time.sleep(0.5)
    assert len(counts(container)) == at_checkpoint, "the counter ran on after --stop"
    directory = Path(container.directory) / "rootfs/.hacontain-checkpoint"
    assert (directory / "checkpoint.json").is_file()

    hacontain("restore-checkpoint", container.name)
    assert container.status().name == "RUNNING"
    assert_continued(container, at_checkpoint)
    assert not directory.exists(), "the checkpoint was not deleted once used"
    assert hacontain("attach", container.name, "--", "cat", "/tmp/counts").stdout
    masked = hacontain("attach", container.name, "--", "sh", "-c",
                       "ls -A /proc/acpi /sys/firmware; touch /proc/acpi/x", check=False)
    assert masked.returncode != 0 and "Read-only file system" in masked.stderr, masked
    assert masked.stdout.split() == ["/proc/acpi:", "/sys/firmware:"], masked.stdout

    from hacontain.runtime import console, state as statefile
    fd, _, conn = console.connect(statefile.directory(container.name), container.name, 0)
    try:
        os.write(fd, b"echo console-$((6*7))\n")
        log = Path(statefile.read(container.name).console_log)
        wait_for(lambda: "console-42" in log.read_text(errors="replace"),
                 what="the console shell's answer")
    finally:
        os.close(fd)
        os.close(conn)
    assert container.stop(timeout=20) == "halted"   # busybox init's clean shutdown
    assert (Path(container.directory) / "rootfs/var/log/shutdown-marker").is_file()


def netns_mounted():
    """Whether /run/netns is a mount point (a bind of itself: os.path.ismount misses it)."""
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        return any(line.split()[4] == "/run/netns" for line in handle)


def connect(netns):
    """A TCP connection from `netns` to the container's echo server, or None."""
    import socket
    from hacontain.sys import libc
    try:
        return libc.in_netns(netns, lambda: socket.create_connection(("192.0.2.50", 7000),
                                                                     timeout=2))
    except OSError:
        return None


def echo(peer, data):
    peer.settimeout(20)
    peer.sendall(data)
    return peer.recv(len(data))


def test_network_and_a_tcp_connection_work_after_restore(counter, tmp_path):
    had_netns_mount = netns_mounted()    # `ip netns add` makes it at its first use
    host = Netns("hck")
    try:
        for command in (["link", "set", "lo", "up"], ["link", "add", "br0", "type", "bridge"],
                        ["addr", "add", "192.0.2.1/24", "dev", "br0"],
                        ["link", "set", "br0", "up"]):
            host.ip(*command)
        container = counter(["lxc.net.0.type = veth", "lxc.net.0.link = br0",
                             "lxc.net.0.flags = up", "lxc.net.0.ipv4.address = 192.0.2.50/24"])

        def cli(*args, check=True):
            result = subprocess.run(["nsenter", f"--net={host.path}", *HACONTAIN, *args],
                                    capture_output=True, text=True)
            assert not check or result.returncode == 0, result.stderr
            return result

        rootfs = Path(container.directory) / "rootfs"
        with open(rootfs / "etc/inittab", "a", encoding="utf-8") as handle:
            handle.write("::once:/bin/sh -c 'while :; do nc -l -p 7000 -e /bin/cat; done'\n")
        cli("start", container.name)
        wait_for(lambda: len(counts(container)) >= 3, what="the counter")
        peer = wait_for(lambda: connect(host.path), what="the echo server")
        assert echo(peer, b"before\n") == b"before\n"
        cli("checkpoint", container.name, "--stop", "--tcp-established")
        assert not [link for link in host.links() if link.startswith("veth")], \
            "the host end of the veth outlived the stop"
        cli("restore-checkpoint", container.name)
        ping = ["nsenter", f"--net={host.path}", "ping", "-c1", "-W2", "192.0.2.50"]
        wait_for(lambda: subprocess.run(ping, capture_output=True).returncode == 0,
                 timeout=20, what="a ping of the restored container")
        assert cli("attach", container.name, "--", "ping", "-c1", "-W2", "192.0.2.1",
                   check=False).returncode == 0
        assert_continued(container, 3)
        assert echo(peer, b"after\n") == b"after\n", "the TCP connection did not survive"
        peer.close()
        cli("stop", "-k", container.name)
    finally:
        host.remove()
        while not had_netns_mount and netns_mounted() and not os.listdir("/run/netns"):
            subprocess.run(["umount", "/run/netns"], check=True)


def test_damaged_and_stale_checkpoints_are_refused(counter):
    container = counter()
    images = Path(container.directory) / "rootfs/.hacontain-checkpoint/images"

    started_and_counting(container, 3)
    hacontain("checkpoint", container.name, "--stop")
    pages = max(images.glob("pages-*.img"), key=lambda path: path.stat().st_size)
    os.truncate(pages, pages.stat().st_size // 2)
    refused = hacontain("restore-checkpoint", container.name, check=False)
    assert refused.returncode == 1
    assert f"its image {pages.name} is damaged" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert container.status().name == "STOPPED"

    started_and_counting(container, 3)
    hacontain("checkpoint", container.name, "--stop")
    with open(container.config_path, "a", encoding="utf-8") as handle:
        handle.write("# changed\n")
    refused = hacontain("restore-checkpoint", container.name, check=False)
    assert refused.returncode == 1 and "config" in refused.stderr and "changed" in refused.stderr
    assert container.status().name == "STOPPED"

    started_and_counting(container, 3)
    hacontain("checkpoint", container.name)             # without --stop: it runs on
    assert container.status().name == "RUNNING"
    hacontain("stop", "-k", container.name)
    refused = hacontain("restore-checkpoint", container.name, check=False)
    assert refused.returncode == 1 and "left running" in refused.stderr

    started_and_counting(container, 3)
    hacontain("checkpoint", container.name, "--stop")
    hacontain("start", container.name)                  # a cold start: the rootfs moves on
    hacontain("stop", "-k", container.name)
    refused = hacontain("restore-checkpoint", container.name, check=False)
    assert refused.returncode == 1 and "started since" in refused.stderr
    assert container.status().name == "STOPPED"


class Agent:
    """The agent from this checkout, as Pacemaker runs it for resource `name`, with a
    crm_failcount on PATH that answers the fail count this test sets (no cluster here;
    the signal itself is tested against real Pacemaker in tests/cluster)."""

    def __init__(self, container, bin_dir, **params):
        self.container, self.bin_dir = container, bin_dir
        self.log = bin_dir / "agent.log"
        self.failcount(0)
        script = bin_dir / "crm_failcount"
        script.write_text("#!/bin/sh\necho \"scope=status  name=fail-count-r value="
                          f"$(cat {bin_dir}/failcount)\"\n")
        script.chmod(0o755)
        self.params = {"name": container.name, "lxcpath": container.lxcpath,
                       "checkpoint_on_move": "true", **params}

    def failcount(self, value):
        (self.bin_dir / "failcount").write_text(str(value))

    def __call__(self, action):
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("OCF_", "HA_"))}
        env.update({f"OCF_RESKEY_{key}": value for key, value in self.params.items()})
        env.update(OCF_ROOT="/usr/lib/ocf", OCF_RESOURCE_INSTANCE="r",
                   OCF_RESKEY_CRM_meta_on_node="vm", OCF_RESKEY_CRM_meta_timeout="60000",
                   HA_LOGFILE=str(self.log), HA_LOGFACILITY="none",
                   PATH=f"{self.bin_dir}:{env.get('PATH', '/usr/sbin:/usr/bin')}")
        result = subprocess.run([str(AGENT), action], env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, f"{action}: {result.returncode} {result.stderr}"
        return self.log.read_text() if self.log.exists() else ""


def test_agent_restores_after_a_planned_stop_and_starts_cold_otherwise(counter, tmp_path):
    container = counter()
    agent = Agent(container, tmp_path)
    checkpoint = Path(container.directory) / "rootfs/.hacontain-checkpoint"

    agent("start")
    wait_for(lambda: len(counts(container)) >= 3, what="the counter")
    assert "checkpointed" in agent("stop")
    assert (checkpoint / "checkpoint.json").is_file()
    assert container.status().name == "STOPPED"
    at_stop = len(counts(container))
    assert "restored from its checkpoint" in agent("start")
    assert_continued(container, at_stop)
    assert not checkpoint.exists()

    # A recovery (the resource failed here: fail count 1) never checkpoints.
    agent.failcount(1)
    assert "not a planned stop" in agent("stop")
    assert not checkpoint.exists()
    agent.failcount(0)
    (Path(container.directory) / "rootfs/tmp/counts").unlink()
    agent("start")
    wait_for(lambda: counts(container)[:1] == [1], what="a cold start's counter")

    # A crash: the container dies with its node; the start after it starts cold.
    agent("stop")                                        # planned: a checkpoint
    agent("start")                                       # restored, checkpoint deleted
    container.stop(timeout=0, kill=True)                 # the crash
    (Path(container.directory) / "rootfs/tmp/counts").unlink()
    agent("start")
    wait_for(lambda: counts(container)[:1] == [1], what="a cold start after the crash")

    # A stale checkpoint (the config changed): a cold start with the reason, exit 0.
    agent("stop")
    assert checkpoint.exists()
    with open(container.config_path, "a", encoding="utf-8") as handle:
        handle.write("# changed\n")
    log = agent("start")
    assert "cold start" in log and "config" in log
    assert not checkpoint.exists()
    agent("stop")
