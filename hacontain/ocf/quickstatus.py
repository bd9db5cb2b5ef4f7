"""The depth-0 monitor's fast answers: the recorded init alive (0), or no state
file and no cgroup (7: nothing of the container exists).

A missing state file alone is not enough for 7: the file may have been
deleted while the container runs, and the kernel decides. One stat of the
container's cgroup directory (paths.cgroup_dir: where the cgroup driver puts
it for this process under the default or configured parent) tells
"nothing" from "something"; "something" is left to the agent, which looks
at the cgroup's processes. A config that may set its own cgroup parent
(hacontain.cgroup.parent, or an lxc.include that could) is left to the
agent too, which parses it.

A monitor runs every few seconds, so this path reads the state file and
/proc/PID/stat (or, with no state file, the config, /proc/self/cgroup and
mountinfo and one stat) and imports nothing but hacontain.paths and
hacontain.sys.proc (which import nothing themselves) and the C half of
`json`: not `os`, a sixth of the whole monitor, nor the `json` package,
which would import `re`. The environment is read from `posix` (built in).
Anything but these two answers is left to the agent's monitor action.
"""

import sys

from hacontain import jsontext, paths
from hacontain.sys import proc

RUNNING, STOPPED = "running", "stopped"
MAX_CONFIG_BYTES = 1 << 20                   # config.MAX_FILE_BYTES (config imports re)
NOT_RUNNING = 7                              # OCF_NOT_RUNNING


def answer(environ=None):
    """The exit code of a monitor the entry point can give before the agent loads
    anything else, or None. 0: the container named by the OCF_RESKEY_* parameters
    is RUNNING and the depth (OCF_CHECK_LEVEL) is below 10. 7: it is STOPPED
    (then the exit reason is printed; with HA_debug=1 the agent answers, as it
    also logs the reason)."""
    environ = _environment() if environ is None else environ
    name = environ.get("OCF_RESKEY_name", "").strip()
    # the parameter's default, as the agent's (not $HACONTAIN_LXCPATH, which is the CLI's)
    lxcpath = paths.lxcpath(environ.get("OCF_RESKEY_lxcpath", "").strip()
                            or paths.DEFAULT_LXCPATH, environ)
    status = quick_status(name, lxcpath, environ)
    level = environ.get("OCF_CHECK_LEVEL", "0")
    if status == RUNNING and not (level.isdigit() and int(level) >= 10):
        return 0
    if status == STOPPED and environ.get("HA_debug") != "1":
        print(reason_line(not_running(name), environ), file=sys.stderr, flush=True)
        return NOT_RUNNING
    return None


def quick_status(name, lxcpath, environ=None):
    """RUNNING (our container's init is alive), STOPPED (no state file, no cgroup),
    or None (anything else: ask the runtime)."""
    if not name or "/" in name or name in (".", ".."):
        return None
    try:
        with open(paths.state_file(name, environ), "rb") as handle:
            text = handle.read().decode("utf-8")
    except FileNotFoundError:
        return STOPPED if _no_cgroup(name, lxcpath, environ) else None
    except (OSError, UnicodeDecodeError):
        return None
    record = parse_json(text)
    if not isinstance(record, dict) or record.get("lxcpath") != lxcpath or \
            record.get("version") != paths.STATE_VERSION or record.get("name") != name:
        return None
    pid, start = record.get("pid"), record.get("start_time")
    if isinstance(pid, int) and isinstance(start, int) and proc.is_alive(pid, start):
        return RUNNING
    return None


def _no_cgroup(name, lxcpath, environ):
    """True when the container's cgroup directory is certainly absent (`environ`:
    None for os.environ)."""
    config = (environ or {}).get("OCF_RESKEY_config", "").strip() or f"{lxcpath}/{name}/config"
    try:
        text = _read_regular(config)
    except FileNotFoundError:
        text = b""                          # no config: the default parent
    except OSError:
        return False
    if text is None:
        return False                        # no regular file: the agent says why
    if b"hacontain.cgroup.parent" in text or b"lxc.include" in text:
        keys = (b"hacontain.cgroup.parent", b"lxc.include")
        if any(line.lstrip().startswith(keys) for line in text.split(b"\n")):
            return False                    # (not a comment naming them)
    try:
        where = paths.cgroup_dir(name, paths.cgroup_parent(None, environ))
    except (OSError, ValueError):
        return False
    if where is None:
        return False
    from posix import stat
    try:
        stat(where)
    except FileNotFoundError:
        return True
    except OSError:
        pass
    return False


def _read_regular(path):
    """The bytes of the regular file at `path` (at most MAX_CONFIG_BYTES), else None:
    opened without blocking (a FIFO) and never read unless regular (/dev/zero)."""
    from posix import O_CLOEXEC, O_NONBLOCK, O_RDONLY, close, fstat, read
    from posix import open as open_fd
    fd = open_fd(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    try:
        info = fstat(fd)
        if info.st_mode & 0o170000 != 0o100000 or info.st_size > MAX_CONFIG_BYTES:
            return None
        chunks, size = [], 0
        while size <= MAX_CONFIG_BYTES:
            chunk = read(fd, MAX_CONFIG_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks) if size <= MAX_CONFIG_BYTES else None
    finally:
        close(fd)


def not_running(name, lxcpath=None):
    """The exit reason of a monitor that finds container `name` stopped."""
    where = f" from {lxcpath}" if lxcpath else ""
    return f"container {name}{where} is not running"


def reason_line(message, environ):
    """The `ocf-exit-reason:` line (prefix from $OCF_EXIT_REASON_PREFIX) Pacemaker shows."""
    return f"{environ.get('OCF_EXIT_REASON_PREFIX') or 'ocf-exit-reason:'}{message}"


def parse_json(text):
    """The JSON value `text` holds, or None when it is not JSON."""
    try:
        return jsontext.loads(text)
    except ValueError:
        return None


def _environment():
    """os.environ's contents, from the built-in `posix` module (as os decodes them)."""
    from posix import environ
    return {key.decode("utf-8", "surrogateescape"): value.decode("utf-8", "surrogateescape")
            for key, value in environ.items()}
