"""storage.lvm's exclusivity guard on recorded `vgs`/`lvs` JSON reports: the VG's system
ID against this node's, and in lvmlockd mode (a shared VG: dlm, sanlock) the LV active
exclusively here. The system ID case runs for real in tests/vm/test_storage_lvm_systemid.py
(which also checks the recorded lv_active_exclusively value); a shared VG needs lvmlockd
and a lock manager, which the VM image does not have."""

import json

import pytest

from hacontain.storage import backends, lvm


def report(kind, **row):
    return {"report": [{kind: [row]}]}


@pytest.fixture
def lvm_reports(monkeypatch):
    """Set the VG row, LV row and local system ID the guard reads."""
    state = {"vg": {}, "lv": {}, "systemid": ""}

    def run_json(argv, what=None):
        kind = "vg" if argv[0] == "vgs" else "lv"
        return json.loads(json.dumps(report(kind, **state[kind])))

    monkeypatch.setattr(lvm, "run_json", run_json)
    monkeypatch.setattr(lvm, "run", lambda argv, what=None: f"  system ID: {state['systemid']}\n")
    return state


def test_own_or_no_system_id_passes(lvm_reports):
    lvm_reports.update(vg={"vg_name": "ha", "vg_systemid": "", "vg_lock_type": ""})
    lvm.check_exclusive("ha", "web", "lvm:/dev/ha/web")
    lvm_reports.update(vg={"vg_name": "ha", "vg_systemid": "node-a", "vg_lock_type": ""},
                       systemid="node-a")
    lvm.check_exclusive("ha", "web", "lvm:/dev/ha/web")


def test_another_system_id_is_refused_node_locally(lvm_reports):
    lvm_reports.update(vg={"vg_name": "ha", "vg_systemid": "node-b", "vg_lock_type": ""},
                       systemid="node-a")
    with pytest.raises(backends.VolumeBusy, match="VG ha belongs to system ID node-b, "
                       r"not this node's \(node-a\)"):
        lvm.check_exclusive("ha", "web", "lvm:/dev/ha/web")


@pytest.mark.parametrize("lock_type", ["dlm", "sanlock"])
def test_shared_vg_needs_the_lv_active_exclusively(lvm_reports, lock_type):
    lvm_reports.update(vg={"vg_name": "ha", "vg_systemid": "", "vg_lock_type": lock_type},
                       lv={"lv_active_exclusively": ""})
    with pytest.raises(backends.VolumeBusy, match="not active exclusively on this node "
                       r"\(lvmlockd: activate it with -aey\)"):
        lvm.check_exclusive("ha", "web", "lvm:/dev/ha/web")
    lvm_reports["lv"] = {"lv_active_exclusively": "active exclusively"}
    lvm.check_exclusive("ha", "web", "lvm:/dev/ha/web")
