"""Kernel features hacontain uses, checked on this host (like lxc-checkconfig), and
one container's config against this host."""

import os


def _namespaces():
    for kind, required in (("pid", True), ("mnt", True), ("uts", True), ("ipc", True),
                           ("net", True), ("cgroup", True), ("user", False), ("time", False)):
        yield f"namespace {kind}", os.path.exists(f"/proc/self/ns/{kind}"), required


def _filesystems():
    with open("/proc/filesystems", encoding="ascii") as handle:
        known = {line.split()[-1] for line in handle if line.strip()}
    for name, required in (("proc", True), ("sysfs", True), ("tmpfs", True), ("devpts", True),
                           ("mqueue", True), ("cgroup", False), ("cgroup2", False)):
        yield f"filesystem {name}", name in known, required


def _cgroups():
    try:
        with open("/proc/cgroups", encoding="ascii") as handle:
            enabled = {line.split()[0] for line in handle
                       if not line.startswith("#") and line.split()[3] == "1"}
    except FileNotFoundError:
        enabled = set()
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        with open("/sys/fs/cgroup/cgroup.controllers", encoding="ascii") as handle:
            enabled |= set(handle.read().split())
    for name, required in (("memory", True), ("pids", True), ("cpu", False), ("cpuset", False),
                           ("freezer", False), ("devices", False), ("blkio", False), ("io", False)):
        yield f"cgroup controller {name}", name in enabled, required


def _syscalls():
    try:
        os.close(os.pidfd_open(os.getpid()))
        yield "pidfd_open", True, True
    except OSError:
        yield "pidfd_open", False, True
    yield "seccomp", os.path.exists("/proc/sys/kernel/seccomp/actions_avail"), False
    yield "bpf (cgroup v2 device filter)", os.path.exists("/proc/sys/kernel/unprivileged_bpf_disabled"), False


def _network():
    options = _kernel_config()
    for name, option in (("veth", "CONFIG_VETH"), ("macvlan", "CONFIG_MACVLAN"),
                         ("bridge", "CONFIG_BRIDGE")):
        present = options.get(option) in ("y", "m") or os.path.isdir(f"/sys/module/{name}")
        yield f"network {name}", present, False


def _kernel_config():
    """The running kernel's build options from /proc/config.gz or /boot, or {}."""
    import gzip
    for path, opener in (("/proc/config.gz", gzip.open),
                         (f"/boot/config-{os.uname().release}", open)):
        try:
            with opener(path, "rt", encoding="ascii", errors="replace") as handle:
                return dict(line.strip().split("=", 1) for line in handle
                            if line.startswith("CONFIG_") and "=" in line)
        except OSError:
            continue
    return {}


def checks():
    """(label, present, required) for each feature."""
    for group in (_namespaces, _filesystems, _cgroups, _syscalls, _network):
        yield from group()


def checkpointing():
    """None when CRIU can checkpoint containers on this host (`criu check`), else why not."""
    from hacontain.runtime import criu
    return criu.check()


def warnings():
    """Host settings hacontain runs with but that put data at risk, one line each naming
    the fix: an LVM filter that lets LVM see a DRBD backing disk."""
    from hacontain.storage.lvmfilter import host_warnings
    return host_warnings()


def check_container(container):
    """None when `container`'s config parses and this host has what it asks for (every
    check start makes before it makes anything: rootfs, init, limits against this
    kernel, bridges, bind sources, id maps...); else the first problem, at its file:line."""
    from hacontain.errors import HacontainError
    try:
        container.check()
    except HacontainError as exc:
        return str(exc)
    return None
