"""DRBD helpers for a two-node volume under a container: the resource file (8.4 or 9
syntax, chosen from the loaded module or the utils), create-md, up, the first sync or
skipping it on blank disks, and the role, connection and disk states (8.4: /proc/drbd,
drbdadm role/cstate/dstate; 9: drbdsetup status --json).

A VG on top of DRBD needs an LVM filter that rejects the backing disk and accepts
/dev/drbd*, e.g. `devices { global_filter = [ "a|^/dev/drbd.*|", "r|^/dev/vdb$|" ] }`,
or LVM sees the PV twice (see README, Storage backends)."""

import json
import os
import re

from hacontain.errors import NotInstalled, StorageError
from hacontain.storage.command import run

MAJOR = 147                               # DRBD's block major
_PROC_LINE = re.compile(r"^\s*(\d+): cs:(\S+) ro:(\S+)/(\S+) ds:(\S+)/(\S+)")
_VERSION = re.compile(r"version: (\d+)\.(\d+)")


def kernel_version(proc="/proc/drbd", sysfs="/sys/module/drbd/version"):
    """(major, minor) of the DRBD module: loaded (/proc/drbd, sysfs), else modinfo."""
    for path in (proc, sysfs):
        try:
            with open(path, encoding="ascii") as handle:
                text = handle.read()
        except OSError:
            continue
        match = _VERSION.search(text) or re.match(r"(\d+)\.(\d+)", text.strip())
        if match:
            return int(match.group(1)), int(match.group(2))
    try:
        text = run(["modinfo", "-F", "version", "drbd"], "find the DRBD module's version")
    except StorageError:
        raise NotInstalled("no DRBD kernel module on this node") from None
    match = re.match(r"(\d+)\.(\d+)", text.strip())
    if not match:
        raise NotInstalled(f"DRBD module version {text.strip()!r} not understood")
    return int(match.group(1)), int(match.group(2))


def resource_file(name, minor, port, nodes, version, fencing=True, net=(), disk=()):
    """The text of /etc/drbd.d/NAME.res for two `nodes` [(host name, address, backing
    disk)], protocol C, internal metadata; `version` (major, minor) picks 8.4 or 9
    syntax. `fencing`: resource-and-stonith with Pacemaker's fence-peer handlers;
    `net`, `disk`: more statements of those sections (e.g. "ping-int 2;")."""
    if len(nodes) != 2:
        raise StorageError(f"a DRBD resource here has two nodes, not {len(nodes)}")
    nine = version[0] >= 9
    net, disk, handlers = ["protocol C;", *net], [*disk], []
    if fencing:
        (net if nine else disk).append("fencing resource-and-stonith;")
        if nine:
            handlers = ['fence-peer "/usr/lib/drbd/crm-fence-peer.9.sh";',
                        'unfence-peer "/usr/lib/drbd/crm-unfence-peer.9.sh";']
        else:
            handlers = ['fence-peer "/usr/lib/drbd/crm-fence-peer.sh";',
                        'after-resync-target "/usr/lib/drbd/crm-unfence-peer.sh";']
    lines = [f"resource {name} {{"]
    for section, items in (("net", net), ("disk", disk), ("handlers", handlers)):
        if items:
            lines.append(f"    {section} {{ {' '.join(items)} }}")
    for node_id, (host, address, backing) in enumerate(nodes):
        ident = f"node-id {node_id}; " if nine else ""
        lines.append(f"    on {host} {{ {ident}device /dev/drbd{minor}; disk {backing}; "
                     f"address {address}:{port}; meta-disk internal; }}")
    if nine:
        lines.append(f"    connection-mesh {{ hosts {nodes[0][0]} {nodes[1][0]}; }}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_resource(name, text, directory="/etc/drbd.d"):
    """Write DIRECTORY/NAME.res atomically."""
    path = os.path.join(directory, f"{name}.res")
    with open(path + ".new", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(path + ".new", path)
    return path


def create_md(name):
    """Internal metadata on the backing disk (a blank disk: --force answers yes)."""
    run(["drbdadm", "--", "--force", "create-md", name], f"create DRBD metadata of {name}")


def up(name):
    run(["drbdadm", "up", name], f"bring DRBD resource {name} up")


def initial_sync(name):
    """Make this node the sync source: Primary with --force (the peer syncs from it)."""
    run(["drbdadm", "primary", "--force", name], f"start the first sync of {name}")


def skip_initial_sync(name, version):
    """On blank disks on both nodes: a new current UUID with a cleared bitmap, so both
    are UpToDate without a sync (run on one node while connected)."""
    argv = (["drbdadm", "--clear-bitmap", "new-current-uuid", name] if version[0] >= 9
            else ["drbdadm", "--", "--clear-bitmap", "new-current-uuid", name])
    run(argv, f"skip the first sync of {name}")


def parse_proc_drbd(text):
    """{minor: {"cstate", "role", "peer_role", "disk", "peer_disk"}} from DRBD 8.4's
    /proc/drbd (9's lists no devices there)."""
    states = {}
    for line in text.splitlines():
        match = _PROC_LINE.match(line)
        if match:
            minor, cstate, role, peer_role, disk, peer_disk = match.groups()
            states[int(minor)] = {"cstate": cstate, "role": role, "peer_role": peer_role,
                                  "disk": disk, "peer_disk": peer_disk}
    return states


def parse_status_json(text):
    """{minor: {"resource", "role", "disk", "connections": {peer: (state, peer role)}}}
    from DRBD 9's `drbdsetup status --json`."""
    states = {}
    for resource in json.loads(text):
        connections = {conn.get("name", str(conn.get("peer-node-id"))):
                       (conn.get("connection-state"), conn.get("peer-role"))
                       for conn in resource.get("connections", [])}
        for device in resource.get("devices", []):
            states[int(device["minor"])] = {"resource": resource["name"],
                                            "role": resource.get("role"),
                                            "disk": device.get("disk-state"),
                                            "connections": connections}
    return states


def adm_states(name):
    """(role, cstate, dstate) of resource `name` as DRBD 8.4's drbdadm prints them,
    e.g. ('Primary/Secondary', 'Connected', 'UpToDate/UpToDate')."""
    return tuple(run(["drbdadm", verb, name], f"read the {verb} of {name}").strip()
                 for verb in ("role", "cstate", "dstate"))


def local_role(minor, proc="/proc/drbd"):
    """This node's role ('Primary', 'Secondary', 'Unconfigured') of DRBD minor `minor`."""
    try:
        with open(proc, encoding="ascii") as handle:
            text = handle.read()
    except FileNotFoundError:
        return "Unconfigured"
    if _VERSION.search(text) and not text.split("version:", 1)[1].strip().startswith("8."):
        state = parse_status_json(run(["drbdsetup", "status", "--json"],
                                      "read the DRBD status")).get(minor)
    else:
        state = parse_proc_drbd(text).get(minor)
    return state["role"] if state and state.get("role") else "Unconfigured"
