"""Bounding a call that may hang (monitor_cmd run inside the container) by the
time its action has left: Pacemaker counts an action that overruns its
timeout as failed and kills the agent's process group, which the command run
inside is not part of (it has a session of its own).

The call runs in a forked worker; at the deadline the worker and everything
it forked (the attach helper and the command inside) are killed, and nothing
else: not the container's own processes, even when the agent started them.
"""

import json
import os
import select
import signal

from hacontain import errors


def run_within(seconds, function, what):
    """function()'s result (JSON-able), or the HacontainError it raised; Timeout naming
    `what` when it takes more than `seconds`."""
    read_end, write_end = os.pipe()
    worker = os.fork()
    if worker == 0:
        os.close(read_end)
        _work(function, write_end)
    os.close(write_end)
    try:
        pidfd = os.pidfd_open(worker)
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            finished = bool(poller.poll(max(seconds, 0.0) * 1000))
        finally:
            os.close(pidfd)
        if not finished:
            _kill_tree(worker)
            raise errors.Timeout(f"{what} did not finish within {seconds:.1f} s: killed")
        with os.fdopen(read_end, "rb", closefd=False) as pipe:
            reply = pipe.read()
        os.waitpid(worker, 0)
    finally:
        os.close(read_end)
    kind, value = json.loads(reply) if reply else ("HacontainError", f"{what}: no answer")
    if kind == "result":
        return value
    raise errors.rebuild(kind, value)


def _work(function, pipe):
    """In the worker: run `function`, send back its result or error. Never returns."""
    try:
        reply = ("result", function())
    except errors.HacontainError as exc:
        reply = (type(exc).__name__, str(exc))
    except BaseException as exc:              # nothing may escape a forked child
        reply = ("HacontainError", f"{type(exc).__name__}: {exc}")
    try:
        os.write(pipe, json.dumps(reply).encode())
    finally:
        os._exit(0)


def _kill_tree(root):
    """SIGKILL `root` and every process descended from it (deepest first, so none is
    re-parented before its turn), then reap `root`."""
    for pid in reversed([root] + _descendants(root)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os.waitpid(root, 0)


def _descendants(root):
    """The PIDs below `root`, parents before children (from /proc/PID/stat)."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue                      # gone meanwhile
            parents.setdefault(int(fields[1]), []).append(int(name))
    found, pending = [], [root]
    while pending:
        children = parents.get(pending.pop(0), [])
        found.extend(children)
        pending.extend(children)
    return found
