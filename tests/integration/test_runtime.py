"""The runtime on the real kernel: namespaces, rootfs, /proc, /dev, stop, state."""

import json
import os
import signal
import subprocess
import time

import pytest

from hacontain.runtime import state as statefile
from hacontain.sys import proc
from clitools import HACONTAIN, hacontain, mounts_below

pytestmark = pytest.mark.root


def inside(container, script):
    """Run a shell script in the container; its stdout (fails on non-zero exit)."""
    result = hacontain("attach", container.name, "-P", container.lxcpath, "--", "/bin/sh", "-c", script)
    return result.stdout


def test_pid_namespace_init_and_no_host_processes(make_container):
    container = make_container()
    container.start()
    assert inside(container, "readlink /proc/1/exe").strip() == "/bin/busybox"
    assert inside(container, "cat /proc/1/comm").strip() == "init"
    pids = inside(container, "ls /proc | grep -E '^[0-9]+$'").split()
    assert "1" in pids
    assert len(pids) < 10, f"host processes visible: {pids}"
    host_pid_ns = proc.namespace_id(os.getpid(), "pid")
    assert proc.namespace_id(container.status().state.pid, "pid") != host_pid_ns


def test_own_hostname_namespaces_and_root(make_container):
    container = make_container(["lxc.uts.name = web-1"])
    container.start()
    pid = container.status().state.pid
    assert inside(container, "hostname").strip() == "web-1"
    for kind in ("mnt", "uts", "ipc", "net", "cgroup", "pid"):
        assert proc.namespace_id(pid, kind) != proc.namespace_id(os.getpid(), kind), kind
    rootfs = container.load_config().rootfs
    with open(os.path.join(rootfs, "root", "from-host"), "w", encoding="utf-8") as handle:
        handle.write("hello")
    assert inside(container, "cat /root/from-host") == "hello"
    assert inside(container, "stat -c %i /").strip() == str(os.stat(rootfs).st_ino)


def test_proc_sys_and_dev(make_container):
    container = make_container()
    container.start()
    out = inside(container, "grep -c ^ /proc/self/status; mount | awk '{print $3, $5, $6}'")
    lines = out.splitlines()
    assert int(lines[0]) > 10
    table = {line.split()[0]: line for line in lines[1:]}
    assert table["/proc"].split()[1] == "proc"
    assert "ro" in table["/sys"].split()[2].strip("()").split(",")
    assert table["/dev/pts"].split()[1] == "devpts"
    assert "/dev/shm" in table and "/dev/mqueue" in table
    devices = inside(container, "for d in null zero full random urandom tty console ptmx; do "
                                "[ -e /dev/$d ] && echo $d; done; echo x > /dev/null && "
                                "head -c 8 /dev/urandom | wc -c; head -c 4 /dev/zero | wc -c")
    names = devices.split()
    assert names[:8] == ["null", "zero", "full", "random", "urandom", "tty", "console", "ptmx"]
    assert names[8:] == ["8", "4"]
    # A private devpts: the host's ptys are not visible inside.
    assert inside(container, "ls /dev/pts").split() == ["0", "ptmx"]


def test_clean_stop_runs_the_init_shutdown(make_container):
    container = make_container()
    container.start()
    rootfs = container.load_config().rootfs
    marker = os.path.join(rootfs, "var/log/shutdown-marker")
    assert not os.path.exists(marker)
    assert container.stop(timeout=20) == "halted"
    assert open(marker, encoding="utf-8").read().startswith("shutdown ")
    assert container.status().name == "STOPPED" and not container.status().present


def test_init_ignoring_the_halt_signal_is_killed_after_the_timeout(make_container):
    container = make_container(["lxc.init.cmd = /bin/sh -c \"trap '' PWR; while :; do sleep 1; done\""])
    container.start()
    pid = container.status().state.pid
    began = time.monotonic()
    assert container.stop(timeout=1.5) == "killed"
    elapsed = time.monotonic() - began
    assert elapsed >= 1.5, "stop did not wait for the halt timeout"
    assert elapsed < 1.5 + 10, "escalation took far longer than the timeout"
    assert not proc.is_alive(pid, 0) and not container.status().present


def test_container_survives_its_starter_being_killed(make_container, tmp_path):
    container = make_container()
    starter = subprocess.Popen(
        ["/bin/sh", "-c", f"{HACONTAIN[0]} start {container.name} "
                          f"-P {container.lxcpath} && sleep 600"],
        start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not container.status().running:
            assert time.monotonic() < deadline, "container did not start"
            time.sleep(0.05)
    finally:
        os.killpg(starter.pid, signal.SIGKILL)
        starter.wait()
    record = container.status().state
    assert container.status().running
    assert os.getsid(record.pid) != starter.pid
    assert os.getpgid(record.pid) != starter.pid


def test_stop_leaves_only_the_lock_and_console_log_in_the_run_directory(make_container):
    container = make_container()
    container.start()
    directory = statefile.directory(container.name)
    assert {"state.json", "containment"} <= set(os.listdir(directory))
    container.stop(timeout=0, kill=True)
    assert set(os.listdir(directory)) <= {"lock", "console.log"}


def test_stale_state_with_a_reused_pid_reads_stopped(make_container):
    container = make_container()
    container.start()
    record = container.status().state
    container.stop(timeout=0, kill=True)
    # A state file naming a live process (this test) with another start time.
    record.pid = os.getpid()
    statefile.write(record)
    status = container.status()
    assert status.name == "STOPPED" and "stale" in status.reason
    info = json.loads(hacontain("info", container.name, "-P", container.lxcpath, "--json").stdout)
    assert info["state"] == "STOPPED"
    # stop and start both handle the stale file, and never signal the live pid.
    assert container.stop() == "stopped"
    assert statefile.read(container.name) is None


def test_lxc_created_busybox_container_starts_with_P(tmp_path, rundir):
    """A container made by `lxc-create -t busybox` (LXC 5), network set to empty."""
    lxc = tmp_path / "lxcpath"
    lxc.mkdir()
    name = "lxcbb"
    created = subprocess.run(["lxc-create", "-P", str(lxc), "-n", name, "-t", "busybox"],
                             capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    config = lxc / name / "config"
    text = config.read_text()
    text = "\n".join(line for line in text.splitlines() if not line.startswith("lxc.net."))
    config.write_text(text + "\nlxc.net.0.type = empty\n")
    try:
        hacontain("start", name, "-P", str(lxc))
        info = json.loads(hacontain("info", name, "-P", str(lxc), "--json").stdout)
        assert info["state"] == "RUNNING"
        out = hacontain("attach", name, "-P", str(lxc), "--", "/bin/sh", "-c",
                        "hostname; cat /proc/1/cmdline | tr '\\0' ' '").stdout.split("\n")
        assert out[0] == name
        stopped = hacontain("stop", name, "-P", str(lxc), "-t", "20")
        assert "killed" not in stopped.stderr
    finally:
        hacontain("stop", name, "-P", str(lxc), "-k", check=False)
        subprocess.run(["lxc-destroy", "-P", str(lxc), "-n", name], capture_output=True)


@pytest.mark.parametrize("name", ["../x", "", "a/b", "x y"])
def test_bad_names_are_clear_errors(lxcpath, rundir, name):
    for verb in ("start", "stop", "info", "create"):
        args = [verb, name] + (["-t", "busybox"] if verb == "create" else [])
        result = hacontain(*args, check=False)
        assert result.returncode == 1
        assert result.stderr.startswith("hacontain: error: invalid container name"), result.stderr
        assert "Traceback" not in result.stderr
    assert os.listdir(lxcpath) == [] and os.listdir(rundir) == []


def test_missing_rootfs_is_a_clear_error_and_leaves_nothing(make_container, rundir):
    container = make_container()
    rootfs = container.load_config().rootfs
    os.rename(rootfs, rootfs + ".gone")
    result = hacontain("start", container.name, check=False)
    assert result.returncode == 1 and "rootfs" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert statefile.read(container.name) is None
    assert not container.status().present


def test_bad_config_line_is_a_clear_error(make_container):
    container = make_container(["lxc.tty.max = lots"])
    result = hacontain("start", container.name, check=False)
    assert result.returncode == 1
    assert f"{container.config_path}:" in result.stderr and "lxc.tty.max" in result.stderr
    assert "Traceback" not in result.stderr
    assert not container.status().present


def test_failed_setup_leaves_nothing(make_container, tmp_path):
    """A mount entry that fails inside the new namespaces: error, no state, no cgroup, no mount."""
    container = make_container(["lxc.mount.entry = /nonexistent/dir mnt none bind 0 0"])
    result = hacontain("start", container.name, check=False)
    assert result.returncode == 1 and "bind source /nonexistent/dir does not exist" in result.stderr
    assert not container.status().present
    assert mounts_below(tmp_path) == []
    assert set(os.listdir(statefile.directory(container.name))) <= {"lock", "console.log"}


def test_on_launch_sees_the_forked_init_and_its_failure_fails_the_start(make_container):
    from hacontain.errors import HacontainError
    container = make_container()
    seen = []

    def record(state):
        seen.append((state.pid, state.start_time, proc.is_alive(state.pid, state.start_time)))
        raise HacontainError("on_launch refused")

    with pytest.raises(HacontainError, match="on_launch refused"):
        container.start(on_launch=record)
    assert len(seen) == 1 and seen[0][2], seen        # called once, with the live init
    assert not proc.is_alive(*seen[0][:2])
    assert not container.status().present
    state = container.start(on_launch=seen.append)   # and a start that goes through
    assert seen[-1] == state


def test_unsupported_network_type_is_refused_not_ignored(make_container):
    container = make_container(["lxc.net.1.type = vlan", "lxc.net.1.link = br0"])
    result = hacontain("start", container.name, "-P", container.lxcpath, check=False)
    assert result.returncode == 1
    assert "lxc.net.1.type: network type 'vlan' is not supported" in result.stderr
    assert not container.status().present


def test_same_name_in_another_lxcpath_is_left_alone(make_container, tmp_path):
    container = make_container()
    container.start()
    other = tmp_path / "other"
    other.mkdir()
    for verb in (["stop"], ["attach", "--", "/bin/true"], ["freeze"]):
        result = hacontain(verb[0], container.name, "-P", str(other), *verb[1:], check=False)
        assert result.returncode == 1 and "names must be unique on a host" in result.stderr
    assert container.status().name == "RUNNING"
