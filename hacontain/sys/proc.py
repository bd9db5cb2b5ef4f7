"""Readers for /proc text: process identity, state and signal masks.

Everything takes a `proc` root so tests can feed canned files. Nothing is
imported at load (the depth-0 monitor reads /proc/PID/stat through here).
"""


class ProcessGone(Exception):
    """The process does not exist (any more)."""


def stat(pid, proc="/proc"):
    """(state letter, ppid, start time in clock ticks) of `pid` from /proc/PID/stat."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as handle:
            data = handle.read()
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessGone(pid) from None
    # comm may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[1]), int(fields[19])


def start_time(pid, proc="/proc"):
    """The start time of `pid` in clock ticks since boot (identity with the pid)."""
    return stat(pid, proc)[2]


def is_alive(pid, start, proc="/proc"):
    """True when `pid` exists, is not a zombie, and started at `start`."""
    try:
        state, _, started = stat(pid, proc)
    except ProcessGone:
        return False
    return started == start and state not in ("Z", "X")


SIGNAL_MASKS = ("SigBlk", "SigIgn", "SigCgt")


def status_masks(pid, keys, proc="/proc"):
    """{key: int} of the hexadecimal mask lines `keys` of /proc/PID/status
    (SIGNAL_MASKS, CapBnd, ...)."""
    masks = {}
    try:
        with open(f"{proc}/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key in keys:
                    masks[key] = int(value.strip(), 16)
    except FileNotFoundError:
        raise ProcessGone(pid) from None
    return masks


def has_bit(mask, sig):
    """True when signal `sig` is set in a /proc signal mask."""
    return bool(mask & (1 << (sig - 1)))


def namespace_id(pid, kind, proc="/proc"):
    """The inode identifying namespace `kind` ('pid', 'net', ...) of `pid`."""
    import os
    try:
        return os.stat(f"{proc}/{pid}/ns/{kind}").st_ino
    except FileNotFoundError:
        raise ProcessGone(pid) from None


def boot_time(proc="/proc"):
    """Seconds since the epoch at which the system booted."""
    with open(f"{proc}/stat", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("btime "):
                return int(line.split()[1])
    raise ValueError(f"no btime in {proc}/stat")
