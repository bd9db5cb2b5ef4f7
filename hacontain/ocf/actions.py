"""The agent's actions but monitor (see monitor.py): one function each, taking
the Params and returning an OCF code or raising (codes.exit_code maps it)."""

import os
import sys
import time

from hacontain import paths
from hacontain.ocf import log
from hacontain.ocf.codes import (ERR_ARGS, ERR_GENERIC, ERR_PERM, ERR_UNIMPLEMENTED, SUCCESS,
                                 OcfExit)
from hacontain.ocf.params import action_timeout
from hacontain.sys import proc

START_TIMEOUT = 60.0      # seconds, when OCF_RESKEY_CRM_meta_timeout is unset
STOP_TIMEOUT = 60.0
START_MARGIN = 5.0        # kept back from the start timeout to report a failure in time
STOP_MARGIN = 10.0        # kept back from the stop timeout for SIGKILL and cgroup cleanup
HEALTH_RETRY = 1.0        # seconds between monitor_cmd attempts during start

USAGE = """\
usage: container {start|stop|monitor|reload-agent|reload|validate-all|meta-data|usage}

ocf:hacontain:container runs a hacontain system container as a Pacemaker
resource. Parameters come as OCF_RESKEY_<name> (see meta-data).
"""


def start(params):
    """Start the container (0 when it runs already); wait for monitor_cmd to pass."""
    _require_root()
    params.check()
    container = _container(params, with_limits=True)
    budget = _less_margin(action_timeout(START_TIMEOUT), START_MARGIN)
    deadline = time.monotonic() + budget
    log.log("debug", f"starting container {params.name}: {budget:.1f}s to run")
    _refuse_foreign(container)
    from hacontain.backup.registry import abort     # a backup of the stopped container
    aborted = abort(params.name, container.lxcpath)  # may hold its volume
    if aborted:
        log.log("warn", aborted)
    config = container.load_config()
    for warning in config.warnings:
        log.log("warn", warning)
    init = None
    if params.checkpointing():           # checkpoint_on_move: restore a planned stop's
        from hacontain.ocf.checkpoint_move import restore_at_start
        init = restore_at_start(params, container, config, (deadline - time.monotonic()) / 2)
        if init is not None:
            _record_managed(params.name, init)
    # Recorded while the init gets to its exec: a failed start leaves a record of a
    # dead init, which is nobody's (backup.managed compares the init).
    init = init or container.start(timeout=max(deadline - time.monotonic(), 1.0),
                                   config=config,
                                   on_launch=lambda state: _record_managed(params.name, state))
    try:
        if not proc.is_alive(init.pid, init.start_time):
            raise OcfExit(ERR_GENERIC, f"container {params.name} stopped right after its init "
                                       "started; see its console log")
        argv = params.monitor_argv()
        if argv:
            _wait_healthy(container, params, argv, deadline)
    except BaseException:
        _stop_failed_start(container)
        raise
    log.log("info", f"container {params.name} started (init pid {init.pid})")
    return SUCCESS


def _record_managed(name, init):
    """Record that Pacemaker's resource manages container `name`, whose init is the
    State `init` (a stop-mode backup refuses it)."""
    from hacontain.backup.managed import record
    try:
        record(name, os.environ.get("OCF_RESOURCE_INSTANCE") or name, init.pid,
               init.start_time)
    except OSError as exc:
        log.log("warn", f"could not record that Pacemaker manages container {name}: {exc}")


def stop(params):
    """Halt, then kill, the container within the stop timeout; 0 once nothing is left."""
    _require_root()
    container = _container(params, halt_signal=_stop_signal(params))
    status = container.status()
    if status.owner not in (None, container.lxcpath):
        log.log("warn", f"not stopping the container named {params.name} from "
                        f"{status.owner}: it is not this resource's")
        return SUCCESS
    grace = _less_margin(action_timeout(STOP_TIMEOUT), STOP_MARGIN)
    began = time.monotonic()
    from hacontain.backup.registry import abort     # a backup never blocks a failover
    aborted = abort(params.name, container.lxcpath, timeout=min(10.0, grace / 2))
    if aborted:
        log.log("warn", aborted)
        grace = max(grace - (time.monotonic() - began), 0.0)
    if params.checkpoint_on_move.lower() in ("true", "yes", "1", "on"):
        from hacontain.ocf.checkpoint_move import checkpoint_before_stop
        checkpointing = time.monotonic()
        checkpoint_before_stop(params, container, grace / 2)
        grace = max(grace - (time.monotonic() - checkpointing), 0.0)
    log.log("debug", f"stopping container {params.name}: halt grace {grace:.1f}s")
    outcome = container.stop(timeout=grace)
    left = container.status()
    if left.present:
        raise OcfExit(ERR_GENERIC, f"container {params.name} is still {left.name} after stop")
    if outcome == "killed":
        log.log("warn", f"container {params.name} did not halt within {grace:.1f}s "
                        "and was killed")
    log.log("info", f"container {params.name} stopped ({outcome})")
    return SUCCESS


def reload(params):
    """reload-agent (and reload): write the limit parameters to the running container's
    cgroup; the other reloadable parameters take effect at their next use."""
    _require_root()
    params.check()
    container = _container(params, with_limits=True)
    status = container.status()
    if status.owner not in (None, container.lxcpath) or not status.present:
        log.log("info", f"container {params.name} is not running: its limits apply at start")
        return SUCCESS
    if not status.running:
        raise OcfExit(ERR_GENERIC, f"container {params.name} is {status.name} "
                                   f"({status.reason}): its limits were not applied")
    for key, value in params.limits():
        before = container.cgroup_value(key)
        after = container.cgroup_value(key, value)
        if before != after:
            log.log("info", f"container {params.name}: {key} {before} -> {after}")
    return SUCCESS


def validate_all(params):
    """6 parameters wrong everywhere, 2 config or rootfs missing here, 5 software missing."""
    params.check()
    _container(params, with_limits=True).check()
    return SUCCESS


def meta_data(params):
    from hacontain.ocf.metadata import build
    sys.stdout.buffer.write(build())
    sys.stdout.flush()
    return SUCCESS


def usage(params):
    sys.stdout.write(USAGE)
    return SUCCESS


def migrate(params):
    raise OcfExit(ERR_UNIMPLEMENTED, "live migration is not supported: the container moves "
                                     "by stop and start")


# -- helpers -----------------------------------------------------------------

def _container(params, with_limits=False, halt_signal=None):
    from hacontain.runtime.cgroups import reuse_layout
    from hacontain.runtime.container import Container
    from hacontain.errors import ParameterError
    if not params.name:
        raise ParameterError("parameter name is required")
    reuse_layout()          # an action never changes the agent's own cgroups: detect once
    return Container(params.name, paths.lxcpath(params.lxcpath), params.config_path(),
                     limits=params.limits() if with_limits else (),
                     halt_signal=halt_signal)


def _require_root():
    if os.geteuid() != 0:
        raise OcfExit(ERR_PERM, "the agent must run as root")


def _less_margin(total, margin):
    """`total` seconds less a margin of at most `margin` and at most half of it."""
    return total - min(margin, total / 2)


def _stop_signal(params):
    """halt_signal for stop; a bad value must not keep the container running."""
    from hacontain.errors import ConfigError
    try:
        return params.halt_signum()
    except ConfigError as exc:
        log.log("warn", f"{exc}: stopping with the config's halt signal")
        return None


def _refuse_foreign(container):
    from hacontain.runtime.status import read_status
    status = read_status(container.name)      # only a state file names a foreign container
    if (status.running or status.processes) and status.owner not in (None, container.lxcpath):
        raise OcfExit(ERR_ARGS, f"a container named {container.name} from "
                                f"{status.owner} runs on this node: names must be "
                                "unique on a host")


def _stop_failed_start(container):
    """Kill what a failed start left running, so Pacemaker recovers from a stopped container."""
    from hacontain.errors import HacontainError
    try:
        container.stop(timeout=0, kill=True)
        log.log("warn", f"start of container {container.name} failed: stopped it again")
    except HacontainError as exc:
        log.log("err", f"start of container {container.name} failed, and stopping it: {exc}")


def _wait_healthy(container, params, argv, deadline):
    """Run monitor_cmd inside until it exits 0; fail (Timeout when it hangs) at the deadline."""
    from hacontain.ocf.deadline import run_within
    while True:
        code = run_within(deadline - time.monotonic(), lambda: container.attach(argv),
                          f"monitor_cmd {params.monitor_cmd!r}")
        if code == 0:
            return
        if deadline - time.monotonic() <= HEALTH_RETRY:    # no time left for another try
            raise OcfExit(ERR_GENERIC, f"container {params.name} started but monitor_cmd "
                                       f"{params.monitor_cmd!r} still exits with {code}")
        time.sleep(HEALTH_RETRY)
