"""The CLI without root (offline: no container runs): options, the fast entry's parser, the
pages, the README's command table (click's CliRunner; no container runs)."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from hacontain import cli_fast, cli_views, manpages
from hacontain.cli import main

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


def test_lxcpath_before_or_after_the_command_and_from_the_environment(tmp_path):
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config").write_text("lxc.uts.name = x\n")
    for args in (["-P", str(tmp_path), "ls", "--json"], ["ls", "--json", "-P", str(tmp_path)],
                 ["ls", "--json"]):
        result = run(*args, env={"HACONTAIN_LXCPATH": str(tmp_path)})
        assert result.exit_code == 0, result.output
        assert [row["name"] for row in json.loads(result.output)] == ["one", "two"]
    # the command's own -P wins over the one before it
    result = run("-P", "/nonexistent", "ls", "-P", str(tmp_path))
    assert result.output.split("\n")[0].split() == [h for h, _ in cli_views.LS_COLUMNS]
    assert result.output.split("\n")[1].split()[:2] == ["one", "STOPPED"]


def test_info_of_an_unknown_container_is_a_one_line_error(tmp_path):
    result = run("-P", str(tmp_path), "info", "nosuch")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith("hacontain: error: no container nosuch in ")


def test_info_json_has_every_key_in_every_state(tmp_path):
    (tmp_path / "box").mkdir()
    (tmp_path / "box" / "config").write_text("lxc.uts.name = x\n")
    result = run("-P", str(tmp_path), "info", "box", "--json")
    details = json.loads(result.output)
    assert set(cli_views.INFO_KEYS) <= set(details)
    assert details["state"] == "STOPPED" and details["pid"] is None


def test_every_reading_command_has_json():
    for command in ("ls", "info", "ps", "cgroup", "config", "top"):
        result = run(command, "--help")
        assert "--json" in result.output, command


def test_cgroup_help_says_what_key_looks_like():
    text = run("cgroup", "--help").output
    assert "memory.limit_in_bytes" in text and "lxc.cgroup2." in text and "hacontain.limit." in text


@pytest.mark.parametrize("argv,expected", [
    (["ls"], ("ls", [], {"lxcpath": None})),
    (["-P", "/x", "ls", "--json"], ("ls", [], {"lxcpath": "/x", "as_json": True})),
    (["info", "web", "--lxcpath", "/x"], ("info", ["web"], {"lxcpath": "/x"})),
    (["start", "web", "--settle", "0", "-t", "5"],
     ("start", ["web"], {"lxcpath": None, "settle": 0.0, "timeout": 5.0})),
])
def test_the_fast_entry_takes_these_forms(argv, expected, monkeypatch):
    monkeypatch.delenv("HACONTAIN_LXCPATH", raising=False)
    assert cli_fast.parse(argv) == expected


@pytest.mark.parametrize("argv", [
    [], ["--help"], ["ls", "--help"], ["info"], ["info", "a", "b"], ["--json", "ls"],
    ["start", "web", "-F"], ["start", "web", "--settle", "soon"], ["start", "web", "--settle"],
    ["stop", "web"], ["ls", "-P"], ["info", "--json=yes", "web"],
])
def test_the_fast_entry_leaves_everything_else_to_click(argv):
    assert cli_fast.parse(argv) is None


def test_the_fast_entry_and_click_agree_on_the_defaults():
    options = {param.name: param.default for param in main.commands["start"].params}
    assert {key: options[key] for key in cli_fast.START_DEFAULTS} == cli_fast.START_DEFAULTS


def test_human_forms():
    assert cli_views.size(None) == "-"
    assert cli_views.size(512) == "512 B"
    assert cli_views.size(3 * 1024 * 1024 + 300 * 1024) == "3.3 MiB"
    assert cli_views.duration(4.25) == "4.2 s"
    assert cli_views.duration(3 * 86400 + 5 * 3600 + 7) == "3 d 5 h"
    assert cli_views.duration(61) == "1 min 1 s"
    assert cli_views.table(["A", "LONG"], [["xyz", None]]) == "A    LONG\nxyz  -"


def test_info_human_form_is_aligned_with_one_hierarchy_a_line():
    details = dict.fromkeys(cli_views.INFO_KEYS) | {
        "name": "web", "state": "RUNNING", "pid": 42, "started_at": 0, "uptime": 3725.0,
        "resources": {"memory.current": 5 << 20, "memory.peak": 6 << 20, "cpu.user": 1.5,
                      "cpu.system": 0.25, "io.read_bytes": 0, "io.write_bytes": 2048,
                      "pids.current": 3},
        "cgroup": {"layout": "v2", "hierarchies": {"": {"cgroup": "/hacontain/web"}}}}
    lines = cli_views.render_info(details).splitlines()
    assert len({line.index(line.split(":", 1)[1].strip()) for line in lines}) == 1, lines
    assert "uptime:" in lines[4] and lines[4].endswith("1 h 2 min")
    assert any(line.endswith("5.0 MiB (peak 6.0 MiB)") for line in lines)
    assert lines[-1].split() == ["unified:", "/hacontain/web"]


def test_the_pacemaker_resource_of_a_container_is_read_from_the_cib():
    cib = """<resources>
      <primitive id="web-res" class="ocf" provider="hacontain" type="container">
        <instance_attributes id="a"><nvpair id="n" name="name" value="web"/></instance_attributes>
      </primitive>
      <primitive id="ip" class="ocf" provider="heartbeat" type="IPaddr2">
        <instance_attributes id="b"><nvpair id="m" name="name" value="db"/></instance_attributes>
      </primitive></resources>"""
    assert cli_views.container_resources(cib) == {"web": "web-res"}
    assert cli_views.container_resources("not xml") == {}


def test_the_cib_is_queried_only_when_it_listens(tmp_path):
    cibadmin = tmp_path / "cibadmin"
    cibadmin.write_text("#!/bin/sh\n[ \"$*\" = '--query --scope resources' ] || exit 2\n"
                        "echo '<resources><primitive id=\"r1\" class=\"ocf\" "
                        "provider=\"hacontain\" type=\"container\"><instance_attributes "
                        "id=\"a\"><nvpair id=\"n\" name=\"name\" value=\"web\"/>"
                        "</instance_attributes></primitive></resources>'\n")
    cibadmin.chmod(0o755)
    (tmp_path / "net").mkdir()
    sockets = tmp_path / "net" / "unix"
    header = "Num       RefCount Protocol Flags    Type St Inode Path\n"
    sockets.write_text(header + "0000: 00000002 00000000 00010000 0001 01 1234 @other\n")
    assert cli_views.pacemaker_resources(str(tmp_path), str(cibadmin)) == {}
    sockets.write_text(header + "0000: 00000002 00000000 00010000 0001 01 1234 @cib_ro\n")
    assert cli_views.pacemaker_resources(str(tmp_path), str(cibadmin)) == {"web": "r1"}
    assert cli_views.pacemaker_resources(str(tmp_path), "/nonexistent") == {}


def test_man_pages_render_without_warnings(tmp_path):
    if shutil.which("groff") is None:
        pytest.fail("groff is missing (deploy/testbed.sh installs it)")
    pages = manpages.pages(main)
    assert set(pages) == {"hacontain.1"} | {f"hacontain-{name}.1" for name in main.commands}
    for name, text in pages.items():
        path = tmp_path / name
        path.write_text(text)
        result = subprocess.run(["groff", "-man", "-ww", "-z", str(path)], capture_output=True,
                                text=True)
        assert result.returncode == 0 and result.stderr == "", (name, result.stderr)
        if shutil.which("man") is not None:
            shown = subprocess.run(["man", "--warnings", "-l", "-P", "cat", str(path)],
                                   capture_output=True, text=True,
                                   env={**os.environ, "MANWIDTH": "80"})
            assert shown.returncode == 0 and shown.stderr == "", (name, shown.stderr)
    rendered = subprocess.run(["groff", "-man", "-Tutf8", str(tmp_path / "hacontain-cgroup.1")],
                              capture_output=True, text=True, check=True).stdout
    rendered = re.sub(".\b", "", rendered).replace("\u2010", "-").replace("\u2212", "-")
    assert "memory.limit_in_bytes" in rendered and "--json" in rendered


def test_completion_and_man_pages_are_installed(tmp_path):
    command = tmp_path / "bin" / "hacontain"
    result = run("install-cli", "--root", str(tmp_path), "--command", str(command))
    assert result.exit_code == 0, result.output
    completion = (tmp_path / "usr/share/bash-completion/completions/hacontain").read_text()
    assert "_HACONTAIN_COMPLETE" in completion
    assert subprocess.run(["bash", "-n", "-c", completion]).returncode == 0
    assert (tmp_path / "usr/local/share/man/man1/hacontain-start.1").is_file()
    text = command.read_text()
    assert text.startswith(f"#!{sys.executable} -SI\n") and "cli_fast import run" in text
    assert os.access(command, os.X_OK)
    listed = subprocess.run([str(command), "--help"], capture_output=True, text=True)
    assert listed.returncode == 0 and "install-cli" in listed.stdout
    words = subprocess.run([str(command)], capture_output=True, text=True,
                           env={**os.environ, "_HACONTAIN_COMPLETE": "bash_complete",
                                "COMP_WORDS": "hacontain cg", "COMP_CWORD": "1"})
    assert "cgroup" in words.stdout
    for name in ("web1", "web2", "db"):
        (tmp_path / "lxc" / name).mkdir(parents=True)
        (tmp_path / "lxc" / name / "config").write_text("lxc.uts.name = x\n")
    where = tmp_path / "lxc"
    for line in (f"hacontain -P {where} info we", f"hacontain stop -P {where} we"):
        names = subprocess.run([str(command)], capture_output=True, text=True,
                               env={**os.environ, "_HACONTAIN_COMPLETE": "bash_complete",
                                    "COMP_WORDS": line, "COMP_CWORD": "4"})
        assert names.stdout.split() == ["plain,web1", "plain,web2"], (line, names.stdout)


def test_the_readme_table_lists_exactly_the_commands_of_help():
    with open(README, encoding="utf-8") as handle:
        text = handle.read()
    section = text.split("## The CLI", 1)[1].split("\n## ", 1)[0]
    in_readme = set()
    for row in re.findall(r"^\| `hacontain ([^`]*)`", section, re.M):
        in_readme.update(row.split()[0].replace("\\", "").split("|"))
    listed = run("--help").output.split("Commands:", 1)[1]
    in_help = {line.split()[0] for line in listed.splitlines() if line.startswith("  ")
               and not line.startswith("   ")}
    assert in_readme == in_help == set(main.commands)


CONFIG = """# web server
lxc.uts.name = web
  lxc.net.0.type = empty   
# limits
lxc.cgroup2.memory.max = 256M
lxc.mount.entry = /a a none bind 0 0
lxc.mount.entry = /b b none bind 0 0
"""


@pytest.fixture
def config_dir(tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "config").write_text(CONFIG)
    (tmp_path / "web" / "config").chmod(0o640)
    return tmp_path


def test_config_reads_entries_and_keys(config_dir):
    where = str(config_dir)
    result = run("-P", where, "config", "web")
    assert result.output.splitlines()[:2] == ["lxc.uts.name = web", "lxc.net.0.type = empty"]
    assert run("-P", where, "config", "web", "lxc.mount.entry").output.splitlines() == \
        ["/a a none bind 0 0", "/b b none bind 0 0"]
    entries = json.loads(run("-P", where, "config", "web", "lxc.uts.name", "--json").output)
    assert entries == [{"key": "lxc.uts.name", "value": "web", "line": 2,
                        "path": str(config_dir / "web" / "config")}]
    missing = run("-P", where, "config", "web", "lxc.tty.max")
    assert missing.exit_code == 1 and "lxc.tty.max is not set" in missing.output


def test_config_sets_a_key_in_place_keeping_everything_else(config_dir):
    path = config_dir / "web" / "config"
    result = run("-P", str(config_dir), "config", "web", "lxc.net.0.type", "none")
    assert result.exit_code == 0 and result.output == f"{path}:3: lxc.net.0.type = none\n"
    assert path.read_text() == CONFIG.replace("  lxc.net.0.type = empty   ",
                                              "  lxc.net.0.type = none")
    run("-P", str(config_dir), "config", "web", "lxc.tty.max", "2")
    assert path.read_text().endswith("lxc.mount.entry = /b b none bind 0 0\nlxc.tty.max = 2\n")
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(os.listdir(config_dir / "web")) == ["config"]


@pytest.mark.parametrize("key,value,error", [
    ("lxc.uts.name", "bad name!", ":2: lxc.uts.name: invalid host name"),
    ("lxc.tty.max", "many", ":8: lxc.tty.max: "),
    ("lxc.no.such", "1", ":8: lxc.no.such: unknown"),
    ("lxc.mount.entry", "/c c none bind 0 0", "set on 2 lines"),
    ("lxc.uts.name", "two\nlines", "a value is one line"),
])
def test_config_refuses_a_bad_value_and_changes_nothing(config_dir, key, value, error):
    path = config_dir / "web" / "config"
    result = run("-P", str(config_dir), "config", "web", key, value)
    assert result.exit_code == 1 and error in result.output, result.output
    assert result.output.startswith("hacontain: error: ") and result.output.count("\n") == 1
    assert path.read_text() == CONFIG
    assert sorted(os.listdir(config_dir / "web")) == ["config"]


def test_config_refuses_a_key_set_in_an_include(config_dir):
    (config_dir / "common.conf").write_text("lxc.tty.max = 1\n")
    path = config_dir / "web" / "config"
    path.write_text(CONFIG + f"lxc.include = {config_dir / 'common.conf'}\n")
    result = run("-P", str(config_dir), "config", "web", "lxc.tty.max", "3")
    assert result.exit_code == 1 and "common.conf:1: lxc.tty.max: set in an included file" \
        in result.output


def test_id_ranges(tmp_path):
    from hacontain import cli_config
    from hacontain.errors import ConfigError
    assert cli_config.id_ranges("100000:65536") == ((100000, 65536), (100000, 65536))
    for spec in ("100000", "0:10", "1:0", "a:b", "١:2"):
        with pytest.raises(ConfigError, match="expected HOSTID:COUNT"):
            cli_config.id_ranges(spec)
    table = tmp_path / "subuid"
    table.write_text("alice:165536:65536\nroot:231072:65536\n")
    assert cli_config._subordinate(str(table)) == (231072, 65536)
    assert cli_config._subordinate(str(tmp_path / "none")) == (100000, 65536)


def test_a_bare_cgroup_file_gets_the_prefix_of_the_version_carrying_its_controller():
    from hacontain.runtime.cgroups.keys import bare_file_key

    def hybrid_v1(controller):
        return controller in ("memory", "cpu", "blkio")

    def hybrid_v2(controller):
        return controller == "cgroup"
    assert bare_file_key("memory.limit_in_bytes", hybrid_v1, hybrid_v2) == \
        "lxc.cgroup.memory.limit_in_bytes"
    assert bare_file_key("cgroup.procs", hybrid_v1, hybrid_v2) == "lxc.cgroup2.cgroup.procs"
    assert bare_file_key("memory.max", lambda c: False, lambda c: c == "memory") == \
        "lxc.cgroup2.memory.max"
    for unchanged in ("hacontain.limit.memory", "lxc.cgroup2.memory.max",
                      "lxc.cgroup.cpu.shares", "nosuch.file", "memory"):
        assert bare_file_key(unchanged, hybrid_v1, hybrid_v2) == unchanged


@pytest.mark.parametrize("command", ["install-agent", "install-cli"])
def test_an_install_below_a_root_it_cannot_write_is_a_one_line_error(tmp_path, command):
    root = tmp_path / "a-file"
    root.write_text("")
    result = run(command, "--root", str(root))
    assert result.exit_code == 1
    assert result.output.startswith(f"hacontain: error: cannot install below {root}: "), \
        result.output
    assert "Traceback" not in result.output and len(result.output.splitlines()) == 1
