"""The depth-0 monitor's fast answer: is the recorded init alive?

A monitor runs every few seconds, so this path reads the state file and
/proc/PID/stat and nothing more: no child process, no module beyond `os`
and the C half of `json`. The `json` package itself would import `re`,
which doubles the cost of an interpreter started with -S; its C scanner,
the same code `json.loads` runs, parses the small flat state file alone.
Anything but the two common answers is left to the runtime's read_status.
"""

from hacontain import paths
from hacontain.sys import proc

RUNNING, STOPPED = "running", "stopped"


def running_at_depth_0(environ):
    """Whether a monitor can answer 0 before the agent loads anything else:
    the depth (OCF_CHECK_LEVEL) is below 10 and the container named by the
    OCF_RESKEY_* parameters is RUNNING. The agent's entry point asks this
    first; any other case goes through the full monitor action."""
    level = environ.get("OCF_CHECK_LEVEL", "0")
    if level.isdigit() and int(level) >= 10:
        return False
    name = environ.get("OCF_RESKEY_name", "").strip()
    lxcpath = environ.get("OCF_RESKEY_lxcpath", "").strip() or paths.DEFAULT_LXCPATH
    return quick_status(name, paths.lxcpath(lxcpath)) == RUNNING


def quick_status(name, lxcpath):
    """RUNNING (our container's init is alive), STOPPED (nothing recorded),
    or None (anything else: ask the runtime)."""
    if not name or "/" in name or name in (".", ".."):
        return None
    try:
        with open(paths.state_file(name), "rb") as handle:
            text = handle.read().decode("utf-8")
    except FileNotFoundError:
        return STOPPED
    except (OSError, UnicodeDecodeError):
        return None
    record = parse_json(text)
    if not isinstance(record, dict) or record.get("lxcpath") != lxcpath:
        return None
    pid, start = record.get("pid"), record.get("start_time")
    if isinstance(pid, int) and isinstance(start, int) and proc.is_alive(pid, start):
        return RUNNING
    return None


def parse_json(text):
    """The JSON value `text` holds, or None when it is not JSON."""
    try:
        from _json import make_scanner
    except ImportError:                      # a Python built without the C accelerator
        import json
        try:
            return json.loads(text)
        except ValueError:
            return None
    try:
        value, end = make_scanner(_ScannerContext())(text, 0)
    except (StopIteration, ValueError):
        return None
    return value if not text[end:].strip() else None


class _ScannerContext:
    """The attributes the C scanner reads from its decoder (json.JSONDecoder's defaults)."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float                   # NaN, Infinity, -Infinity
