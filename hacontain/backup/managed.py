"""Whether Pacemaker manages a container: the agent's start records the resource
(RUNDIR/NAME/pacemaker, with the init it started: a later start by hand is not
taken for the cluster's), and the CIB is asked when it listens on this node."""

import os

from hacontain import jsontext, paths

MARKER = "pacemaker"


def record(name, resource, pid, start_time):
    """The agent started container `name` (init `pid`, `start_time`) as `resource`."""
    path = os.path.join(paths.rundir(), name, MARKER)
    with open(f"{path}.tmp", "w", encoding="utf-8") as handle:
        handle.write(jsontext.dumps({"resource": resource, "pid": pid, "start_time": start_time}))
    os.rename(f"{path}.tmp", path)


def resource_of(name, state):
    """The Pacemaker resource that manages container `name` (its State when running),
    or None: the agent's record of the running init, else the CIB's primitive."""
    try:
        with open(os.path.join(paths.rundir(), name, MARKER), encoding="utf-8") as handle:
            marker = jsontext.loads(handle.read())
    except (OSError, ValueError):
        marker = None
    if isinstance(marker, dict) and state is not None and \
            (marker.get("pid"), marker.get("start_time")) == (state.pid, state.start_time):
        return marker.get("resource") or "(unnamed)"
    from hacontain.cli_views import pacemaker_resources
    return pacemaker_resources().get(name)
