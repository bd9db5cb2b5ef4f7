"""Capability names and the bounding set a container keeps (lxc.cap.drop / lxc.cap.keep).

Defaults follow LXC's common config: mac_admin, mac_override, sys_time,
sys_module and sys_rawio are dropped. sys_boot is kept, as LXC does: inside a
pid namespace reboot(2) only ends the container's init, which is how the
container's own halt and reboot work; kexec (which needs sys_boot on the host)
is refused by the default seccomp filter instead.
"""

# Index = capability number (linux/capability.h).
NAMES = (
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid",
    "setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast",
    "net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio",
    "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
    "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write",
    "audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
    "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
)
DEFAULT_DROP = ("mac_admin", "mac_override", "sys_time", "sys_module", "sys_rawio")


def number(name):
    """The capability number of `name` ("sys_admin", "CAP_SYS_ADMIN" or "21"); ValueError."""
    text = name.lower().removeprefix("cap_")
    if text.isdigit() and int(text) < len(NAMES):
        return int(text)
    if text in NAMES:
        return NAMES.index(text)
    raise ValueError(f"unknown capability {name!r}")


def to_drop(cap_drop, cap_keep, last_cap):
    """Capability numbers to remove, from the config's lists.

    `cap_keep` non-empty means keep only those ("none": keep nothing), else
    `cap_drop` (which starts as DEFAULT_DROP in a parsed config) is dropped.
    `last_cap` is the host's highest capability number.
    """
    every = set(range(last_cap + 1))
    if cap_keep:
        kept = set() if "none" in cap_keep else {number(name) for name in cap_keep}
        return sorted(every - kept)
    return sorted({number(name) for name in cap_drop} & every)


def last_cap():
    """The host kernel's highest capability number."""
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as handle:
        return int(handle.read())

