"""Retention, with vzdump's rules (PVE::Storage prune_mark_backup_group): per container,
newest first, keep-last, then keep-hourly, -daily, -weekly (ISO week), -monthly,
-yearly; each rule keeps the newest backup of each of its periods, up to its count,
counting only backups no earlier rule marked, and skipping periods an earlier rule
already kept one in. Protected backups are always kept (and count for no rule).
No positive keep option (or keep-all=1): everything is kept."""

from hacontain.errors import ConfigError

KEEPS = ("keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly")
_PERIODS = {
    "keep-last": lambda t: t,
    "keep-hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "keep-daily": lambda t: (t.year, t.month, t.day),
    "keep-weekly": lambda t: t.isocalendar()[:2],
    "keep-monthly": lambda t: (t.year, t.month),
    "keep-yearly": lambda t: t.year,
}


def parse_keep(text):
    """{option: count} of 'keep-last=3,keep-daily=7' (vzdump's --prune-backups)."""
    keep = {}
    for item in (part.strip() for part in (text or "").split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if key not in KEEPS + ("keep-all",) or not sep:
            raise ConfigError(f"--prune-backups: {item!r}: use "
                              f"{', '.join(k + '=N' for k in KEEPS)} or keep-all=1")
        try:
            count = int(value)
        except ValueError:
            count = -1
        if count < 0:
            raise ConfigError(f"--prune-backups: {key} takes a count >= 0, not {value!r}")
        keep[key] = count
    return keep


def mark(entries, keep):
    """{id: 'keep' | 'remove' | 'protected'} of entries [(id, time, protected)]."""
    marks = {ident: "protected" for ident, _, protected in entries if protected}
    if keep.get("keep-all") or not any(keep.get(key) for key in KEEPS):
        return {ident: marks.get(ident, "keep") for ident, _, _ in entries}
    newest_first = sorted(entries, key=lambda entry: entry[1], reverse=True)
    for key in KEEPS:
        count = keep.get(key)
        if not count:
            continue
        period = _PERIODS[key]
        already = {period(time) for ident, time, _ in newest_first if marks.get(ident) == "keep"}
        newly = set()
        for ident, time, _ in newest_first:
            if ident in marks or period(time) in already:
                continue
            if period(time) in newly:
                marks[ident] = "remove"
                continue
            if len(newly) >= count:
                break
            newly.add(period(time))
            marks[ident] = "keep"
    return {ident: marks.get(ident, "remove") for ident, _, _ in entries}


def prune(backups, keep):
    """[(Backup, mark)] for the catalog's `backups`, grouped per container."""
    groups = {}
    for backup in backups:
        groups.setdefault(backup.name, []).append(backup)
    result = []
    for group in groups.values():
        marks = mark([(backup.path, backup.time, backup.protected) for backup in group], keep)
        result += [(backup, marks[backup.path]) for backup in group]
    return result
