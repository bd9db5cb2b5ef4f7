"""The cgroup keys of a container: lxc.cgroup.<v1 file>, lxc.cgroup2.<v2 file>
and hacontain.limit.<name> (see limits.py), parsed and checked for syntax
(Key.value), then against this host (check_on_host).

Raw files are written as given, but the values of the files in RAW_VALUES
are checked first with the kernel's own rules, and a raw file must exist on
this host. Values are single lines of ASCII text.
"""

import os

from hacontain import chars
from hacontain.errors import ConfigError
from hacontain.record import Record
from hacontain.runtime.cgroups.limits import (LIMITS, MAX_CPU, MAX_NODE, MAX_QUOTA_US, Limit,
                                              count_between, list_parser, members, parse_memory,
                                              parse_pids, parse_size)

V1_PREFIX, V2_PREFIX, LIMIT_PREFIX = "lxc.cgroup.", "lxc.cgroup2.", "hacontain.limit."
_FILE_CHARS = chars.LOWER | chars.DIGITS | frozenset("_")
# files hacontain manages itself: writable through its own API only
MANAGED = frozenset({
    "cgroup.procs", "cgroup.threads", "cgroup.kill", "cgroup.freeze", "cgroup.subtree_control",
    "cgroup.type", "cgroup.clone_children", "freezer.state"})


class Key(Record):
    """A parsed key: a raw file of one version, or a version-independent limit."""

    text: str
    version: int | None      # 1 or 2 for a raw file; None for a hacontain.limit key
    file: str | None
    limit: Limit | None

    @property
    def controller(self):
        """The controller the key needs (v1 name for a v1 file, else the v2 name)."""
        return self.limit.controller if self.limit else self.file.split(".", 1)[0]

    def error(self, message):
        return ConfigError(message, key=self.text)

    def value(self, text):
        """The parsed value of `text` for this key (raw files: the text itself)."""
        if not isinstance(text, str) or any(ord(c) < 32 for c in text.strip()):
            raise self.error(f"bad value {text!r}: a single line of text is expected")
        if not text.isascii():
            raise self.error(f"bad value {text!r}: cgroup values are ASCII (digits 0-9)")
        parse = self.limit.parse if self.limit is not None else RAW_VALUES.get(self.file)
        try:
            parsed = parse(text) if parse is not None else None
        except ValueError as exc:
            raise self.error(str(exc)) from None
        return parsed if self.limit is not None else text.strip()


def bare_file_key(text, on_v1, on_v2):
    """lxc-cgroup's form of a key, a bare cgroup file name (memory.limit_in_bytes,
    memory.max), as the lxc.cgroup.FILE or lxc.cgroup2.FILE key of the version that
    carries its controller here (`on_v1`, `on_v2`: controller name -> bool); any
    other text unchanged, for parse_key to judge."""
    if text.startswith((V1_PREFIX, V2_PREFIX, LIMIT_PREFIX)) or "." not in text:
        return text
    controller = text.split(".", 1)[0]
    if on_v1(controller):
        return V1_PREFIX + text
    if on_v2(controller):
        return V2_PREFIX + text
    return text


def parse_key(text, writing=True):
    """The Key for `text`; ConfigError naming it when it is not one hacontain knows."""
    if text.startswith(LIMIT_PREFIX):
        limit = LIMITS.get(text[len(LIMIT_PREFIX):])
        if limit is None:
            raise ConfigError(f"unknown limit; known: {', '.join(LIMITS)}", key=text)
        return Key(text, None, None, limit)
    for prefix, version in ((V2_PREFIX, 2), (V1_PREFIX, 1)):
        if text.startswith(prefix):
            file = text[len(prefix):]
            break
    else:
        raise ConfigError(f"not a cgroup key (expected a cgroup file of a controller this "
                          f"host has, {V1_PREFIX}FILE, {V2_PREFIX}FILE or {LIMIT_PREFIX}NAME)",
                          key=text)
    if not _is_control_file(file):
        raise ConfigError(f"{file!r} is not a cgroup control file name", key=text)
    if writing and file.startswith("devices."):
        raise ConfigError("device rules are a policy of their own, not a limit: pass them as "
                          "the device rules of the container", key=text)
    if writing and file in MANAGED:
        raise ConfigError(f"{file} is managed by hacontain (start, freeze, stop) and cannot "
                          "be set", key=text)
    return Key(text, version, file, None)


def _v1(parse):
    """A check of a v1 memory file's value: -1 (no limit) or what `parse` accepts."""
    def check(text):
        if text.strip() == "-1":
            return None
        if text.strip() == "max":
            raise ValueError("'max' is cgroup v2's word: cgroup v1 takes -1 for no limit")
        return parse(text)
    return check


def _quota_us(text):
    """cpu.cfs_quota_us: -1 (no limit) or 1000..MAX_QUOTA_US microseconds."""
    value = count_between(-1, MAX_QUOTA_US)(text)
    if 0 <= value < 1000:
        raise ValueError(f"{value}: a quota is at least 1000 microseconds, or -1")
    return value


def _cpu_max(text):
    """cpu.max: "QUOTA [PERIOD]", QUOTA max or microseconds."""
    words = text.split()
    if not 1 <= len(words) <= 2:
        raise ValueError(f"{text!r} is not 'QUOTA [PERIOD]'")
    if words[0] != "max":
        _quota_us(words[0])
    if len(words) == 2:
        _PERIOD(words[1])
    return text


_PERIOD = count_between(1000, 1000000)
# file -> the check of its value, as the kernel parses it
RAW_VALUES = {
    **dict.fromkeys(("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"), _v1(parse_memory)),
    **dict.fromkeys(("memory.soft_limit_in_bytes", "memory.kmem.limit_in_bytes",
                     "memory.kmem.tcp.limit_in_bytes"), _v1(parse_size)),
    **dict.fromkeys(("memory.max", "memory.high"), parse_memory),
    **dict.fromkeys(("memory.low", "memory.min", "memory.swap.max", "memory.swap.high"),
                    parse_size),
    "cpu.shares": count_between(0, (1 << 64) - 1),
    "cpu.cfs_quota_us": _quota_us,
    "cpu.cfs_period_us": _PERIOD,
    "cpu.weight": count_between(1, 10000),
    "cpu.max": _cpu_max,
    "pids.max": parse_pids,
    "cpuset.cpus": list_parser(MAX_CPU),
    "cpuset.mems": list_parser(MAX_NODE),
}
_HOST_LISTS = {"cpuset.cpus": "CPU", "cpuset.mems": "memory node"}


def check_on_host(key, value, driver):
    """Raise key.error when this host would refuse `value` (what Key.value returned)
    for `key`: a raw file its kernel lacks, CPUs or memory nodes it lacks.

    `driver`: the v1 or v2 driver that writes the key (dirs.CgroupDirs). The
    container's cgroup may not exist yet: files are looked for in its nearest
    existing ancestor. A root cgroup lacks the files a controller has only
    below it (pids.max, memory.max on v2): there, the files of RAW_VALUES are
    taken as present.
    """
    file = key.file if key.limit is None else key.limit.name
    if key.limit is None:
        directory, at_root = _nearest(driver, key.file)
        if not driver.fs.exists(os.path.join(directory, key.file)) and \
                not (at_root and key.file in RAW_VALUES):
            raise key.error(f"this host's kernel has no cgroup file {key.file} (not in "
                            f"{directory})")
    if file in _HOST_LISTS:
        text = value.strip()
        allowed = _allowed(driver, file)
        if allowed is None:
            return
        missing = sorted(members(text, MAX_CPU) - members(allowed, MAX_CPU))
        if missing:
            raise key.error(f"{text}: this host has no {_HOST_LISTS[file]} "
                            f"{', '.join(map(str, missing[:8]))}"
                            f"{'...' if len(missing) > 8 else ''} for it (it has {allowed})")


def _nearest(driver, file):
    """(the nearest existing directory of the container's cgroup or above, whether it
    is the hierarchy's root) for `file`."""
    directory = os.path.dirname(driver.path(file))
    mountdirs = {place.hierarchy.mountdir for place in driver.places}
    while not driver.fs.exists(directory) and directory not in mountdirs:
        directory = os.path.dirname(directory)
    return directory, directory in mountdirs


def _allowed(driver, file):
    """The CPUs or memory nodes the container's cgroup may have here, as a list text
    (v1: its nearest existing ancestor's; v2: the root's effective ones); None when
    this host does not say."""
    directory, _ = _nearest(driver, file)
    if driver.version == 2:
        directory = driver.place.hierarchy.mountdir
        file = f"{file}.effective"
    path = os.path.join(directory, file)
    if not driver.fs.exists(path):
        return None
    text = driver.fs.read(path).strip()
    return text or None


def _is_control_file(file):
    """Whether `file` looks like a cgroup control file name: "memory.max", "io.bfq.weight"."""
    first, *rest = file.split(".")
    return bool(rest) and chars.made_of(first, _FILE_CHARS, first=chars.LOWER) and all(
        chars.made_of(part, _FILE_CHARS) for part in rest)
