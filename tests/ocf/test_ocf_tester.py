"""ocf-tester, the resource-agents conformance check, against the installed agent,
with its meta-data check against OCF 1.1 (see ocftester.py)."""

import os
import subprocess

import pytest
from ocftester import ocf_1_1_path as make_path
from ocftester import ocf_tester

NONCONFORMING = "does not conform"

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def ocf_1_1_path(tmp_path_factory):
    return make_path(str(tmp_path_factory.mktemp("ocf-1.1-xmllint")))


@pytest.mark.parametrize("where", ["lxcpath", "config"])
def test_ocf_tester_passes_all_tests(container, lxcpath, ocf_1_1_path, where):
    """With the container found through lxcpath, or through its config file alone."""
    ct, run = container()
    option = f"lxcpath={lxcpath}" if where == "lxcpath" else f"config={ct.config_path}"
    result = ocf_tester(run.agent, run.env(), ocf_1_1_path,
                        "-n", "t", "-o", f"name={ct.name}", "-o", option)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{run.agent} passed all tests" in result.stdout
    assert not ct.status().present, "ocf-tester ends with the container stopped"


def test_ocf_tester_passes_with_debug_logging(container, lxcpath, ocf_1_1_path, tmp_path):
    ct, run = container()
    env = run.env(HA_DEBUGLOG=tmp_path / "debug.log", HA_LOGFILE=tmp_path / "agent.log")
    result = ocf_tester(run.agent, env, ocf_1_1_path,
                        "-d", "-n", "t", "-o", f"name={ct.name}", "-o", f"lxcpath={lxcpath}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed all tests" in result.stdout
    assert f"container {ct.name} started" in (tmp_path / "agent.log").read_text()
    debug = (tmp_path / "debug.log").read_text()
    assert "DEBUG: " in debug and "halt grace" in debug


def test_the_meta_data_check_still_fails_bad_meta_data(ocf_1_1_path, tmp_path):
    """The replaced check can fail: meta-data without parameters and actions."""
    agent = tmp_path / "bad"
    agent.write_text("#!/bin/sh\n"
                     'if [ "$1" = meta-data ]; then\n'
                     "  echo '<resource-agent name=\"bad\"><version>1.1</version>"
                     "</resource-agent>'\n"
                     "  exit 0\n"
                     "fi\n"
                     "exit 3\n")
    agent.chmod(0o755)
    result = ocf_tester(str(agent), dict(os.environ), ocf_1_1_path, "-n", "t")
    assert result.returncode != 0
    assert NONCONFORMING in result.stdout, result.stdout


def test_our_meta_data_passes_the_replaced_check_but_not_the_dtd(agent, ocf_1_1_path):
    """What the shim changes, and only that: the DTD refuses OCF 1.1 attributes."""
    document = subprocess.run([agent, "meta-data"], capture_output=True, check=True).stdout

    def check(xmllint, path):
        return subprocess.run([xmllint, "--noout", "--valid", "-"], input=document,
                              env=dict(os.environ, PATH=path), capture_output=True,
                              cwd="/usr/share/resource-agents").returncode

    assert check("xmllint", ocf_1_1_path) == 0
    assert check("/usr/bin/xmllint", os.environ["PATH"]) != 0
