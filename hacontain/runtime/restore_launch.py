"""Restoring a checkpointed container's processes under a new console holder.

    restore ──fork──> holder (own session, in the container's cgroup, child
                      subreaper) ──runs──> criu restore --restore-detached
                                               └──> the restored init (PID 1)

When criu exits the restored init is orphaned and becomes the holder's child, as
after a start (launch.py), so stop, attach, console and info treat it as any
container. Before that, as for a start: the cgroup is made, the netns made and
its interfaces set up (criu gets it as the checkpoint's external netns), and one
new host pseudo-terminal per console and tty replaces the checkpoint's (criu
gives its slave to the processes that had the old one and bind-mounts it on
/dev/console, /dev/ttyN); the holder keeps the masters.
"""

import json
import os
import signal
import time

from hacontain.errors import HacontainError, Timeout, rebuild
from hacontain.runtime import console, criu
from hacontain.runtime.checkpoint import mask_key
from hacontain.runtime import state as statefile
from hacontain.runtime.launch import _fork_into, _leave_v2_cgroup_root, _read_all, _report
from hacontain.sys import libc, proc


def restore_container(container, config, metadata, images, timeout):
    """Make the container's cgroup, netns and terminals, restore the images in
    `images` under a new holder; the State recorded (the caller holds the lock)."""
    from hacontain.runtime.security import containment
    console.check_program()
    deadline = time.monotonic() + timeout
    interfaces, confinement, cgroup = container._prepare(config)
    run_directory = statefile.directory(container.name)
    os.makedirs(run_directory, mode=0o700, exist_ok=True)
    spec = console.spec(run_directory, config)
    record = statefile.State(
        name=container.name, lxcpath=container.lxcpath, config=container.config_path,
        pid=None, start_time=None, started_at=time.time(),
        halt_signal=container._halt_signal(config), cgroup=cgroup.paths,
        console_log=spec.log)
    statefile.write(record)
    fds, holder = [], None
    try:
        cgroup.create(container._limits(config), container._devices(config))
        netns = None
        if metadata.netns is not None:
            netns = _new_netns()
            fds.append(netns)
            if interfaces:
                _make_network(config, interfaces, record, netns)
        terminals = [os.openpty() for _ in metadata.terminals]
        fds += [fd for pair in terminals for fd in pair]
        args = _restore_args(container, config, metadata, images, terminals, netns)
        holder, result_r = _fork_holder(cgroup, spec, run_directory, args, terminals,
                                        [netns] if netns is not None else [])
        record.holder = holder
        record.pid = _wait_result(result_r, deadline, holder)
        record.start_time = proc.start_time(record.pid)
        containment.save(confinement, statefile.containment_record(container.name))
        statefile.write(record)
    except BaseException as failure:
        _undo(container, cgroup, record, holder, failure)
        raise
    finally:
        for fd in fds:
            os.close(fd)
    return record


def _restore_args(container, config, metadata, images, terminals, netns):
    args = ["--images-dir", images, "--root", container._rootfs(config),
            "--restore-detached", "--pidfile", os.path.join(images, "restored.pid")]
    for (name, tty), (_, slave) in zip(metadata.terminals, terminals):
        args += ["--inherit-fd", f"fd[{slave}]:{tty}",
                 "--external", f"mnt[{name}]:{os.ttyname(slave)}"]
    if netns is not None:
        args += ["--inherit-fd", f"fd[{netns}]:{metadata.netns}"]
    for path in metadata.masks:
        args += ["--external", f"mnt[{mask_key(path)}]:{_mask_source(container.name)}"]
    if metadata.tcp_established:
        args.append("--tcp-established")
    return args


def _mask_source(name):
    """The directory on which criu's process mounts the empty read-only tmpfs it binds
    on every masked directory (criu_namespace)."""
    return os.path.join(statefile.directory(name), "criu-mask")


def criu_namespace(mask_source):
    """For criu's process (subprocess preexec): a mount namespace of its own with the
    mask tmpfs on `mask_source`; the restored container's is made from it, and the
    mask goes with criu."""
    libc.unshare(libc.CLONE_NEWNS)
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_SLAVE)
    libc.mount("none", mask_source, "tmpfs", libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NODEV
               | libc.MS_NOEXEC, "size=0,mode=555")


def _new_netns():
    """A new network namespace with its loopback up; an open fd of it."""
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    hold_r, hold_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            os.close(hold_w)
            libc.unshare(libc.CLONE_NEWNET)
            libc.interface_up("lo")
            os.write(ready_w, b"k")
            os.read(hold_r, 1)            # until the parent has opened the netns
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(hold_r)
    try:
        if os.read(ready_r, 1) != b"k":
            raise HacontainError("could not make a network namespace for the restore")
        return os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(hold_w)
        os.waitpid(pid, 0)


def _make_network(config, interfaces, record, netns):
    from hacontain.runtime.network import validate
    from hacontain.runtime.network.setup import setup
    interfaces = validate.check(config, interfaces)
    record.network = [interface.record() for interface in interfaces]
    statefile.write(record)
    setup(interfaces, netns, f"/proc/{os.getpid()}/fd/{netns}")


def _fork_holder(cgroup, spec, run_directory, args, terminals, inherited):
    """Fork the holder; it runs criu and reports the restored init's pid (or its
    error) as JSON on the returned pipe, then becomes the console holder."""
    result_r, result_w = os.pipe2(os.O_CLOEXEC)
    pid, in_v2 = _fork_into(cgroup)
    if pid == 0:
        os.close(result_r)
        _holder(cgroup, in_v2, spec, run_directory, args, terminals, inherited, result_w)
    os.close(result_w)
    return pid, result_r


def _holder(cgroup, in_v2, spec, run_directory, args, terminals, inherited, result_w):
    """The holder's side; never returns."""
    try:
        os.setsid()
        cgroup.join_self(in_v2)
        console.become_subreaper(libc.prctl)
        log = os.open(spec.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        listener = console.listen(spec.socket)
        to_holder, to_init = console.channel()
        masters = [master for master, _ in terminals]
        console.send_terminals(to_init, [masters[0], terminals[0][1], *masters[1:]])
        os.close(to_init)
        slaves = [slave for _, slave in terminals]
        images = args[args.index("--images-dir") + 1]
        mask_source = _mask_source(os.path.basename(run_directory))
        os.makedirs(mask_source, exist_ok=True)
        criu.run("restore", args, os.path.join(images, "restore.log"),
                 pass_fds=(*slaves, *inherited), preexec=lambda: criu_namespace(mask_source))
        os.rmdir(mask_source)
        with open(os.path.join(images, "restored.pid"), encoding="ascii") as handle:
            pid = int(handle.read().strip())
        os.write(result_w, json.dumps({"pid": pid}).encode())
        os.close(result_w)
    except BaseException as exc:  # report everything: nothing may escape a forked child
        _report(result_w, exc)
        os._exit(1)
    try:
        _leave_v2_cgroup_root(cgroup)
        console.detach_stdio()
        console.exec_holder(spec, (log, listener, to_holder), os.path.basename(run_directory),
                            None)
    finally:
        os._exit(1)


def _wait_result(result_r, deadline, holder):
    """The restored init's pid, or the holder's error (a Timeout past `deadline`)."""
    try:
        data = _read_all(result_r, deadline)
    finally:
        os.close(result_r)
    if data is None:
        raise Timeout("criu restore did not finish in time")
    report = json.loads(data) if data else {"kind": "HacontainError",
                                            "message": "the restoring holder died"}
    if "pid" in report:
        return report["pid"]
    raise rebuild(report["kind"], report["message"])


def _undo(container, cgroup, record, holder, failure):
    """Undo a failed restore: the holder and criu (its session), the network, the
    cgroup with anything restored in it, then the state."""
    if holder is not None:
        try:
            os.killpg(holder, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(holder, 0)
        except ChildProcessError:
            pass
    try:
        if record.network:
            container._teardown_network(record.network)
        container._empty_and_remove(cgroup)
    except HacontainError as error:
        raise HacontainError(f"{failure}; cleaning up also failed: {error}") from failure
    console.remove_files(statefile.directory(container.name))
    statefile.remove(container.name)
