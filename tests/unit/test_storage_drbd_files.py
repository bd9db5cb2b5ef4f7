"""storage.drbd: resource files in DRBD 8.4 and 9 syntax (checked by the real drbdadm
of each), and the state parsers on recorded output of both versions."""

import json
import os
import subprocess

import pytest

from hacontain.storage import drbd

NODES = [("node-a", "192.0.2.11", "/dev/vdb"), ("node-b", "192.0.2.12", "/dev/vdb")]
DRBDADM = {8: "/usr/lib/drbd/drbdadm-84", 9: "drbdadm"}

PROC_DRBD_84 = """version: 8.4.11 (api:1/proto:86-101)
srcversion: 211FB288A383ED945B83420
 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----
    ns:524288 nr:0 dw:0 dr:526392 al:8 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0
 1: cs:WFConnection ro:Secondary/Unknown ds:UpToDate/DUnknown C r-----
    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0
"""

STATUS_JSON_9 = json.dumps([{
    "name": "r0", "node-id": 0, "role": "Primary", "suspended": False,
    "devices": [{"volume": 0, "minor": 3, "disk-state": "UpToDate", "client": False,
                 "quorum": True, "size": 524236}],
    "connections": [{"peer-node-id": 1, "name": "node-b", "connection-state": "Connected",
                     "congested": False, "peer-role": "Secondary",
                     "peer_devices": [{"volume": 0, "peer-disk-state": "UpToDate"}]}]}])


@pytest.mark.parametrize("version", [(8, 4), (9, 2)])
def test_resource_file_parses_with_drbdadm_of_its_version(tmp_path, version):
    here = [(os.uname().nodename,) + NODES[0][1:], NODES[1]]   # drbdadm wants this host
    text = drbd.resource_file("r0", 0, 7789, here, version)
    path = drbd.write_resource("r0", text, str(tmp_path))
    dumped = subprocess.run([DRBDADM[version[0]], "-c", path, "dump", "r0"],
                            capture_output=True, text=True)
    assert dumped.returncode == 0, dumped.stderr
    assert "fencing" in dumped.stdout and "resource-and-stonith" in dumped.stdout
    assert ("node-id 1;" in dumped.stdout) == (version[0] == 9)
    assert ("crm-fence-peer.9.sh" in text) == (version[0] == 9)


def test_resource_file_needs_two_nodes():
    with pytest.raises(Exception, match="two nodes, not 1"):
        drbd.resource_file("r0", 0, 7789, NODES[:1], (9, 2))


def test_proc_drbd_84():
    states = drbd.parse_proc_drbd(PROC_DRBD_84)
    assert states[0] == {"cstate": "Connected", "role": "Primary", "peer_role": "Secondary",
                         "disk": "UpToDate", "peer_disk": "UpToDate"}
    assert (states[1]["cstate"], states[1]["role"], states[1]["peer_disk"]) == \
        ("WFConnection", "Secondary", "DUnknown")


def test_status_json_9():
    state = drbd.parse_status_json(STATUS_JSON_9)[3]
    assert (state["resource"], state["role"], state["disk"]) == ("r0", "Primary", "UpToDate")
    assert state["connections"] == {"node-b": ("Connected", "Secondary")}


def test_versions_and_roles_from_proc(tmp_path):
    proc = tmp_path / "drbd"
    proc.write_text(PROC_DRBD_84)
    assert drbd.kernel_version(str(proc), str(tmp_path / "none")) == (8, 4)
    assert drbd.local_role(0, str(proc)) == "Primary"
    assert drbd.local_role(1, str(proc)) == "Secondary"
    assert drbd.local_role(7, str(proc)) == "Unconfigured"
    assert drbd.local_role(0, str(tmp_path / "none")) == "Unconfigured"
