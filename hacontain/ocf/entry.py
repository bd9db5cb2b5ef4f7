"""The Python agent's body: the installed agent (install.py, agent.sh) answers a
depth-0 monitor's certain cases in the shell and runs `run` for everything else,
with hacontain on sys.path.

Imports nothing at load but sys.
"""

import sys


def run(argv, pack=None):
    """Answer the action in argv and exit; never returns. `pack`: the file of the
    agent's modules (codepack), used when it is there."""
    if pack:
        from hacontain.ocf.codepack import use
        use(pack)
    from hacontain.ocf.agent import main
    finish(main(argv))


def finish(code):
    """Exit with `code` now: output flushed, the interpreter not torn down (with the
    runtime loaded, tearing down its ~100 modules costs 4-5 ms of every action).
    posix._exit is os._exit."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):   # none, closed, or its reader gone
            pass
    from posix import _exit
    _exit(code)
