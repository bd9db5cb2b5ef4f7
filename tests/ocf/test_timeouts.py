"""Every action returns within its timeout (OCF_RESKEY_CRM_meta_timeout), through
the installed agent: a hanging or failing monitor_cmd, and config files that
would block or never end (a FIFO, /dev/zero) as includes."""

import os
import time

import pytest

from clitools import hacontain

pytestmark = pytest.mark.root

HANGS = "/bin/sleep 600"


def timed(run, action, **extra):
    started = time.monotonic()
    result = run(action, **extra)
    return result, time.monotonic() - started


def sleepers(ct):
    """PIDs of the container's processes running `sleep 600` (a monitor_cmd left behind)."""
    from hacontain.runtime.cgroups import open_cgroup
    cgroup = open_cgroup(ct.name)
    found = []
    for pid in (cgroup.pids() if cgroup.exists() else []):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if handle.read().split(b"\0")[:2] == [b"/bin/sleep", b"600"]:
                    found.append(pid)
        except FileNotFoundError:
            pass
    return found


def test_a_hanging_monitor_cmd_ends_a_deep_monitor_within_its_timeout(container, reasons):
    ct, run = container()
    assert run("start").returncode == 0
    result, took = timed(run, "monitor", OCF_CHECK_LEVEL="10", OCF_RESKEY_monitor_cmd=HANGS,
                         OCF_RESKEY_CRM_meta_timeout="3000")
    assert result.returncode == 1, result.stderr
    assert took < 3.0, f"monitor took {took:.1f} s against a 3 s timeout"
    assert any("did not finish within" in reason for reason in reasons(result)), result.stderr
    assert sleepers(ct) == [], "the hanging monitor_cmd was left running in the container"
    assert run("monitor").returncode == 0          # the container itself is untouched


@pytest.mark.parametrize("command", ["/bin/false", HANGS])
def test_start_with_a_monitor_cmd_that_never_passes_fails_in_time_and_stops_again(
        container, reasons, command):
    ct, run = container(monitor_cmd=command)
    result, took = timed(run, "start", OCF_RESKEY_CRM_meta_timeout="4000")
    assert result.returncode == 1, result.stderr
    assert took < 4.0, f"start took {took:.1f} s against a 4 s timeout"
    assert reasons(result), result.stderr
    assert run("monitor").returncode == 7, "a failed start left the container running"
    assert not ct.status().present


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_an_include_that_is_no_regular_file_is_refused_at_once(container, tmp_path, reasons,
                                                               special):
    if special == "fifo":
        special = str(tmp_path / "include.fifo")
        os.mkfifo(special)
    ct, run = container([f"lxc.include = {special}"])
    kind = "a FIFO" if special.endswith("fifo") else "a character device"
    for action in ("validate-all", "start"):
        result, took = timed(run, action)
        assert result.returncode == 2, result.stderr        # this node's config file
        assert any(f"not a regular file (it is {kind})" in reason and "config:" in reason
                   for reason in reasons(result)), result.stderr
    cli = hacontain("start", ct.name, check=False, timeout=30)
    assert cli.returncode == 1 and f"it is {kind}" in cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1, cli.stderr
    assert not ct.status().present


def test_a_config_larger_than_the_limit_is_refused_unread(container, tmp_path, reasons):
    from hacontain.config import MAX_FILE_BYTES
    big = tmp_path / "big.conf"
    with open(big, "w", encoding="utf-8") as handle:
        handle.write("lxc.environment = A=" + "x" * (20 << 20) + "\n")
    ct, run = container([f"lxc.include = {big}"])
    for action in ("validate-all", "start"):
        result = run(action)
        assert result.returncode == 2, result.stderr
        assert any(f"larger than {MAX_FILE_BYTES} bytes" in reason
                   for reason in reasons(result)), result.stderr



def test_run_within_kills_what_the_call_forked_and_nothing_else():
    """In a session of its own: the call's processes die at the deadline; a child the
    caller had before (as start has the container's console holder) lives on."""
    import subprocess
    import sys
    script = """
import subprocess, time
from hacontain.errors import Timeout
from hacontain.ocf.deadline import run_within
before = subprocess.Popen(["sleep", "600"])
started = time.monotonic()
try:
    run_within(0.5, lambda: subprocess.run(["/bin/sh", "-c", "sleep 601 & sleep 601; wait"]),
               "the sleepers")
except Timeout as exc:
    print(exc, round(time.monotonic() - started, 1))
print(before.poll(), flush=True)
before.kill()
before.wait()
"""
    caller = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    out, err = caller.communicate(timeout=60)
    assert "the sleepers did not finish within 0.5 s: killed" in out, err
    took, still_running = out.split()[-2:]
    assert float(took) < 5.0
    assert still_running == "None", "the caller's own child was killed"
    session = subprocess.run(["pgrep", "-s", str(caller.pid)], capture_output=True, text=True)
    running = [pid for pid in session.stdout.split() if _state(pid) not in ("Z", None)]
    assert running == [], "left running in the caller's session"   # zombies: killed, init reaps


def test_run_within_returns_the_result_or_the_error():
    from hacontain.errors import StateError
    from hacontain.ocf.deadline import run_within
    assert run_within(5, lambda: 42, "answer") == 42

    def fails():
        raise StateError("container x is not running")
    with pytest.raises(StateError, match="container x is not running"):
        run_within(5, fails, "failing")


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_a_config_parameter_that_is_no_regular_file_ends_every_action(run_agent, lxcpath,
                                                                      rundir, tmp_path,
                                                                      special):
    """The depth-0 fast path reads the config too: never blocked by a FIFO, never
    reading /dev/zero; the container is not running there (7), and unusable (2)."""
    if special == "fifo":
        special = str(tmp_path / "config.fifo")
        os.mkfifo(special)
    run = run_agent(name="absent", lxcpath=str(lxcpath), config=special)
    for extra in ({}, {"OCF_RESKEY_CRM_meta_interval": "0"}):
        assert run("monitor", **extra).returncode == 7
    assert run("stop").returncode == 0
    assert run("validate-all").returncode == 2


def test_a_console_log_that_is_a_fifo_is_refused_before_start_waits_on_it(container, tmp_path,
                                                                          reasons):
    """The console holder would wait to open a FIFO nobody reads until the start timeout."""
    fifo = tmp_path / "console.fifo"
    os.mkfifo(fifo)
    ct, run = container([f"lxc.console.logfile = {fifo}"])
    for action in ("validate-all", "start"):
        result, took = timed(run, action, OCF_RESKEY_CRM_meta_timeout="20000")
        assert result.returncode == 2, result.stderr
        assert any("lxc.console.logfile" in reason for reason in reasons(result))
        assert took < 5.0
    assert not ct.status().present
