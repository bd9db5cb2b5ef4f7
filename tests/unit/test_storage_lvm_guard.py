"""storage.lvm's exclusivity guard on `vgs`/`lvs` JSON reports and `lvmlockctl --info`
output in the form the VM image's lvm 2.03.16 prints them: the VG's system ID against this
node's, and in lvmlockd mode (a shared VG: dlm, sanlock) the lock of the LV (of a thin
LV's pool, of a thick snapshot's origin) held exclusively by this node's lvmlockd. Both
run for real in tests/vm/test_storage_lvm_systemid.py and tests/vm/test_storage_lvmlockd.py
(two VMs on one shared disk, sanlock)."""

import pytest

from hacontain.errors import CommandError
from hacontain.storage import backends, lvm

LVS = [{"lv_name": "web", "lv_uuid": "dbKdyF-8ls9-XBo6-us6a-wO7w-v9jE-yN3TPm", "pool_lv": "",
        "origin": ""},
       {"lv_name": "pool", "lv_uuid": "Q1pIdo-cUeX-3Wzs-rTzr-WRlw-mYK2-ZLr1Hn", "pool_lv": "",
        "origin": ""},
       {"lv_name": "thin", "lv_uuid": "kq9bTn-MfPq-8Jsz-JI3K-d3dl-2cXw-oZ1cUo", "pool_lv": "pool",
        "origin": ""},
       {"lv_name": "websnap", "lv_uuid": "n1fR2e-1c6c-YpTk-RbJH-dHpP-2WGh-9fhpuA", "pool_lv": "",
        "origin": "web"}]
INFO = ("VG ha lock_type={} ZXBQ5e-0esx-L47b-g3q0-o3kZ-bRZB-yNq93D\n"
        "LS {} lvm_ha\n"
        "LK VG un ver 4\n")


def info(lock_type, **locks):
    """lvmlockctl --info of a node holding `locks` (LV name -> mode)."""
    uuids = {row["lv_name"]: row["lv_uuid"] for row in LVS}
    return INFO.format(lock_type, lock_type) + "".join(
        f"LK LV {mode} {uuids[name]}\n" for name, mode in locks.items())


@pytest.fixture
def node(monkeypatch):
    """Set the VG row, this node's system ID and lvmlockctl's answer the guard reads."""
    state = {"vg": {}, "systemid": "", "lvmlockctl": ""}

    def run_json(argv, what=None):
        rows = {"vg": [state["vg"]]} if argv[0] == "vgs" else {"lv": LVS}
        return {"report": [rows]}

    def run(argv, what=None):
        if argv[0] == "lvmlockctl":
            if isinstance(state["lvmlockctl"], Exception):
                raise state["lvmlockctl"]
            return state["lvmlockctl"]
        return f"  system ID: {state['systemid']}\n"

    monkeypatch.setattr(lvm, "run_json", run_json)
    monkeypatch.setattr(lvm, "run", run)
    return state


def test_own_or_no_system_id_passes(node):
    node.update(vg={"vg_name": "ha", "vg_systemid": "", "vg_lock_type": ""})
    lvm.check_exclusive("ha", "web", "lvm:/dev/ha/web")
    node.update(vg={"vg_name": "ha", "vg_systemid": "node-a", "vg_lock_type": ""},
                systemid="node-a")
    lvm.check_exclusive("ha", "web", "lvm:/dev/ha/web")


def test_another_system_id_is_refused_node_locally(node):
    node.update(vg={"vg_name": "ha", "vg_systemid": "node-b", "vg_lock_type": ""},
                systemid="node-a")
    with pytest.raises(backends.VolumeBusy, match="VG ha belongs to system ID node-b, "
                       r"not this node's \(node-a\)"):
        lvm.check_exclusive("ha", "web", "lvm:/dev/ha/web")


@pytest.mark.parametrize("lock_type", ["dlm", "sanlock"])
def test_shared_vg_needs_this_nodes_exclusive_lock(node, lock_type):
    node["vg"] = {"vg_name": "ha", "vg_systemid": "", "vg_lock_type": lock_type}
    for held in ({"web": "sh"}, {"web": "un"}, {}, {"pool": "ex"}):
        node["lvmlockctl"] = info(lock_type, **held)
        with pytest.raises(backends.VolumeBusy, match=r"rootfs lvm:/dev/ha/web: LV ha/web is "
                           r"not active exclusively on this node \(lvmlockd: activate it with "
                           r"-aey\)"):
            lvm.check_exclusive("ha", "web", "lvm:/dev/ha/web")
    node["lvmlockctl"] = info(lock_type, web="ex")
    lvm.check_exclusive("ha", "web", "lvm:/dev/ha/web")


def test_thin_lv_and_thick_snapshot_go_by_the_lock_that_covers_them(node):
    node["vg"] = {"vg_name": "ha", "vg_systemid": "", "vg_lock_type": "sanlock"}
    node["lvmlockctl"] = info("sanlock", pool="ex", web="ex")
    lvm.check_exclusive("ha", "thin", "lvm:/dev/ha/thin")
    lvm.check_exclusive("ha", "websnap", "lvm:/dev/ha/websnap")
    node["lvmlockctl"] = info("sanlock", web="ex", thin="ex")
    with pytest.raises(backends.VolumeBusy, match="LV ha/thin is not active exclusively"):
        lvm.check_exclusive("ha", "thin", "lvm:/dev/ha/thin")


def test_lvmlockd_not_answering_is_refused_node_locally(node):
    node["vg"] = {"vg_name": "ha", "vg_systemid": "", "vg_lock_type": "sanlock"}
    node["lvmlockctl"] = CommandError(["lvmlockctl", "--info"], 255,
                                      "/run/lvm/lvmlockd.socket: connect failed: "
                                      "Connection refused\n")
    with pytest.raises(backends.VolumeBusy, match="LV ha/web is in shared VG ha, but this "
                       "node's lvmlockd does not answer .lvmlockctl --info exited with 255: "
                       "/run/lvm/lvmlockd.socket: connect failed: Connection refused"):
        lvm.check_exclusive("ha", "web", "lvm:/dev/ha/web")
