"""Logging like the shell agents' ocf_log and ocf_exit_reason.

Messages go to syslog (facility $HA_LOGFACILITY, none to turn it off) and
are appended to $HA_LOGFILE; debug messages only when $HA_debug is "1", to
syslog and $HA_DEBUGLOG. With neither syslog nor a log file, or when stderr
is a terminal (an admin running the agent by hand), they go to stderr.
Nothing is opened until something is logged.
"""

import os
import sys
import time

# level -> (the word in the message, the syslog priority's name)
_LEVELS = {"crit": ("CRIT", "LOG_CRIT"), "err": ("ERROR", "LOG_ERR"),
           "warn": ("WARNING", "LOG_WARNING"), "info": ("INFO", "LOG_INFO"),
           "debug": ("DEBUG", "LOG_DEBUG")}


def tag():
    """container(INSTANCE)[PID], the tag ocf_log uses."""
    instance = os.environ.get("OCF_RESOURCE_INSTANCE")
    name = f"container({instance})" if instance else "container"
    return f"{name}[{os.getpid()}]"


def log(level, message, stderr=True):
    """Log `message` at `level`: crit, err, warn, info or debug.

    stderr=False: the message is on stderr already (an exit reason).
    """
    debug = level == "debug"
    if debug and os.environ.get("HA_debug") != "1":
        return
    text = f"{_LEVELS[level][0]}: {message}"
    if sys.stderr.isatty():
        if stderr:
            print(f"{tag()}: {text}", file=sys.stderr)
        return
    facility = os.environ.get("HA_LOGFACILITY", "")
    if facility == "none":
        facility = ""
    logfile = os.environ.get("HA_LOGFILE", "")
    debuglog = os.environ.get("HA_DEBUGLOG", "")
    if facility:
        _syslog(facility, level, text)
    stamp = time.strftime(os.environ.get("HA_DATEFMT", "%b %d %T "))
    if logfile and not debug:
        _append(logfile, f"{stamp}{tag()}:    {text}")
    if debuglog and (debug or debuglog != logfile):
        _append(debuglog, f"{tag()}:\t{stamp}{text}")
    if stderr and not facility and not (debuglog if debug else logfile):
        print(f"{stamp}{text}", file=sys.stderr)


def exit_reason(message, level="err"):
    """Print the `ocf-exit-reason:` line Pacemaker shows the admin, and log it."""
    prefix = os.environ.get("OCF_EXIT_REASON_PREFIX") or "ocf-exit-reason:"
    print(f"{prefix}{message}", file=sys.stderr, flush=True)
    log(level, message, stderr=False)


def _syslog(facility, level, text):
    import syslog
    code = getattr(syslog, f"LOG_{facility.upper()}", syslog.LOG_DAEMON)
    syslog.openlog(tag(), 0, code)
    syslog.syslog(getattr(syslog, _LEVELS[level][1]), text)
    syslog.closelog()


def _append(path, line):
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    except OSError as exc:
        print(f"{tag()}: cannot write to {path}: {exc.strerror}", file=sys.stderr)
