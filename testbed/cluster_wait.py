"""Polling until a condition holds, with a message that says what never happened."""

import time

from hacontain.errors import HacontainError, Timeout


def wait_for(predicate, timeout, interval=0.1, what=None):
    """Call `predicate` every `interval` s until it returns a true value, which is returned.

    HacontainError raised by the predicate (a node still starting, a
    command failing) counts as "not yet"; Timeout after `timeout` seconds
    names `what` and the last value or error seen.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        polled = time.monotonic()
        try:
            value = predicate()
            if value:
                return value
            last = value
        except HacontainError as exc:
            last = exc
        if time.monotonic() >= deadline:
            name = what or getattr(predicate, "__name__", "condition")
            raise Timeout(f"{name}: not true after {timeout} s (last: {last!r})")
        time.sleep(max(0.0, polled + interval - time.monotonic()))
