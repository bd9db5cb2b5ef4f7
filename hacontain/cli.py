"""The `hacontain` command: the lxc-* verbs in one tool (the only click user)."""

import json
import os
import sys

import click

from hacontain.cli_fast import START_DEFAULTS, start_detached, with_notices
from hacontain.errors import HacontainError


class _Group(click.Group):
    """Prints a HacontainError as one line on stderr and exits 1: never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HacontainError as exc:
            click.echo(f"hacontain: error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("hacontain: interrupted", err=True)
            sys.exit(130)


LXCPATH_HELP = "Container directory (default $HACONTAIN_LXCPATH, else /var/lib/hacontain)."


def _group_lxcpath(ctx, param, value):
    """A command's -P, else the one given before the command (or $HACONTAIN_LXCPATH)."""
    return value if value is not None else ctx.find_root().params.get("lxcpath")


def lxcpath_option(function):
    return click.option("-P", "--lxcpath", metavar="LXCPATH", callback=_group_lxcpath,
                        help=LXCPATH_HELP)(function)


def json_option(function):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(function)


def _complete_names(ctx, param, incomplete):
    """Bash completion of a container NAME: the containers of the LXCPATH given so far."""
    from hacontain import paths
    root = paths.lxcpath(ctx.params.get("lxcpath") or ctx.find_root().params.get("lxcpath"))
    try:
        names = os.listdir(root)
    except OSError:
        return []
    return sorted(name for name in names if name.startswith(incomplete)
                  and os.path.isfile(os.path.join(root, name, "config")))


name_argument = click.argument("name", shell_complete=_complete_names)


def _container(name, lxcpath):
    from hacontain.runtime.container import Container
    return Container(name, lxcpath)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hacontain")
@click.option("-P", "--lxcpath", metavar="LXCPATH", envvar="HACONTAIN_LXCPATH", help=LXCPATH_HELP)
def main(lxcpath):
    """High-availability Linux system containers.

    -P LXCPATH goes before or after the command."""


def storage_options(function):
    """lxc-create's storage options (storage.backends.Options)."""
    for option in reversed((
            click.option("--fstype", type=click.Choice(["ext4", "xfs", "btrfs"]), default="ext4",
                         show_default=True, help="Filesystem of a loop or lvm rootfs."),
            click.option("--fssize", default="1G", show_default=True,
                         help="Size of a loop or lvm rootfs (a thick LVM snapshot's COW space)."),
            click.option("--vgname", default="lxc", show_default=True, help="LVM volume group."),
            click.option("--lvname", help="LV name (default: the container's name)."),
            click.option("--thinpool", help="Thin pool in the VG: a thin LV."))):
        function = option(function)
    return function


def _storage_options(fstype, fssize, vgname, lvname, thinpool):
    from hacontain.storage.backends import Options
    return Options(fstype=fstype, fssize=fssize, vgname=vgname, lvname=lvname, thinpool=thinpool)


@main.command()
@click.argument("name")
@click.option("-t", "--template", required=True, help="busybox, debian, debian-systemd or dir:PATH")
@click.option("-B", "--backend", default="dir", show_default=True,
              type=click.Choice(["dir", "overlay", "btrfs", "loop", "lvm"]),
              help="Where the rootfs lives.")
@storage_options
@click.option("--idmap", metavar="HOSTID:COUNT",
              help="Unprivileged: container ids 0..COUNT-1 are host ids HOSTID.. "
                   "(lxc.idmap for uids and gids, the rootfs shifted to them).")
@click.option("--userns", is_flag=True, help="Unprivileged with root's range in /etc/subuid "
              "and /etc/subgid, else --idmap 100000:65536.")
@lxcpath_option
def create(name, template, backend, fstype, fssize, vgname, lvname, thinpool, idmap, userns,
           lxcpath):
    """Create container NAME from a template."""
    from hacontain import paths
    from hacontain.templates import create as create_container
    options = _storage_options(fstype, fssize, vgname, lvname, thinpool)
    ranges = None
    if idmap or userns:
        from hacontain.cli_config import id_ranges
        ranges = id_ranges(idmap)             # a bad --idmap is refused before anything is made
    path = create_container(name, paths.lxcpath(lxcpath), template, backend, options)
    if ranges is not None:
        from hacontain.cli_config import make_unprivileged
        make_unprivileged(_container(name, lxcpath), ranges)
    click.echo(f"created {name} in {path}" + (" (unprivileged: lxc.idmap "
               f"u 0 {ranges[0][0]} {ranges[0][1]}, g 0 {ranges[1][0]} {ranges[1][1]})"
               if ranges else ""))


@main.command()
@click.argument("source", shell_complete=_complete_names)
@click.argument("name")
@click.option("-s", "--snapshot", is_flag=True,
              help="A snapshot clone (overlay over a stopped dir/overlay source, btrfs or LVM snapshot).")
@click.option("-B", "--backend", type=click.Choice(["dir", "overlay", "btrfs", "loop", "lvm"]),
              help="Backend of the copy (default: the source's; overlay for -s of a dir).")
@click.option("--allow-running", is_flag=True,
              help="Copy a running container, frozen while copied (crash-consistent).")
@storage_options
@lxcpath_option
def copy(source, name, snapshot, backend, allow_running, fstype, fssize, vgname, lvname,
         thinpool, lxcpath):
    """Copy container SOURCE to a new container NAME, like lxc-copy."""
    from hacontain.storage.clone import copy as copy_container
    options = _storage_options(fstype, fssize, vgname, lvname, thinpool)
    path = copy_container(_container(source, lxcpath), name, snapshot, backend, options,
                          allow_running)
    click.echo(f"copied {source} to {name} in {path}")


@main.command()
@name_argument
@click.option("-t", "--timeout", default=START_DEFAULTS["timeout"], show_default=True,
              help="Seconds to wait for the init to start.")
@click.option("--settle", default=START_DEFAULTS["settle"], show_default=True,
              help="Seconds to watch the init: if it exits within them, start fails and says why.")
@click.option("-F", "--foreground", is_flag=True,
              help="Stay with the console on this terminal until the init ends (Ctrl-a q detaches).")
@lxcpath_option
def start(name, timeout, settle, foreground, lxcpath):
    """Start container NAME in the background (or, with -F, in the foreground)."""
    if not foreground:
        start_detached(name, lxcpath, timeout, settle)
        return
    container, _ = with_notices(name, lxcpath)
    from hacontain.runtime.console import describe, exit_code
    click.echo(f"hacontain: {name}: console in the foreground; type Ctrl-a q to detach", err=True)
    ended = container.run_foreground(timeout=timeout)
    if ended is None:
        click.echo(f"\r\nhacontain: detached; {name} keeps running", err=True)
        return
    click.echo(f"\r\nhacontain: {name}: its init {describe(ended)}", err=True)
    sys.exit(exit_code(ended))


@main.command()
@name_argument
@click.option("--tty", "tty", default=0, show_default=True, type=click.IntRange(min=0),
              help="The tty number (0: /dev/console).")
@click.option("-e", "--escape", default="a", show_default=True, metavar="KEY",
              help="Detach with Ctrl-KEY then q.")
@lxcpath_option
def console(name, tty, escape, lxcpath):
    """Connect this terminal to the console (or a tty) of running container NAME."""
    from hacontain.runtime.terminal import ESCAPED
    if len(escape) != 1 or not ("a" <= escape.lower() <= "z"):
        raise click.BadParameter(f"{escape!r} is not a letter", param_hint="-e")
    what = "the console" if tty == 0 else f"tty {tty}"
    click.echo(f"hacontain: connected to {what} of {name}; type Ctrl-{escape.lower()} q to detach",
               err=True)
    outcome = _container(name, lxcpath).console(tty, bytes([ord(escape.lower()) & 0x1F]) + b"q")
    click.echo("\r\nhacontain: " + ("detached" if outcome == ESCAPED else f"{what} closed"),
               err=True)


@main.command()
@name_argument
@click.option("-t", "--timeout", default=30.0, show_default=True,
              help="Seconds to wait for a clean shutdown before killing.")
@click.option("-k", "--kill", is_flag=True, help="Kill at once, no clean shutdown.")
@lxcpath_option
def stop(name, timeout, kill, lxcpath):
    """Stop container NAME: halt signal, then kill after the timeout."""
    outcome = _container(name, lxcpath).stop(timeout=timeout, kill=kill)
    if outcome == "killed":
        click.echo(f"hacontain: {name} killed" if kill else
                   f"hacontain: {name} did not halt within {timeout:g} s: killed", err=True)


@main.command()
@name_argument
@json_option
@lxcpath_option
def info(name, as_json, lxcpath):
    """Show state and resources of container NAME."""
    from hacontain.cli_fast import info_text
    click.echo(info_text(name, lxcpath, as_json))


@main.command(name="ls")
@json_option
@lxcpath_option
def list_containers(as_json, lxcpath):
    """List the containers in LXCPATH: state, init pid, memory, addresses and the
    Pacemaker resource that manages each (like lxc-ls -f)."""
    from hacontain.cli_fast import ls_text
    click.echo(ls_text(lxcpath, as_json))


@main.command()
@name_argument
@json_option
@lxcpath_option
def ps(name, as_json, lxcpath):
    """List the processes of container NAME (host PIDs)."""
    from hacontain import cli_views
    rows = _container(name, lxcpath).processes()
    click.echo(cli_views.to_json(rows) if as_json else cli_views.render_ps(rows))


@main.command(context_settings={"ignore_unknown_options": True})
@name_argument
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("-e", "--env", "env", multiple=True, metavar="KEY=VALUE", help="Extra environment.")
@lxcpath_option
def attach(name, command, env, lxcpath):
    """Run COMMAND (default /bin/sh) inside running container NAME (on a terminal,
    with a pseudo-terminal of the container)."""
    sys.exit(_container(name, lxcpath).attach(list(command) or ["/bin/sh"], env))


@main.command(context_settings={"ignore_unknown_options": True})
@name_argument
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@lxcpath_option
def execute(name, command, lxcpath):
    """Run COMMAND as the init of a temporary container NAME, in the foreground (on a
    terminal, Ctrl-a q kills it)."""
    sys.exit(_container(name, lxcpath).execute(list(command)))


@main.command(name="shift-rootfs")
@name_argument
@lxcpath_option
def shift_rootfs(name, lxcpath):
    """Give stopped container NAME's rootfs to the host ids of its lxc.idmap."""
    from hacontain.runtime.security.shift import shift_container
    rootfs, count = shift_container(_container(name, lxcpath))
    click.echo(f"shifted {count} files of {rootfs}")


@main.command()
@name_argument
@click.option("-f", "--force", is_flag=True, help="Stop the container first if it runs.")
@lxcpath_option
def destroy(name, force, lxcpath):
    """Remove container NAME (its rootfs too when it lives in LXCPATH/NAME)."""
    from hacontain.runtime.destroy import destroy as destroy_container
    destroy_container(_container(name, lxcpath), force)


@main.command()
@name_argument
@lxcpath_option
def freeze(name, lxcpath):
    """Freeze all processes of container NAME."""
    _container(name, lxcpath).freeze()


@main.command()
@name_argument
@lxcpath_option
def unfreeze(name, lxcpath):
    """Thaw container NAME."""
    _container(name, lxcpath).unfreeze()


@main.command()
@name_argument
@click.argument("key")
@click.argument("value", required=False)
@json_option
@lxcpath_option
def cgroup(name, key, value, as_json, lxcpath):
    """Read, or set live, cgroup KEY of running container NAME.

    \b
    KEY is a cgroup file of this host's version, as lxc-cgroup takes it
    (memory.limit_in_bytes, cpu.shares on cgroup v1; memory.max, cpu.weight
    on v2), or a config key: lxc.cgroup.FILE (v1), lxc.cgroup2.FILE (v2) or
    hacontain.limit.NAME (memory, swap, cpu.weight, cpu.shares, cpu.quota,
    cpuset.cpus, cpuset.mems, pids, io.weight, io.read_bps, ...: either
    version). The value is set live, not in the config (see `config`)."""
    found = _container(name, lxcpath).cgroup_value(key, value)
    click.echo(json.dumps({"name": name, "key": key, "value": found}) if as_json else found)


@main.command()
@click.argument("name", required=False, shell_complete=_complete_names)
@lxcpath_option
def checkconfig(name, lxcpath):
    """Check this kernel has what hacontain needs (like lxc-checkconfig); with NAME,
    also container NAME's config and what it asks of this host (every check start
    makes before it makes anything), a problem named at its file:line. Warnings
    (the exit status unchanged) name host settings that put data at risk and
    their fix, e.g. an LVM filter that lets LVM see a DRBD backing disk."""
    from hacontain.runtime.checkconfig import check_container, checkpointing, checks, warnings
    missing = 0
    for label, ok, required in checks():
        word = "enabled" if ok else ("missing" if required else "missing (optional)")
        missing += (not ok) and required
        click.echo(f"{label + ':':<40} {word}")
    why_not = checkpointing()
    click.echo(f"{'checkpoint/restore (criu):':<40} "
               + ("enabled" if why_not is None else f"missing (optional): {why_not}"))
    for warning in warnings():
        click.echo(f"warning: {warning}")
    if name is not None:
        container = _container(name, lxcpath)
        problem = check_container(container)
        missing += problem is not None
        click.echo(f"{'container ' + name + ':':<40} {problem or 'ok'}")
    sys.exit(1 if missing else 0)


@main.command()
@name_argument
@click.argument("key", required=False)
@click.argument("value", required=False)
@json_option
@lxcpath_option
def config(name, key, value, as_json, lxcpath):
    """Show container NAME's config (file:line of each entry, includes too), the
    values of KEY, or set KEY to VALUE in the config file for the next start.

    \b
    The file is rewritten atomically, its comments and other lines kept: the
    line setting KEY is replaced (a key set on several lines, or in an
    included file, is refused), or a line appended. The new file must parse:
    a bad key or value is refused at its file:line and nothing changes."""
    from hacontain import cli_config, cli_views
    path = _container(name, lxcpath).config_path
    if value is not None:
        line = cli_config.set_value(path, key, value)
        click.echo(json.dumps({"path": path, "line": line, "key": key, "value": value})
                   if as_json else f"{path}:{line}: {key} = {value}")
        return
    found = cli_config.entries(path, key)
    if key is not None and not found:
        from hacontain.errors import NotFound
        raise NotFound(f"{path}: {key} is not set")
    if as_json:
        click.echo(cli_views.to_json(found))
    elif key is not None:
        click.echo("\n".join(entry["value"] for entry in found))
    else:
        click.echo("\n".join(f"{entry['key']} = {entry['value']}" for entry in found))


@main.command()
@click.option("-d", "--delay", default=2.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between updates (and the interval CPU%% is measured over).")
@click.option("--once", is_flag=True, help="Print one table (after one interval) and exit.")
@json_option
@lxcpath_option
def top(delay, once, as_json, lxcpath):
    """CPU, memory, I/O and processes of each running container, live (like lxc-top).

    CPU% is over the last interval (100 is one CPU); CPU TIME, IO READ and
    IO WRITE are totals since the start. --json prints one sample and exits."""
    import time
    from hacontain import cli_views
    before = cli_views.top_sample(lxcpath)
    while True:
        time.sleep(delay)                     # the interval CPU% is measured over
        after = cli_views.top_sample(lxcpath)
        rows = cli_views.top_rows(before, after)
        if as_json:
            click.echo(cli_views.to_json(rows))
            return
        if not once:
            click.clear()
        click.echo(cli_views.render_top(rows))
        if once:
            return
        before = after


@main.command(name="install-agent")
@click.option("--root", default="/", show_default=True, help="Install below this root directory.")
def install_agent(root):
    """Install the OCF agent as /usr/lib/ocf/resource.d/hacontain/container."""
    from hacontain.ocf.install import install_agent as install
    click.echo(_installing(root, install, root))


@main.command(name="install-cli")
@click.option("--root", default="/", show_default=True,
              help="Install completion and man pages below this root directory.")
@click.option("--command", "command", metavar="PATH",
              help="Where the command goes (default: bin/hacontain of this environment).")
def install_cli(root, command):
    """Install the fast `hacontain` command, bash completion and man pages."""
    from click.shell_completion import BashComplete
    from hacontain import cli_install, manpages
    completion = BashComplete(main, {}, "hacontain", "_HACONTAIN_COMPLETE").source()
    for path in _installing(root, cli_install.install, root, completion, manpages.pages(main),
                            command):
        click.echo(path)


def _installing(root, install, *args):
    """install(*args), its OSError a HacontainError naming the file and the root."""
    try:
        return install(*args)
    except OSError as exc:
        raise HacontainError(f"cannot install below {root}: {exc.strerror or exc}"
                             + (f": {exc.filename}" if exc.filename else "")) from None


# Cluster configuration (hacontain/clusterconfig/)

@main.command(name="cluster-config")
@click.argument("names", nargs=-1, metavar="NAME...", shell_complete=_complete_names)
@click.option("--drbd", metavar="RESOURCE", help="The DRBD resource the VG is on.")
@click.option("--vg", metavar="VG", help="The volume group on the DRBD device.")
@click.option("--vg-access-mode", default="system_id", show_default=True,
              metavar="system_id|tagging", help="LVM-activate's vg_access_mode.")
@click.option("--filesystem", "filesystems", multiple=True, metavar="DEV:DIR:FSTYPE",
              help="An LV ocf:heartbeat:Filesystem mounts, for containers whose rootfs is a "
                   "directory below DIR (repeatable).")
@click.option("--ip", "ips", multiple=True, metavar="[NAME=]ADDR/PREFIX",
              help="A service IP (ocf:heartbeat:IPaddr2) that follows the container "
                   "(repeatable; NAME= with several containers).")
@click.option("--nic", metavar="IFACE", help="IPaddr2's interface (default: found by route).")
@click.option("--pcs", "as_pcs", is_flag=True, help="Print pcs commands, not crm input.")
@click.option("--cib-file", metavar="FILE",
              help="With --pcs: commands against FILE (pcs -f), not a script for the live CIB.")
@lxcpath_option
def cluster_config(names, drbd, vg, vg_access_mode, filesystems, ips, nic, as_pcs, cib_file,
                   lxcpath):
    """Print the Pacemaker configuration of containers on LVM on DRBD.

    A promotable ocf:linbit:drbd clone, LVM-activate (and Filesystem) colocated with
    its Promoted instance and started after the promote, then each container (with its
    service IP). Load it with `crm configure load update -`, or with --pcs, `| sh`."""
    from hacontain.clusterconfig import crm, model, pcs, plan
    from hacontain.errors import ParameterError
    if cib_file and not as_pcs:
        raise ParameterError("--cib-file goes with --pcs")
    stack = model.describe(names, drbd, vg, vg_access_mode, filesystems, ips, nic, lxcpath)
    built = plan.build(stack)
    click.echo(pcs.render(built, cib_file) if as_pcs else crm.render(built), nl=False)


# Checkpoints (hacontain/runtime/checkpoint.py)

@main.command()
@name_argument
@click.option("--dir", "directory", metavar="DIR",
              help="Where the checkpoint goes (default: ROOTFS/.hacontain-checkpoint, in the "
                   "container's volume).")
@click.option("--stop", is_flag=True, help="Stop the container once dumped (else it runs on, "
              "and the checkpoint cannot be restored: its files change).")
@click.option("--tcp-established", is_flag=True,
              help="Also dump established TCP connections (their address must move with it).")
@lxcpath_option
def checkpoint(name, directory, stop, tcp_established, lxcpath):
    """Checkpoint running container NAME with CRIU (its processes, memory, console,
    network), for restore-checkpoint."""
    from hacontain.runtime.checkpoint import checkpoint as dump
    from hacontain.runtime.checkpoint import default_directory
    container = _container(name, lxcpath)
    dump(container, directory, stop=stop, tcp_established=tcp_established)
    where = directory or default_directory(container, container.load_config())
    click.echo(f"hacontain: {name} checkpointed in {where}" + ("; stopped" if stop else ""),
               err=True)


@main.command(name="restore-checkpoint")
@name_argument
@click.option("--dir", "directory", metavar="DIR",
              help="Where the checkpoint is (default: ROOTFS/.hacontain-checkpoint).")
@click.option("-t", "--timeout", default=30.0, show_default=True,
              help="Seconds the restore may take.")
@lxcpath_option
def restore_checkpoint(name, directory, timeout, lxcpath):
    """Start container NAME from its checkpoint (then deleted); refused, starting
    nothing, when the checkpoint is stale (config changed, started since) or damaged."""
    from hacontain.runtime.checkpoint import restore
    record = restore(_container(name, lxcpath), directory, timeout=timeout)
    click.echo(f"hacontain: {name} restored (init pid {record.pid})", err=True)


# Backups (hacontain/backup/)

class _BackupGroup(click.Group):
    """`hacontain backup NAME...` is short for `hacontain backup create NAME...` (what a
    vzdump user types); `backup verify` and `backup prune` are its other commands."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["create"] + list(args)
        return super().parse_args(ctx, args)


def _dumpdir_option(function):
    return click.option("--dumpdir", metavar="DIR",
                        help="Where backups are (default $HACONTAIN_DUMPDIR, else "
                             "/var/lib/hacontain-dump).")(function)


@main.group(cls=_BackupGroup, context_settings={"help_option_names": ["-h", "--help"]})
def backup():
    """Back up containers, like vzdump: `hacontain backup NAME [options]` (short for
    `backup create`), `backup verify ARCHIVE`, `backup prune`."""


@backup.command(name="create")
@click.argument("names", nargs=-1, metavar="[NAME]...", shell_complete=_complete_names)
@click.option("--all-running", is_flag=True,
              help="Every container of LXCPATH running on this node.")
@click.option("--mode", type=click.Choice(["snapshot", "suspend", "stop"]), default="snapshot",
              show_default=True, help="How the rootfs is made consistent.")
@_dumpdir_option
@click.option("--compress", type=click.Choice(["zstd", "gzip", "none"]), default="zstd",
              show_default=True, help="Compression of the archive.")
@click.option("--threads", type=click.IntRange(min=0), default=0, show_default=True,
              help="zstd threads (0: one per core).")
@click.option("--checksums", is_flag=True,
              help="The sha256 of every file in the manifest (always with --compress none; "
                   "else the compressor's checksum covers the content).")
@click.option("--exclude-path", "excludes", multiple=True, metavar="GLOB",
              help="Leave out matching paths (a leading / anchors at the container's root; "
                   "repeatable).")
@click.option("--stdexcludes/--no-stdexcludes", default=True, show_default=True,
              help="Leave out /tmp/?*, /var/tmp/?*, /var/run/?*.pid (vzdump's).")
@click.option("--bwlimit", type=click.IntRange(min=1), metavar="KiB/s",
              help="Read the tree at most this fast.")
@click.option("--ionice", type=click.IntRange(0, 8), metavar="0-8",
              help="I/O priority of the reading (best effort 0-7; 8: idle).")
@click.option("--notes", metavar="TEXT",
              help="Notes stored beside the archive ({{guestname}}, {{node}}, {{vmid}}).")
@click.option("--protected", is_flag=True, help="Never prune this backup.")
@click.option("--script", metavar="HOOK", help="Hook script called at each phase (vzdump's).")
@click.option("--prune-backups", metavar="keep-last=N,...",
              help="Then prune this container's backups: keep-last, keep-hourly, keep-daily, "
                   "keep-weekly, keep-monthly, keep-yearly.")
@click.option("--tmpdir", metavar="DIR",
              help="Where suspend mode's copy of the tree goes (default: the dump directory).")
@lxcpath_option
def backup_create(names, all_running, mode, dumpdir, compress, threads, checksums, excludes,
                  stdexcludes, bwlimit, ionice, notes, protected, script, prune_backups, tmpdir,
                  lxcpath):
    """Back up containers NAME... (or --all-running) to the dump directory."""
    from hacontain.backup import archive, run
    from hacontain.backup.prune import parse_keep
    from hacontain.errors import ParameterError
    if all_running == bool(names):
        raise ParameterError("name the containers to back up, or give --all-running")
    keep = parse_keep(prune_backups) if prune_backups else None
    if all_running:
        names = run.running_here(lxcpath)
        if not names:
            click.echo("hacontain: no container runs on this node: nothing to back up",
                       err=True)
            return
    job = run.Job(list(names), lxcpath, mode, dumpdir,
                  archive.Settings(compress, threads, tuple(excludes), bwlimit, ionice,
                                   checksums),
                  stdexcludes, notes, protected, script, keep,
                  sys.stderr if sys.stderr.isatty() else None, tmpdir)
    for path in run.run_job(job, click.echo):
        click.echo(path)


@backup.command(name="verify")
@click.argument("archive", type=click.Path())
def backup_verify(archive):
    """Read all of backup ARCHIVE and check every member against its manifest."""
    from hacontain.backup.catalog import human
    from hacontain.backup.verify import verify
    checked = verify(archive)
    click.echo(f"{archive}: ok: {checked.members} members, {checked.files} files, "
               f"{human(checked.content)} checked against the manifest")


@backup.command(name="prune")
@click.argument("name", required=False, shell_complete=_complete_names)
@_dumpdir_option
@click.option("--prune-backups", "keep", required=True, metavar="keep-last=N,...",
              help="keep-last, keep-hourly, keep-daily, keep-weekly, keep-monthly, "
                   "keep-yearly (vzdump's rules).")
@click.option("--dry-run", is_flag=True, help="Only show what would be kept and removed.")
def backup_prune(name, dumpdir, keep, dry_run):
    """Remove old backups (of container NAME, else of each container) by the rules."""
    from hacontain.backup import catalog, prune
    rules = prune.parse_keep(keep)
    for found, mark in prune.prune(catalog.backups(catalog.dumpdir(dumpdir), name), rules):
        if mark == "remove" and not dry_run:
            catalog.remove(found)
        click.echo(f"{mark + ('d' if mark == 'remove' and not dry_run else ''):<10} "
                   f"{found.path}")


@main.command()
@click.argument("directory", required=False, metavar="[DIR]")
@click.option("--name", help="Only container NAME's backups.")
@json_option
def backups(directory, name, as_json):
    """List the backups in DIR (default: the dump directory): container, time, mode,
    size, protected, notes."""
    from hacontain.backup import catalog
    found = catalog.backups(catalog.dumpdir(directory), name)
    click.echo(catalog.to_json(found) if as_json else catalog.render(found))


@main.command()
@click.argument("archive", type=click.Path())
@click.argument("name")
@click.option("-B", "--backend", default="dir", show_default=True,
              type=click.Choice(["dir", "overlay", "btrfs", "loop", "lvm"]),
              help="Where the restored rootfs lives.")
@storage_options
@click.option("--force", is_flag=True, help="Replace existing container NAME (stopped only).")
@lxcpath_option
def restore(archive, name, backend, fstype, fssize, vgname, lvname, thinpool, force, lxcpath):
    """Restore backup ARCHIVE as container NAME (new, or with --force over a stopped one)."""
    from hacontain.backup.restore import restore as restore_backup
    options = _storage_options(fstype, fssize, vgname, lvname, thinpool)
    path = restore_backup(archive, name, lxcpath, backend, options, force)
    click.echo(f"restored {archive} as {name} in {path}")
