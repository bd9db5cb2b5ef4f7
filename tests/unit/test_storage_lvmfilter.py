"""storage.lvmfilter: LVM's device filters (as `lvmconfig --typeconfig full` prints them,
recorded from lvm 2.03.16 and checked against this host's lvmconfig) against the DRBD
backing disks, as checkconfig warns."""

import subprocess

import pytest

from hacontain.storage import lvmfilter

DEFAULTS = 'global_filter=["a|.*|"]\nfilter=["a|.*|"]\nscan_lvs=0\n'
DRBD_FILTER = 'global_filter=["a|^/dev/drbd.*|","r|^/dev/vdb$|"]\nfilter=["a|.*|"]\nscan_lvs=0\n'
VDB = {"/dev/vdb": ["/dev/block/254:16", "/dev/disk/by-path/virtio-pci-0000:00:05.0",
                    "/dev/vdb"]}


def warnings(text, backing=VDB, drbd_present=False):
    return lvmfilter.warnings(backing, lvmfilter.read_config(text), drbd_present)


def test_read_config_of_real_lvmconfig_output():
    """The recorded form is what this host's lvmconfig prints (arrays, a single string,
    escapes, a number)."""
    setting = ('devices { global_filter = [ "a|^/dev/drbd.*|", "r|^/dev/vd\\\\d$|" ] '
               'filter = "r|/dev/sdb|" scan_lvs = 0 }')
    printed = subprocess.run(["lvmconfig", "--config", setting, "--typeconfig", "full",
                              *lvmfilter.KEYS], capture_output=True, text=True, check=True)
    assert lvmfilter.read_config(printed.stdout) == {
        "global_filter": ["a|^/dev/drbd.*|", "r|^/dev/vd\\d$|"], "filter": ["r|/dev/sdb|"],
        "scan_lvs": 0}


def test_default_filter_warns_naming_the_disk_and_the_fix():
    [warning] = warnings(DEFAULTS)
    assert "DRBD backing disk /dev/vdb is not rejected" in warning
    assert 'global_filter = [ "a|^/dev/drbd.*|", "r|^/dev/vdb$|" ]' in warning


@pytest.mark.parametrize("text", [
    DRBD_FILTER,
    'global_filter=["a|.*|"]\nfilter=["a|^/dev/drbd|","r|.*|"]\n',     # filter alone does
    'global_filter=["r|/dev/disk/by-path/virtio-pci-0000:00:05.0|"]\nfilter=["a|.*|"]\n',
    'global_filter="r|^/dev/vd[a-z]$|"\n',                             # a single string
])
def test_a_filter_rejecting_the_backing_disk_by_any_name_is_enough(text):
    assert warnings(text) == []


@pytest.mark.parametrize("text", [
    'global_filter=["a|/dev/block/|","r|^/dev/vdb$|"]\n',   # another name accepted
    'global_filter=["r|^/dev/vdb$|","a|.*|"]\n',            # ...by the accept-all
    'global_filter=["r|^/dev/vdc$|","a|.*|"]\n',            # rejects another disk only
    'global_filter=["a|.*|","r|^/dev/vdb$|"]\n',            # the accept-all comes first
])
def test_a_filter_that_still_accepts_the_backing_disk_warns(text):
    assert len(warnings(text)) == 1


def test_drbd_devices_of_unknown_backing_warn_only_when_nothing_is_rejected():
    [warning] = warnings(DEFAULTS, backing={}, drbd_present=True)
    assert "DRBD devices exist" in warning and "reject no device" in warning
    assert warnings(DRBD_FILTER, backing={}, drbd_present=True) == []
    assert warnings(DEFAULTS, backing={}) == []


def test_first_match_takes_any_delimiter_and_skips_malformed_patterns():
    assert lvmfilter.first_match(["r#^/dev/sd#", "a|.*|"], "/dev/sda") == "r"
    assert lvmfilter.first_match(["x|.*|", "r|(|", "a/x/"], "/dev/sda") is None
