"""The agent executable's body: `hacontain install-agent` writes a script that
puts hacontain on sys.path and calls `run` (see install.py).

Imports nothing at load but sys: a depth-0 monitor is answered by
quickstatus alone, everything else loads the full agent.
"""

import sys


def run(argv):
    """Answer the action in argv and exit; never returns."""
    if argv[1:] == ["monitor"]:        # the every-few-seconds case, answered first
        from hacontain.ocf.quickstatus import answer
        try:
            code = answer()
        except Exception:              # anything unusual: the agent answers, with a reason
            code = None
        if code is not None:
            finish(code)
    from hacontain.ocf.agent import main
    finish(main(argv))


def finish(code):
    """Exit with `code` now: output flushed, the interpreter not torn down (with the
    runtime loaded, tearing down its ~100 modules costs 4-5 ms of every action).
    posix._exit is os._exit; importing os would cost the depth-0 monitor 2 ms."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):   # none, closed, or its reader gone
            pass
    from posix import _exit
    _exit(code)
