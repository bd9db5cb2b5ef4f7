"""checkpoint_on_move: a planned stop checkpoints the container into its volume, and
the next start, on any node, restores it when the checkpoint is fresh and
consistent; anything else is a cold start with the reason logged.

Planned: Pacemaker passes a stop the same environment whether it moves the
resource (crm resource move, standby, a rebalance) or recovers it after a failed
monitor (OCF_RESKEY_CRM_meta_on_node, _on_node_uuid, _timeout only, checked with
Pacemaker 2.1). What differs is the resource's fail count on this node: the
controller records a failure (fail-count-RSC#OP_INTERVAL) before the scheduler
plans the recovery, so a recovery's stop sees it above 0. A stop is taken as
planned when the fail count of this resource on this node is 0 and the container
runs; an unknown count (no cluster: the agent run by hand) is not planned.
crm_failcount may take seconds on a loaded node (15 s seen in a TCG VM), so it
gets a share of the checkpoint's budget, at least FAILCOUNT_TIMEOUT.
"""

import os
import subprocess
import time

from hacontain.errors import HacontainError
from hacontain.ocf import log

FAILCOUNT_TIMEOUT = 5.0          # seconds at least for crm_failcount
FAILCOUNT_SHARE = 0.25           # of the checkpoint's budget, when that is more


def planned(params, timeout=FAILCOUNT_TIMEOUT):
    """(True, why) when this stop is planned, else (False, why); `timeout`: seconds
    crm_failcount may take."""
    resource = os.environ.get("OCF_RESOURCE_INSTANCE", "").split(":", 1)[0]
    node = os.environ.get("OCF_RESKEY_CRM_meta_on_node", "")
    if not resource or not node:
        return False, "not run by Pacemaker (no OCF_RESOURCE_INSTANCE or on_node)"
    try:
        result = subprocess.run(["crm_failcount", "--query", "--resource", resource,
                                 "--node", node], capture_output=True, text=True,
                                timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"the fail count of {resource} could not be read: {exc}"
    value = _failcount(result.stdout)
    if result.returncode != 0 or value is None:
        return False, (f"the fail count of {resource} could not be read: "
                       f"{(result.stderr or result.stdout).strip()[:200]}")
    if value != "0":
        return False, f"{resource} has failed on {node} (fail count {value}): a recovery"
    return True, f"{resource} has not failed on {node} (fail count 0)"


def _failcount(text):
    """The value of crm_failcount --query's "scope=status name=... value=N"."""
    for word in text.split():
        if word.startswith("value="):
            return word[len("value="):]
    return None


def checkpoint_before_stop(params, container, budget):
    """On a planned stop of a running container: checkpoint it and let criu stop it.
    Any failure is logged and leaves the container to the normal stop."""
    from hacontain.runtime import checkpoint
    if not container.status().running:
        return
    began = time.monotonic()
    is_planned, why = planned(params, max(FAILCOUNT_TIMEOUT, budget * FAILCOUNT_SHARE))
    if not is_planned:
        log.log("info", f"container {params.name}: no checkpoint, not a planned stop: {why}")
        return
    log.log("info", f"container {params.name}: a planned stop ({why}): checkpointing it")
    directory = params.checkpoint_dir or None
    try:
        checkpoint.checkpoint(container, directory, stop=True,
                              timeout=budget - (time.monotonic() - began))
    except HacontainError as exc:
        log.log("warn", f"container {params.name}: checkpoint failed, stopping it normally: "
                        f"{exc}")
        _discard(container, directory)
        return
    log.log("info", f"container {params.name}: checkpointed in "
                    f"{time.monotonic() - began:.1f}s; the next start restores it")


def restore_at_start(params, container, config, budget):
    """The State of the container restored from its checkpoint, or None after
    logging why not (the checkpoint is then deleted: the caller cold-starts)."""
    from hacontain.runtime import checkpoint
    directory = params.checkpoint_dir or None
    where = directory or checkpoint.default_directory(container, config)
    if not os.path.exists(where):
        log.log("info", f"container {params.name}: cold start: no checkpoint in {where} "
                        "(the last stop was not a planned one, or none ran)")
        return None
    began = time.monotonic()
    try:
        record = checkpoint.restore(container, directory, timeout=budget)
    except HacontainError as exc:
        log.log("warn", f"container {params.name}: cold start: {exc}")
        _discard(container, directory)
        return None
    log.log("info", f"container {params.name}: restored from its checkpoint in "
                    f"{time.monotonic() - began:.1f}s (init pid {record.pid})")
    return record


def _discard(container, directory):
    from hacontain.runtime import checkpoint
    try:
        checkpoint.discard(container, directory)
    except (HacontainError, OSError) as exc:
        log.log("warn", f"container {container.name}: could not delete the checkpoint: {exc}")
