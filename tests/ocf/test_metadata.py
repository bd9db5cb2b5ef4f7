"""The meta-data: valid against ra-api-1.dtd, complete, and what Pacemaker needs."""

import subprocess

import pytest
from lxml import etree

from hacontain.ocf import metadata
from hacontain.ocf.params import PARAMETERS

DTD = "/usr/share/resource-agents/ra-api-1.dtd"


@pytest.fixture(scope="module")
def document():
    return metadata.build()


def test_valid_against_the_dtd_with_lxml(document):
    with open(DTD, "rb") as handle:
        dtd = etree.DTD(handle)
    root = etree.fromstring(document)
    assert dtd.validate(root), dtd.error_log.filter_from_errors()


def test_valid_for_xmllint_as_ocf_tester_runs_it(document):
    result = subprocess.run(["xmllint", "--noout", "--valid", "-"], input=document,
                            cwd="/usr/share/resource-agents", capture_output=True)
    assert result.returncode == 0, result.stderr.decode()


def test_invalid_documents_are_caught():
    """The check above can fail: an element out of DTD order is rejected."""
    with open(DTD, "rb") as handle:
        dtd = etree.DTD(handle)
    root = etree.fromstring(metadata.build())
    root.insert(0, root.find("actions"))
    assert not dtd.validate(root)


def test_every_parameter_is_described(document):
    root = etree.fromstring(document)
    described = {p.get("name"): p for p in root.iter("parameter")}
    assert list(described) == [parameter.name for parameter in PARAMETERS]
    for parameter in PARAMETERS:
        element = described[parameter.name]
        assert element.get("unique") == ("1" if parameter.unique else "0")
        assert element.get("required") == ("1" if parameter.required else "0")
        assert len(element.findtext("longdesc")) > 60
        assert element.find("content").get("type") == parameter.kind
    assert described["name"].get("required") == "1"
    assert described["lxcpath"].find("content").get("default") == "/var/lib/hacontain"


def test_actions_advertise_the_monitor_depths_and_reload(document):
    root = etree.fromstring(document)
    actions = root.find("actions").findall("action")
    monitors = [a for a in actions if a.get("name") == "monitor"]
    assert sorted(a.get("depth") for a in monitors) == ["0", "10", "20"]
    assert len({a.get("interval") for a in monitors}) == 3
    names = {a.get("name") for a in actions}
    assert {"start", "stop", "reload", "validate-all", "meta-data"} <= names
    assert not names & {"migrate_to", "migrate_from", "notify", "reload-agent"}
    assert all(a.get("timeout", "").endswith("s") for a in actions)
    assert root.findtext("version") == "1.0"
    assert "reloadable" not in document.decode()


def test_real_longdesc(document):
    root = etree.fromstring(document)
    text = root.findtext("longdesc")
    for word in ("start", "stop", "monitor", "reload", "depth 10", "depth 20", "migrat"):
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
