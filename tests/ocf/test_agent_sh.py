"""The installed agent's shell half (hacontain/ocf/agent.sh): the depth-0 monitor's
certain answers, against real state files, real processes and the runtime's own
path rules; everything else left to the Python agent."""

import os
import re
import subprocess

import pytest

from hacontain import paths
from hacontain.ocf.install import script
from hacontain.runtime import state as statefile
from hacontain.sys import proc

AGENT_SH = os.path.join(os.path.dirname(paths.__file__), "ocf", "agent.sh")
LEFT = "left to the agent"


def record(**changes):
    values = dict(name="ct", lxcpath="/srv/lxc", config="/srv/lxc/ct/config", pid=os.getpid(),
                  start_time=proc.start_time(os.getpid()), started_at=1.5, halt_signal=30,
                  cgroup={"layout": "v2", "hierarchies": {"": {"cgroup": "/hacontain/ct",
                                                               "owned": []}}},
                  console_log=None)
    values.update(changes)
    return statefile.State(**values)


@pytest.fixture
def shell_agent(tmp_path):
    """The installed script with its Python agent replaced by an `echo` of LEFT: run
    it with (environment additions) -> (exit code, stdout, stderr)."""
    path = tmp_path / "container"
    text = re.sub(r"(?m)^PYTHON=.*$", "PYTHON=/bin/echo", script())
    text = re.sub(r"(?m)^PYTHON_FLAGS=.*$", f"PYTHON_FLAGS='{LEFT}'", text)
    path.write_text(text)
    path.chmod(0o755)

    def run(action="monitor", **env):
        base = {"PATH": "/usr/bin:/bin", "OCF_RESKEY_name": "ct",
                "OCF_RESKEY_lxcpath": "/srv/lxc",
                "HACONTAIN_RUNDIR": os.environ.get("HACONTAIN_RUNDIR", "/nonexistent")}
        base.update(env)
        result = subprocess.run([str(path), action], env=base, capture_output=True,
                                text=True, timeout=30)
        return result.returncode, result.stdout, result.stderr
    return run


def left(outcome):
    code, out, _ = outcome
    return code == 0 and out.startswith(LEFT)


# -- running: the recorded init alive -------------------------------------------

@pytest.mark.parametrize("level", ["0", "00", "9"])
def test_a_live_recorded_init_is_running(rundir, shell_agent, level):
    statefile.write(record())                   # this test process stands in for the init
    assert shell_agent(OCF_CHECK_LEVEL=level) == (0, "", "")


@pytest.mark.parametrize("name", ["web_1", "a-b.c", "x+y@z:1=2"])
def test_plain_names_and_lxcpaths_are_answered(rundir, shell_agent, name):
    statefile.write(record(name=name, lxcpath="/srv/lxc_1.d"))
    assert shell_agent(OCF_RESKEY_name=name, OCF_RESKEY_lxcpath="/srv/lxc_1.d") == (0, "", "")
    assert shell_agent(OCF_RESKEY_name=f"{name}2")[0] == 7


def test_the_default_depth_is_0(rundir, shell_agent):
    statefile.write(record())
    assert shell_agent() == (0, "", "")


@pytest.mark.parametrize("level", ["10", "20", "010", "", "x", "1 0"])
def test_deeper_or_odd_depths_are_left_to_the_agent(rundir, shell_agent, level):
    statefile.write(record())
    assert left(shell_agent(OCF_CHECK_LEVEL=level))


def test_nested_names_in_the_record_do_not_mislead(rundir, shell_agent):
    """The network entries and cgroup hierarchies come after the record's own fields."""
    network = [{"name": "eth0", "pid": 1, "start_time": 2, "version": 9, "type": "veth"}]
    cgroup = {"layout": "v1", "hierarchies": {"pid": {"cgroup": "/x", "owned": []}}}
    statefile.write(record(network=network, cgroup=cgroup, config="/srv/a, \"pid\": 1,x"))
    assert shell_agent() == (0, "", "")


@pytest.mark.parametrize("changes", [
    {"start_time": 1},                          # the pid was reused by another process
    {"lxcpath": "/elsewhere"},                  # a same-named container of another lxcpath
    {"pid": None, "start_time": None},          # a start under way, or killed
    {"version": 2},                             # another hacontain's record
])
def test_anything_else_is_left_to_the_agent(rundir, shell_agent, changes):
    statefile.write(record(**changes))
    assert left(shell_agent())


def test_a_dead_recorded_init_is_left_to_the_agent(rundir, shell_agent):
    child = subprocess.Popen(["true"])
    child.wait()
    statefile.write(record(pid=child.pid, start_time=123))
    assert left(shell_agent())


def test_a_record_of_another_name_is_left_to_the_agent(rundir, shell_agent):
    statefile.write(record(name="other"))
    os.makedirs(statefile.directory("ct"))
    os.rename(paths.state_file("other"), paths.state_file("ct"))
    assert left(shell_agent())


@pytest.mark.parametrize("text", ["", "{\"pid\": ", "null", "[1]", "\x00\x01",
                                  "{\"name\": \"ct\"}\n"])
def test_a_corrupt_state_file_is_left_to_the_agent(rundir, shell_agent, text):
    os.makedirs(statefile.directory("ct"), exist_ok=True)
    with open(paths.state_file("ct"), "w", encoding="utf-8") as handle:
        handle.write(text)
    assert left(shell_agent())


def test_a_state_file_with_a_line_break_is_left_to_the_agent(rundir, shell_agent):
    statefile.write(record())
    with open(paths.state_file("ct"), "a", encoding="utf-8") as handle:
        handle.write("\n")
    assert left(shell_agent())


def test_the_lxcpath_default_is_the_parameters(rundir, shell_agent):
    statefile.write(record(lxcpath=paths.DEFAULT_LXCPATH))
    assert left(shell_agent())
    assert shell_agent(OCF_RESKEY_lxcpath="") == (0, "", "")
    assert shell_agent(OCF_RESKEY_lxcpath="", HACONTAIN_LXCPATH="/srv/lxc") == (0, "", ""), \
        "the parameter's default is the agent's, whatever the CLI's variable says"


@pytest.mark.parametrize("name", ["", "..", ".", "a/b", " ct", "c t", "ct\n", "ct*", "é"])
def test_names_that_are_not_plain_are_left_to_the_agent(rundir, shell_agent, name):
    assert left(shell_agent(OCF_RESKEY_name=name))


@pytest.mark.parametrize("lxcpath", ["/srv/lxc/", "/srv//lxc", "/srv/./lxc", "srv/lxc",
                                     "/srv/lx c", "/srv/lxc/.."])
def test_lxcpaths_not_in_normal_form_are_left_to_the_agent(rundir, shell_agent, lxcpath):
    statefile.write(record())
    assert left(shell_agent(OCF_RESKEY_lxcpath=lxcpath))


# -- stopped: no state file, no cgroup --------------------------------------------

@pytest.mark.parametrize("level", ["0", "10", "20"])
def test_no_state_file_and_no_cgroup_is_stopped(rundir, shell_agent, level):
    """Start records before it makes anything: 7 at every depth, probes too, with the
    line Pacemaker shows."""
    assert shell_agent(OCF_CHECK_LEVEL=level, OCF_RESKEY_CRM_meta_interval="0") == \
        (7, "", "ocf-exit-reason:container ct is not running\n")
    assert shell_agent(OCF_EXIT_REASON_PREFIX="why: ") == \
        (7, "", "why: container ct is not running\n")


def test_a_missing_rundir_is_stopped(shell_agent, tmp_path):
    assert shell_agent(HACONTAIN_RUNDIR=str(tmp_path / "none"))[0] == 7


def test_debug_and_dangling_state_files_are_left_to_the_agent(rundir, shell_agent):
    assert left(shell_agent(HA_debug="1")), "the agent also logs the reason"
    os.makedirs(statefile.directory("ct"))
    os.symlink("/nonexistent", paths.state_file("ct"))
    assert left(shell_agent())


@pytest.mark.root
def test_no_state_file_but_a_cgroup_is_left_to_the_agent(rundir, shell_agent):
    """A state file deleted while the container runs: the cgroup is still there."""
    from hacontain.runtime.cgroups import open_cgroup
    cgroup = open_cgroup("ct")
    cgroup.create([], None)
    try:
        assert left(shell_agent())
    finally:
        cgroup.remove()
    assert shell_agent()[0] == 7


@pytest.mark.parametrize("line", ["hacontain.cgroup.parent = /elsewhere.slice",
                                  "lxc.include = /etc/hacontain/common.conf",
                                  " \tlxc.include=/etc/hacontain/common.conf"])
def test_a_config_that_may_move_the_cgroup_is_left_to_the_agent(rundir, shell_agent,
                                                                tmp_path, line):
    config = tmp_path / "config"
    config.write_text(f"lxc.uts.name = ct\n{line}\n")
    assert left(shell_agent(OCF_RESKEY_config=str(config)))
    config.write_text(f"lxc.uts.name = ct\n#{line}\n# {line}")
    assert shell_agent(OCF_RESKEY_config=str(config))[0] == 7, "a comment changes nothing"


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_a_config_that_is_no_regular_file_is_left_to_the_agent(rundir, shell_agent,
                                                               tmp_path, kind):
    """Never blocked by a FIFO, never reading /dev/zero."""
    config = tmp_path / "config"
    if kind == "fifo":
        os.mkfifo(config)
    elif kind == "directory":
        config.mkdir()
    else:
        config.symlink_to("/dev/zero")
    assert left(shell_agent(OCF_RESKEY_config=str(config)))


def test_a_cgroup_parent_from_the_environment_is_used(rundir, shell_agent):
    assert shell_agent(HACONTAIN_CGROUP_PARENT="a/b")[0] == 7
    assert left(shell_agent(HACONTAIN_CGROUP_PARENT="../up"))
    assert left(shell_agent(HACONTAIN_CGROUP_PARENT="a b"))


def test_every_other_action_runs_the_agent(shell_agent):
    for action in ("start", "stop", "meta-data", "validate-all", "monitor extra"):
        code, out, _ = shell_agent(action)
        assert (code, out) == (0, f"{LEFT} -c {script_code()} {action}\n")


def script_code():
    from hacontain.ocf.install import python_command
    return python_command()[-1]


# -- the cgroup directory: the same as paths.cgroup_dir ---------------------------

def shell_cgroup_dir(name, parent, proc_root):
    """hc_cgroup_dir's answer (None: it cannot tell)."""
    result = subprocess.run(["sh", "-c", '. "$0"; hc_cgroup_dir "$1" "$2" "$3" && '
                             'printf %s "$hc_where"', AGENT_SH, name, parent, proc_root],
                            capture_output=True, text=True, timeout=30)
    assert result.stderr == ""
    return result.stdout if result.returncode == 0 else None


V1 = ["cpu", "cpuacct", "memory", "pids", "name=systemd"]


def mount_line(number, point, kind, options, root="/"):
    fstype = "cgroup2" if kind == "cgroup2" else "cgroup"
    return f"{number} 23 0:{number} {root} {point} rw,relatime shared:{number} - {fstype} " \
           f"{fstype} {options}"


HOSTS = {
    "pure v2": (["0::/system.slice/pacemaker.service"],
                [mount_line(30, "/sys/fs/cgroup", "cgroup2", "rw,nsdelegate")]),
    "hybrid": ([f"{n + 1}:{c}:/user.slice" for n, c in enumerate(V1)] + ["0::/user.slice"],
               [mount_line(30 + n, f"/sys/fs/cgroup/{c.removeprefix('name=')}", "cgroup",
                           f"rw,{c}") for n, c in enumerate(V1)]
               + [mount_line(40, "/sys/fs/cgroup/unified", "cgroup2", "rw")]),
    "v1 only, systemd named first": (
        [f"{n + 1}:{c}:/a/" for n, c in enumerate(reversed(V1))],
        [mount_line(30 + n, f"/sys/fs/cgroup/{c.removeprefix('name=')}", "cgroup",
                    f"rw,{c}") for n, c in enumerate(reversed(V1))]),
    "v1 co-mounted": (["2:cpu,cpuacct:/x", "3:memory:/x"],
                      [mount_line(31, "/sys/fs/cgroup/cpu,cpuacct", "cgroup",
                                  "rw,cpu,cpuacct"),
                       mount_line(32, "/sys/fs/cgroup/memory", "cgroup", "rw,memory")]),
    "a container's view: mount root below": (
        ["0::/lxc/ct/inner"], [mount_line(30, "/sys/fs/cgroup", "cgroup2", "rw", "/lxc/ct")]),
    "caller outside the mount's root": (
        ["0::/elsewhere"], [mount_line(30, "/sys/fs/cgroup", "cgroup2", "rw", "/lxc/ct")]),
    "escaped mount point": (["0::/"], [mount_line(30, "/sys/fs/cgroup/a\\040b", "cgroup2", "rw")]),
    "mounted elsewhere only": (["0::/"], [mount_line(30, "/mnt/cgroup", "cgroup2", "rw")]),
    "no optional fields": (["0::/"], ["30 23 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw"]),
    "nothing": ([], []),
}


@pytest.mark.parametrize("host", sorted(HOSTS))
@pytest.mark.parametrize("parent", ["hacontain", "a/b", "a//b/", "/", "/hacontain.slice",
                                    "../up", "a/./b"])
def test_the_cgroup_directory_is_paths_cgroup_dir(tmp_path, host, parent):
    membership, mounts = HOSTS[host]
    (tmp_path / "self").mkdir()
    (tmp_path / "self" / "cgroup").write_text("".join(f"{line}\n" for line in membership))
    (tmp_path / "self" / "mountinfo").write_text(
        "22 1 0:20 / / rw - ext4 /dev/sda1 rw\n" + "".join(f"{line}\n" for line in mounts))
    assert shell_cgroup_dir("ct", parent, str(tmp_path)) == \
        paths.cgroup_dir("ct", parent, proc=str(tmp_path))


@pytest.mark.parametrize("parent", ["hacontain", "a/b", "/hacontain-test.slice"])
def test_the_cgroup_directory_on_this_host_is_where_the_driver_puts_it(parent):
    from hacontain.runtime.cgroups import open_cgroup
    cgroup = open_cgroup("ct", parent)
    dirs = [place.dir for driver in cgroup._drivers for place in driver.places]
    assert shell_cgroup_dir("ct", parent, "/proc") == paths.cgroup_dir("ct", parent) == \
        (cgroup.v2_dir() or dirs[0])


def test_the_default_cgroup_parent_is_the_drivers():
    from hacontain.runtime.cgroups.place import DEFAULT_PARENT
    assert paths.DEFAULT_CGROUP_PARENT == DEFAULT_PARENT
