"""install_agent, and what the installed agent costs to start."""

import os
import stat
import subprocess

import pytest

from hacontain.ocf.install import install_agent

HEAVY = ("click", "lxml", "psutil", "pyroute2", "re", "json", "dataclasses", "logging",
         "subprocess", "ctypes", "os", "hacontain.config", "hacontain.runtime.cgroups",
         "hacontain.ocf.agent")


@pytest.fixture
def installed(tmp_path):
    return install_agent(str(tmp_path))


def test_installs_executable_under_the_ocf_provider_directory(installed, tmp_path):
    assert installed == str(tmp_path / "usr/lib/ocf/resource.d/hacontain/container")
    assert stat.S_IMODE(os.stat(installed).st_mode) == 0o755
    assert install_agent(str(tmp_path)) == installed, "installing again replaces it"
    assert os.listdir(os.path.dirname(installed)) == ["container"]


def test_installed_script_runs_without_site_processing(installed):
    with open(installed, encoding="utf-8") as handle:
        first = handle.readline()
    assert first.startswith("#!/") and first.rstrip().endswith(" -SI")
    result = subprocess.run([installed, "meta-data"], capture_output=True, env={})
    assert result.returncode == 0, result.stderr
    assert b"<resource-agent name=\"container\"" in result.stdout


def imported(installed, env):
    """Modules the installed agent imports for a monitor (python -X importtime)."""
    with open(installed, encoding="utf-8") as handle:
        python, flags = handle.readline()[2:].split()
    result = subprocess.run([python, flags, "-X", "importtime", installed, "monitor"],
                            env=env, capture_output=True, text=True)
    names = {line.split("|")[-1].strip() for line in result.stderr.splitlines()
             if line.startswith("import time:")}
    return result.returncode, names


def test_a_depth_0_monitor_imports_only_what_it_needs(installed, rundir):
    """A stopped container (a probe, or a monitor of a stopped resource) too."""
    env = {"OCF_RESKEY_name": "absent", "OCF_RESKEY_lxcpath": "/srv/lxc",
           "HACONTAIN_RUNDIR": str(rundir), "OCF_RESKEY_CRM_meta_interval": "0"}
    code, names = imported(installed, env)
    assert code == 7
    assert "hacontain.ocf.quickstatus" in names
    assert not names & set(HEAVY), names & set(HEAVY)
    assert not any(name.startswith(("click", "lxml", "psutil", "pyroute2")) for name in names)


@pytest.mark.root
def test_a_depth_0_monitor_of_a_running_container_is_cheap(container, installed):
    ct, run = container()
    assert run("start").returncode == 0
    code, names = imported(installed, run.env())
    assert code == 0
    assert not names & set(HEAVY), names & set(HEAVY)


@pytest.mark.root
@pytest.mark.parametrize("running", [True, False])
def test_a_depth_0_monitor_starts_no_process(container, installed, tmp_path, running):
    ct, run = container()
    if running:
        assert run("start").returncode == 0
    trace = tmp_path / "trace"
    result = subprocess.run(["strace", "-f", "-qq", "-e", "trace=process", "-o", str(trace),
                             installed, "monitor"], env=run.env(), capture_output=True)
    assert result.returncode == (0 if running else 7)
    calls = [line.split(None, 1)[1].split("(")[0] for line in trace.read_text().splitlines()]
    assert calls.count("execve") == 1, calls
    assert not {"fork", "vfork", "clone", "clone3"} & set(calls), calls
