"""A state file that cannot be trusted never hides a running container: the
kernel (its cgroup) answers, through the real installed agent.

For each way state.json can be broken while the container runs, a probe and
a monitor must not say "not running" (7), a start must not kill or double
the running init, and a stop must leave nothing (init, cgroup, state).
"""

import json
import os
import shutil

import pytest

from clitools import hacontain
from hacontain import paths
from hacontain.runtime.cgroups import open_cgroup
from hacontain.runtime.status import init_among
from hacontain.sys import proc

pytestmark = pytest.mark.root

PROBE = {"OCF_RESKEY_CRM_meta_interval": "0"}


def _rewrite(name, change):
    """Rewrite the state file as JSON after `change(dict)`."""
    path = paths.state_file(name)
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    change(data)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)


def _write(name, content):
    with open(paths.state_file(name), "wb") as handle:
        handle.write(content)


def _truncate(name):
    with open(paths.state_file(name), "rb") as handle:
        text = handle.read()
    _write(name, text[:len(text) // 2])


def _make_directory(name):
    os.unlink(paths.state_file(name))
    os.mkdir(paths.state_file(name))


UNTRUSTED = {
    "truncated": _truncate,
    "garbage": lambda name: _write(name, b"this is not json at all {"),
    "empty": lambda name: _write(name, b""),
    "binary": lambda name: _write(name, bytes(range(256))),
    "null": lambda name: _write(name, b"null"),
    "list": lambda name: _write(name, b"[1, 2, 3]"),
    "pid missing": lambda name: _rewrite(name, lambda data: data.pop("pid")),
    "pid of the wrong type": lambda name: _rewrite(name, lambda data: data.update(pid="12")),
    "another version": lambda name: _rewrite(name, lambda data: data.update(version=2,
                                                                            pidfd="x")),
    "no version": lambda name: _rewrite(name, lambda data: data.pop("version")),
    "deleted": lambda name: os.unlink(paths.state_file(name)),
    "a directory": _make_directory,
}

READABLE = {
    "an unknown extra field": lambda name: _rewrite(name, lambda data: data.update(extra=1)),
    "optional fields missing": lambda name: _rewrite(
        name, lambda data: [data.pop(key) for key in ("network", "foreground", "console_log")]),
}


def _init_of(ct):
    state = ct.status().state
    return state.pid, state.start_time


def _only_init(ct):
    """The one init in the container's cgroup (None if there is none, or several)."""
    return init_among(open_cgroup(ct.name).pids())


@pytest.mark.parametrize("corruption", sorted(UNTRUSTED))
def test_an_untrusted_state_file_never_hides_the_running_container(container, reasons,
                                                                   corruption):
    ct, run = container()
    assert run("start").returncode == 0
    pid, start = _init_of(ct)
    UNTRUSTED[corruption](ct.name)

    for label, extra in (("probe", PROBE), ("monitor", {}), ("debug monitor", {"HA_debug": "1"})):
        result = run("monitor", **extra)
        assert result.returncode == 1, f"{label}: {result.returncode} {result.stderr}"
        assert any(f"init pid {pid}" in reason for reason in reasons(result)), result.stderr

    result = run("start")
    assert result.returncode == 1, result.stderr
    assert any("not starting a second init" in reason for reason in reasons(result))
    assert proc.is_alive(pid, start), "start killed a container it had no record of"
    assert _only_init(ct) == pid, "start made a second init"

    info = hacontain("info", ct.name, "--json")
    assert json.loads(info.stdout)["state"] == "DEFUNCT" and "Traceback" not in info.stderr

    result = run("stop")
    assert result.returncode == 0, result.stderr
    assert not proc.is_alive(pid, start), "stop left the init running"
    assert not open_cgroup(ct.name).exists(), "stop left the cgroup"
    assert not os.path.lexists(paths.state_file(ct.name))
    assert run("monitor", **PROBE).returncode == 7

    assert run("start").returncode == 0, "a clean start after the stop"
    assert run("monitor").returncode == 0
    assert run("stop").returncode == 0


@pytest.mark.parametrize("change", sorted(READABLE))
def test_a_state_file_with_fields_this_version_can_do_without_is_read(container, change):
    ct, run = container()
    assert run("start").returncode == 0
    pid, start = _init_of(ct)
    READABLE[change](ct.name)
    assert run("monitor", **PROBE).returncode == 0
    assert run("monitor", OCF_CHECK_LEVEL="10").returncode == 0
    assert run("start").returncode == 0 and ct.status().state.pid == pid
    assert run("stop").returncode == 0
    assert not proc.is_alive(pid, start) and not open_cgroup(ct.name).exists()


def test_an_untrusted_state_naming_another_lxcpath_is_that_containers(container, run_agent,
                                                                      tmp_path, reasons):
    """Names are unique on a host, so the cgroup is the same-named container's of the
    LXCPATH the file still names: another resource's, left alone."""
    ct, run = container()
    assert run("start").returncode == 0
    pid, start = _init_of(ct)
    _rewrite(ct.name, lambda data: data.update(version=2))
    other = run_agent(name=ct.name, lxcpath=str(tmp_path / "elsewhere"))
    assert other("monitor", **PROBE).returncode == 7
    assert other("stop").returncode == 0
    result = other("start")
    assert result.returncode == 2 and any("unique" in reason for reason in reasons(result))
    assert proc.is_alive(pid, start), "another resource's stop or start killed it"
    assert run("monitor").returncode == 1, "its own resource still hears of the bad state"
    assert run("stop").returncode == 0 and not proc.is_alive(pid, start)


def test_a_stop_without_state_halts_the_init_it_finds_cleanly(container):
    """The init is found in the cgroup (PID 1 of the pid namespace below) and gets
    the halt signal: busybox writes its shutdown marker, as on a normal stop."""
    ct, run = container()
    assert run("start").returncode == 0
    pid, start = _init_of(ct)
    os.unlink(paths.state_file(ct.name))
    marker = os.path.join(ct.load_config().rootfs, "var/log/shutdown-marker")
    assert run("stop").returncode == 0
    assert os.path.exists(marker), "the init was killed, not halted"
    assert not proc.is_alive(pid, start)


def test_a_cgroup_left_without_state_or_processes_is_cleaned_not_hidden(container, reasons):
    ct, run = container()
    cgroup = open_cgroup(ct.name)
    cgroup.create([], None)
    try:
        result = run("monitor", **PROBE)
        assert result.returncode == 1, result.stderr
        assert any("its cgroup is left (empty)" in reason for reason in reasons(result))
        assert run("start").returncode == 0, "an empty left-over cgroup is no reason to refuse"
        assert run("stop").returncode == 0
    finally:
        if cgroup.exists():
            cgroup.remove()


def test_info_with_state_json_a_directory_says_so(make_container):
    ct = make_container()
    os.makedirs(paths.state_file(ct.name))
    try:
        result = hacontain("info", ct.name)
        assert "Traceback" not in result.stderr
        assert "is a directory" in result.stdout.lower(), result.stdout
        result = hacontain("stop", ct.name)
        assert not os.path.lexists(paths.state_file(ct.name)), "stop removes what stands there"
    finally:
        shutil.rmtree(paths.state_file(ct.name), ignore_errors=True)
