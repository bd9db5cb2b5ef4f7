"""A container: config + state + cgroup + namespaces, joined.

Every public method takes what it needs from the config on disk and the
state under RUNDIR, and recomputes the truth from the kernel; nothing is
cached between calls, so two processes (the CLI and the agent) always agree.
"""

import os
import select
import time

from hacontain import config as configfile
from hacontain import paths
from hacontain.errors import ConfigError, HacontainError, NotFound, StateError, Timeout
from hacontain.runtime import state as statefile
from hacontain.runtime.status import FROZEN, read_status, rootfs_users
from hacontain.sys import libc, proc, signals

DEFAULT_INIT = ("/sbin/init",)
DEFAULT_HALT = signals.SIGPWR
SYSTEMD_HALT = signals.SIGRTMIN + 3
KILL_GRACE = 5.0
HOLDER_GRACE = 2.0        # for the console holder to log the init's end and exit
BASE_ENV = ("container=lxc", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=linux", "HOME=/root")


class Container:
    """One container, named `name`, with its config in LXCPATH/NAME/config.

    `limits`: (key, value) cgroup limits applied after the config's own (the
    later value wins), e.g. from the agent's parameters. `halt_signal`, when
    given, replaces the config's.
    """

    def __init__(self, name, lxcpath=None, config_path=None, limits=(), halt_signal=None):
        self.name = configfile.valid_name(name)
        self.lxcpath = paths.lxcpath(lxcpath)
        self.directory = os.path.join(self.lxcpath, name)
        self.config_path = config_path or os.path.join(self.directory, "config")
        self.extra_limits = list(limits)
        self.halt_override = halt_signal

    # -- reading -----------------------------------------------------------

    def load_config(self):
        """The parsed config; NotFound when there is none."""
        if not os.path.exists(self.config_path):
            raise NotFound(f"container {self.name}: no config at {self.config_path}")
        return configfile.load(self.config_path)

    def status(self, config=None):
        """The container's Status, from the state file and the kernel (`config`: the
        parsed config when the caller has it; it places the cgroup)."""
        return read_status(self.name, config or self.config_path)

    def check(self, config=None):
        """Check the config against this host; raise what is wrong, change nothing."""
        config = config or self.load_config()
        running = self._volume(config) is not None and self.status(config).running
        interfaces, _, _ = self._prepare(config, volume_in_use=running)
        if interfaces:
            from hacontain.runtime.network import validate
            validate.check(config, interfaces)
        return config

    def _prepare(self, config, volume_in_use=False):
        """check()'s work but the network's host checks (start makes them after the
        fork, see _make_network); returns (interfaces, containment, cgroup), so start
        builds them once. `volume_in_use`: the rootfs volume is this running
        container's, so its availability is not checked."""
        from hacontain.runtime.rootfs import check_bind_sources
        from hacontain.runtime.security import containment, idmap
        interfaces = self._interfaces(config)
        rootfs = self._rootfs(config)
        volume = self._volume(config)
        init = self._init_argv(config)[0]
        if volume is not None:         # mounted by the init: its files are not seen here
            if not volume_in_use:
                volume.check(idmap=bool(config.idmap))
        elif not _exists_inside(rootfs, init):
            raise NotFound(f"container {self.name}: init command {init} not found in rootfs "
                           f"{rootfs} (is its volume mounted on this node?)")
        else:
            _check_systemd_needs(config, rootfs, init)
            _check_init_cwd(config, rootfs)
        if os.path.exists(os.path.join(self.directory, "clones")):
            from hacontain.storage.clone import refuse_changing_base
            refuse_changing_base(self.directory, self.name)
        check_bind_sources(config.mounts)
        _check_console_log(config)
        cgroup = self._cgroup(config)
        try:
            cgroup.validate(self._limits(config), self._devices(config))
        except ConfigError as error:
            raise self._at_config_line(config, error) from None
        confinement = containment.from_config(config)
        idmap.check(config)
        if config.idmap and volume is None:
            idmap.check_rootfs(rootfs, config.idmap, self.name, self.lxcpath)
        return interfaces, confinement, cgroup

    def _at_config_line(self, config, error):
        """`error`, about a cgroup key, at the config line that set the key (unless the
        key is one of the extra limits, the agent's parameters)."""
        entry = config.entry(error.key) if error.key and error.path is None else None
        if entry is None or any(key == error.key for key, _ in self.extra_limits):
            return error
        return entry.error(error.message)

    # -- start -------------------------------------------------------------

    def start(self, timeout=30.0, config=None, settle=0.0, on_launch=None):
        """Start the container detached; a running container is left alone. `config`:
        the parsed config, when the caller has it. Returns the State of its init.

        `settle`: seconds to watch the init after it exec'd; if it exits within
        them, the container is cleaned up and start fails with how the init
        ended and the console's last lines. `on_launch`: called with the State
        as the init is let go to exec (what the caller would do after the start,
        done while the init gets there); what it raises fails the start."""
        with statefile.Lock(self.name):
            current = self.status(config)
            self._check_same(current)
            if current.running:
                return current.state
            if current.present:
                self._cleanup(current)
            config = config or self.load_config()
            _cold_start_stamp(config.rootfs or os.path.join(self.directory, "rootfs"))
            record = self._launch(config, timeout, foreground=False,
                                  prepared=self._prepare(config), on_launch=on_launch)[1]
            if settle > 0:
                self._fail_if_died(record, settle)
            return record

    def _fail_if_died(self, record, settle):
        """Raise, after cleaning up, when the init of `record` ends within `settle` s."""
        from hacontain.runtime import console
        if not console.wait_gone(record.pid, record.start_time, settle):
            return
        console.wait_gone(record.holder, None, KILL_GRACE)  # it records the exit status
        ended = console.exit_status(statefile.directory(self.name), record.pid)
        how = console.describe(ended) if ended else "exited"
        self._cleanup(self.status())
        lines = console.tail(record.console_log)
        raise HacontainError(
            f"container {self.name}: its init {how} right after it started; "
            + (f"the last lines of its console ({record.console_log}):\n{lines}" if lines
               else f"its console ({record.console_log}) is empty"))

    def run_foreground(self, timeout=30.0, escape=None):
        """start -F: start, then the console on this terminal (from the first line
        of this boot) until the init ends - then clean up and return its
        exit_status() - or until the escape key: None, the container runs on."""
        from hacontain.runtime import console
        from hacontain.runtime.terminal import ESCAPED
        config = self.load_config()
        directory = statefile.directory(self.name)
        before = self._console_log_size(config)
        record = self.start(timeout=timeout, config=config)
        outcome = console.attach(directory, self.name, 0, escape or console.DEFAULT_ESCAPE,
                                 replay=before)
        if outcome == ESCAPED:
            return None
        console.wait_gone(record.pid, record.start_time, KILL_GRACE)
        console.wait_gone(record.holder, None, KILL_GRACE)
        ended = console.exit_status(directory, record.pid)
        with statefile.Lock(self.name):
            current = self.status()
            if current.present and not current.running:
                self._cleanup(current)
        return ended or ("exit", 0)

    def console(self, tty=0, escape=None):
        """Connect this terminal to the console (tty 0) or tty `tty` of the running
        container until the escape key or its end; terminal.ESCAPED or CLOSED."""
        from hacontain.runtime import console
        from hacontain.runtime.status import FROZEN
        if self._require_running().name == FROZEN:   # its console holder is frozen with it
            raise StateError(f"container {self.name} is FROZEN: unfreeze it to use its console")
        return console.attach(statefile.directory(self.name), self.name, tty,
                              escape or console.DEFAULT_ESCAPE)

    def execute(self, argv, timeout=30.0):
        """Run `argv` as the init of a temporary container, in the foreground; its exit
        code. On a terminal it gets the container's console (a pseudo-terminal of its
        devpts) proxied to this terminal, and Ctrl-a q kills it; without one it keeps
        this process's stdin, stdout and stderr."""
        from hacontain.runtime import terminal
        on_terminal = any(terminal.is_terminal(fd) for fd in (0, 1, 2))
        with statefile.Lock(self.name):
            current = self.status()
            self._check_same(current)
            if current.running:
                raise StateError(f"container {self.name} is running")
            if current.present:
                self._cleanup(current)
            config = self.load_config()
            rootfs = self._rootfs(config)
            config = config.replace(init_cmd=(_resolve_command(rootfs, argv[0]),)
                                    + tuple(argv[1:]))
            before = self._console_log_size(config)
            launch, record = self._launch(config, timeout, foreground=True,
                                          own_stdio=not on_terminal)
        try:
            if not on_terminal:
                return launch.wait()
            reached = self._follow_console(record, before)
            code = launch.wait()
            if not reached:               # it ended first: what it wrote is in the log
                from hacontain.runtime import console
                console.copy_log(record.console_log, before,
                                  os.path.getsize(record.console_log), 1)
            return code
        finally:
            with statefile.Lock(self.name):
                self._cleanup(self.status())

    def _follow_console(self, record, before):
        """execute on a terminal: the console on it, from log position `before`, until the
        init ends (Ctrl-a q kills it); False when it ended before it could be reached."""
        from hacontain.runtime import console
        from hacontain.runtime.terminal import ESCAPED
        try:
            outcome = console.attach(statefile.directory(self.name), self.name, 0,
                                     console.DEFAULT_ESCAPE, replay=before)
        except HacontainError:
            if proc.is_alive(record.pid, record.start_time):
                raise
            return False
        if outcome == ESCAPED and proc.is_alive(record.pid, record.start_time):
            os.kill(record.pid, signals.SIGKILL)
        return True

    def _console_log_size(self, config):
        """Where the console log of the next start of this container will grow from."""
        from hacontain.runtime import console
        try:
            return os.stat(console.spec(statefile.directory(self.name), config).log).st_size
        except FileNotFoundError:
            return 0

    def _launch(self, config, timeout, foreground, prepared=None, own_stdio=False,
                on_launch=None):
        """Start the init; `prepared`: what _prepare made of `config` (made here if None);
        `on_launch`: see start()."""
        from hacontain.runtime import console
        from hacontain.runtime.launch import Launch, Plan
        from hacontain.runtime.security import cgroup_view, containment
        console.check_program()
        rootfs = self._rootfs(config)
        volume = self._volume(config)
        if volume is not None:
            os.makedirs(rootfs, exist_ok=True)     # its mount point, in LXCPATH/NAME
        interfaces, confinement, cgroup = prepared or (
            self._interfaces(config), containment.from_config(config), self._cgroup(config))
        os.makedirs(statefile.directory(self.name), mode=0o700, exist_ok=True)
        plan = Plan(
            rootfs=rootfs, volume=volume,
            hostname=config.uts_name or self.name,
            argv=self._init_argv(config),
            env=BASE_ENV + tuple(config.environment),
            console=console.spec(statefile.directory(self.name), config),
            cwd=config.init_cwd or "/",
            uid=config.init_uid, gid=config.init_gid,
            mount_auto=config.mount_auto, mounts=config.mounts,
            autodev=config.autodev, ttys=config.tty_max, foreground=foreground,
            own_stdio=own_stdio, containment=confinement,
            namespaces=self._namespaces(config), idmap=config.idmap,
        )
        cgroup_mode = cgroup_view.mode_of(config.mount_auto)
        # Recorded before anything is made (pid None: no init yet), so that no
        # state file means nothing of the container exists (the monitor's fast path).
        record = statefile.State(
            name=self.name, lxcpath=self.lxcpath, config=self.config_path, pid=None,
            start_time=None, started_at=time.time(), halt_signal=self._halt_signal(config),
            cgroup=cgroup.paths, console_log=plan.console.log, foreground=foreground)
        statefile.write(record)
        launch = None
        try:
            cgroup.create(self._limits(config), self._devices(config))
            if cgroup_mode is not None:      # `mixed` needs the new cgroup's files
                plan = plan.replace(cgroup_mode=cgroup_mode, cgroup_views=cgroup_view.views(
                    cgroup.hierarchies, cgroup.directories if cgroup_mode == "mixed" else None))
            if volume is not None:
                volume.prepare()        # in the host's cgroup: see storage.newmount
            try:
                # A directory rootfs: who else has it as root, scanned by the first
                # child once it has forked the init (O(processes on the host)).
                launch = Launch(plan, cgroup, timeout,
                                scan=None if volume is not None else lambda: rootfs_users(rootfs))
            finally:
                if volume is not None:
                    volume.release()    # the init holds its own copy
            record.pid, record.start_time = launch.pid, proc.start_time(launch.pid)
            record.holder = launch.holder
            containment.save(plan.containment, statefile.containment_record(self.name))
            statefile.write(record)
            launch.release(before_exec=lambda: self._before_exec(
                config, interfaces, record, launch, rootfs if volume is None else None),
                meanwhile=None if on_launch is None else lambda: on_launch(record))
        except BaseException as failure:
            self._undo_launch(launch, cgroup, record.network, failure)
            raise
        return launch, record

    def _undo_launch(self, launch, cgroup, network, failure):
        """Undo a failed start: network (before the init dies), init, cgroup, then the
        state - which stays when something could not be undone, so stop retries."""
        errors = []
        try:
            if network:
                self._teardown_network(network)
        except HacontainError as error:
            errors.append(error)
        if launch is not None:
            launch.abort()
        try:
            self._empty_and_remove(cgroup)
        except HacontainError as error:
            errors.append(error)
        if errors:
            raise HacontainError(f"{failure}; cleaning up also failed: "
                                 f"{'; '.join(map(str, errors))}") from failure
        from hacontain.runtime.console import remove_files
        remove_files(statefile.directory(self.name))
        statefile.remove(self.name)

    # -- stop --------------------------------------------------------------

    def stop(self, timeout=30.0, kill=False):
        """Halt the init, kill everything left after `timeout`, clean up.

        Succeeds on a stopped container. Returns "halted", "killed" or "stopped"
        (nothing was running). A running backup of the container is aborted first
        (its snapshot, mounts and freeze must not outlive the stop).
        """
        from hacontain.backup.registry import abort
        abort(self.name, self.lxcpath)
        with statefile.Lock(self.name):
            current = self.status()
            self._check_same(current)
            if not current.present:
                return "stopped"
            outcome = "stopped"
            if current.running:
                outcome = self._halt(current.state, timeout, kill,
                                     lambda: self._open_recorded_cgroup(current.state))
            elif current.init is not None:          # no state to trust: the kernel's init
                outcome = self._halt(self._found_init(current.init), timeout, kill,
                                     lambda: current.cgroup)
            self._cleanup(current, stopping=True)
            return outcome

    def _halt(self, record, timeout, kill, cgroup_of):
        """Ask the init to halt (see _ask_to_halt), else SIGKILL it; `cgroup_of()` gives
        the container's cgroup (or None), in which the kill thaws what the guest froze."""
        try:
            pidfd = os.pidfd_open(record.pid)
        except ProcessLookupError:
            return "stopped"
        try:
            if not proc.is_alive(record.pid, record.start_time):
                return "stopped"
            if not kill and self._ask_to_halt(pidfd, record, timeout):
                return "halted"
            libc.pidfd_send_signal(pidfd, signals.SIGKILL)
            try:
                cgroup = cgroup_of()
            except HacontainError:
                cgroup = None                 # the cleanup's kill of the cgroup says why
            if cgroup is not None:
                cgroup.release_frozen()
            if not _wait_exit(pidfd, KILL_GRACE):
                raise Timeout(f"container {self.name}: init {record.pid} survived SIGKILL")
            return "killed"
        finally:
            os.close(pidfd)

    def _ask_to_halt(self, pidfd, record, timeout):
        """Send the halt signal(s), again after 1, 2, 4... s, until the init exits or time runs out.

        An init that is still starting may not listen yet: a pid namespace's
        init drops signals it has no handler for, so one signal can be lost.
        """
        deadline = time.monotonic() + timeout
        interval = 1.0
        try:
            halt = self._halt_signal(self.load_config())
        except HacontainError:
            halt = record.halt_signal
        while True:
            for sig in self._halt_signals(record, halt):
                libc.pidfd_send_signal(pidfd, sig)
            remaining = deadline - time.monotonic()
            if _wait_exit(pidfd, min(interval, remaining)):
                return True
            if remaining <= interval:
                return False
            interval *= 2

    def _halt_signal(self, config):
        """The configured halt signal: the override, lxc.signal.halt, or SIGPWR."""
        return self.halt_override or config.halt_signal or DEFAULT_HALT

    @staticmethod
    def _halt_signals(record, sig):
        """The signals that ask this init to shut down.

        `sig`, the configured halt signal (default SIGPWR). An init that blocks it
        without a handler may be systemd, which reads its signals from a
        signalfd and halts on SIGRTMIN+3 (as LXC sends) - or busybox init
        a moment after exec, before it waits for its signals. Each ignores
        the other's signal, so both are sent. Whether an init will act on a
        signal cannot be read from /proc (one awaited with sigtimedwait shows
        as neither blocked nor caught): the timeout decides.
        """
        try:
            masks = proc.status_masks(record.pid, proc.SIGNAL_MASKS)
        except proc.ProcessGone:
            return [sig]
        if proc.has_bit(masks["SigBlk"], sig) and not proc.has_bit(masks["SigCgt"], sig) \
                and sig != SYSTEMD_HALT:
            return [sig, SYSTEMD_HALT]
        return [sig]

    def _found_init(self, pid):
        """A record for the init found in the container's cgroup when no state file can
        be trusted, so _halt can ask it to shut down."""
        try:
            halt = self._halt_signal(self.load_config())
        except HacontainError:
            halt = self.halt_override or DEFAULT_HALT
        try:
            started = proc.start_time(pid)
        except proc.ProcessGone:
            started = None
        return statefile.State(name=self.name, lxcpath=self.lxcpath, config=self.config_path,
                               pid=pid, start_time=started, started_at=0.0, halt_signal=halt)

    def _cleanup(self, current, stopping=False):
        """Remove what a stopped or dead container (`current`, its Status) left:
        processes, cgroup, network, state.

        With no state file to trust, the cgroup found from the kernel is emptied
        and removed only by a stop (`stopping`): a start refuses to kill a
        container it has no record of. A network cleanup that fails keeps the
        state, so the next stop tries again.
        """
        record = current.state
        if record is not None:
            from hacontain.runtime.console import reap, wait_gone
            if not current.running:       # its console holder records how the init ended
                wait_gone(record.holder, None, HOLDER_GRACE)
            cgroup = self._open_recorded_cgroup(record)
            if cgroup is not None:
                self._empty_and_remove(cgroup)
            reap(record.holder)
            if record.network:
                self._teardown_network(record.network)
        elif current.cgroup is not None:
            if current.processes and not stopping:
                raise StateError(f"container {self.name}: {current.reason}; not starting a "
                                 "second init over it: stop the container first")
            self._empty_and_remove(current.cgroup)
        from hacontain.runtime.console import remove_files
        remove_files(statefile.directory(self.name))
        statefile.remove(self.name)

    # -- network -------------------------------------------------------------

    def _interfaces(self, config):
        """The config's interfaces to make, as the config alone says (not yet checked
        against the host)."""
        if all(net.type == "empty" for net in config.nets):
            return []                         # loopback only: nothing to make
        from hacontain.runtime.network.spec import interfaces
        return interfaces(config, self.name)

    def _namespaces(self, config):
        """The namespaces to unshare: all but lxc.namespace.keep's, and the netns for type none."""
        from hacontain.runtime.launch import namespaces
        keep = tuple(config.namespace_keep)
        if config.shares_host_network():
            keep += ("net",)
        return namespaces(keep)

    def _before_exec(self, config, interfaces, record, launch, rootfs):
        """What start does while the init, forked, builds its filesystem: the network's
        host checks (loading pyroute2 overlaps the init's work), the verdict of the
        first child's scan for other users of `rootfs` (None: a volume, not scanned),
        then the network; a check or a refusal undoes the start before any interface
        is made or recorded."""
        if interfaces:
            from hacontain.runtime.network import validate
            interfaces = validate.check(config, interfaces)
        if rootfs is not None:          # the new init, pivoted into it or not, is no user
            _refuse_rootfs_in_use(rootfs, self.name,
                                  [pid for pid in launch.found() if pid != launch.pid])
        if interfaces:
            self._make_network(interfaces, record)

    def _make_network(self, interfaces, record):
        """Add `interfaces` (checked against the host) to `record` (the state) and make
        them in the netns of its init, which builds its filesystem meanwhile. With a
        phys interface the netns is held first (network/hold.py), so the NIC can be
        given back to this netns even after a crash."""
        from hacontain.runtime.network import hold
        from hacontain.runtime.network.setup import setup
        record.network = [interface.record() for interface in interfaces]
        statefile.write(record)
        pid = record.pid
        path = f"/proc/{pid}/ns/net"
        if any(interface.type == "phys" for interface in interfaces):
            hold.hold(pid, hold.path(self.name))
        netns = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            setup(interfaces, netns, path)
        finally:
            os.close(netns)

    def _teardown_network(self, records):
        from hacontain.runtime.network import hold
        from hacontain.runtime.network.teardown import teardown
        teardown(records, hold.path(self.name))

    # -- other actions -------------------------------------------------------

    def attach(self, argv, env=None):
        """Run `argv` inside the running container (a bare command searched in its
        PATH); its exit code."""
        from hacontain.runtime.attach import attach
        from hacontain.runtime.security.containment import for_attach
        current = self._require_running()
        if current.name == FROZEN:        # its cgroup would freeze the attached process too
            raise StateError(f"container {self.name} is frozen: `hacontain unfreeze "
                             f"{self.name}` first")
        confine = for_attach(statefile.containment_record(self.name), current.state.pid)
        try:
            command = _resolve_command(f"/proc/{current.state.pid}/root", argv[0])
        except NotFound:
            command = argv[0]             # exec fails on it: exit 127, as a shell's
        argv = (command,) + tuple(argv[1:])
        return attach(current.state, self._open_recorded_cgroup(current.state), argv,
                      BASE_ENV + tuple(env or ()), confine)

    def processes(self):
        """The container's processes as dicts (pid, ppid, user, command)."""
        from hacontain.runtime.process import describe
        current = self._require_running()
        return describe(self._open_recorded_cgroup(current.state).pids())

    def freeze(self):
        self._cgroup_of_running().freeze()

    def unfreeze(self):
        self._cgroup_of_running().thaw()

    def cgroup_value(self, key, value=None):
        """Read, or set live, a cgroup key of the running container."""
        cgroup = self._cgroup_of_running()
        if value is not None:
            cgroup.set(key, value)
        return cgroup.get(key)

    def info(self):
        """A dict describing the container for `hacontain info`."""
        current = self.status()
        result = {"name": self.name, "state": current.name, "lxcpath": self.lxcpath,
                  "config": self.config_path}
        try:
            config = self.load_config()
            result["rootfs"] = config.rootfs
            result["hostname"] = config.uts_name or self.name
        except HacontainError as exc:
            result["config_error"] = str(exc)
        if current.reason:
            result["reason"] = current.reason
        if not current.running and "rootfs" in result:
            rootfs = result["rootfs"] or os.path.join(self.directory, "rootfs")
            user = _rootfs_user(rootfs) if os.path.isdir(rootfs) else None
            if user is not None:
                result["rootfs_used_by"] = f"process {user}, not started by hacontain here"
        if current.owner not in (None, self.lxcpath):
            result["from_lxcpath"] = current.owner
            result["reason"] = (f"the state is that of the container named {self.name} from "
                                f"{current.owner} (names are unique on a host), "
                                f"not of the one in {self.lxcpath}")
        if current.state is not None and not current.running and current.state.pid:
            from hacontain.runtime.console import describe, exit_status
            ended = exit_status(statefile.directory(self.name), current.state.pid)
            if ended is not None:
                result["init_exit"] = f"init (pid {current.state.pid}) {describe(ended)}"
        if current.state is not None and current.state.console_log:
            result["console_log"] = current.state.console_log
        if current.running:
            record = current.state
            result.update(pid=record.pid, started_at=record.started_at,
                          uptime=round(time.time() - record.started_at, 1))
            cgroup = self._open_recorded_cgroup(record)
            result["cgroup"] = cgroup.paths
            result["resources"] = cgroup.stats()
            if record.network:
                from hacontain.runtime.network.view import interfaces
                result["network"] = interfaces(record.pid)
        return result

    # -- helpers -------------------------------------------------------------

    def _require_running(self):
        current = self.status()
        self._check_same(current)
        if not current.running:
            raise StateError(f"container {self.name} is not running ({current.name})")
        return current

    def _cgroup_of_running(self):
        return self._open_recorded_cgroup(self._require_running().state)

    def _check_same(self, current):
        """Refuse to act on a same-named container of another LXCPATH (names are host-unique)."""
        if current.owner not in (None, self.lxcpath):
            raise StateError(f"a container named {self.name} from {current.owner} "
                             f"is {current.name} here, not the one in {self.lxcpath}; "
                             "names must be unique on a host")

    def _rootfs(self, config):
        """The rootfs directory; for a volume (storage.backends) its mount point."""
        rootfs = config.rootfs or os.path.join(self.directory, "rootfs")
        if os.path.isdir(rootfs):
            return rootfs
        if self._volume(config) is not None:
            return os.path.join(self.directory, "rootfs")
        raise NotFound(f"container {self.name}: rootfs {rootfs} does not exist or is not a directory")

    def _volume(self, config):
        """The rootfs volume the init mounts (overlay, btrfs, loop, lvm, a block device);
        None for a directory rootfs (bound, no storage module imported)."""
        if config.rootfs is None or (config.rootfs.startswith("/")
                                     and os.path.isdir(config.rootfs)):
            return None
        from hacontain.storage import backends
        if not backends.is_volume(config.rootfs):
            return None
        return backends.open_volume(config.rootfs, config.rootfs_options)

    def _init_argv(self, config):
        return config.init_cmd or DEFAULT_INIT

    def _cgroup(self, config):
        from hacontain.runtime.cgroups import open_cgroup
        return open_cgroup(self.name, paths.cgroup_parent(config.cgroup_parent))

    def _open_recorded_cgroup(self, record):
        from hacontain.runtime.cgroups import open_cgroup
        if not record.cgroup:
            return None
        return open_cgroup(record.name, paths=record.cgroup)

    def _limits(self, config):
        return [(entry.key, entry.value) for entry in config.cgroup
                if not _is_device_key(entry.key)] + self.extra_limits

    @staticmethod
    def _devices(config):
        rules = [(entry.key.rsplit(".", 1)[1], entry.value) for entry in config.cgroup
                 if _is_device_key(entry.key)]
        return rules or None

    @staticmethod
    def _empty_and_remove(cgroup):
        """Kill whatever is left in `cgroup`, then remove it."""
        if cgroup.exists():
            if cgroup.pids():
                cgroup.kill_all(KILL_GRACE)
            cgroup.remove()


def _is_device_key(key):
    return key in ("lxc.cgroup.devices.allow", "lxc.cgroup.devices.deny",
                   "lxc.cgroup2.devices.allow", "lxc.cgroup2.devices.deny")


def _wait_exit(pidfd, timeout):
    """Wait (no polling loop: poll(2) on the pidfd) until the process exits."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(max(0.0, timeout) * 1000))


def _check_systemd_needs(config, rootfs, init):
    """A systemd init exits at once without a writable cgroup hierarchy to run its units
    in: refuse to start it without `lxc.mount.auto = cgroup:mixed` (or rw), saying so."""
    from hacontain.runtime.rootfs import is_systemd
    from hacontain.runtime.security.cgroup_view import mode_of
    mode = mode_of(config.mount_auto)
    if mode in (None, "ro") and is_systemd(rootfs, init):
        entry = config.entry("lxc.mount.auto")
        needs = ("/sys/fs/cgroup (\"Failed to mount API filesystems\" otherwise)" if mode is None
                 else "a writable /sys/fs/cgroup (\"Failed to create /init.scope control group: "
                      "Read-only file system\" otherwise)")
        message = (f"the init {init} is systemd, which needs {needs}: use cgroup:mixed, e.g. "
                   "lxc.mount.auto = cgroup:mixed proc:mixed sys:mixed")
        if entry is not None:
            raise entry.error(message)
        raise ConfigError(message + " (no lxc.mount.auto is set)", config.path,
                          key="lxc.mount.auto")


def _cold_start_stamp(rootfs):
    """A cold start changes the rootfs: remove the stamp that ties it to a checkpoint
    (runtime/checkpoint.py), which is then never restored over it."""
    try:
        os.unlink(os.path.join(rootfs, ".hacontain-checkpoint-stamp"))
    except (FileNotFoundError, NotADirectoryError):
        pass


def _rootfs_user(rootfs):
    """"PID (command)" of a process whose root directory is `rootfs` (the init of a
    container started over it by lxc-start or under another name), or None."""
    return _first_described(rootfs_users(rootfs))


def _first_described(pids):
    """"PID (command)" of the first of `pids`, or None when there is none."""
    if not pids:
        return None
    try:
        with open(f"/proc/{pids[0]}/comm", encoding="utf-8", errors="replace") as handle:
            return f"{pids[0]} ({handle.read().strip()})"
    except OSError:
        return f"{pids[0]} (gone meanwhile)"


def _refuse_rootfs_in_use(rootfs, name, users):
    """A StateError when `users` (PIDs whose root is `rootfs`: status.rootfs_users, the
    starting init left out) is not empty: a second init would share the filesystem of
    another running container."""
    user = _first_described(users)
    if user is not None:
        raise StateError(f"container {name}: rootfs {rootfs} is in use by process {user}, "
                         "the root of another running container (started by lxc-start or "
                         "under another name?): not starting a second init on it")


def _check_console_log(config):
    """lxc.console.logfile, when it exists, must be a file the console holder can open
    for writing without waiting: not a FIFO nobody reads, a socket or a directory."""
    import stat
    if config.console_logfile is None:
        return
    try:
        mode = os.stat(config.console_logfile).st_mode
    except FileNotFoundError:
        return                                # made at start
    if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode)):
        raise config.entry("lxc.console.logfile").error(
            f"{config.console_logfile} is not a regular file (nor a device like /dev/null)")


def _check_init_cwd(config, rootfs):
    """lxc.init.cwd must be a directory of the rootfs, unless a mount entry provides it
    (a target is inside the container, or below the rootfs path as LXC allows)."""
    cwd = config.init_cwd
    if cwd is None:
        return
    top = rootfs.rstrip("/")
    targets = [m.target[len(top):] if m.target.startswith(top + "/") else m.target
               for m in config.mounts]
    if any(f"{cwd.rstrip('/')}/".startswith(f"/{target.strip('/')}/") for target in targets):
        return
    from hacontain.runtime.rootfs import inside
    if not os.path.isdir(inside(rootfs, cwd)):
        raise config.entry("lxc.init.cwd").error(f"{cwd} is not a directory of rootfs {rootfs}")


def _exists_inside(rootfs, path):
    from hacontain.runtime.rootfs import inside
    return os.path.exists(inside(rootfs, path))


def _resolve_command(rootfs, command):
    """`command` as an absolute path inside `rootfs`, searched in PATH if bare."""
    if command.startswith("/"):
        return command
    for folder in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if _exists_inside(rootfs, f"{folder}/{command}"):
            return f"{folder}/{command}"
    raise NotFound(f"command {command} not found in the container's PATH (rootfs {rootfs})")
