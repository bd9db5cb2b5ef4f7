"""Parser for LXC-format container configs (LXC 2.1+ keys, legacy keys mapped).

`load(path)` reads a config and its `lxc.include`s into a frozen
ContainerConfig. Every entry keeps its file and line, so an error always
names file, line and key. Values are checked here as far as they can be
without looking at the host; checks against the host (bridges, cgroup
files) belong to the runtime.
"""

import os
import stat
import sys

from hacontain import chars
from hacontain.errors import ConfigError, ParameterError
from hacontain.record import Record
from hacontain.runtime.security.capabilities import DEFAULT_DROP, number as capability_number
from hacontain.sys import signals

# Keys hacontain reads and applies, or parses now for a later part to apply.
_SIMPLE_KEYS = {
    "lxc.uts.name", "lxc.rootfs.path", "lxc.rootfs.mount", "lxc.rootfs.options",
    "lxc.rootfs.managed", "lxc.init.cmd", "lxc.init.cwd", "lxc.init.uid", "lxc.init.gid",
    "lxc.execute.cmd", "lxc.signal.halt", "lxc.signal.stop", "lxc.signal.reboot",
    "lxc.mount.auto", "lxc.mount.entry", "lxc.mount.fstab", "lxc.environment", "lxc.include",
    "lxc.autodev", "lxc.autodev.tmpfs.size", "lxc.tty.max", "lxc.tty.dir", "lxc.pty.max",
    "lxc.cap.drop", "lxc.cap.keep", "lxc.apparmor.profile", "lxc.apparmor.allow_incomplete",
    "lxc.apparmor.allow_nesting", "lxc.apparmor.raw", "lxc.seccomp.profile",
    "lxc.seccomp.allow_nesting", "lxc.no_new_privs", "lxc.idmap", "lxc.net",
    "lxc.console.path", "lxc.console.logfile", "lxc.console.size", "lxc.console.rotate",
    "lxc.console.buffer.size", "lxc.arch", "lxc.log.level", "lxc.log.file", "lxc.log.syslog",
    "lxc.start.auto", "lxc.start.delay", "lxc.start.order", "lxc.group", "lxc.ephemeral",
    "lxc.monitor.unshare", "lxc.monitor.signal.pdeath", "lxc.cgroup.dir",
    "lxc.cgroup.dir.container", "lxc.cgroup.dir.monitor", "lxc.cgroup.dir.monitor.pivot",
    "lxc.cgroup.dir.container.inner", "lxc.cgroup.relative", "lxc.namespace.clone",
    "lxc.namespace.keep", "lxc.selinux.context", "lxc.selinux.context.keyring",
    "lxc.keyring.session", "lxc.time.offset.boot", "lxc.time.offset.monotonic",
    "lxc.seccomp.notify.proxy", "lxc.seccomp.notify.cookie", "lxc.core.scheduling",
    "hacontain.cgroup.parent",
}
_PREFIX_KEYS = ("lxc.cgroup.", "lxc.cgroup2.", "lxc.hook.", "lxc.sysctl.", "lxc.prlimit.",
                "lxc.proc.", "lxc.namespace.share.", "hacontain.limit.")

# Keys hacontain parses but does not act on; reported once as notices.
_NOT_APPLIED = {
    "lxc.arch": "personality is not changed",
    "lxc.console.path": "the console is a log file, see lxc.console.logfile",
    "lxc.start.auto": "autostart is Pacemaker's job",
    "lxc.start.delay": "autostart is Pacemaker's job",
    "lxc.start.order": "autostart is Pacemaker's job",
    "lxc.group": "autostart is Pacemaker's job",
    "lxc.log.level": "hacontain logs through its own logger",
    "lxc.log.file": "hacontain logs through its own logger",
    "lxc.log.syslog": "hacontain logs through its own logger",
    "lxc.monitor.unshare": "hacontain keeps no monitor process",
    "lxc.monitor.signal.pdeath": "hacontain keeps no monitor process",
    "lxc.hook.": "hooks are not run",
    "lxc.selinux.": "SELinux is not supported",
    "lxc.keyring.session": "the session keyring is inherited",
    "lxc.core.scheduling": "core scheduling is not set",
    "lxc.seccomp.notify.": "seccomp notification is not supported",
}

_LEGACY = {
    "lxc.utsname": "lxc.uts.name", "lxc.rootfs": "lxc.rootfs.path",
    "lxc.haltsignal": "lxc.signal.halt", "lxc.stopsignal": "lxc.signal.stop",
    "lxc.rebootsignal": "lxc.signal.reboot", "lxc.tty": "lxc.tty.max", "lxc.pts": "lxc.pty.max",
    "lxc.init_cmd": "lxc.init.cmd", "lxc.init_uid": "lxc.init.uid", "lxc.init_gid": "lxc.init.gid",
    "lxc.id_map": "lxc.idmap", "lxc.aa_profile": "lxc.apparmor.profile",
    "lxc.aa_allow_incomplete": "lxc.apparmor.allow_incomplete",
    "lxc.se_context": "lxc.selinux.context", "lxc.console": "lxc.console.path",
    "lxc.logfile": "lxc.log.file", "lxc.loglevel": "lxc.log.level", "lxc.mount": "lxc.mount.fstab",
    "lxc.seccomp": "lxc.seccomp.profile", "lxc.devttydir": "lxc.tty.dir", "lxc.syslog": "lxc.log.syslog",
    "lxc.rootfs.backend": None, "lxc.pivotdir": None, "lxc.kmsg": None,
}
_LEGACY_NET = {"ipv4": "ipv4.address", "ipv6": "ipv6.address"}

_NET_KEYS = {
    "type", "link", "flags", "name", "hwaddr", "mtu", "ipv4.address", "ipv4.gateway",
    "ipv6.address", "ipv6.gateway", "veth.pair", "veth.mode", "veth.ipv4.route",
    "veth.ipv6.route", "macvlan.mode", "ipvlan.mode", "ipvlan.isolation", "vlan.id",
    "script.up", "script.down", "l2proxy",
}
NET_TYPES = ("none", "empty", "veth", "macvlan", "phys", "vlan", "ipvlan")
# Config files, includes, fstabs and seccomp profiles are read only when they are
# regular files of at most this size: a FIFO would block, /dev/zero never ends.
MAX_FILE_BYTES = 1 << 20
# The most bytes of one lxc.environment entry: execve(2) refuses longer strings
# (MAX_ARG_STRLEN, 32 pages, with the NUL), and all of them together
# (the kernel allows a quarter of an 8 MiB stack for argv and environment).
MAX_ENV_ENTRY = 32 * 4096 - 1
MAX_ENV_TOTAL = 1 << 20
_NAME_CHARS = chars.ALNUM | frozenset("_.-")
_LABEL_CHARS = chars.ALNUM | frozenset("-")
_IDENTIFIER_CHARS = chars.ALNUM | frozenset("_")
_INTERFACE_CHARS = chars.ALNUM | frozenset("_.:-")
_MAC_CHARS = chars.HEX | frozenset("x")


class Entry(Record):
    """One `key = value` line, after legacy mapping."""
    key: str
    value: str
    path: str
    line: int

    def error(self, message):
        return ConfigError(message, self.path, self.line, self.key)


class MountEntry(Record):
    """One fstab-style mount line."""
    source: str
    target: str
    fstype: str
    options: tuple
    origin: Entry


class NetConfig(Record):
    """One network interface, `lxc.net.N.*`."""
    index: int
    type: str
    link: str | None = None
    name: str | None = None
    flags: str | None = None
    hwaddr: str | None = None
    mtu: int | None = None
    ipv4: tuple = ()
    ipv4_gateway: str | None = None
    ipv6: tuple = ()
    ipv6_gateway: str | None = None
    veth_pair: str | None = None
    macvlan_mode: str | None = None
    origin: Entry | None = None
    _uncompared = ("origin",)


class ContainerConfig(Record):
    """Everything a container's config says, checked for form."""
    path: str
    uts_name: str | None = None
    rootfs: str | None = None
    rootfs_options: str | None = None
    init_cmd: tuple = ()
    init_cwd: str | None = None
    init_uid: int | None = None
    init_gid: int | None = None
    halt_signal: int | None = None
    stop_signal: int | None = None
    reboot_signal: int | None = None
    mount_auto: tuple = ()
    mounts: tuple = ()
    environment: tuple = ()
    autodev: bool = True
    tty_max: int = 0
    pty_max: int = 1024
    console_logfile: str | None = None
    nets: tuple = ()
    net_configured: bool = False
    cgroup: tuple = ()
    cgroup_parent: str | None = None
    cap_drop: tuple = DEFAULT_DROP
    cap_keep: tuple = ()
    apparmor_profile: str | None = None
    seccomp_profile: str | None = None  # None: the default profile; "": none
    no_new_privs: bool = False
    idmap: tuple = ()
    namespace_keep: tuple = ()
    sysctl: tuple = ()
    prlimit: tuple = ()
    warnings: tuple = ()
    entries: tuple = ()

    def shares_host_network(self):
        """True when a `lxc.net.N.type = none` keeps the container in the host's netns."""
        return any(net.type == "none" for net in self.nets)

    def entry(self, key):
        """The last entry for `key`, for error messages (None when absent)."""
        for item in reversed(self.entries):
            if item.key == key:
                return item
        return None


def valid_name(name):
    """Raise ParameterError unless `name` is a safe container name."""
    if not chars.made_of(name or "", _NAME_CHARS, first=chars.ALNUM, most=64):
        raise ParameterError(f"invalid container name {name!r}: use 1-64 letters, digits, "
                             "'_', '.', '-', starting with a letter or digit")
    return name


def parse_signal(text):
    """'SIGPWR', 'PWR', 'SIGRTMIN+3' or a number -> signal number."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        num = int(text)
        if not 1 <= num <= signals.SIGRTMAX:
            raise ValueError(f"signal number {num} out of range")
        return num
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    base, offset = name[:8], name[8:]          # SIGRTMIN, SIGRTMAX+N, SIGRTMIN-N
    if base in ("SIGRTMIN", "SIGRTMAX") and (
            not offset or offset[0] in "+-" and chars.is_number(offset[1:])):
        num = (signals.SIGRTMIN if base == "SIGRTMIN" else signals.SIGRTMAX) + int(offset or 0)
        if not signals.SIGRTMIN <= num <= signals.SIGRTMAX:
            raise ValueError(f"{text} is outside SIGRTMIN..SIGRTMAX")
        return num
    num = signals.number_of(name)
    if num is None:
        raise ValueError(f"unknown signal {text!r}")
    return num


def read_entries(path, _seen=None):
    """Read `path` and its includes into a list of Entry, legacy keys mapped."""
    seen = _seen if _seen is not None else set()
    real = os.path.realpath(path)
    if real in seen:
        raise ConfigError("lxc.include loop", path)
    seen.add(real)
    try:
        lines = read_text_file(path).splitlines()
    except FileNotFoundError:
        raise ConfigError("config file not found", path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", path) from None
    except ValueError as exc:
        raise ConfigError(f"cannot read config: {exc}", path) from None
    entries = []
    net_index = [-1]
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if "=" not in text:
            raise ConfigError(f"expected 'key = value', got {_shorten(text)!r}", path, number)
        key, value = (part.strip() for part in text.split("=", 1))
        value = _unquote(value)
        key = _map_legacy(key, path, number, net_index, entries)
        if key is None:
            continue
        entry = Entry(key, value, path, number)
        if key == "lxc.include":
            entries.extend(_include(entry, seen))
        else:
            entries.append(entry)
    return entries


def read_text_file(path):
    """The UTF-8 text of the regular file at `path` (a config, include, fstab or
    seccomp profile), read only when it is a regular file of at most
    MAX_FILE_BYTES: anything else is a ValueError saying why, found without
    blocking (a FIFO) or reading it (/dev/zero). FileNotFoundError or OSError
    when it cannot be opened."""
    _refuse_special(os.stat(path))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        _refuse_special(os.fstat(fd))         # replaced since the stat: look again
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _refuse_special(info):
    if stat.S_ISREG(info.st_mode):
        if info.st_size > MAX_FILE_BYTES:
            raise ValueError(f"larger than {MAX_FILE_BYTES} bytes ({info.st_size})")
        return
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"))
    kind = next((name for test, name in kinds if test(info.st_mode)), "special")
    raise ValueError(f"not a regular file (it is {kind})")


def load(path):
    """Parse the config at `path` into a ContainerConfig."""
    return build(read_entries(path), path)


def build(entries, path):
    """Turn entries into a ContainerConfig; raise ConfigError on the first bad one."""
    values = {}
    lists = {name: [] for name in ("mount_auto", "mounts", "environment", "cgroup",
                                   "cap_keep", "idmap", "namespace_keep", "sysctl", "prlimit")}
    lists["cap_drop"] = list(DEFAULT_DROP)
    nets = {}
    net_configured = False
    warnings = []
    for entry in entries:
        key, value = entry.key, entry.value
        _check_known(entry)
        notice = _not_applied(key)
        if notice and value:
            warnings.append(f"{entry.path}:{entry.line}: {key}: ignored, {notice}")
        if key == "lxc.net":
            if value:
                raise entry.error("only an empty value (clearing all interfaces) is allowed")
            nets.clear()
            net_configured = True
        elif key.startswith("lxc.net."):
            _net_entry(entry, nets)
            net_configured = True
        elif key.startswith(("lxc.cgroup.", "lxc.cgroup2.", "hacontain.limit.")) and \
                not key.startswith("lxc.cgroup.dir") and key != "lxc.cgroup.relative":
            lists["cgroup"].append(_cgroup_entry(entry))
        elif key.startswith("lxc.sysctl."):
            lists["sysctl"].append((key[len("lxc.sysctl."):], value))
        elif key.startswith("lxc.prlimit."):
            lists["prlimit"].append((key[len("lxc.prlimit."):], value))
        elif key in _LIST_HANDLERS:
            name, parse = _LIST_HANDLERS[key]
            if not value:
                lists[name].clear()
            else:
                lists[name].extend(parse(entry))
        elif key in _VALUE_HANDLERS:
            name, parse = _VALUE_HANDLERS[key]
            values[name] = parse(entry) if value else _EMPTY_VALUES.get(key)
    _check_containment(entries, lists, values, warnings)
    _check_environment_size(entries, lists["environment"])
    config = ContainerConfig(
        path=path,
        nets=tuple(_finish_net(index, data) for index, data in sorted(nets.items())),
        net_configured=net_configured,
        warnings=tuple(warnings),
        entries=tuple(entries),
        **{name: tuple(items) for name, items in lists.items()},
        **values,
    )
    return config


def _cgroup_entry(entry):
    """A cgroup key and its value checked for form (against the host: see the runtime)."""
    from hacontain.runtime.cgroups.keys import parse_key
    if not entry.value:
        raise entry.error("empty value")
    if entry.key.rsplit(".", 1)[0] not in ("lxc.cgroup.devices", "lxc.cgroup2.devices"):
        try:
            parse_key(entry.key).value(entry.value)
        except ConfigError as exc:
            raise entry.error(exc.message) from None
    return entry


def _check_containment(entries, lists, values, warnings):
    """Cross-entry checks of the containment keys; the AppArmor notice.

    lxc.cap.drop starts as the default drops (as if the config began with
    them), so a drop adds to them and an empty value clears them too.
    """
    drops = [entry for entry in entries if entry.key == "lxc.cap.drop"]
    keeps = [entry for entry in entries if entry.key == "lxc.cap.keep"]
    if lists["cap_keep"] and drops and drops[-1].value:
        later = max(drops[-1], keeps[-1], key=entries.index)
        raise later.error("lxc.cap.drop and lxc.cap.keep cannot both be set")
    if "cgroup" in lists["namespace_keep"]:
        from hacontain.runtime.security.cgroup_view import mode_of
        if mode_of(lists["mount_auto"]) is not None:
            entry = [entry for entry in entries if entry.key == "lxc.namespace.keep"][-1]
            raise entry.error("cgroup keeps the host's cgroup namespace, where lxc.mount.auto's "
                              "cgroup would mount (and reconfigure) the host's hierarchies: "
                              "drop one of them")
    profile = values.get("apparmor_profile")
    if profile is not None:
        from hacontain.runtime.security import apparmor
        notice = apparmor.notice(profile)
        if notice:
            entry = [entry for entry in entries if entry.key == "lxc.apparmor.profile"][-1]
            warnings.append(f"{entry.path}:{entry.line}: lxc.apparmor.profile: {notice}")


def _check_environment_size(entries, environment):
    """All of lxc.environment together must fit execve(2)'s limit (see MAX_ENV_TOTAL)."""
    if sum(len(item.encode()) + 1 for item in environment) > MAX_ENV_TOTAL:
        last = [entry for entry in entries if entry.key == "lxc.environment"][-1]
        raise last.error(f"the environment entries add up to more than {MAX_ENV_TOTAL} bytes")


def _unquote(value):
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _map_legacy(key, path, number, net_index, entries):
    """Map a pre-2.1 key to its new name, warning once per key."""
    if key.startswith("lxc.network."):
        rest = key[len("lxc.network."):]
        head, _, tail = rest.partition(".")
        if head.isascii() and head.isdigit():
            index, rest = int(head), tail
        else:
            if rest == "type":
                net_index[0] += 1
            if net_index[0] < 0:
                raise ConfigError("lxc.network.* before lxc.network.type", path, number, key)
            index = net_index[0]
        rest = _LEGACY_NET.get(rest, rest)
        new = f"lxc.net.{index}.{rest}" if rest else "lxc.net"
        _warn_legacy(key, new, path, number)
        return new
    if key in _LEGACY:
        new = _LEGACY[key]
        _warn_legacy(key, new or "(nothing: obsolete)", path, number)
        return new
    return key


def _warn_legacy(old, new, path, number):
    print(f"hacontain: warning: {path}:{number}: legacy key {old} read as {new}", file=sys.stderr)


def _include(entry, seen):
    target = entry.value
    if not os.path.isabs(target):
        target = os.path.join(os.path.dirname(entry.path), target)
    if os.path.isdir(target):
        names = sorted(n for n in os.listdir(target) if n.endswith(".conf"))
        result = []
        for name in names:
            result.extend(read_entries(os.path.join(target, name), seen))
        return result
    try:
        _refuse_special(os.stat(target))
    except FileNotFoundError:
        raise entry.error(f"included file {target} does not exist") from None
    except OSError as exc:
        raise entry.error(f"cannot read included file {target}: {exc.strerror}") from None
    except ValueError as exc:
        raise entry.error(f"cannot read included file {target}: {exc}") from None
    return read_entries(target, seen)


def _net_key(key):
    """(index, rest) of a key "lxc.net.INDEX.REST", or None."""
    index, dot, rest = key.removeprefix("lxc.net.").partition(".")
    if key.startswith("lxc.net.") and chars.is_number(index) and dot and rest:
        return int(index), rest
    return None


def _check_known(entry):
    key = entry.key
    if key in _SIMPLE_KEYS or key.startswith(_PREFIX_KEYS):
        return
    net = _net_key(key)
    if net and (net[1] in _NET_KEYS or net[1].startswith("veth.")):
        return
    raise entry.error("unknown configuration key")


def _not_applied(key):
    for prefix, reason in _NOT_APPLIED.items():
        if key == prefix or (prefix.endswith(".") and key.startswith(prefix)):
            return reason
    return None


def _as_int(low, high=None):
    def parse(entry):
        try:
            if not entry.value.isascii():
                raise ValueError(entry.value)
            number = int(entry.value, 0)
        except ValueError:
            raise entry.error(f"expected an integer, got {entry.value!r}") from None
        if number < low or (high is not None and number > high):
            raise entry.error(f"{number} out of range {low}..{high if high is not None else ''}")
        return number
    return parse


def _as_bool(entry):
    if entry.value not in ("0", "1"):
        raise entry.error(f"expected 0 or 1, got {entry.value!r}")
    return entry.value == "1"


def _as_signal(entry):
    try:
        return parse_signal(entry.value)
    except ValueError as exc:
        raise entry.error(str(exc)) from None


def _as_text(entry):
    return entry.value


def _as_apparmor_profile(entry):
    if len(entry.value.split()) != 1:
        raise entry.error(f"an AppArmor profile name has no spaces, got {entry.value!r}")
    return entry.value


def _as_path(entry):
    if not os.path.isabs(entry.value):
        raise entry.error(f"expected an absolute path, got {entry.value!r}")
    return entry.value


def _as_rootfs(entry):
    value = entry.value
    kind, sep, rest = value.partition(":")
    if sep and kind in ("dir",):
        value = rest
    elif sep and kind in ("lvm", "btrfs", "overlay", "overlayfs", "loop"):
        from hacontain.storage.backends import canonical    # here: only for volumes
        try:
            return canonical(value)
        except ConfigError as error:
            raise entry.error(error.message) from None
    elif sep and kind in ("zfs", "nbd", "rbd"):
        raise entry.error(f"rootfs backend {kind!r} is not supported: use dir, overlay, "
                          "btrfs, loop, lvm or a block device")
    if not os.path.isabs(value):
        raise entry.error(f"rootfs must be an absolute path, got {entry.value!r}")
    return os.path.normpath(value)


def _as_hostname(entry):
    if len(entry.value) > 64 or not all(
            chars.made_of(label, _LABEL_CHARS, first=chars.ALNUM, most=63)
            and not label.endswith("-") for label in entry.value.split(".")):
        raise entry.error(f"invalid host name {entry.value!r}")
    return entry.value


def _as_argv(entry):
    try:
        argv = tuple(chars.shell_words(entry.value))
    except ValueError as exc:
        raise entry.error(f"cannot split command: {exc}") from None
    if not argv or not argv[0].startswith("/"):
        raise entry.error(f"the command must start with an absolute path, got {entry.value!r}")
    return argv


def _as_parent(entry):
    value = entry.value
    if ".." in value.split("/") or not value.strip("/"):
        raise entry.error(f"invalid cgroup parent {value!r}")
    return value


def _capabilities(entry):
    words = entry.value.split()
    for word in words:
        if word == "none" and entry.key == "lxc.cap.keep":
            continue
        try:
            capability_number(word)
        except ValueError as exc:
            raise entry.error(str(exc)) from None
    return words


def _one(entry):
    return [entry.value]


def _environment(entry):
    name, equals, _ = entry.value.partition("=")
    if not equals or not chars.made_of(name, _IDENTIFIER_CHARS, first=chars.LETTERS | {"_"}):
        raise entry.error(f"expected NAME=VALUE with NAME of letters, digits and '_', got "
                          f"{_shorten(entry.value)!r}")
    if "\0" in entry.value or len(entry.value.encode()) > MAX_ENV_ENTRY:
        raise entry.error(f"{name}: an environment entry is at most {MAX_ENV_ENTRY} bytes "
                          "without NUL characters (execve(2) refuses longer ones)")
    return [entry.value]


def _shorten(text, most=60):
    return text if len(text) <= most else text[:most] + "..."


_MOUNT_AUTO = {"proc", "proc:mixed", "proc:rw", "sys", "sys:ro", "sys:mixed", "sys:rw",
               "cgroup", "cgroup:ro", "cgroup:rw", "cgroup:mixed", "cgroup-full",
               "cgroup-full:ro", "cgroup-full:rw", "cgroup-full:mixed", "shmounts"}


def _mount_auto(entry):
    words = entry.value.split()
    for word in words:
        base = word.split(":force")[0]
        if base not in _MOUNT_AUTO and not word.startswith("shmounts:"):
            raise entry.error(f"unknown mount.auto value {word!r}")
    return words


def _mount_entry(entry):
    fields = entry.value.split()
    if len(fields) < 4 or len(fields) > 6:
        raise entry.error(f"expected 'source target type options [dump pass]', got {entry.value!r}")
    source, target, fstype, options = fields[:4]
    return [MountEntry(_unescape(source), _unescape(target), fstype, tuple(options.split(",")), entry)]


def _mount_fstab(entry):
    path = entry.value
    try:
        lines = read_text_file(path).splitlines()
    except OSError as exc:
        raise entry.error(f"cannot read fstab {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise entry.error(f"cannot read fstab {path}: {exc}") from None
    result = []
    for number, line in enumerate(lines, 1):
        if line.strip() and not line.strip().startswith("#"):
            result.extend(_mount_entry(Entry("lxc.mount.entry", line.strip(), path, number)))
    return result


def _unescape(text):
    """fstab's octal escapes (\\040 for a space) replaced by their characters."""
    parts = text.split("\\")
    out = [parts[0]]
    for part in parts[1:]:
        code = part[:3]
        if len(code) == 3 and all(digit in "01234567" for digit in code):
            out.append(chr(int(code, 8)) + part[3:])
        else:
            out.append("\\" + part)
    return "".join(out)


def _idmap(entry):
    fields = entry.value.split()
    if len(fields) != 4 or fields[0] not in ("u", "g") or \
            not all(f.isascii() and f.isdigit() for f in fields[1:]):
        raise entry.error(f"expected 'u|g NSID HOSTID RANGE', got {entry.value!r}")
    kind, nsid, hostid, count = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    if count == 0 or max(nsid, hostid) + count > 1 << 32:
        raise entry.error(f"range {count} from {nsid} and {hostid} is empty or beyond 2^32")
    return [(kind, nsid, hostid, count)]


def _namespace_keep(entry):
    words = entry.value.split()
    for word in words:
        if word == "mnt":
            raise entry.error("a container always gets its own mount namespace")
        if word not in ("user", "pid", "uts", "ipc", "net", "cgroup", "time"):
            raise entry.error(f"unknown namespace {word!r} (user, pid, uts, ipc, net, cgroup, "
                              "time)")
    return words


_LIST_HANDLERS = {
    "lxc.mount.auto": ("mount_auto", _mount_auto),
    "lxc.mount.entry": ("mounts", _mount_entry),
    "lxc.mount.fstab": ("mounts", _mount_fstab),
    "lxc.environment": ("environment", _environment),
    "lxc.cap.drop": ("cap_drop", _capabilities),
    "lxc.cap.keep": ("cap_keep", _capabilities),
    "lxc.idmap": ("idmap", _idmap),
    "lxc.namespace.keep": ("namespace_keep", _namespace_keep),
}
# Keys whose empty value switches something off rather than back to its default.
_EMPTY_VALUES = {"lxc.seccomp.profile": ""}
_VALUE_HANDLERS = {
    "lxc.uts.name": ("uts_name", _as_hostname),
    "lxc.rootfs.path": ("rootfs", _as_rootfs),
    "lxc.rootfs.options": ("rootfs_options", _as_text),
    "lxc.init.cmd": ("init_cmd", _as_argv),
    "lxc.init.cwd": ("init_cwd", _as_path),
    "lxc.init.uid": ("init_uid", _as_int(0)),
    "lxc.init.gid": ("init_gid", _as_int(0)),
    "lxc.signal.halt": ("halt_signal", _as_signal),
    "lxc.signal.stop": ("stop_signal", _as_signal),
    "lxc.signal.reboot": ("reboot_signal", _as_signal),
    "lxc.autodev": ("autodev", _as_bool),
    "lxc.tty.max": ("tty_max", _as_int(0, 64)),
    "lxc.pty.max": ("pty_max", _as_int(0, 1 << 20)),
    "lxc.console.logfile": ("console_logfile", _as_path),
    "lxc.apparmor.profile": ("apparmor_profile", _as_apparmor_profile),
    "lxc.seccomp.profile": ("seccomp_profile", _as_path),
    "lxc.no_new_privs": ("no_new_privs", _as_bool),
    "hacontain.cgroup.parent": ("cgroup_parent", _as_parent),
}


def _net_entry(entry, nets):
    index, sub = _net_key(entry.key)
    data = nets.setdefault(index, {"index": index, "_origin": entry})
    if sub == "type":
        data["_origin"] = entry
    data.setdefault("_entries", []).append(entry)
    data[sub] = entry


def _finish_net(index, data):
    """Check one interface's entries and build its NetConfig."""
    origin = data["_origin"]
    type_entry = data.get("type")
    if type_entry is None:
        raise origin.error(f"interface {index} has no lxc.net.{index}.type")
    kind = type_entry.value
    if kind not in NET_TYPES:
        raise type_entry.error(f"unknown network type {kind!r} (one of {', '.join(NET_TYPES)})")
    fields = {"index": index, "type": kind, "origin": type_entry}
    for sub, entry in data.items():
        if sub.startswith("_") or sub in ("type", "index"):
            continue
        value = entry.value
        if sub in ("ipv4.address", "ipv6.address"):
            family = 6 if sub.startswith("ipv6") else 4
            fields[f"ipv{family}"] = tuple(
                _check_address(item, address, family)
                for item in data["_entries"] if item.key == entry.key
                for address in item.value.split())
        elif sub == "mtu":
            fields["mtu"] = _as_int(68, 65535)(entry)
        elif sub == "hwaddr":
            octets = value.split(":")
            if len(octets) != 6 or not all(chars.made_of(o, _MAC_CHARS, least=2, most=2)
                                           for o in octets):
                raise entry.error(f"invalid MAC address {value!r}")
            fields["hwaddr"] = value
        elif sub == "flags":
            if value not in ("up", ""):
                raise entry.error(f"only 'up' is supported, got {value!r}")
            fields["flags"] = value or None
        elif sub == "name":
            if not chars.made_of(value, _INTERFACE_CHARS, most=15):
                raise entry.error(f"invalid interface name {value!r} (1-15 characters)")
            fields["name"] = value
        elif sub == "veth.pair":
            if not chars.made_of(value, _INTERFACE_CHARS, most=15):
                raise entry.error(f"invalid interface name {value!r} (1-15 characters)")
            fields["veth_pair"] = value
        elif sub == "macvlan.mode":
            if value not in ("private", "vepa", "bridge", "passthru"):
                raise entry.error(f"unknown macvlan mode {value!r}")
            fields["macvlan_mode"] = value
        elif sub in ("ipv4.gateway", "ipv6.gateway"):
            if value != "auto" and value:
                _check_address(entry, value, 4 if sub.startswith("ipv4") else 6, "forbidden")
            fields[sub.replace(".", "_")] = value or None
        elif sub == "link":
            fields["link"] = value
    if kind in ("macvlan", "phys", "vlan", "ipvlan") and not fields.get("link"):
        raise type_entry.error(f"a {kind} interface needs lxc.net.{index}.link")
    return NetConfig(**fields)


def _check_address(entry, text, family, prefix="required"):
    from hacontain.runtime.network import ip
    try:
        value = ip.parse(text, prefix)
    except ValueError as exc:
        raise entry.error(f"invalid address {text!r}: {exc}") from None
    if value.version != family:
        raise entry.error(f"{text!r} is not an IPv{family} address")
    return text
