"""Signal numbers, names and functions from the C module `_signal`.

The `signal` module wraps the same in enums; importing enum costs every
agent action several milliseconds of CPU, so the start and stop paths use this.
"""

from _signal import *  # noqa: F401,F403  (SIGKILL, SIGRTMIN, pthread_sigmask...)
import _signal


def number_of(name):
    """The number of signal `name` ("SIGPWR"), or None: no such signal."""
    if not name.startswith("SIG") or name.startswith("SIG_"):
        return None
    number = getattr(_signal, name, None)
    return number if isinstance(number, int) else None


def name_of(number):
    """The name of signal `number` ("SIGKILL"), or None: none has it."""
    for name in dir(_signal):
        if number_of(name) == number and name not in _ALIASES:
            return name
    return None


_ALIASES = frozenset({"SIGIOT", "SIGCLD", "SIGPOLL"})    # second names of SIGABRT, SIGCHLD, SIGIO
