"""Fixtures for the agent's tests: the installed agent, a runner for its
actions, and busybox containers whose cgroups are checked at teardown.

Builds on tests/conftest.py (private LXCPATH/RUNDIR, make_container, the
root marker, the session leak check).
"""

import os
import subprocess

import pytest

AGENT = "/usr/lib/ocf/resource.d/hacontain/container"
OCF_ROOT = "/usr/lib/ocf"


@pytest.fixture(scope="session")
def agent():
    """The agent installed where Pacemaker, ocf-tester and crm_resource look for it."""
    if os.geteuid() != 0:
        pytest.skip("installing the agent needs root")
    from hacontain.ocf.install import install_agent
    return install_agent("/")


class Runner:
    """Runs actions of the installed agent with OCF_RESKEY_* from `params`."""

    def __init__(self, agent, params):
        self.agent, self.params = agent, dict(params)

    def env(self, **extra):
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("OCF_", "HA_"))}
        env["OCF_ROOT"] = OCF_ROOT
        env["OCF_RESOURCE_INSTANCE"] = self.params.get("name", "test")
        env.update({f"OCF_RESKEY_{key}": str(value) for key, value in self.params.items()})
        env.update({key: str(value) for key, value in extra.items()})
        return env

    def __call__(self, action, **extra):
        """CompletedProcess of `action`; `extra` are environment variables."""
        return subprocess.run([self.agent, action], env=self.env(**extra), capture_output=True,
                              text=True, timeout=120)


@pytest.fixture
def run_agent(agent):
    """Factory: Runner(params) for the installed agent."""
    return lambda **params: Runner(agent, params)


@pytest.fixture
def container(make_container, lxcpath, run_agent):
    """A stopped busybox container and a Runner for it; its cgroup is checked at teardown."""
    made = []

    def factory(extra=(), **params):
        ct = make_container(extra)
        made.append(ct)
        return ct, run_agent(name=ct.name, lxcpath=str(lxcpath), **params)

    yield factory
    from hacontain.runtime.cgroups import open_cgroup
    for ct in made:
        ct.stop(timeout=0, kill=True)
        assert not open_cgroup(ct.name).exists(), f"{ct.name} left its cgroup behind"


@pytest.fixture
def reasons():
    """Function: the ocf-exit-reason texts a run printed."""
    return lambda result: [line.split(":", 1)[1] for line in result.stderr.splitlines()
                           if line.startswith("ocf-exit-reason:")]
