"""Where hacontain keeps containers and run-time state."""

import os

DEFAULT_LXCPATH = "/var/lib/hacontain"
DEFAULT_RUNDIR = "/run/hacontain"


def lxcpath(value=None):
    """The container directory: the argument, $HACONTAIN_LXCPATH, or the default."""
    return os.path.abspath(value or os.environ.get("HACONTAIN_LXCPATH") or DEFAULT_LXCPATH)


def rundir():
    """The run-time state directory: $HACONTAIN_RUNDIR or /run/hacontain."""
    return os.environ.get("HACONTAIN_RUNDIR") or DEFAULT_RUNDIR


def state_file(name):
    """RUNDIR/NAME/state.json: what start recorded about container `name`."""
    return os.path.join(rundir(), name, "state.json")


def cgroup_parent(configured=None):
    """The cgroup parent for containers: config, $HACONTAIN_CGROUP_PARENT,
    /etc/hacontain/cgroup-parent, or None (the cgroup driver's default)."""
    if configured:
        return configured
    value = os.environ.get("HACONTAIN_CGROUP_PARENT")
    if value:
        return value
    try:
        with open("/etc/hacontain/cgroup-parent", encoding="utf-8") as handle:
            return handle.read().strip() or None
    except FileNotFoundError:
        return None
