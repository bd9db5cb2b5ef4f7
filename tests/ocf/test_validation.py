"""validate-all and start agree, through the installed agent, and the codes say
where the problem is: 6 only for parameters wrong on every node, 2 for what
is found on this node (its config file, includes, rootfs, bridges, CPUs).

The table covers every agent parameter (hacontain/ocf/params.py) and config
values start used to reject only once it wrote them: whatever start refuses,
validate-all refuses first, with the same code, and a config value's reason
names file and line.
"""

import os
import random
import re

import pytest

from hacontain.ocf.params import PARAMETERS

pytestmark = pytest.mark.root

OK, WRONG_EVERYWHERE, NODE_LOCAL = 0, 6, 2


def _missing_cpu():
    """A CPU number this host does not have (but some host could)."""
    with open("/sys/devices/system/cpu/possible", encoding="ascii") as handle:
        return str(int(re.split(r"[-,]", handle.read().strip())[-1]) + 1)


# (parameter, value, expected code)
PARAMETER_CASES = [
    ("name", "a/b", WRONG_EVERYWHERE),
    ("name", "x" * 65, WRONG_EVERYWHERE),
    ("name", "\u0661\u0662", WRONG_EVERYWHERE),
    ("lxcpath", "relative/path", WRONG_EVERYWHERE),
    ("lxcpath", "/nonexistent/lxcpath", NODE_LOCAL),
    ("config", "relative.conf", WRONG_EVERYWHERE),
    ("config", "/nonexistent/container.conf", NODE_LOCAL),
    ("halt_signal", "SIGNOPE", WRONG_EVERYWHERE),
    ("halt_signal", "\u00b2", WRONG_EVERYWHERE),
    ("halt_signal", "SIGRTMIN+99", WRONG_EVERYWHERE),
    ("halt_signal", "SIGTERM", OK),
    ("memory", "abc", WRONG_EVERYWHERE),
    ("memory", "0", WRONG_EVERYWHERE),
    ("memory", "\u0661\u0662\u0663M", WRONG_EVERYWHERE),
    ("memory", "99999999999999999999T", WRONG_EVERYWHERE),
    ("memory", "2M", WRONG_EVERYWHERE),                  # too small for any start
    ("memory", "64M", OK),
    ("memory", "max", OK),
    ("cpu_weight", "0", WRONG_EVERYWHERE),
    ("cpu_weight", "10001", WRONG_EVERYWHERE),
    ("cpu_weight", "1_00", WRONG_EVERYWHERE),
    ("cpu_weight", "\u0661\u0660", WRONG_EVERYWHERE),
    ("cpu_weight", "200", OK),
    ("cpu_quota", "1e400", WRONG_EVERYWHERE),
    ("cpu_quota", "0.001", WRONG_EVERYWHERE),
    ("cpu_quota", "NaN", WRONG_EVERYWHERE),
    ("cpu_quota", "\u0661", WRONG_EVERYWHERE),
    ("cpu_quota", "0.5", OK),
    ("cpu_quota", "max", OK),
    ("checkpoint_on_move", "maybe", WRONG_EVERYWHERE),
    ("checkpoint_on_move", "false", OK),
    ("checkpoint_dir", "relative/checkpoints", WRONG_EVERYWHERE),
    ("checkpoint_dir", "/var/lib/hacontain/checkpoints", OK),
    ("cpuset_cpus", "99999", WRONG_EVERYWHERE),
    ("cpuset_cpus", "3-1", WRONG_EVERYWHERE),
    ("cpuset_cpus", "0-99999999999", WRONG_EVERYWHERE),
    ("cpuset_cpus", "0,,1", WRONG_EVERYWHERE),
    ("cpuset_cpus", "\u0660", WRONG_EVERYWHERE),
    ("cpuset_cpus", _missing_cpu(), NODE_LOCAL),
    ("cpuset_cpus", "0", OK),
    ("pids", "-1", WRONG_EVERYWHERE),
    ("pids", "99999999", WRONG_EVERYWHERE),
    ("pids", "\u0661\u0660\u0660", WRONG_EVERYWHERE),
    ("pids", "2", WRONG_EVERYWHERE),
    ("pids", "100", OK),
    ("monitor_cmd", "'open", WRONG_EVERYWHERE),
    ("monitor_cmd", "/bin/true", OK),
]

# (config lines, expected code); every refusal names the config's file and line
CONFIG_CASES = [
    (["lxc.environment = NOEQUALS"], NODE_LOCAL),
    (["lxc.environment = BIG=" + "x" * (200 << 10)], NODE_LOCAL),
    (["lxc.environment = GOOD=1"], OK),
    (["lxc.cgroup.memory.limit_in_bytes = abc"], NODE_LOCAL),
    (["lxc.cgroup.memory.limit_in_bytes = max"], NODE_LOCAL),
    (["lxc.cgroup.memory.limit_in_bytes = 64M"], OK),
    (["lxc.cgroup.memory.limit_in_bytes = 12K"], NODE_LOCAL),
    (["lxc.cgroup.memory.limt_in_bytes = 1"], NODE_LOCAL),
    (["lxc.cgroup.pids.max = 2"], NODE_LOCAL),
    (["lxc.cgroup.pids.max = \u0661\u0660"], NODE_LOCAL),
    (["lxc.cgroup.cpuset.cpus = " + _missing_cpu()], NODE_LOCAL),
    (["lxc.cgroup.cpu.cfs_quota_us = 10"], NODE_LOCAL),
    (["hacontain.limit.cpu.quota = 1e400"], NODE_LOCAL),
    (["hacontain.limit.cpuset.cpus = 0"], OK),
    (["lxc.tty.max = \u0661"], NODE_LOCAL),
    (["lxc.signal.halt = \u00b2"], NODE_LOCAL),
    (["lxc.idmap = u 0 \u0661 65536"], NODE_LOCAL),
    (["lxc.rootfs.pth = /srv/x"], NODE_LOCAL),
    (["lxc.include = /nonexistent/common.conf"], NODE_LOCAL),
    (["lxc.mount.entry = /nonexistent/data data none bind,create=dir 0 0"], NODE_LOCAL),
    (["lxc.mount.entry = /nonexistent/data data none bind,create=dir,optional 0 0"], OK),
    (["lxc.init.cwd = /nonexistent"], NODE_LOCAL),
    (["lxc.init.cwd = /etc"], OK),
    (["lxc.mount.entry = tmpfs srv/data tmpfs create=dir 0 0", "lxc.init.cwd = /srv/data"], OK),
]


def _agree(ct, run, expected, reasons, **extra):
    """validate-all and start give `expected`; start leaves nothing when it fails."""
    checked = run("validate-all", **extra)
    started = run("start", **extra)
    assert (checked.returncode, started.returncode) == (expected, expected), \
        f"validate-all: {checked.returncode} {checked.stderr}\nstart: {started.returncode} " \
        f"{started.stderr}"
    if expected != OK:
        assert reasons(checked) and reasons(started)
        assert not ct.status().present, "a refused start left the container behind"
    return reasons(checked)


def test_the_table_covers_every_parameter():
    assert {name for name, _, _ in PARAMETER_CASES} == {p.name for p in PARAMETERS}


@pytest.mark.parametrize("parameter, value, expected", PARAMETER_CASES)
def test_validate_all_and_start_agree_on_parameters(container, reasons, parameter, value,
                                                    expected):
    ct, run = container()
    _agree(ct, run, expected, reasons, **{f"OCF_RESKEY_{parameter}": value})


@pytest.mark.parametrize("lines, expected", CONFIG_CASES,
                         ids=[lines[0][:40] for lines, _ in CONFIG_CASES])
def test_validate_all_and_start_agree_on_config_values(container, reasons, lines, expected):
    ct, run = container(lines)
    found = _agree(ct, run, expected, reasons)
    if expected != OK:
        line = sum(1 for _ in open(ct.config_path, encoding="utf-8"))   # the lines added last
        assert any(f"{ct.config_path}:{line}: " in reason for reason in found), found


# Fuzz: values made at random (fixed seed) from numbers near the bounds,
# separators, suffixes and the odd word or foreign digit.
NUMBERS = ["0", "1", "2", "3", "4", "8", "64", "100", "1000", "8191", "8192", "10000", "10001",
           "262144", "4194304", "4194305", "99999999999", "99999999999999999999"]
JOINS = ["", "", "", "-", ",", ".", " ", "_", "+"]
SUFFIXES = ["", "", "", "K", "M", "G", "T", "e3", "e400"]
ODD = ["max", "NaN", "-1", "\u0661\u0662", "\u00b2", "0x10", ""]
LIMITS = [p.name for p in PARAMETERS if p.limit]


def _fuzzed(seed, count):
    rng = random.Random(seed)
    values = []
    for _ in range(count):
        if rng.random() < 0.15:
            value = rng.choice(ODD)
        else:
            value = rng.choice(NUMBERS)
            if rng.random() < 0.4:
                value += rng.choice(JOINS) + rng.choice(NUMBERS)
            value += rng.choice(SUFFIXES)
        values.append((rng.choice(LIMITS), value))
    return values


@pytest.mark.parametrize("parameter, value", _fuzzed(14, 60))
def test_validate_all_and_start_agree_on_fuzzed_limits(container, reasons, parameter, value):
    ct, run = container()
    extra = {f"OCF_RESKEY_{parameter}": value}
    checked, started = run("validate-all", **extra), run("start", **extra)
    assert checked.returncode == started.returncode, \
        f"validate-all: {checked.returncode} {checked.stderr}\nstart: {started.returncode} " \
        f"{started.stderr}"
    assert started.returncode in (OK, WRONG_EVERYWHERE, NODE_LOCAL), started.stderr


# -- node-local problems: 2, never 6 -------------------------------------------------

def test_an_empty_rootfs_is_node_local(container, tmp_path, reasons):
    empty = tmp_path / "unmounted"
    empty.mkdir()
    ct, run = container([f"lxc.rootfs.path = dir:{empty}"])
    found = _agree(ct, run, NODE_LOCAL, reasons)
    assert any("/sbin/init not found in rootfs" in reason for reason in found)


@pytest.mark.parametrize("target", ["/nonexistent/busybox", "/sbin/init"])
def test_a_dangling_or_looping_init_link_is_node_local(container, reasons, target):
    ct, run = container()
    init = os.path.join(ct.load_config().rootfs, "sbin/init")
    os.remove(init)
    os.symlink(target, init)
    _agree(ct, run, NODE_LOCAL, reasons)


def test_a_missing_seccomp_profile_is_node_local(container, reasons):
    ct, run = container(["lxc.seccomp.profile = /nonexistent/common.seccomp"])
    found = _agree(ct, run, NODE_LOCAL, reasons)
    assert any("/nonexistent/common.seccomp" in reason for reason in found)


def test_a_bridge_missing_on_this_node_is_node_local(container, reasons):
    ct, run = container(["lxc.net.0.type = veth", "lxc.net.0.link = hcnobridge0"])
    found = _agree(ct, run, NODE_LOCAL, reasons)
    assert any("hcnobridge0 does not exist" in reason for reason in found)


@pytest.mark.parametrize("lines", [lines for lines, expected in CONFIG_CASES if expected != OK],
                         ids=[lines[0][:40] for lines, expected in CONFIG_CASES if expected != OK])
def test_the_cli_refuses_the_same_config_values_at_their_line(make_container, lines):
    from clitools import hacontain
    ct = make_container(lines)
    result = hacontain("start", ct.name, check=False, timeout=60)
    line = sum(1 for _ in open(ct.config_path, encoding="utf-8"))
    assert result.returncode == 1, result.stderr
    assert f"{ct.config_path}:{line}: " in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not ct.status().present
