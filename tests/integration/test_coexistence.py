"""hacontain beside LXC and beside its own same-named containers of other lxcpaths:
a rootfs in use by a container LXC started is never given a second init, and
ls/info say whose a same-named running container is."""

import json
import os
import subprocess
import time

import pytest

from clitools import hacontain, unique_name
from hacontain import paths
from hacontain.sys import proc

pytestmark = pytest.mark.root

@pytest.fixture
def lxc_started(tmp_path):
    """Factory: a container made by `lxc-create -t busybox` in a private lxcpath (network
    empty) and started by `lxc-start`; its init's PID. Stopped and destroyed after."""
    made = []

    def factory():
        lxcpath, name = tmp_path / "lxc-made", unique_name("lx")
        lxcpath.mkdir(exist_ok=True)
        subprocess.run(["lxc-create", "-P", str(lxcpath), "-n", name, "-t", "busybox"],
                       check=True, capture_output=True, timeout=120)
        made.append((lxcpath, name))
        config = lxcpath / name / "config"
        lines = [line for line in config.read_text().splitlines()
                 if not line.startswith("lxc.net.")]
        config.write_text("\n".join(lines + ["lxc.net.0.type = empty"]) + "\n")
        subprocess.run(["lxc-start", "-P", str(lxcpath), "-n", name, "-d"], check=True,
                       capture_output=True, timeout=60)
        info = subprocess.run(["lxc-info", "-P", str(lxcpath), "-n", name, "-p", "-H"],
                              check=True, capture_output=True, text=True, timeout=60)
        pid = int(info.stdout.strip())
        inits.append((pid, proc.start_time(pid)))
        return lxcpath, name, pid

    inits = []
    yield factory
    for lxcpath, name in made:
        subprocess.run(["lxc-stop", "-P", str(lxcpath), "-n", name, "-k"], capture_output=True,
                       timeout=60)
        subprocess.run(["lxc-destroy", "-P", str(lxcpath), "-n", name], capture_output=True,
                       timeout=60)
    for pid, start in inits:                  # gone, not still dying, before the leak check
        deadline = time.monotonic() + 30
        while proc.is_alive(pid, start) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not proc.is_alive(pid, start), f"LXC's init {pid} outlived lxc-stop -k"


def run_agent(action, **params):
    """The installed OCF agent's `action` with OCF_RESKEY_* `params` (and this test's RUNDIR)."""
    from hacontain.ocf.install import install_agent
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OCF_", "HA_"))}
    env.update({f"OCF_RESKEY_{key}": value for key, value in params.items()},
               OCF_ROOT="/usr/lib/ocf")
    return subprocess.run([install_agent("/"), action], env=env, capture_output=True, text=True,
                          timeout=120)


def reasons(result):
    return [line.split(":", 1)[1] for line in result.stderr.splitlines()
            if line.startswith("ocf-exit-reason:")]


def test_a_container_lxc_started_is_never_given_a_second_init(lxc_started, rundir):
    """Same config, same rootfs: hacontain sees no state of its own, but the rootfs
    is the root of LXC's running init."""
    lxcpath, name, lxc_init = lxc_started()
    start = proc.start_time(lxc_init)
    result = hacontain("start", "-P", str(lxcpath), name, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"in use by process {lxc_init}" in result.stderr, result.stderr
    details = json.loads(hacontain("info", "-P", str(lxcpath), name, "--json").stdout)
    assert details["state"] == "STOPPED" and str(lxc_init) in details["rootfs_used_by"], \
        "info says who runs on the rootfs"

    params = {"name": name, "lxcpath": str(lxcpath)}
    result = run_agent("start", **params)
    assert result.returncode == 1, result.stderr
    assert any("not starting a second init" in reason for reason in reasons(result))
    assert proc.is_alive(lxc_init, start), "LXC's container must be left alone"
    assert not os.path.lexists(paths.state_file(name)), "a refused start leaves no state"
    assert run_agent("stop", **params).returncode == 0 and proc.is_alive(lxc_init, start), \
        "hacontain's stop stops only what hacontain started"


def test_a_hacontain_container_over_an_lxc_rootfs_is_refused(lxc_started, make_container,
                                                            rundir):
    """Another name, another config, the same rootfs directory."""
    lxcpath, name, lxc_init = lxc_started()
    ct = make_container([f"lxc.rootfs.path = dir:{lxcpath / name / 'rootfs'}"])
    result = hacontain("start", ct.name, check=False)
    assert result.returncode == 1
    assert f"rootfs {lxcpath / name / 'rootfs'} is in use by process {lxc_init}" in result.stderr
    assert not ct.status().present


def test_two_hacontain_containers_on_one_rootfs_are_refused(make_container, rundir):
    first = make_container()
    rootfs = first.load_config().rootfs or os.path.join(first.directory, "rootfs")
    second = make_container([f"lxc.rootfs.path = dir:{rootfs}"])
    hacontain("start", first.name)
    init = first.status().state.pid
    result = hacontain("start", second.name, check=False)
    assert result.returncode == 1 and f"in use by process {init}" in result.stderr
    assert not second.status().present
    hacontain("stop", "-k", first.name)


def test_ls_and_info_say_whose_a_same_named_running_container_is(tmp_path, rundir):
    """Names are unique on a host: a container of LXCPATH A running under NAME shows
    in B's listing as A's."""
    name = unique_name()
    first, second = tmp_path / "a", tmp_path / "b"
    for lxcpath in (first, second):
        lxcpath.mkdir()
        hacontain("create", "-P", str(lxcpath), name, "-t", "busybox")
    hacontain("start", "-P", str(first), name)
    try:
        mine = hacontain("ls", "-P", str(first)).stdout
        assert mine.splitlines()[1].split()[:2] == [name, "RUNNING"], mine
        theirs = hacontain("ls", "-P", str(second)).stdout
        assert f"RUNNING (from {first})" in theirs, theirs
        rows = json.loads(hacontain("ls", "-P", str(second), "--json").stdout)
        assert rows[0]["from_lxcpath"] == str(first)
        assert json.loads(hacontain("ls", "-P", str(first), "--json").stdout)[0][
            "from_lxcpath"] is None
        details = json.loads(hacontain("info", "-P", str(second), name, "--json").stdout)
        assert details["from_lxcpath"] == str(first) and str(first) in details["reason"]
        text = hacontain("info", "-P", str(second), name).stdout
        assert "from_lxcpath:" in text and str(first) in text
        assert json.loads(hacontain("info", "-P", str(first), name, "--json").stdout)[
            "from_lxcpath"] is None
    finally:
        hacontain("stop", "-k", "-P", str(first), name)
    for lxcpath in (first, second):
        hacontain("destroy", "-P", str(lxcpath), name)
    assert not os.path.exists(os.path.join(str(rundir), name)), \
        "destroy removes RUNDIR/NAME (lock, console log)"


def test_stop_keeps_the_console_log_and_destroy_removes_the_run_directory(make_container,
                                                                          rundir):
    ct = make_container()
    hacontain("start", ct.name)
    hacontain("stop", ct.name)
    log = os.path.join(str(rundir), ct.name, "console.log")
    assert os.path.exists(log), "the console log outlives a stop"
    assert not os.path.exists(paths.state_file(ct.name))
    hacontain("destroy", ct.name)
    assert not os.path.exists(os.path.join(str(rundir), ct.name))
