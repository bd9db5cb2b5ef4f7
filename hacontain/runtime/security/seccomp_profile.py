"""LXC's seccomp profile text format, and the default profile.

    1                         version 1: allowlist of syscall numbers
    allowlist
    0 ...

    2                         version 2
    denylist [ACTION]         or allowlist [ACTION] (blacklist/whitelist too)
    reject_force_umount       refuse umount2(MNT_FORCE) with EACCES
    [all]                     sections: all, x86_64 or amd64 apply here;
    kexec_load errno 1        other architectures' sections are skipped
    mknod                     (their ABIs are refused as a whole)

An ACTION is kill, errno N, trap, trace N, log or allow. A rule without one
takes the opposite of the default: kill in a denylist, allow in an allowlist.
A denylist's default is allow, an allowlist's kill. Syscall names unknown on
x86_64 are an error in a native section and skipped under [all], where a
profile may name other architectures' syscalls.
"""

from hacontain.errors import ConfigError
from hacontain.runtime.security import bpf
from hacontain.runtime.security.syscalls_x86_64 import NUMBERS

# LXC's common.seccomp, plus kexec_file_load.
DEFAULT_PROFILE = """2
denylist
reject_force_umount
[all]
kexec_load errno 1
kexec_file_load errno 1
open_by_handle_at errno 1
init_module errno 1
finit_module errno 1
delete_module errno 1
"""
_NATIVE = {"all", "x86_64", "amd64"}
_FOREIGN = {"x86", "i386", "x32", "arm", "armel", "armhf", "arm64", "aarch64", "mips", "mipsel",
            "mips64", "mipsel64", "mips64n32", "mipsel64n32", "ppc", "ppc64", "ppc64le",
            "s390", "s390x", "riscv64", "loongarch64"}
_MODES = {"denylist": "denylist", "blacklist": "denylist",
          "allowlist": "allowlist", "whitelist": "allowlist"}


class Profile:
    """A parsed profile: default return value, (number, return value) rules, force-umount flag."""

    __slots__ = ("default", "rules", "force_umount")

    def __init__(self, default, rules, force_umount):
        self.default, self.rules, self.force_umount = default, rules, force_umount

    def program(self):
        """The packed BPF program; whatever the profile, it refuses to reconfigure a
        mounted filesystem (bpf.build's `superblocks`)."""
        return bpf.pack(bpf.build(self.rules, self.default, self.force_umount,
                                  superblocks=True))


def load(path):
    """Parse the profile file at `path`; ConfigError naming path and line."""
    from hacontain.config import read_text_file
    try:
        text = read_text_file(path)
    except OSError as exc:
        raise ConfigError(f"cannot read seccomp profile: {exc.strerror}", path) from None
    except ValueError as exc:
        raise ConfigError(f"cannot read seccomp profile: {exc}", path) from None
    return parse(text, path)


def parse(text, path="<default profile>"):
    """Parse profile `text` (from `path`, for error messages) into a Profile."""
    lines = [(number, line.split("#", 1)[0].strip())
             for number, line in enumerate(text.splitlines(), 1)]
    lines = [(number, line) for number, line in lines if line]
    if len(lines) < 2:
        raise ConfigError("a seccomp profile needs a version line and a policy line", path)
    (_, version), (policy_line, policy) = lines[0], lines[1]
    if version == "1":
        return _parse_v1(lines[2:], policy, policy_line, path)
    if version != "2":
        raise ConfigError(f"unsupported seccomp profile version {version!r} (1 or 2)", path, lines[0][0])
    words = policy.split()
    if words[0] not in _MODES:
        raise ConfigError(f"expected denylist or allowlist, got {words[0]!r}", path, policy_line)
    denylist = _MODES[words[0]] == "denylist"
    implied = bpf.RET_KILL_PROCESS if denylist else bpf.RET_ALLOW
    default = _action(words[1:], path, policy_line) if len(words) > 1 else \
        (bpf.RET_ALLOW if denylist else bpf.RET_KILL_PROCESS)
    rules, force_umount, section = [], False, "x86_64"
    for number, line in lines[2:]:
        if line.startswith("["):
            section = _section(line, path, number)
        elif line == "reject_force_umount":
            force_umount = True
        elif section in _NATIVE:
            rule = _rule(line, implied, section, path, number)
            if rule is not None:
                rules.append(rule)
    return Profile(default, rules, force_umount)


def _parse_v1(lines, policy, policy_line, path):
    if _MODES.get(policy) != "allowlist":
        raise ConfigError("a version 1 profile must be an allowlist", path, policy_line)
    rules = []
    for number, line in lines:
        if not (line.isascii() and line.isdigit()):
            raise ConfigError(f"expected a syscall number, got {line!r}", path, number)
        rules.append((int(line), bpf.RET_ALLOW))
    return Profile(bpf.RET_KILL_PROCESS, rules, False)


def _section(line, path, number):
    name = line.strip("[]").strip().lower()
    if not line.endswith("]") or name not in _NATIVE | _FOREIGN:
        raise ConfigError(f"unknown architecture section {line!r}", path, number)
    return name


def _rule(line, implied, section, path, number):
    name, *words = line.split()
    if any(word.startswith("[") for word in words):
        raise ConfigError(f"argument conditions are not supported: {line!r}", path, number)
    action = _action(words, path, number) if words else implied
    if name not in NUMBERS:
        if section == "all":
            return None
        raise ConfigError(f"unknown x86_64 syscall {name!r}", path, number)
    return NUMBERS[name], action


def _action(words, path, number):
    kind, *rest = words
    simple = {"kill": bpf.RET_KILL_PROCESS, "allow": bpf.RET_ALLOW, "trap": bpf.RET_TRAP,
              "log": bpf.RET_LOG}
    if kind in simple and not rest:
        return simple[kind]
    if kind in ("errno", "trace") and len(rest) == 1 and rest[0].isascii() \
            and rest[0].isdigit() and int(rest[0]) <= 0xFFFF:
        value = int(rest[0])
        return bpf.errno(value) if kind == "errno" else bpf.RET_TRACE | value
    raise ConfigError(f"invalid seccomp action {' '.join(words)!r} (kill, errno N, trap, "
                      "trace N, log or allow)", path, number)
