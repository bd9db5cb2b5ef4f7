"""security/cgroup_files: the writable files of a container's own cgroup, scanned
once a boot per hierarchy and listing, then taken from RUNDIR/cgroup-files. Plain
directories stand in for cgroups here (the scan reads modes only); the real
hierarchies are in tests/integration/test_containment.py."""

import json
import os

import pytest

from hacontain.runtime.security import cgroup_files

VIEW = ("memory", "cgroup", "memory")


@pytest.fixture
def cgroup(tmp_path, monkeypatch):
    """A directory like a cgroup's: two writable files, one read-only; a boot id file."""
    monkeypatch.setenv("HACONTAIN_RUNDIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    boot = tmp_path / "boot_id"
    boot.write_text("boot-1\n")
    monkeypatch.setattr(cgroup_files, "BOOT_ID", str(boot))
    directory = tmp_path / "cgroup"
    directory.mkdir()
    for name, mode in (("memory.max", 0o644), ("cgroup.procs", 0o644), ("memory.stat", 0o444)):
        (directory / name).write_text("")
        os.chmod(directory / name, mode)
    return directory


def record(cgroup):
    return cgroup.parent / "run" / cgroup_files.RECORD


def test_the_first_start_scans_and_records(cgroup):
    assert cgroup_files.writable([VIEW], [str(cgroup)]) == [("cgroup.procs", "memory.max")]
    content = json.loads(record(cgroup).read_text())
    assert content["boot"] == "boot-1"
    assert list(content["files"].values()) == [["cgroup.procs", "memory.max"]]


def test_the_same_listing_is_taken_from_the_record(cgroup):
    cgroup_files.writable([VIEW], [str(cgroup)])
    os.chmod(cgroup / "memory.stat", 0o644)     # the modes are not read again
    assert cgroup_files.writable([VIEW], [str(cgroup)]) == [("cgroup.procs", "memory.max")]


@pytest.mark.parametrize("change", ["a file added", "another boot", "another view",
                                    "damaged record", "a recorded name not listed"])
def test_anything_else_is_scanned_again_and_recorded(cgroup, change):
    view = VIEW
    cgroup_files.writable([view], [str(cgroup)])
    os.chmod(cgroup / "memory.stat", 0o644)     # what a new scan finds, and the record not
    if change == "a file added":
        (cgroup / "memory.bfq.weight").write_text("")
        os.chmod(cgroup / "memory.bfq.weight", 0o444)
    elif change == "another boot":
        with open(cgroup_files.BOOT_ID, "w", encoding="ascii") as handle:
            handle.write("boot-2\n")
    elif change == "another view":
        view = ("unified", "cgroup2", None)
    elif change == "damaged record":
        record(cgroup).write_text('{"boot": "boot-1", "files": [')
    else:
        content = json.loads(record(cgroup).read_text())
        content["files"] = {key: ["memory.gone"] for key in content["files"]}
        record(cgroup).write_text(json.dumps(content))
    assert cgroup_files.writable([view], [str(cgroup)]) == \
        [("cgroup.procs", "memory.max", "memory.stat")]
    assert cgroup_files.writable([view], [str(cgroup)]) == \
        [("cgroup.procs", "memory.max", "memory.stat")]


def test_a_record_that_cannot_be_written_costs_nothing_but_the_scan(cgroup):
    os.rmdir(cgroup.parent / "run")
    assert cgroup_files.writable([VIEW], [str(cgroup)]) == [("cgroup.procs", "memory.max")]
    assert not (cgroup.parent / "run").exists()
