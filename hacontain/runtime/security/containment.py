"""What confines a container's processes, from its config; applied to the init and to
every attached process, in the last steps before exec.

Order (each step needs the privileges the next removes): drop the capabilities
from the bounding and inheritable sets (the effective set stays, so the rest can
run; exec recomputes it from the bounding set), set the AppArmor exec profile,
set no_new_privs, load the seccomp filter (CAP_SYS_ADMIN is still effective,
so no_new_privs is not required for it).
"""

import os

from hacontain.errors import ConfigError, StateError
from hacontain.runtime.security import apparmor, capabilities, seccomp_profile
from hacontain.sys import caps, proc, seccomp


class Containment:
    """Capabilities to drop, the seccomp program (bytes or None), no_new_privs, AppArmor profile."""

    __slots__ = ("drop_caps", "seccomp", "no_new_privs", "apparmor")

    def __init__(self, drop_caps=(), seccomp=None, no_new_privs=False, apparmor=None):
        self.drop_caps, self.seccomp = tuple(drop_caps), seccomp
        self.no_new_privs, self.apparmor = no_new_privs, apparmor

    def apply(self):
        """Confine this process (and what it execs) for good."""
        mask = 0
        for cap in self.drop_caps:
            caps.drop_bounding(cap)
            mask |= 1 << cap
        caps.clear_ambient()
        caps.clear_inheritable(mask)
        if self.apparmor:
            apparmor.set_exec(self.apparmor)
        if self.no_new_privs:
            caps.set_no_new_privs()
        if self.seccomp is not None:
            seccomp.load_filter(self.seccomp)


def from_config(config):
    """The Containment `config` asks for on this host; ConfigError naming file and line."""
    try:
        drop = capabilities.to_drop(config.cap_drop, config.cap_keep, capabilities.last_cap())
    except ValueError as exc:
        raise ConfigError(str(exc), config.path) from None
    if config.seccomp_profile == "":
        program = None
    else:
        _require_filter_arch(config)
        if config.seccomp_profile is None:
            program = seccomp_profile.parse(seccomp_profile.DEFAULT_PROFILE).program()
        else:
            program = seccomp_profile.load(config.seccomp_profile).program()
    return Containment(drop, program, config.no_new_privs, _apparmor_profile(config))


def save(containment, path):
    """Record `containment` at `path` (the state directory) for attach, one field a line."""
    lines = [
        "drop_caps " + " ".join(map(str, containment.drop_caps)),
        "seccomp " + (containment.seccomp.hex() if containment.seccomp is not None else "-"),
        f"no_new_privs {int(containment.no_new_privs)}",
        "apparmor " + (containment.apparmor or "-"),
    ]
    with open(path, "w", encoding="ascii") as handle:
        handle.write("\n".join(lines) + "\n")


def for_attach(path, init_pid):
    """The Containment for a process attached to the container whose init is `init_pid`:
    the one recorded at its start at `path`, and never a capability the running init's
    bounding set lacks (all the confinement an init started without a record had)."""
    fields = {}
    if os.path.exists(path):
        with open(path, encoding="ascii") as handle:
            fields = dict(line.rstrip("\n").split(" ", 1) for line in handle)
    seccomp = fields.get("seccomp", "-")
    result = Containment(
        [int(cap) for cap in fields.get("drop_caps", "").split()],
        None if seccomp == "-" else bytes.fromhex(seccomp),
        fields.get("no_new_privs") == "1",
        None if fields.get("apparmor", "-") == "-" else fields["apparmor"])
    try:
        bounding = proc.status_masks(init_pid, ("CapBnd",))["CapBnd"]
    except proc.ProcessGone:
        raise StateError(f"the container's init (pid {init_pid}) is gone") from None
    missing = {cap for cap in range(capabilities.last_cap() + 1) if not bounding >> cap & 1}
    result.drop_caps = tuple(sorted(missing | set(result.drop_caps)))
    return result


def _require_filter_arch(config):
    """Filters are built for x86_64 only: elsewhere one would kill the init at its
    first system call, so refuse the start instead."""
    machine = os.uname().machine
    if machine != "x86_64":
        raise ConfigError(f"seccomp filters are built for x86_64 only, this host is {machine}: "
                          "set `lxc.seccomp.profile =` (empty) to run without one", config.path,
                          key="lxc.seccomp.profile")


def _apparmor_profile(config):
    profile = config.apparmor_profile
    if profile in apparmor.UNCONFINED or profile is None or not apparmor.host_enabled():
        return None
    if not apparmor.loaded(profile):
        entry = config.entry("lxc.apparmor.profile")
        raise ConfigError(f"AppArmor profile {profile!r} is not loaded on this host",
                          entry.path, entry.line, entry.key)
    return profile
