"""The depth-0 monitor's fast path, against real state files and processes."""

import json
import os

import pytest

from hacontain import paths
from hacontain.ocf.quickstatus import RUNNING, STOPPED, answer, parse_json, quick_status
from hacontain.runtime import state as statefile
from hacontain.sys import proc


def record(**changes):
    values = dict(name="ct", lxcpath="/srv/lxc", config="/srv/lxc/ct/config", pid=os.getpid(),
                  start_time=proc.start_time(os.getpid()), started_at=1.5, halt_signal=30,
                  cgroup={"layout": "v2", "hierarchies": {"": {"cgroup": "/hacontain/ct",
                                                               "owned": []}}},
                  console_log=None)
    values.update(changes)
    return statefile.State(**values)


def test_parse_json_reads_what_the_runtime_writes(rundir):
    statefile.write(record())
    with open(paths.state_file("ct"), encoding="utf-8") as handle:
        text = handle.read()
    assert parse_json(text) == json.loads(text)


@pytest.mark.parametrize("text", ["", "{", "{\"a\": 1} trailing", "nope", "{\"a\": }"])
def test_parse_json_rejects_what_is_not_json(text):
    assert parse_json(text) is None


def test_parse_json_values():
    assert parse_json('{"a": [1, 2.5, "x\\u00e9", true, null, NaN]}')["a"][:5] == \
        [1, 2.5, "x\u00e9", True, None]


def test_no_state_file_is_stopped(rundir):
    assert quick_status("ct", "/srv/lxc") == STOPPED


def test_a_live_recorded_init_is_running(rundir):
    statefile.write(record())                   # this test process stands in for the init
    assert quick_status("ct", "/srv/lxc") == RUNNING


@pytest.mark.parametrize("changes", [
    {"start_time": 1},                          # the pid was reused by another process
    {"lxcpath": "/elsewhere"},                  # a same-named container of another lxcpath
    {"pid": "12"},                              # not what the runtime writes
])
def test_anything_else_is_left_to_the_runtime(rundir, changes):
    statefile.write(record(**changes))
    assert quick_status("ct", "/srv/lxc") is None


def test_a_corrupt_state_file_is_left_to_the_runtime(rundir):
    os.makedirs(statefile.directory("ct"))
    with open(paths.state_file("ct"), "w", encoding="utf-8") as handle:
        handle.write("{\"pid\": ")
    assert quick_status("ct", "/srv/lxc") is None


@pytest.mark.parametrize("name", ["", "..", "a/b"])
def test_names_that_are_not_plain_go_to_the_runtime(rundir, name):
    assert quick_status(name, "/srv/lxc") is None


def environ(**more):
    """The agent's environment: parameters, the test's RUNDIR, `more`."""
    return {"OCF_RESKEY_name": "ct", "OCF_RESKEY_lxcpath": "/srv/lxc",
            "HACONTAIN_RUNDIR": os.environ["HACONTAIN_RUNDIR"], **more}


@pytest.mark.parametrize("level, expected", [("0", 0), ("", 0), ("x", 0), ("10", None),
                                             ("20", None)])
def test_the_entry_point_answers_running_depth_0_monitors_alone(rundir, level, expected):
    statefile.write(record())
    assert answer(environ(OCF_CHECK_LEVEL=level)) == expected


@pytest.mark.parametrize("level", ["0", "10", "20"])
def test_the_entry_point_answers_stopped_with_the_exit_reason(rundir, capsys, level):
    """No state file means nothing exists (start records before it makes anything):
    7 at every depth, probes too, with the line Pacemaker shows."""
    assert answer(environ(OCF_CHECK_LEVEL=level, OCF_RESKEY_CRM_meta_interval="0")) == 7
    assert capsys.readouterr().err == "ocf-exit-reason:container ct is not running\n"
    assert answer(environ(OCF_EXIT_REASON_PREFIX="why: ")) == 7
    assert capsys.readouterr().err == "why: container ct is not running\n"


def test_the_entry_point_leaves_debug_foreign_and_unknown_cases_to_the_agent(rundir, capsys):
    assert answer(environ(HA_debug="1")) is None, "the agent also logs the reason"
    statefile.write(record(lxcpath=paths.DEFAULT_LXCPATH))
    assert answer(environ()) is None
    assert answer(environ(OCF_RESKEY_lxcpath="")) == 0      # lxcpath's default
    assert answer(environ(OCF_RESKEY_lxcpath="", HACONTAIN_LXCPATH="/srv/lxc")) == 0, \
        "the parameter's default is the agent's, whatever the CLI's variable says"
    statefile.write(record(pid=None, start_time=None))      # a start under way, or killed
    assert answer(environ()) is None
    assert capsys.readouterr().err == ""


def test_the_entry_point_reads_the_environment_as_os_does(monkeypatch, rundir):
    monkeypatch.setenv("OCF_RESKEY_name", "ct")
    monkeypatch.setenv("OCF_RESKEY_lxcpath", "/srv/lxc")
    statefile.write(record())
    assert answer() == 0


# -- no state file: the kernel (one stat of the cgroup directory) decides ---------

@pytest.mark.parametrize("parent", [None, "a/b", "/hacontain-test.slice"])
def test_the_cgroup_directory_is_where_the_driver_puts_it(parent):
    """paths.cgroup_dir, the fast path's one stat, names the directory the cgroup
    driver makes (the unified hierarchy's, else the first v1 one's)."""
    from hacontain.runtime.cgroups import open_cgroup
    cgroup = open_cgroup("ct", parent)
    dirs = [place.dir for driver in cgroup._drivers for place in driver.places]
    assert paths.cgroup_dir("ct", parent) == (cgroup.v2_dir() or dirs[0])


def test_the_default_cgroup_parent_is_the_drivers():
    from hacontain.runtime.cgroups.place import DEFAULT_PARENT
    assert paths.DEFAULT_CGROUP_PARENT == DEFAULT_PARENT


@pytest.mark.root
def test_no_state_file_but_a_cgroup_is_left_to_the_runtime(rundir, tmp_path):
    """A state file deleted while the container runs: the cgroup is still there."""
    from hacontain.runtime.cgroups import open_cgroup
    cgroup = open_cgroup("ct")
    cgroup.create([], None)
    try:
        assert quick_status("ct", "/srv/lxc") is None
        assert answer(environ()) is None
    finally:
        cgroup.remove()
    assert quick_status("ct", "/srv/lxc") == STOPPED


@pytest.mark.parametrize("line", ["hacontain.cgroup.parent = /elsewhere.slice",
                                  "lxc.include = /etc/hacontain/common.conf"])
def test_a_config_that_may_move_the_cgroup_is_left_to_the_runtime(rundir, tmp_path, line):
    config = tmp_path / "config"
    config.write_text(f"lxc.uts.name = ct\n{line}\n")
    assert answer(environ(OCF_RESKEY_config=str(config))) is None
    config.write_text(f"lxc.uts.name = ct\n# {line}\n")
    assert answer(environ(OCF_RESKEY_config=str(config))) == 7, "a comment changes nothing"


def test_a_state_file_of_another_version_or_name_is_left_to_the_runtime(rundir):
    statefile.write(record(version=2))
    assert quick_status("ct", "/srv/lxc") is None
    statefile.write(record(name="other"))
    os.rename(paths.state_file("other"), paths.state_file("ct"))
    assert quick_status("ct", "/srv/lxc") is None
