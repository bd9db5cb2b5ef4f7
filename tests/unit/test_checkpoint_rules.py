"""The checkpoint rules that need no criu: the planned-stop signal's reading of
crm_failcount, the metadata marker, the external mounts of masked directories.
Checkpoint and restore themselves: tests/vm/guest/test_checkpoint.py."""

import json
import os

import pytest

from hacontain.errors import NotFound
from hacontain.ocf import checkpoint_move
from hacontain.ocf.params import Params
from hacontain.runtime import checkpoint


def test_failcount_is_read_from_crm_failcount_output():
    assert checkpoint_move._failcount("scope=status  name=fail-count-ct value=0\n") == "0"
    assert checkpoint_move._failcount("scope=status  name=fail-count-ct value=INFINITY") \
        == "INFINITY"
    assert checkpoint_move._failcount("Error performing operation: No such device") is None


def test_a_stop_outside_pacemaker_is_not_planned(monkeypatch):
    monkeypatch.delenv("OCF_RESOURCE_INSTANCE", raising=False)
    monkeypatch.delenv("OCF_RESKEY_CRM_meta_on_node", raising=False)
    planned, why = checkpoint_move.planned(Params({"OCF_RESKEY_name": "ct"}))
    assert not planned and "not run by Pacemaker" in why


def test_the_fail_count_decides(monkeypatch, tmp_path):
    script = tmp_path / "crm_failcount"
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("OCF_RESOURCE_INSTANCE", "ct:1")
    monkeypatch.setenv("OCF_RESKEY_CRM_meta_on_node", "node1")
    params = Params({"OCF_RESKEY_name": "ct"})
    for output, expected in (("value=0", True), ("value=2", False), ("value=INFINITY", False)):
        script.write_text(f"#!/bin/sh\n[ \"$3\" = ct ] && [ \"$5\" = node1 ] && "
                          f"echo 'scope=status  name=fail-count-ct {output}'\n")
        script.chmod(0o755)
        assert checkpoint_move.planned(params)[0] is expected, output
    script.write_text("#!/bin/sh\necho 'cannot connect to the CIB' >&2; exit 102\n")
    planned, why = checkpoint_move.planned(params)
    assert not planned and "cannot connect to the CIB" in why


def test_checkpoint_on_move_is_a_boolean():
    assert Params({"OCF_RESKEY_checkpoint_on_move": "yes"}).checkpointing()
    assert not Params({}).checkpointing()
    with pytest.raises(Exception, match="checkpoint_on_move: 'maybe' is not a boolean"):
        Params({"OCF_RESKEY_checkpoint_on_move": "maybe"}).checkpointing()


def test_no_marker_means_no_checkpoint(tmp_path):
    (tmp_path / "images").mkdir()                      # a dump that did not finish
    with pytest.raises(NotFound, match="no checkpoint in"):
        checkpoint.read_metadata(str(tmp_path))
    (tmp_path / "checkpoint.json").write_text(json.dumps({"format": 1}))
    with pytest.raises(checkpoint.StaleCheckpoint, match="not this version's"):
        checkpoint.read_metadata(str(tmp_path))


def test_masked_directories_are_found_in_mountinfo(tmp_path, monkeypatch):
    lines = [
        "43 32 0:24 /c/rootfs / rw,relatime - tmpfs tmpfs rw",
        "58 44 0:29 / /proc/acpi ro,nosuid,nodev,noexec,relatime - tmpfs none ro,size=0k",
        "59 43 0:30 / /sys ro,nosuid - sysfs sysfs rw",
        "60 59 0:31 / /sys/firmware ro,nosuid - tmpfs none ro,size=0k",
        "61 43 0:32 / /dev rw,nosuid - tmpfs none rw,size=500k",
        "54 44 0:5 /null /proc/kallsyms rw,relatime - devtmpfs devtmpfs rw",
    ]
    real_open = open
    info = tmp_path / "mountinfo"
    info.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(
        info if path == "/proc/7/mountinfo" else path, *a, **k))
    assert checkpoint._masks(7) == ["/proc/acpi", "/sys/firmware"]
    assert checkpoint.mask_key("/proc/acpi") == "mask-proc-acpi"


def test_a_start_without_a_checkpoint_logs_the_cold_start(tmp_path, monkeypatch):
    """After a crash there is no checkpoint: the agent's log says why it starts cold."""
    logfile = tmp_path / "agent.log"
    monkeypatch.setenv("HA_LOGFILE", str(logfile))
    monkeypatch.setenv("HA_LOGFACILITY", "none")
    params = Params({"OCF_RESKEY_name": "ct",
                     "OCF_RESKEY_checkpoint_dir": str(tmp_path / "none-here")})
    assert checkpoint_move.restore_at_start(params, None, None, 10.0) is None
    assert f"container ct: cold start: no checkpoint in {tmp_path / 'none-here'}" \
        in logfile.read_text()


def test_crm_failcount_gets_the_time_it_is_given(monkeypatch, tmp_path):
    """On a loaded node crm_failcount takes seconds: a timeout makes the stop unplanned,
    a longer one (a share of the checkpoint's budget) waits for its answer."""
    script = tmp_path / "crm_failcount"
    script.write_text("#!/bin/sh\nsleep 1\necho 'scope=status  name=fail-count-ct value=0'\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("OCF_RESOURCE_INSTANCE", "ct")
    monkeypatch.setenv("OCF_RESKEY_CRM_meta_on_node", "node1")
    params = Params({"OCF_RESKEY_name": "ct"})
    planned, why = checkpoint_move.planned(params, timeout=0.2)
    assert not planned and "timed out" in why
    assert checkpoint_move.planned(params, timeout=10)[0]
