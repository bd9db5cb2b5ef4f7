"""The monitor action (the installed agent's shell half answers the certain
depth-0 cases first, see agent.sh; this is everything else).

depth 0: the container's init is alive (0), nothing of it exists (7: no
trusted state file and no cgroup), or its init is gone, or its state file is
missing or cannot be trusted, while its cgroup is left (1: never 7 while
the kernel has its cgroup; stop empties it). depth 10: monitor_cmd also
passes inside the container. depth 20: the configured network interfaces
exist and the interfaces inside are up (hacontain/ocf/network.py). A frozen
container is running (0); its deep checks are skipped.
"""

from hacontain import paths
from hacontain.ocf import log
from hacontain.ocf.codes import ERR_GENERIC, NOT_RUNNING, SUCCESS, OcfExit
from hacontain.ocf.params import check_level

MONITOR_TIMEOUT = 20.0    # seconds, when OCF_RESKEY_CRM_meta_timeout is unset
MONITOR_MARGIN = 1.0      # kept back from the timeout to kill a hanging monitor_cmd and report


def monitor(params):
    """0 running, 7 stopped, 1 failed (OcfExit carries 7 and 1 with a reason)."""
    lxcpath = paths.lxcpath(params.lxcpath)
    depth = check_level()
    status = _settled_status(params.name,
                             params.config_path() or f"{lxcpath}/{params.name}/config")
    from hacontain.runtime.status import DEFUNCT
    if status.owner not in (None, lxcpath):
        log.log("warn", f"a container named {params.name} from {status.owner} is known "
                        f"on this node, not the one in {lxcpath}")
        raise OcfExit(NOT_RUNNING, not_running(params.name, lxcpath))
    if status.running:
        return _deep_checks(params, lxcpath, status, depth)
    if status.name == DEFUNCT:
        raise OcfExit(ERR_GENERIC, f"container {params.name} failed: {status.reason}")
    if status.untrusted:
        log.log("warn", f"container {params.name}: {status.reason}; nothing of it runs")
    raise OcfExit(NOT_RUNNING, not_running(params.name))


def not_running(name, lxcpath=None):
    """The exit reason of a monitor that finds container `name` stopped (agent.sh
    words it the same)."""
    where = f" from {lxcpath}" if lxcpath else ""
    return f"container {name}{where} is not running"


def _settled_status(name, config):
    """The runtime's Status (`config`: the container's config path, which places its
    cgroup when the state file cannot); a half-present container is looked at
    again once a start or stop holding its lock (which may be making or
    removing it) is done."""
    from hacontain.config import valid_name
    from hacontain.errors import ParameterError
    from hacontain.runtime.status import DEFUNCT, read_status
    if not name:
        raise ParameterError("parameter name is required")
    valid_name(name)
    status = read_status(name, config)
    if status.name == DEFUNCT:
        _wait_for_lock(name)
        status = read_status(name, config)
    return status


def _wait_for_lock(name):
    import fcntl
    import os
    from hacontain.runtime.state import Lock
    try:
        fd = os.open(Lock(name).path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    finally:
        os.close(fd)


def _deep_checks(params, lxcpath, status, depth):
    if depth < 10:
        return SUCCESS
    from hacontain.runtime.status import FROZEN
    if status.name == FROZEN:
        log.log("info", f"container {params.name} is frozen: depth {depth} checks skipped")
        return SUCCESS
    argv = params.monitor_argv()
    if argv:
        from hacontain.ocf.deadline import run_within
        from hacontain.ocf.params import action_budget
        from hacontain.runtime.container import Container
        container = Container(params.name, lxcpath, params.config_path())
        code = run_within(action_budget(MONITOR_TIMEOUT, MONITOR_MARGIN),
                          lambda: container.attach(argv), f"monitor_cmd {params.monitor_cmd!r}")
        if code != 0:
            raise OcfExit(ERR_GENERIC, f"monitor_cmd {params.monitor_cmd!r} exited with {code} "
                                       f"in container {params.name}")
    if depth >= 20:
        from hacontain.ocf.network import interface_problems
        problems = interface_problems(status.state.pid, status.state.network)
        if problems:
            raise OcfExit(ERR_GENERIC, f"container {params.name}: network interface "
                                       f"{', '.join(problems)}")
    return SUCCESS
