"""Backups in a dump directory, named like vzdump's: `hacontain-NAME-YYYY_MM_DD-HH_MM_SS`
+ `.tar.zst`, `.tar.gz` or `.tar` (the start time, local), with `.log` (same base)
beside it and `ARCHIVE.notes`, `ARCHIVE.protected` (a protected backup is never pruned)."""

import dataclasses
import datetime
import json
import os
import re

from hacontain.errors import NotFound

DEFAULT_DUMPDIR = "/var/lib/hacontain-dump"
_TIME = "%Y_%m_%d-%H_%M_%S"
_NAME = re.compile(r"hacontain-(?P<name>.+)-(?P<time>\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d)"
                   r"(?P<suffix>\.tar(?:\.zst|\.gz)?)")
_MODE = re.compile(r" INFO: backup mode: (\w+)")


@dataclasses.dataclass
class Backup:
    path: str
    name: str
    time: datetime.datetime
    size: int
    mode: str | None
    notes: str
    protected: bool

    def row(self):
        return {"archive": self.path, "name": self.name, "time": self.time.isoformat(" "),
                "mode": self.mode, "size": self.size, "notes": self.notes,
                "protected": self.protected}


def dumpdir(value=None):
    """The dump directory: the argument, $HACONTAIN_DUMPDIR, or DEFAULT_DUMPDIR."""
    return os.path.abspath(value or os.environ.get("HACONTAIN_DUMPDIR") or DEFAULT_DUMPDIR)


def base_name(name, when):
    return f"hacontain-{name}-{when.strftime(_TIME)}"


def parse(filename):
    """(container, datetime) of an archive file name, or None for another file."""
    match = _NAME.fullmatch(filename)
    if not match:
        return None
    try:
        return match.group("name"), datetime.datetime.strptime(match.group("time"), _TIME)
    except ValueError:
        return None


def log_path(archive):
    """The backup's log: the archive's name without .tar[.zst|.gz], plus .log."""
    match = _NAME.fullmatch(os.path.basename(archive))
    base = archive[:-len(match.group("suffix"))] if match else archive
    return base + ".log"


def notes_path(archive):
    return archive + ".notes"


def protected_path(archive):
    return archive + ".protected"


def backups(directory, name=None):
    """The Backups in `directory` (of container `name` only, if given), oldest first."""
    try:
        files = os.listdir(directory)
    except FileNotFoundError:
        raise NotFound(f"dump directory {directory} does not exist") from None
    except NotADirectoryError:
        raise NotFound(f"dump directory {directory} is not a directory") from None
    found = []
    for filename in files:
        parsed = parse(filename)
        if parsed is None or (name is not None and parsed[0] != name):
            continue
        path = os.path.join(directory, filename)
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            continue                          # removed meanwhile (a prune)
        found.append(Backup(path, parsed[0], parsed[1], size, _mode(path), _read(notes_path(path)),
                            os.path.exists(protected_path(path))))
    return sorted(found, key=lambda backup: (backup.time, backup.path))


def remove(backup):
    """Delete an archive with its log and notes (never a protected one)."""
    if backup.protected:
        raise ValueError(f"{backup.path} is protected")
    for path in (backup.path, log_path(backup.path), notes_path(backup.path)):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return ""


def _mode(archive):
    """The mode the backup's log names in its first lines (None without a log)."""
    try:
        with open(log_path(archive), encoding="utf-8", errors="replace") as handle:
            for _, line in zip(range(20), handle):
                match = _MODE.search(line)
                if match:
                    return match.group(1)
    except FileNotFoundError:
        pass
    return None


def render(rows):
    """The table of `hacontain backups`."""
    if not rows:
        return "no backups"
    lines = [f"{'NAME':<16} {'TIME':<19} {'MODE':<8} {'SIZE':>10} {'PROT':<4} NOTES"]
    for backup in rows:
        lines.append(f"{backup.name:<16} {backup.time:%Y-%m-%d %H:%M:%S} {backup.mode or '-':<8} "
                     f"{human(backup.size):>10} {'yes' if backup.protected else '-':<4} "
                     f"{backup.notes.splitlines()[0] if backup.notes else ''}")
    return "\n".join(lines)


def to_json(rows):
    return json.dumps([backup.row() for backup in rows], indent=2, sort_keys=True)


def human(size):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)
