"""The writable control files of a container's own cgroup on a cgroup v2
hierarchy: what `cgroup:mixed` covers there (security/cgroup_view.py), found
before the init needs them.

Finding them takes a stat of every file of the cgroup. Which files a cgroup
has depends on the kernel and the cgroup's controllers; which of them are
writable on the kernel alone (it gives a cgroup file write permission exactly
when the file has a write handler). So
the start keeps what it found in RUNDIR/cgroup-files for this boot (its
boot_id): it lists the container's new cgroup on each hierarchy (a directory
read, no stat) and, when the record has that very listing for the hierarchy,
takes the writable names recorded with it; otherwise (the first start of the
boot, other controllers, files an I/O scheduler's module added meanwhile) it
stats them and records what it found. Losing or damaging the record costs
the next start the stats, nothing else.
"""

import os

from hacontain import jsontext, paths

RECORD = "cgroup-files"
BOOT_ID = "/proc/sys/kernel/random/boot_id"


def scan(directory):
    """The names of the writable files of the cgroup at `directory`, sorted."""
    with os.scandir(directory) as entries:
        return tuple(sorted(entry.name for entry in entries
                            if entry.is_file(follow_symlinks=False)
                            and entry.stat(follow_symlinks=False).st_mode & 0o222))


def writable(views, directories):
    """For each of `views` (mount key, fstype, options: one hierarchy each), the names
    of the writable files of the container's cgroup at the same place of
    `directories` (its directories on the host), from the record or scanned."""
    boot = _boot_id()
    record = _read(boot)
    found, changed = [], False
    for view, directory in zip(views, directories):
        listing = sorted(os.listdir(directory))
        key = "\0".join(map(str, (*view, *listing)))
        names = record.get(key)
        if not (isinstance(names, list) and all(isinstance(name, str) for name in names)
                and set(names) <= set(listing)):
            names = list(scan(directory))
            record[key] = names
            changed = True
        found.append(tuple(names))
    if changed:
        _write(boot, record)
    return found


def _boot_id():
    with open(BOOT_ID, encoding="ascii") as handle:
        return handle.read().strip()


def _path():
    return os.path.join(paths.rundir(), RECORD)


def _read(boot):
    """The record's {listing key: writable names} if it is this boot's, else {}."""
    try:
        with open(_path(), encoding="utf-8") as handle:
            content = jsontext.loads(handle.read())
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(content, dict) or content.get("boot") != boot \
            or not isinstance(content.get("files"), dict):
        return {}
    return content["files"]


def _write(boot, files):
    """Replace the record (atomically); a failure only costs the next start the stats."""
    path = _path()
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(jsontext.dumps({"boot": boot, "files": files}))
        os.rename(temp, path)
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass
