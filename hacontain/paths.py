"""Where hacontain keeps containers and run-time state.

Nothing is imported at load. The environment comes as an argument (default
os.environ); a path given in normal form needs no os.path. The installed
agent's shell half (ocf/agent.sh) finds the state file and the cgroup
directory the same way; tests/ocf/test_agent_sh.py holds the two together.
"""

DEFAULT_LXCPATH = "/var/lib/hacontain"
DEFAULT_RUNDIR = "/run/hacontain"
STATE_VERSION = 1                         # of RUNDIR/NAME/state.json (runtime/state.py)
DEFAULT_CGROUP_PARENT = "hacontain"       # the cgroup driver's default (cgroups/place.py)


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


def cgroup_parent(configured=None, environ=None):
    """The cgroup parent for containers: config, $HACONTAIN_CGROUP_PARENT,
    /etc/hacontain/cgroup-parent, or None (the cgroup driver's default)."""
    if configured:
        return configured
    value = _environ(environ).get("HACONTAIN_CGROUP_PARENT")
    if value:
        return value
    try:
        with open("/etc/hacontain/cgroup-parent", encoding="utf-8") as handle:
            return handle.read().strip() or None
    except FileNotFoundError:
        return None


def cgroup_dir(name, parent=None, proc="/proc"):
    """The directory of container `name`'s cgroup under `parent` (None: the default,
    DEFAULT_CGROUP_PARENT) on one hierarchy, where the cgroup driver puts it for
    this process: the unified hierarchy's when one is mounted, else the first v1
    hierarchy with controllers. The container has a cgroup on each of them, so
    one stat of this directory tells "nothing" from "something". None when
    /proc/self/cgroup and mountinfo cannot tell (no such mount below
    /sys/fs/cgroup, the caller outside the mount's root, an escaped path)."""
    parent = parent or DEFAULT_CGROUP_PARENT
    parts = [part for part in parent.split("/") if part]
    if ".." in parts or "." in parts:
        return None
    with open(f"{proc}/self/cgroup", encoding="utf-8") as handle:
        membership = [line.split(":", 2) for line in handle.read().splitlines()]
    with open(f"{proc}/self/mountinfo", encoding="utf-8") as handle:
        mounts = [line.split(" ") for line in handle.read().splitlines()]
    unified = [entry for entry in membership if len(entry) == 3 and entry[:2] == ["0", ""]]
    for entry in unified + [entry for entry in membership if len(entry) == 3 and entry[1]]:
        controllers = set(entry[1].split(",")) - {""}
        if any(controller.startswith("name=") for controller in controllers):
            continue                          # no resources to control: not a container's
        base = "" if parent.startswith("/") else entry[2].rstrip("/")
        cgroup = "/".join([base] + parts + [name])
        for fields in mounts:
            where = _cgroup_mount(fields, controllers)
            if where is not None:
                mountpoint, root = where
                root = root.rstrip("/")
                if cgroup.startswith(root + "/"):
                    return mountpoint + cgroup[len(root):]
    return None


def _cgroup_mount(fields, controllers):
    """(mount point, root) of a mountinfo line mounting, below /sys/fs/cgroup, the
    hierarchy of `controllers` (empty: the unified one), or None."""
    if "-" not in fields:
        return None
    tail = fields[fields.index("-") + 1:]
    if len(tail) < 3 or len(fields) < 5 or "\\" in fields[3] + fields[4]:
        return None
    mountpoint = fields[4]
    if mountpoint != "/sys/fs/cgroup" and not mountpoint.startswith("/sys/fs/cgroup/"):
        return None
    if controllers:
        matches = tail[0] == "cgroup" and controllers <= set(tail[2].split(","))
    else:
        matches = tail[0] == "cgroup2"
    return (mountpoint, fields[3]) if matches else None


def _environ(environ):
    if environ is None:
        import os
        environ = os.environ
    return environ
