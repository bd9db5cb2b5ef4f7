"""Retention with vzdump's rules, against tables of backup times (backup.prune), and
the catalog's file names (backup.catalog)."""

import datetime

import pytest

from hacontain.backup import catalog, prune
from hacontain.errors import ConfigError


def marks(times, keep, protected=()):
    """{time text: mark} of backups at `times` ('YYYY-MM-DD HH:MM')."""
    entries = [(text, datetime.datetime.strptime(text, "%Y-%m-%d %H:%M"), text in protected)
               for text in times]
    return prune.mark(entries, keep)


def kept(result):
    return sorted(text for text, mark in result.items() if mark != "remove")


DAYS = ["2026-03-01 08:00", "2026-03-01 20:00", "2026-03-02 12:00",
        "2026-03-03 08:00", "2026-03-03 20:00", "2026-03-04 12:00"]


@pytest.mark.parametrize("keep, expected", [
    ({"keep-last": 2}, ["2026-03-03 20:00", "2026-03-04 12:00"]),
    # one per day, the newest of the day, for the 3 newest days
    ({"keep-daily": 3}, ["2026-03-02 12:00", "2026-03-03 20:00", "2026-03-04 12:00"]),
    # keep-last takes the newest; daily then counts only the other days
    ({"keep-last": 1, "keep-daily": 2},
     ["2026-03-02 12:00", "2026-03-03 20:00", "2026-03-04 12:00"]),
    ({"keep-last": 3, "keep-daily": 1},
     ["2026-03-02 12:00", "2026-03-03 08:00", "2026-03-03 20:00", "2026-03-04 12:00"]),
    ({"keep-hourly": 4}, ["2026-03-02 12:00", "2026-03-03 08:00", "2026-03-03 20:00",
                          "2026-03-04 12:00"]),
    ({"keep-daily": 10}, ["2026-03-01 20:00", "2026-03-02 12:00", "2026-03-03 20:00",
                          "2026-03-04 12:00"]),
    ({}, DAYS),                                   # no keep option: everything stays
    ({"keep-last": 0}, DAYS),
    ({"keep-all": 1, "keep-last": 1}, DAYS),
])
def test_daily_table(keep, expected):
    assert kept(marks(DAYS, keep)) == expected


# 2020-12-31 (Thu), 2021-01-01 (Fri), 2021-01-03 (Sun) are ISO week 2020-W53;
# 2021-01-04 (Mon) is 2021-W01
NEW_YEAR = ["2020-12-31 10:00", "2021-01-01 10:00", "2021-01-03 10:00", "2021-01-04 10:00"]


@pytest.mark.parametrize("keep, expected", [
    ({"keep-weekly": 2}, ["2021-01-03 10:00", "2021-01-04 10:00"]),
    ({"keep-weekly": 1, "keep-yearly": 2}, ["2020-12-31 10:00", "2021-01-04 10:00"]),
    ({"keep-monthly": 5}, ["2020-12-31 10:00", "2021-01-04 10:00"]),
    ({"keep-yearly": 1}, ["2021-01-04 10:00"]),
    # weekly keeps 01-03 (W53) and marks the rest of W53 removed, 12-31 included:
    # monthly never sees it (vzdump: a rule skips what an earlier rule marked either way)
    ({"keep-daily": 1, "keep-weekly": 1, "keep-monthly": 1},
     ["2021-01-03 10:00", "2021-01-04 10:00"]),
    ({"keep-daily": 1, "keep-monthly": 2}, ["2020-12-31 10:00", "2021-01-04 10:00"]),
])
def test_iso_weeks_and_years(keep, expected):
    assert kept(marks(NEW_YEAR, keep)) == expected


def test_protected_always_kept_and_counts_for_no_rule():
    result = marks(DAYS, {"keep-last": 1}, protected={"2026-03-04 12:00", "2026-03-01 08:00"})
    assert result["2026-03-04 12:00"] == "protected"
    assert result["2026-03-01 08:00"] == "protected"
    assert result["2026-03-03 20:00"] == "keep"          # keep-last=1 is not used up by it
    assert kept(result) == ["2026-03-01 08:00", "2026-03-03 20:00", "2026-03-04 12:00"]


def test_protected_does_not_fill_its_period():
    result = marks(DAYS, {"keep-daily": 1}, protected={"2026-03-04 12:00"})
    assert kept(result) == ["2026-03-03 20:00", "2026-03-04 12:00"]


def test_groups_per_container():
    at = datetime.datetime(2026, 3, 1, 12)
    backups = [catalog.Backup(f"/d/{name}{day}", name, at.replace(day=day), 1, None, "", False)
               for name in ("a", "b") for day in (1, 2, 3)]
    result = prune.prune(backups, {"keep-last": 1})
    assert sorted(b.path for b, mark in result if mark == "keep") == ["/d/a3", "/d/b3"]


@pytest.mark.parametrize("text, expected", [
    ("keep-last=3,keep-daily=7", {"keep-last": 3, "keep-daily": 7}),
    (" keep-weekly=2 , keep-yearly=1 ", {"keep-weekly": 2, "keep-yearly": 1}),
    ("keep-all=1", {"keep-all": 1}),
])
def test_parse_keep(text, expected):
    assert prune.parse_keep(text) == expected


@pytest.mark.parametrize("text", ["keep-lots=3", "keep-last", "keep-last=-1", "keep-daily=x"])
def test_parse_keep_refuses(text):
    with pytest.raises(ConfigError, match="--prune-backups"):
        prune.parse_keep(text)


def test_archive_names():
    when = datetime.datetime(2026, 11, 28, 9, 5, 7)
    base = catalog.base_name("web-1", when)
    assert base == "hacontain-web-1-2026_11_28-09_05_07"
    assert catalog.parse(base + ".tar.zst") == ("web-1", when)
    assert catalog.parse(base + ".tar.gz") == ("web-1", when)
    assert catalog.parse(base + ".log") is None
    assert catalog.parse("." + base + ".tar.zst.123.partial") is None
    assert catalog.log_path(f"/d/{base}.tar.zst") == f"/d/{base}.log"
