"""crmsh and pcs read the agent's meta-data as OCF 1.1: containers share an
lxcpath without forcing, a second resource with the same name is refused.
Offline, against a CIB file (CIB_file for crmsh, pcs -f)."""

import os
import subprocess

import pytest

pytestmark = pytest.mark.root

AGENT = "ocf:hacontain:container"
SHARED = "/srv/shared-lxcpath"


@pytest.fixture
def cib(tmp_path):
    """An empty CIB in a file, fencing off (nothing to verify it against)."""
    path = tmp_path / "cib.xml"
    path.write_bytes(subprocess.run(["cibadmin", "--empty"], capture_output=True,
                                    check=True).stdout)
    fencing_off = crm(path, "configure", "property", "stonith-enabled=false")
    assert fencing_off.returncode == 0, fencing_off.stderr
    return path


def crm(cib, *words):
    return subprocess.run(["crm", *words], env=dict(os.environ, CIB_file=str(cib)),
                          capture_output=True, text=True, timeout=120)


def pcs(cib, *words):
    return subprocess.run(["pcs", "-f", str(cib), *words], capture_output=True, text=True,
                          timeout=120)


def test_crmsh_commits_and_verifies_three_containers_on_one_lxcpath(agent, cib):
    for name in ("ct1", "ct2", "ct3"):
        result = crm(cib, "configure", "primitive", f"r_{name}", AGENT, "params",
                     f"name={name}", f"lxcpath={SHARED}", "memory=256M")
        assert result.returncode == 0, result.stderr
    result = crm(cib, "configure", "verify")
    assert result.returncode == 0, result.stderr
    assert "uniqueness" not in result.stdout + result.stderr
    shown = crm(cib, "configure", "show").stdout
    assert all(f"primitive r_{name} {AGENT}" in shown for name in ("ct1", "ct2", "ct3"))


def test_crmsh_refuses_a_second_resource_with_the_same_name(agent, cib):
    assert crm(cib, "configure", "primitive", "r_a", AGENT, "params", "name=ct1",
               f"lxcpath={SHARED}").returncode == 0
    result = crm(cib, "configure", "primitive", "r_b", AGENT, "params", "name=ct1",
                 "lxcpath=/srv/elsewhere")
    assert result.returncode != 0
    assert 'violate uniqueness for parameter "name"' in result.stdout + result.stderr
    assert "r_b" not in crm(cib, "configure", "show").stdout


def test_pcs_creates_three_containers_on_one_lxcpath_without_force(agent, cib):
    for name in ("ct1", "ct2", "ct3"):
        result = pcs(cib, "resource", "create", f"r_{name}", AGENT, f"name={name}",
                     f"lxcpath={SHARED}", "memory=256M")
        assert result.returncode == 0, result.stderr
    config = pcs(cib, "resource", "config")
    assert config.returncode == 0, config.stderr
    assert config.stdout.count(f"lxcpath={SHARED}") == 3


def test_pcs_refuses_a_second_resource_with_the_same_name(agent, cib):
    assert pcs(cib, "resource", "create", "r_a", AGENT, "name=ct1",
               f"lxcpath={SHARED}").returncode == 0
    result = pcs(cib, "resource", "create", "r_b", AGENT, "name=ct1", "lxcpath=/srv/elsewhere")
    assert result.returncode != 0
    assert "'name' is not unique" in result.stderr and "--force" in result.stderr
