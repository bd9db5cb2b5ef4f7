"""hacontain.sys.proc against canned /proc files and this test's own process."""

import os

import pytest

from hacontain.sys import proc

STATUS = """Name:\tinit
State:\tS (sleeping)
SigBlk:\t0000000000000000
SigIgn:\t0000000000001000
SigCgt:\t0000000180004a07
CapBnd:\t000001fdfdfeffff
"""


@pytest.fixture
def canned(tmp_path):
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "status").write_text(STATUS)
    (tmp_path / "42" / "stat").write_text("42 (my (odd) init) S 0 1 1 0 -1 4194560 " +
                                          " ".join(["0"] * 12) + " 12345 0\n")
    return str(tmp_path)


def test_status_masks_reads_the_asked_hex_lines(canned):
    assert proc.status_masks(42, proc.SIGNAL_MASKS, canned) == \
        {"SigBlk": 0, "SigIgn": 0x1000, "SigCgt": 0x180004a07}
    assert proc.status_masks(42, ("CapBnd",), canned) == {"CapBnd": 0x1fdfdfeffff}
    with pytest.raises(proc.ProcessGone):
        proc.status_masks(43, ("CapBnd",), canned)


def test_stat_splits_after_the_last_parenthesis(canned):
    assert proc.stat(42, canned) == ("S", 0, 12345)
    assert proc.is_alive(42, 12345, canned) and not proc.is_alive(42, 1, canned)


def test_this_process_is_alive_with_its_own_start_time():
    assert proc.is_alive(os.getpid(), proc.start_time(os.getpid()))
    assert proc.status_masks(os.getpid(), ("CapBnd",))["CapBnd"] > 0
