"""ocf-tester, the resource-agents conformance check, against the installed agent."""

import subprocess

import pytest

pytestmark = pytest.mark.root


@pytest.mark.parametrize("where", ["lxcpath", "config"])
def test_ocf_tester_passes_all_tests(container, lxcpath, where):
    """With the container found through lxcpath, or through its config file alone."""
    ct, run = container()
    env = run.env()
    for key in [key for key in env if key.startswith("OCF_RESKEY_")]:
        del env[key]                                  # ocf-tester sets them from -o
    option = f"lxcpath={lxcpath}" if where == "lxcpath" else f"config={ct.config_path}"
    result = subprocess.run(["ocf-tester", "-n", "t", "-o", f"name={ct.name}", "-o", option,
                             run.agent], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{run.agent} passed all tests" in result.stdout
    assert not ct.status().present, "ocf-tester ends with the container stopped"


def test_ocf_tester_passes_with_debug_logging(container, lxcpath, tmp_path):
    ct, run = container()
    env = run.env(HA_DEBUGLOG=tmp_path / "debug.log", HA_LOGFILE=tmp_path / "agent.log")
    for key in [key for key in env if key.startswith("OCF_RESKEY_")]:
        del env[key]
    result = subprocess.run(
        ["ocf-tester", "-d", "-n", "t", "-o", f"name={ct.name}", "-o", f"lxcpath={lxcpath}",
         run.agent], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed all tests" in result.stdout
    assert f"container {ct.name} started" in (tmp_path / "agent.log").read_text()
    debug = (tmp_path / "debug.log").read_text()
    assert "DEBUG: " in debug and "halt grace" in debug
