"""Where hacontain keeps containers and run-time state.

Nothing is imported at load: the agent's depth-0 monitor finds the state
file through this module, and importing `os` alone costs a sixth of that
monitor. The environment comes as an argument (default os.environ); a path
given in normal form needs no os.path.
"""

DEFAULT_LXCPATH = "/var/lib/hacontain"
DEFAULT_RUNDIR = "/run/hacontain"


def lxcpath(value=None, environ=None):
    """The container directory, absolute: the argument, $HACONTAIN_LXCPATH, or the default."""
    path = value or _environ(environ).get("HACONTAIN_LXCPATH") or DEFAULT_LXCPATH
    if path == "/" or (path.startswith("/") and
                       all(part not in ("", ".", "..") for part in path[1:].split("/"))):
        return path
    import os
    return os.path.abspath(path)


def rundir(environ=None):
    """The run-time state directory: $HACONTAIN_RUNDIR or /run/hacontain."""
    return _environ(environ).get("HACONTAIN_RUNDIR") or DEFAULT_RUNDIR


def state_file(name, environ=None):
    """RUNDIR/NAME/state.json: what start recorded about container `name`."""
    return f"{rundir(environ).rstrip('/')}/{name}/state.json"


def cgroup_parent(configured=None):
    """The cgroup parent for containers: config, $HACONTAIN_CGROUP_PARENT,
    /etc/hacontain/cgroup-parent, or None (the cgroup driver's default)."""
    if configured:
        return configured
    value = _environ(None).get("HACONTAIN_CGROUP_PARENT")
    if value:
        return value
    try:
        with open("/etc/hacontain/cgroup-parent", encoding="utf-8") as handle:
            return handle.read().strip() or None
    except FileNotFoundError:
        return None


def _environ(environ):
    if environ is None:
        import os
        environ = os.environ
    return environ
