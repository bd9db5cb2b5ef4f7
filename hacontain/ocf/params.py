"""The agent's parameters (one table for meta-data and parsing) and the OCF
environment: OCF_RESKEY_<name>, the operation's timeout and interval, and
the monitor depth.

Reading is cheap (a depth-0 monitor needs only the name and lxcpath);
`check()` validates every value and imports what that needs.
"""

import os

from hacontain.paths import DEFAULT_LXCPATH


class Parameter:
    """One OCF parameter as the meta-data describes it.

    unique: it identifies the container on a host, so no two resources may
    share its value. restart: a change needs a stop and a start (as for a
    unique one); every other parameter is reloadable, applied live by
    reload-agent. limit: the cgroup key the value is written to.
    """

    def __init__(self, name, shortdesc, longdesc, kind="string", default="",
                 required=False, unique=False, restart=False, limit=None):
        self.name, self.shortdesc, self.longdesc = name, shortdesc, longdesc
        self.kind, self.default = kind, default
        self.required, self.unique, self.limit = required, unique, limit
        self.reloadable = not (unique or restart)


PARAMETERS = (
    Parameter(
        "name", "Container name",
        "The name of the container, unique on a host. Its directory is LXCPATH/NAME and "
        "its config LXCPATH/NAME/config (see lxcpath and config). Do not confuse it with "
        "Pacemaker's meta-attribute \"container\".",
        required=True, unique=True),
    Parameter(
        "lxcpath", "Container directory",
        "The directory holding the containers, as LXC's lxcpath (lxc-start -P). "
        "On shared storage, start the Filesystem resource before this one.",
        default=DEFAULT_LXCPATH, restart=True),
    Parameter(
        "config", "Container config file",
        "Path of the container's config in LXC format (LXC 2.1+ keys; older keys are "
        "read with a warning). Empty: LXCPATH/NAME/config. A node without this file "
        "reports the container stopped to probes and cannot start it.",
        restart=True),
    Parameter(
        "halt_signal", "Signal that halts the init",
        "The signal stop sends the container's init to ask for a clean shutdown, by "
        "name (SIGPWR, SIGRTMIN+3) or number. Empty: lxc.signal.halt from the config, "
        "else SIGPWR, and SIGRTMIN+3 for an init that blocks SIGPWR (systemd). When the "
        "init has not exited by the stop timeout minus a margin, everything in the "
        "container's cgroup is killed. Takes effect at the next stop, without a restart."),
    Parameter(
        "memory", "Memory limit",
        "Memory limit in bytes, with an optional K, M, G or T suffix (powers of 1024), "
        "or max. Applied at start and changed live by a reload; an unset value leaves "
        "the limit as it is (set max to lift it).",
        limit="hacontain.limit.memory"),
    Parameter(
        "cpu_weight", "CPU weight",
        "Relative CPU weight, 1 to 10000 (100 is the default share; cpu.shares on "
        "cgroup v1). Applied at start and changed live by a reload.",
        kind="integer", limit="hacontain.limit.cpu.weight"),
    Parameter(
        "cpu_quota", "CPU quota",
        "Hard CPU limit as a number of CPUs (0.5, 2) or max. Applied at start and "
        "changed live by a reload.",
        limit="hacontain.limit.cpu.quota"),
    Parameter(
        "cpuset_cpus", "CPUs the container may run on",
        "The CPUs the container may run on, as a list like 0-3,6. Applied at start "
        "and changed live by a reload.",
        limit="hacontain.limit.cpuset.cpus"),
    Parameter(
        "pids", "Process limit",
        "The most processes (and threads) the container may have, or max. Applied at "
        "start and changed live by a reload.",
        limit="hacontain.limit.pids"),
    Parameter(
        "monitor_cmd", "Health check command",
        "A command run inside the container (like lxc-attach) by monitors of depth 10 "
        "and 20 (OCF_CHECK_LEVEL), and by start, which waits until it exits 0. Split "
        "into words like a shell does, then run without a shell: write "
        "/bin/sh -c '...' for shell syntax. Empty: depth 10 checks only that the init "
        "runs."),
    Parameter(
        "checkpoint_on_move", "Keep the processes across a planned move (CRIU)",
        "true: a planned stop (this resource has not failed on this node: fail count 0) "
        "checkpoints the running container with CRIU into checkpoint_dir, and the next "
        "start, on any node, restores its processes from there when the checkpoint is "
        "fresh and consistent (same config and parameters, same criu, made by a clean "
        "checkpoint, the rootfs not started since); otherwise, and after any failure, "
        "a cold start, with the reason logged. A checkpoint is deleted once used.",
        kind="boolean", default="false"),
    Parameter(
        "checkpoint_dir", "Where checkpoint_on_move's checkpoint goes",
        "A directory every node reaches after the move (the container's volume). "
        "Empty: ROOTFS/.hacontain-checkpoint, inside the container's rootfs."),
)

BY_NAME = {parameter.name: parameter for parameter in PARAMETERS}


class Params:
    """The values given in OCF_RESKEY_* (or the defaults), as text."""

    def __init__(self, environ=None):
        environ = os.environ if environ is None else environ
        for parameter in PARAMETERS:
            value = environ.get(f"OCF_RESKEY_{parameter.name}", "").strip()
            setattr(self, parameter.name, value or parameter.default)

    def limits(self):
        """[(cgroup key, value)] of the limit parameters that are set."""
        return [(parameter.limit, getattr(self, parameter.name)) for parameter in PARAMETERS
                if parameter.limit and getattr(self, parameter.name)]

    def config_path(self):
        """The config given, or None for the default LXCPATH/NAME/config."""
        return self.config or None

    def monitor_argv(self):
        """monitor_cmd split into words; None when unset."""
        if not self.monitor_cmd:
            return None
        import shlex
        from hacontain.errors import ParameterError
        try:
            argv = shlex.split(self.monitor_cmd)
        except ValueError as exc:
            raise ParameterError(f"monitor_cmd: cannot split {self.monitor_cmd!r}: {exc}") \
                from None
        if not argv:
            raise ParameterError("monitor_cmd is empty after splitting")
        return argv

    def checkpointing(self):
        """checkpoint_on_move as a bool (ParameterError when not a boolean)."""
        value = self.checkpoint_on_move.lower()
        if value not in ("true", "false", "yes", "no", "1", "0", "on", "off"):
            from hacontain.errors import ParameterError
            raise ParameterError(f"checkpoint_on_move: {self.checkpoint_on_move!r} is not "
                                 "a boolean (true or false)")
        return value in ("true", "yes", "1", "on")

    def halt_signum(self):
        """halt_signal as a number; None when unset."""
        if not self.halt_signal:
            return None
        from hacontain.config import parse_signal
        from hacontain.errors import ParameterError
        try:
            return parse_signal(self.halt_signal)
        except ValueError as exc:
            raise ParameterError(f"halt_signal: {exc}") from None

    def check(self):
        """Raise ParameterError naming the first parameter that is wrong everywhere.

        What depends on the node (a CPU it has, the config file) is checked
        with the container (Container.check), as a node-local error."""
        from hacontain.config import valid_name
        from hacontain.errors import ConfigError, ParameterError
        from hacontain.runtime.cgroups.keys import parse_key
        if not self.name:
            raise ParameterError("parameter name is required")
        valid_name(self.name)
        self.checkpointing()
        for parameter in ("lxcpath", "config", "checkpoint_dir"):
            value = getattr(self, parameter)
            if value and not os.path.isabs(value):
                raise ParameterError(f"{parameter} must be an absolute path, got {value!r}")
        self.halt_signum()
        self.monitor_argv()
        by_limit = {parameter.limit: parameter.name for parameter in PARAMETERS}
        for key, value in self.limits():
            try:
                parse_key(key).value(value)
            except ConfigError as exc:
                raise ParameterError(f"{by_limit[key]}: {exc}") from None


def action_timeout(default):
    """The operation's timeout in seconds: OCF_RESKEY_CRM_meta_timeout (milliseconds)
    when it is a positive number, else `default` (as when run by hand)."""
    text = os.environ.get("OCF_RESKEY_CRM_meta_timeout", "")
    try:
        milliseconds = int(text)
    except ValueError:
        return default
    return milliseconds / 1000 if milliseconds > 0 else default


def action_budget(default, margin):
    """The seconds an action may use: its timeout (see action_timeout) less a margin,
    kept back to report and clean up, of at most `margin` and at most half of it."""
    total = action_timeout(default)
    return total - min(margin, total / 2)


def is_probe(action):
    """A probe: a monitor with interval 0 (Pacemaker asking what runs where)."""
    return action == "monitor" and os.environ.get("OCF_RESKEY_CRM_meta_interval") == "0"


def check_level():
    """OCF_CHECK_LEVEL, the monitor depth (0, 10, 20; anything not a number is 0)."""
    text = os.environ.get("OCF_CHECK_LEVEL", "0")
    return int(text) if text.isascii() and text.isdigit() else 0
