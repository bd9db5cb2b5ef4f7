"""The meta-data: valid OCF 1.1 (the schema from the OCF specification),
complete, and what Pacemaker needs to reload or restart."""

import os
import subprocess

import pytest
from lxml import etree

from hacontain.ocf import metadata
from hacontain.ocf.params import PARAMETERS

SCHEMA = os.path.join(os.path.dirname(__file__), "ocf-1.1", "ra-api.rng")
PACEMAKER_DUMMY = "/usr/lib/ocf/resource.d/pacemaker/Dummy"
RESTART = {"name", "lxcpath", "config"}


@pytest.fixture(scope="module")
def document():
    return metadata.build()


@pytest.fixture(scope="module")
def schema():
    return etree.RelaxNG(etree.parse(SCHEMA))


def test_valid_against_the_ocf_1_1_schema(document, schema):
    root = etree.fromstring(document)
    assert schema.validate(root), schema.error_log.filter_from_errors()
    assert root.findtext("version") == "1.1"


def test_valid_for_xmllint_with_the_schema(document):
    """As ocf-tester's meta-data check runs in tests/ocf/test_ocf_tester.py."""
    result = subprocess.run(["xmllint", "--noout", "--relaxng", SCHEMA, "-"], input=document,
                            capture_output=True)
    assert result.returncode == 0, result.stderr.decode()


@pytest.mark.parametrize("damage", ["actions first", "reloadable=yes", "no content"])
def test_invalid_documents_are_caught(schema, damage):
    """The check above can fail."""
    root = etree.fromstring(metadata.build())
    if damage == "actions first":
        root.insert(1, root.find("actions"))
    elif damage == "reloadable=yes":
        root.find("parameters/parameter").set("reloadable", "yes")
    else:
        parameter = root.find("parameters/parameter")
        parameter.remove(parameter.find("content"))
    assert not schema.validate(root)


@pytest.mark.skipif(not os.path.exists(PACEMAKER_DUMMY), reason="pacemaker is not installed")
def test_pacemakers_own_ocf_1_1_agent_passes_the_same_schema(schema):
    """The schema is the one Pacemaker's agents are written to (ra-api-1.dtd rejects them)."""
    output = subprocess.run([PACEMAKER_DUMMY, "meta-data"], capture_output=True, check=True,
                            env={"OCF_ROOT": "/usr/lib/ocf"}).stdout
    assert schema.validate(etree.fromstring(output)), schema.error_log.filter_from_errors()


def test_every_parameter_is_described(document):
    root = etree.fromstring(document)
    described = {p.get("name"): p for p in root.iter("parameter")}
    assert list(described) == [parameter.name for parameter in PARAMETERS]
    for parameter in PARAMETERS:
        element = described[parameter.name]
        assert element.get("required") == ("1" if parameter.required else "0")
        assert len(element.findtext("longdesc")) > 60
        assert element.find("content").get("type") == parameter.kind
    assert described["name"].get("required") == "1"
    assert described["lxcpath"].find("content").get("default") == "/var/lib/hacontain"


def test_only_the_name_must_differ_between_resources(document):
    """Containers may share an lxcpath or anything else; unique="1" for crmsh, which
    does not read unique-group."""
    root = etree.fromstring(document)
    groups = {p.get("name"): p.get("unique-group") for p in root.iter("parameter")
              if p.get("unique-group")}
    assert groups == {"name": "name"}
    assert [p.get("name") for p in root.iter("parameter") if p.get("unique") == "1"] == ["name"]


def test_everything_but_the_identity_is_reloadable(document):
    root = etree.fromstring(document)
    reloadable = {p.get("name") for p in root.iter("parameter") if p.get("reloadable") == "1"}
    assert reloadable == {parameter.name for parameter in PARAMETERS} - RESTART
    assert {"memory", "cpu_weight", "cpu_quota", "cpuset_cpus", "pids"} <= reloadable


def test_actions_advertise_the_monitor_depths_and_reload_agent(document):
    root = etree.fromstring(document)
    actions = root.find("actions").findall("action")
    monitors = [a for a in actions if a.get("name") == "monitor"]
    assert sorted(a.get("depth") for a in monitors) == ["0", "10", "20"]
    assert len({a.get("interval") for a in monitors}) == 3
    names = {a.get("name") for a in actions}
    assert {"start", "stop", "reload-agent", "reload", "validate-all", "meta-data"} <= names
    assert not names & {"migrate_to", "migrate_from", "notify"}
    assert all(a.get("timeout", "").endswith("s") for a in actions)


def test_real_longdesc(document):
    root = etree.fromstring(document)
    text = root.findtext("longdesc")
    for word in ("start", "stop", "monitor", "reload-agent", "depth 10", "depth 20", "migrat"):
        assert word in text


def test_parses_from_text_as_crmsh_reads_it(document):
    """crmsh joins the lines into a str: lxml refuses one whose declaration names an encoding."""
    assert etree.fromstring(document.decode("utf-8")).get("name") == "container"


@pytest.mark.root
def test_crm_ra_info_shows_the_documentation(agent):
    result = subprocess.run(["crm", "ra", "info", "ocf:hacontain:container"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "(ocf:hacontain:container)" in result.stdout
    assert "monitor_cmd" in result.stdout and "depth=20" in result.stdout.replace(" ", "")
