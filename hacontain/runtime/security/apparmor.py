"""AppArmor: `lxc.apparmor.profile` on hosts that have it, a notice on hosts that don't."""

import os

UNCONFINED = ("", "unconfined")


def host_enabled():
    """Whether AppArmor is active on this host."""
    try:
        with open("/sys/module/apparmor/parameters/enabled", encoding="ascii") as handle:
            enabled = handle.read().strip() == "Y"
    except OSError:
        return False
    return enabled and os.path.isdir("/sys/kernel/security/apparmor")


def notice(profile):
    """The one-line notice for a configured profile this host cannot apply, else None."""
    if profile in UNCONFINED or profile is None or host_enabled():
        return None
    return f"AppArmor profile {profile!r} not applied: this host has no AppArmor"


def loaded(profile):
    """Whether `profile` is loaded in the kernel (host with AppArmor only)."""
    try:
        with open("/sys/kernel/security/apparmor/profiles", encoding="utf-8") as handle:
            return any(line.rsplit(" (", 1)[0] == profile for line in handle)
    except OSError:
        return False


def set_exec(profile):
    """Confine the next exec of this process by `profile`."""
    for path in ("/proc/self/attr/apparmor/exec", "/proc/self/attr/exec"):
        if os.path.exists(path):
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(f"exec {profile}")
            return
    raise OSError(2, "no AppArmor exec attribute in /proc/self/attr", "/proc/self/attr/exec")
