"""The CLI on real containers: both entries (the installed fast command and the
click one), -P anywhere, info, ls, ps, cgroup in lxc-cgroup's form, stop -k."""

import json
import os
import re
import subprocess

import pytest

from hacontain.runtime.cgroups.layout import detect_layout
from clitools import HACONTAIN, hacontain, unique_name

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    """The command `hacontain install-cli` installs, written to a scratch path."""
    root = tmp_path_factory.mktemp("cli-install")
    command = root / "hacontain"
    hacontain("install-cli", "--root", str(root), "--command", str(command))
    return [str(command)]


def run(entry, *args, check=True):
    result = subprocess.run(entry + list(args), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stderr}")
    return result


@pytest.mark.parametrize("entry", ["fast", "click"])
def test_start_ls_info_stop_with_lxcpath_before_or_after(entry, fast, lxcpath, rundir,
                                                         monkeypatch):
    monkeypatch.delenv("HACONTAIN_LXCPATH")
    command, name, where = fast if entry == "fast" else HACONTAIN, unique_name(), str(lxcpath)
    run(command, "-P", where, "create", name, "-t", "busybox")
    try:
        run(command, "-P", where, "start", name, "--settle", "0")
        rows = json.loads(run(command, "ls", "--json", "-P", where).stdout)
        assert [(row["name"], row["state"]) for row in rows] == [(name, "RUNNING")]
        assert rows[0]["memory"] > 0 and rows[0]["pid"] > 1
        table = run(command, "-P", where, "ls").stdout.splitlines()
        assert table[0].split() == ["NAME", "STATE", "PID", "MEMORY", "IPV4", "IPV6", "RESOURCE"]
        assert table[1].split()[:3] == [name, "RUNNING", str(rows[0]["pid"])]
        assert table[1].split()[4] in ("KiB", "MiB")
        details = json.loads(run(command, "info", name, "-P", where, "--json").stdout)
        assert details["pid"] == rows[0]["pid"] and details["resources"]["pids.current"] >= 2
        human = run(command, "-P", where, "info", name).stdout
        assert "uptime:" in human and " s\n" in human
        assert re.search(r"^memory: +[0-9.]+ (KiB|MiB) \(peak ", human, re.M), human
        missing = run(command, "-P", where, "info", "nosuch", check=False)
        assert missing.returncode == 1 and missing.stderr.count("\n") == 1
        assert "no container nosuch" in missing.stderr and missing.stdout == ""
    finally:
        stopped = run(command, "stop", "-k", name, "-P", where)
        assert stopped.stderr.strip() == f"hacontain: {name} killed"
        run(command, "-P", where, "destroy", name)


def test_cgroup_takes_the_bare_file_name_of_this_hosts_version(make_container):
    container = make_container()
    container.start()
    version = 1 if detect_layout().kind != "v2" else 2
    file = "memory.limit_in_bytes" if version == 1 else "memory.max"
    args = ["-P", container.lxcpath, "cgroup", container.name]
    hacontain(*args, file, "256M")
    assert hacontain(*args, file).stdout.strip() == str(256 << 20)
    prefix = "lxc.cgroup." if version == 1 else "lxc.cgroup2."
    assert hacontain(*args, prefix + file).stdout.strip() == str(256 << 20)
    assert hacontain(*args, "hacontain.limit.memory").stdout.strip() == str(256 << 20)
    as_json = json.loads(hacontain(*args, "hacontain.limit.memory", "--json").stdout)
    assert as_json == {"name": container.name, "key": "hacontain.limit.memory",
                       "value": str(256 << 20)}
    wrong = hacontain(*args, "nosuchcontroller.max", check=False)
    assert wrong.returncode == 1 and "not a cgroup key" in wrong.stderr
    assert wrong.stderr.count("\n") == 1


def test_ps_json(make_container):
    container = make_container()
    container.start()
    rows = json.loads(hacontain("-P", container.lxcpath, "ps", container.name, "--json").stdout)
    assert container.status().state.pid in [row["pid"] for row in rows]
    assert {"pid", "ppid", "user", "state", "command"} <= set(rows[0])
    assert os.getpid() not in [row["pid"] for row in rows]


def test_create_leaves_the_container_directory_passable(lxcpath, rundir):
    name = unique_name()
    hacontain("-P", str(lxcpath), "create", name, "-t", "busybox")
    try:
        assert os.stat(lxcpath / name).st_mode & 0o777 == 0o755
    finally:
        hacontain("-P", str(lxcpath), "destroy", name)


def test_top_once_and_json(make_container):
    container = make_container()
    container.start()
    args = ["-P", container.lxcpath, "top", "-d", "0.2"]
    rows = json.loads(hacontain(*args, "--json").stdout)
    assert [row["name"] for row in rows] == [container.name]
    assert rows[0]["memory"] > 0 and rows[0]["pids"] >= 2 and rows[0]["cpu_percent"] >= 0
    table = hacontain(*args, "--once").stdout.splitlines()
    assert table[0].split()[:2] == ["NAME", "CPU%"] and table[1].split()[0] == container.name


def test_checkconfig_of_one_container_names_the_line(make_container):
    good = make_container()
    result = hacontain("-P", good.lxcpath, "checkconfig", good.name)
    assert result.stdout.splitlines()[-1].split() == [f"container {good.name}:".split()[0],
                                                     f"{good.name}:", "ok"]
    bad = make_container(["lxc.net.0.type = veth", "lxc.net.0.link = nosuchbridge0"])
    result = hacontain("-P", bad.lxcpath, "checkconfig", bad.name, check=False)
    last = result.stdout.splitlines()[-1]
    assert result.returncode == 1
    assert f"{bad.config_path}:" in last and "nosuchbridge0" in last, last


def test_create_idmap_makes_a_ready_unprivileged_container(rundir):
    import shutil
    import tempfile
    where = tempfile.mkdtemp(prefix="hacontain-cli-userns-", dir="/tmp")
    os.chmod(where, 0o711)                    # passable by the mapped root, as /var/lib is
    name = unique_name()
    try:
        bad = hacontain("-P", where, "create", name, "-t", "busybox", "--idmap", "0:65536",
                        check=False)
        assert bad.returncode == 1 and "expected HOSTID:COUNT" in bad.stderr
        assert os.listdir(where) == []
        made = hacontain("-P", where, "create", name, "-t", "busybox", "--idmap", "200000:65536")
        assert "unprivileged: lxc.idmap u 0 200000 65536" in made.stdout
        assert os.stat(os.path.join(where, name, "rootfs")).st_uid == 200000
        hacontain("-P", where, "start", name)
        try:
            pid = json.loads(hacontain("-P", where, "info", name, "--json").stdout)["pid"]
            with open(f"/proc/{pid}/status", encoding="ascii") as handle:
                uids = next(line for line in handle if line.startswith("Uid:")).split()[1:]
            assert uids == ["200000"] * 4
        finally:
            hacontain("-P", where, "stop", "-k", name)
        hacontain("-P", where, "destroy", name)
    finally:
        shutil.rmtree(where)


def test_ls_detects_the_cgroup_layout_once(make_container, lxcpath, monkeypatch):
    from hacontain import cli_views
    from hacontain.runtime import cgroups
    for _ in range(3):
        make_container().start()
    calls = []
    real = cgroups.detect_layout
    monkeypatch.setattr(cgroups, "_reused", {})
    monkeypatch.setattr(cgroups, "detect_layout", lambda *args: calls.append(args) or real(*args))
    rows = cli_views.ls_rows(str(lxcpath))
    assert [row["state"] for row in rows] == ["RUNNING"] * 3
    assert all(row["memory"] > 0 for row in rows)
    assert len(calls) == 1
