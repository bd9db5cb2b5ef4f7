"""Bounding a call that may hang (monitor_cmd run inside the container) by the
time its action has left: Pacemaker counts an action that overruns its
timeout as failed and kills the agent's process group, which the command run
inside is not part of (it has a session of its own).

An interval timer interrupts the call; what the call forked (the attach
helper and the command inside) is killed and reaped before Timeout is raised.
"""

import os
import signal

from hacontain.errors import Timeout


class _Expired(BaseException):
    """Raised by the timer's signal handler, out of whatever the call waits in."""


def run_within(seconds, function, what):
    """function()'s result; Timeout naming `what` when it takes more than `seconds`."""
    def expire(signum, frame):
        raise _Expired()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        return function()
    except _Expired:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _kill_descendants()
        raise Timeout(f"{what} did not finish within {seconds:.1f} s: killed") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _kill_descendants():
    """SIGKILL every process descended from this one (deepest first, so none is
    re-parented before its turn), then reap this process's own children."""
    family = _descendants(os.getpid())
    for pid in reversed(family):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


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
