"""The agent's actions on real busybox containers, one test per OCF rule."""

import os
import re
import signal
import subprocess
import time

import pytest

from hacontain.sys import proc

pytestmark = pytest.mark.root

PROBE = {"OCF_RESKEY_CRM_meta_interval": "0"}
IGNORES_PWR = ("lxc.init.cmd = /bin/sh -c \"trap '' PWR; while :; do sleep 1; done\"",)


def wait_gone(pid, start, limit=10.0):
    """Wait (bounded) for a process to exit; whether it did."""
    deadline = time.monotonic() + limit
    while proc.is_alive(pid, start):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def marker(ct):
    return os.path.join(ct.load_config().rootfs, "var/log/shutdown-marker")


# -- probes and missing things ------------------------------------------------

def test_probe_on_a_node_without_the_config_reports_not_running(run_agent, lxcpath, rundir,
                                                                 reasons):
    run = run_agent(name="absent", lxcpath=str(lxcpath))
    assert run("monitor", **PROBE).returncode == 7
    assert run("monitor").returncode == 7
    assert run("stop").returncode == 0
    for action in ("start", "validate-all"):
        result = run(action)
        assert result.returncode == 2, result.stderr
        assert any("no config" in reason for reason in reasons(result))


@pytest.mark.parametrize("params", [{"name": "bad/name"}, {}, {"name": "ok", "memory": "lots"}])
def test_parameters_wrong_everywhere_are_6_but_never_on_a_probe_or_stop(run_agent, lxcpath,
                                                                         rundir, params, reasons):
    run = run_agent(lxcpath=str(lxcpath), **params)
    assert run("monitor", **PROBE).returncode == 7
    assert run("stop").returncode == 0
    for action in ("validate-all", "start"):
        result = run(action)
        assert result.returncode == 6, result.stderr
        assert reasons(result)
    if "memory" not in params:                # a bad limit does not hide the state
        assert run("monitor").returncode == 6


def test_probe_reports_a_running_container(container):
    ct, run = container()
    assert run("start").returncode == 0
    assert run("monitor", **PROBE).returncode == 0


# -- start and stop -----------------------------------------------------------

def test_start_and_stop_are_idempotent_and_the_container_outlives_the_agent(container):
    ct, run = container()
    assert run("monitor").returncode == 7
    assert run("start").returncode == 0
    state = ct.status().state
    assert os.getsid(state.pid) != os.getsid(0)
    assert os.getpgid(state.pid) != os.getpgid(0)
    assert run("start").returncode == 0
    assert ct.status().state.pid == state.pid, "a second start must leave the init alone"
    assert run("monitor").returncode == 0
    assert run("stop").returncode == 0
    assert os.path.exists(marker(ct)), "stop must halt the init cleanly first"
    assert not ct.status().present
    assert run("stop").returncode == 0
    assert run("monitor").returncode == 7


def test_stop_kills_an_init_that_ignores_the_halt_signal(container, tmp_path):
    ct, run = container(IGNORES_PWR)
    assert run("start").returncode == 0
    state = ct.status().state
    log = tmp_path / "agent.log"
    result = run("stop", OCF_RESKEY_CRM_meta_timeout="3000", HA_LOGFILE=log)
    assert result.returncode == 0, result.stderr
    assert not proc.is_alive(state.pid, state.start_time)
    assert not ct.status().present
    assert "was killed" in log.read_text()


def test_stop_without_a_timeout_uses_the_default(container, tmp_path):
    ct, run = container()
    assert run("start").returncode == 0
    env = run.env()
    env.pop("OCF_RESKEY_CRM_meta_timeout", None)
    result = subprocess.run([run.agent, "stop"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert not ct.status().present


def test_halt_signal_parameter_replaces_the_configs(container, tmp_path):
    ct, run = container(("lxc.init.cmd = /bin/sh -c \"trap 'exit 0' USR2; trap '' PWR; "
                         "while :; do sleep 1; done\"",), halt_signal="SIGUSR2")
    assert run("start").returncode == 0
    log = tmp_path / "agent.log"
    assert run("stop", HA_LOGFILE=log).returncode == 0
    assert "stopped (halted)" in log.read_text()


def test_monitor_after_the_init_is_killed_fails_then_stop_cleans_up(container, reasons):
    ct, run = container()
    assert run("start").returncode == 0
    state = ct.status().state
    os.kill(state.pid, signal.SIGKILL)
    assert wait_gone(state.pid, state.start_time)
    result = run("monitor")
    assert result.returncode == 1
    assert any("gone" in reason for reason in reasons(result))
    assert run("monitor", **PROBE).returncode == 1
    assert run("stop").returncode == 0
    assert not ct.status().present
    assert run("monitor").returncode == 7


def test_start_after_the_init_is_killed_starts_afresh(container):
    ct, run = container()
    assert run("start").returncode == 0
    state = ct.status().state
    os.kill(state.pid, signal.SIGKILL)
    assert wait_gone(state.pid, state.start_time)
    assert run("start").returncode == 0
    assert ct.status().state.pid != state.pid
    assert run("monitor").returncode == 0


def test_monitor_does_not_wait_for_a_start_or_stop_holding_the_lock(container):
    from hacontain.runtime.state import Lock
    ct, run = container()
    assert run("start").returncode == 0
    with Lock(ct.name):
        assert run("monitor").returncode == 0
    assert run("stop").returncode == 0
    with Lock(ct.name):
        assert run("monitor").returncode == 7


def test_monitor_of_a_half_present_container_waits_for_the_lock_holder(container):
    """A dead init with its cgroup left may be a start or stop at work: the
    monitor answers once the lock is free, not in the middle."""
    from hacontain.runtime.state import Lock
    ct, run = container()
    assert run("start").returncode == 0
    state = ct.status().state
    with Lock(ct.name):
        os.kill(state.pid, signal.SIGKILL)
        assert wait_gone(state.pid, state.start_time)
        monitor = subprocess.Popen([run.agent, "monitor"], env=run.env(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        assert monitor.poll() is None, "the monitor answered while the lock was held"
    assert monitor.wait(timeout=60) == 1
    assert run("stop").returncode == 0


def test_agent_killed_with_its_process_group_after_launch_leaves_the_container(container):
    """A start waiting for a monitor_cmd that never passes is SIGKILLed with its
    process group, as Pacemaker does on a timeout: the container lives on, outside
    that group, and the next stop removes it."""
    ct, run = container(monitor_cmd="/bin/false")
    agent = subprocess.Popen([run.agent, "start"], env=run.env(), start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not _init_has_exec_d(ct) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _init_has_exec_d(ct), "the start never launched the container"
    os.killpg(agent.pid, signal.SIGKILL)
    agent.wait()
    assert run("monitor").returncode == 0
    assert run("stop").returncode == 0
    assert not ct.status().present


def _init_has_exec_d(ct):
    """Whether the container's init runs busybox init: recorded and alive is not
    enough, as until its release the init is a fork of the agent, which ends
    with the agent."""
    current = ct.status()
    if not current.running:
        return False
    try:
        with open(f"/proc/{current.state.pid}/comm", encoding="utf-8") as handle:
            return handle.read().strip() == "init"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("delay", [0.0, 0.01, 0.03, 0.06, 0.1, 0.2])
def test_agent_killed_mid_start_leaves_what_stop_and_start_handle(container, delay):
    """SIGKILL to the start's process group at several points of the start: the
    next stop returns 0 with nothing left, and a start after it works."""
    from hacontain.runtime.cgroups import open_cgroup
    ct, run = container()
    agent = subprocess.Popen([run.agent, "start"], env=run.env(), start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    os.killpg(agent.pid, signal.SIGKILL)
    agent.wait()
    assert run("monitor").returncode in (0, 1, 7)
    assert run("stop").returncode == 0
    assert not ct.status().present
    assert not open_cgroup(ct.name).exists(), "stop left the cgroup of the killed start"
    assert run("start").returncode == 0
    assert run("stop").returncode == 0


def test_monitors_find_a_cgroup_without_init_and_stop_removes_it(container, reasons):
    """What a start killed between recording the container and forking its init
    leaves: a state without init, and the cgroup."""
    import time

    from hacontain.runtime import state as statefile
    from hacontain.runtime.cgroups import open_cgroup
    ct, run = container()
    cgroup = open_cgroup(ct.name)
    statefile.write(statefile.State(name=ct.name, lxcpath=ct.lxcpath, config=ct.config_path,
                                    pid=None, start_time=None, started_at=time.time(),
                                    halt_signal=30, cgroup=cgroup.paths))
    cgroup.create([], None)
    for env in ({}, PROBE):
        monitor = run("monitor", **env)
        assert monitor.returncode == 1
        assert any("cgroup is left" in reason for reason in reasons(monitor))
    assert run("stop").returncode == 0
    assert not cgroup.exists() and statefile.read(ct.name) is None
    assert run("monitor", **PROBE).returncode == 7


def test_start_waits_until_monitor_cmd_passes(container):
    ct, run = container(("lxc.init.cmd = /bin/sh -c \"sleep 1; touch /ready; exec /sbin/init\"",),
                        monitor_cmd="test -e /ready")
    assert run("start").returncode == 0
    assert os.path.exists(os.path.join(ct.load_config().rootfs, "ready"))


def test_start_fails_when_monitor_cmd_never_passes(container, reasons):
    ct, run = container(monitor_cmd="/bin/sh -c 'exit 4'")
    result = run("start", OCF_RESKEY_CRM_meta_timeout="4000")
    assert result.returncode == 1
    assert any("exits with 4" in reason for reason in reasons(result))
    assert run("stop").returncode == 0


def test_start_refuses_a_name_running_from_another_lxcpath(container, run_agent, tmp_path,
                                                           reasons):
    ct, run = container()
    assert run("start").returncode == 0
    other = run_agent(name=ct.name, lxcpath=str(tmp_path / "elsewhere"))
    result = other("start")
    assert result.returncode == 2
    assert any("unique" in reason for reason in reasons(result))
    assert other("monitor").returncode == 7
    assert other("stop").returncode == 0
    assert run("monitor").returncode == 0, "stop of another lxcpath stopped this container"


# -- deep monitors --------------------------------------------------------------

def test_depth_10_runs_monitor_cmd_inside(container, reasons):
    ct, run = container()
    run.params["monitor_cmd"] = f"/bin/sh -c 'test \"$(hostname)\" = {ct.name}'"
    assert run("start").returncode == 0
    assert run("monitor", OCF_CHECK_LEVEL="10").returncode == 0
    run.params["monitor_cmd"] = "/bin/sh -c 'exit 3'"
    result = run("monitor", OCF_CHECK_LEVEL="10")
    assert result.returncode == 1
    assert any("exited with 3" in reason for reason in reasons(result))
    assert run("monitor").returncode == 0, "depth 0 does not run monitor_cmd"


def test_depth_20_checks_the_interfaces_inside(container, reasons):
    ct, run = container()
    assert run("start").returncode == 0
    assert run("monitor", OCF_CHECK_LEVEL="20").returncode == 0
    assert ct.attach(["ip", "link", "set", "lo", "down"]) == 0
    result = run("monitor", OCF_CHECK_LEVEL="20")
    assert result.returncode == 1
    assert any("lo" in reason for reason in reasons(result))
    assert run("monitor", OCF_CHECK_LEVEL="10").returncode == 0


# -- limits -----------------------------------------------------------------------

def test_limits_apply_at_start_and_reload_changes_them_live(container):
    ct, run = container(memory="64M", pids="40", cpu_weight="200")
    assert run("start").returncode == 0
    pid = ct.status().state.pid
    assert ct.cgroup_value("hacontain.limit.memory") == str(64 << 20)
    assert ct.cgroup_value("hacontain.limit.pids") == "40"
    assert ct.cgroup_value("hacontain.limit.cpu.weight") == "200"
    run.params.update(memory="128M", pids="max", cpu_quota="0.5")
    assert run("reload").returncode == 0
    assert ct.cgroup_value("hacontain.limit.memory") == str(128 << 20)
    assert ct.cgroup_value("hacontain.limit.pids") == "max"
    assert ct.cgroup_value("hacontain.limit.cpu.quota") == "0.5"
    assert ct.status().state.pid == pid, "reload must not restart the container"


def test_reload_rejects_a_bad_limit_and_changes_nothing(container, reasons):
    ct, run = container(pids="40")
    assert run("start").returncode == 0
    run.params["pids"] = "many"
    result = run("reload")
    assert result.returncode == 6
    assert any("pids" in reason for reason in reasons(result))
    assert ct.cgroup_value("hacontain.limit.pids") == "40"


def test_reload_of_a_defunct_container_fails_and_stop_cleans_up(container, reasons):
    ct, run = container(memory="64M")
    assert run("start").returncode == 0
    state = ct.status().state
    os.kill(state.pid, signal.SIGKILL)
    assert wait_gone(state.pid, state.start_time)
    run.params["memory"] = "128M"
    result = run("reload")
    assert result.returncode == 1, result.stderr
    assert any("limits were not applied" in reason for reason in reasons(result))
    assert run("stop").returncode == 0
    assert not ct.status().present


def test_reload_of_a_stopped_container_succeeds(container):
    ct, run = container(memory="64M")
    assert run("reload").returncode == 0
    assert not ct.status().present


# -- other actions and exit reasons ---------------------------------------------------

@pytest.mark.parametrize("action, code", [("migrate_to", 3), ("migrate_from", 3),
                                          ("notify", 3), ("promote", 3), ("no-such", 3)])
def test_unsupported_actions_are_unimplemented(run_agent, lxcpath, action, code, reasons):
    result = run_agent(name="x", lxcpath=str(lxcpath))(action)
    assert result.returncode == code
    assert reasons(result)


def test_every_failure_has_an_exit_reason_and_no_traceback(container, run_agent, lxcpath,
                                                           reasons):
    ct, run = container()
    failures = [
        run_agent(lxcpath=str(lxcpath))("start"),
        run_agent(name=ct.name, lxcpath="relative/path")("validate-all"),
        run_agent(name=ct.name, lxcpath=str(lxcpath), halt_signal="SIGNOPE")("validate-all"),
        run_agent(name=ct.name, lxcpath=str(lxcpath), cpu_weight="0")("start"),
        run_agent(name=ct.name, lxcpath=str(lxcpath), monitor_cmd="'unclosed")("validate-all"),
        run("monitor"),
        subprocess.run([run.agent], env=run.env(), capture_output=True, text=True),
    ]
    for result in failures:
        assert result.returncode != 0
        assert len(reasons(result)) >= 1, result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("params, code", [
    ({}, 0), ({"name": "missing"}, 2), ({"name": "-bad"}, 6), ({"memory": "0"}, 6),
    ({"config": "/nonexistent/config"}, 2)])
def test_crm_resource_validate_agrees_with_validate_all(container, lxcpath, params, code):
    ct, run = container()
    options = {"name": ct.name, "lxcpath": str(lxcpath), **params}
    argv = ["crm_resource", "--validate", "--class", "ocf", "--provider", "hacontain",
            "--agent", "container"]
    for key, value in options.items():
        argv += ["--option", f"{key}={value}"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    reported = re.search(r"returned (\d+)", result.stdout + result.stderr)
    assert reported, result.stdout + result.stderr
    run.params.update(options)
    assert int(reported.group(1)) == run("validate-all").returncode == code
    assert result.returncode == code
