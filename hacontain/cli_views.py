"""What the reading commands print (`ls`, `info`, `ps`, `cgroup`, `top`): the rows
they gather and their human and JSON forms. No click here: the fast launcher
(cli_fast.py) prints `ls` and `info` through these without loading it."""

import json
import os
import time

# Every key `info --json` has, in every state (None when it does not apply).
INFO_KEYS = ("name", "state", "lxcpath", "config", "rootfs", "hostname", "pid", "started_at",
             "uptime", "reason", "config_error", "from_lxcpath", "rootfs_used_by", "init_exit",
             "console_log", "cgroup", "resources", "network")
LS_COLUMNS = (("NAME", "name"), ("STATE", "state"), ("PID", "pid"), ("MEMORY", "memory"),
              ("IPV4", "ipv4"), ("IPV6", "ipv6"), ("RESOURCE", "resource"))


def to_json(value):
    """The stable JSON form: sorted keys, two-space indent."""
    return json.dumps(value, indent=2, sort_keys=True)


def size(count):
    """Bytes as a human size: 512 B, 1.5 KiB, 12.3 MiB... ('-' for None)."""
    if count is None:
        return "-"
    value, unit = float(count), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"


def duration(seconds):
    """Seconds as '3 d 4 h 5 min 6 s' (the two largest units, or seconds with a decimal)."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    parts, rest = [], int(seconds)
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if rest >= length or parts:
            parts.append(f"{rest // length} {unit}")
            rest %= length
    return " ".join(parts[:2])


def local_time(epoch):
    """An epoch as the local date-time with its zone, e.g. 2026-11-28 17:03:02 UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(epoch))


def aligned(pairs):
    """'label: value' lines, values in one column."""
    width = max((len(label) for label, _ in pairs), default=0) + 2
    return "\n".join(f"{label + ':':<{width}}{value}".rstrip() for label, value in pairs)


def table(headers, rows):
    """A header line and rows, columns as wide as their widest cell ('-' for None)."""
    cells = [[("-" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [max([len(header)] + [len(row[i]) for row in cells]) for i, header in
              enumerate(headers)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in [list(headers)] + cells)


# -- info -------------------------------------------------------------------

def info_details(container):
    """Container.info() with every INFO_KEYS key; NotFound for a container that has
    neither a config nor anything running or left over."""
    from hacontain.errors import NotFound
    details = container.info()
    if not os.path.exists(container.config_path) and details["state"] == "STOPPED" \
            and "from_lxcpath" not in details:
        raise NotFound(f"no container {container.name} in {container.lxcpath} "
                       f"(no config at {container.config_path})")
    return {key: details.get(key) for key in INFO_KEYS} | details


def render_info(details):
    """The human form of info_details()."""
    pairs = [(key, details[key]) for key in ("name", "state", "reason", "config_error",
                                             "from_lxcpath", "rootfs_used_by", "init_exit",
                                             "pid") if details.get(key) is not None]
    if details.get("started_at") is not None:
        pairs += [("started", local_time(details["started_at"])),
                  ("uptime", duration(details["uptime"]))]
    pairs += [(key, details[key]) for key in ("hostname", "lxcpath", "config", "rootfs",
                                              "console_log") if details.get(key) is not None]
    resources = details.get("resources") or {}
    if resources:
        peak = resources.get("memory.peak")
        pairs += [("memory", size(resources.get("memory.current"))
                   + (f" (peak {size(peak)})" if peak is not None else "")),
                  ("cpu", _seconds_pair(resources, "cpu.user", "cpu.system")),
                  ("io", f"read {size(resources.get('io.read_bytes'))}, "
                         f"written {size(resources.get('io.write_bytes'))}"),
                  ("pids", resources.get("pids.current"))]
    cgroup = details.get("cgroup") or {}
    if cgroup:
        pairs.append(("cgroup", cgroup.get("layout")))
        pairs += [(f"  {mount or 'unified'}", where["cgroup"])
                  for mount, where in sorted(cgroup.get("hierarchies", {}).items())]
    for interface, data in sorted((details.get("network") or {}).items()):
        pairs.append((f"network.{interface}", f"{data['state']} mtu {data['mtu']} hwaddr "
                      f"{data['hwaddr'] or '-'} {' '.join(data['addresses'])}"))
    return aligned(pairs)


def _seconds_pair(resources, user, system):
    values = [resources.get(user), resources.get(system)]
    return "-" if None in values else f"user {values[0]:.2f} s, system {values[1]:.2f} s"


# -- ls ---------------------------------------------------------------------

def ls_rows(lxcpath):
    """A row per container of `lxcpath`: name, state, pid, memory (bytes), ipv4, ipv6
    (lists), resource (the Pacemaker resource that manages it) and from_lxcpath
    (the LXCPATH of a same-named container whose state this is); None where none."""
    from hacontain import paths
    from hacontain.runtime.cgroups import reuse_layout
    from hacontain.runtime.container import Container
    root = paths.lxcpath(lxcpath)
    names = [name for name in (sorted(os.listdir(root)) if os.path.isdir(root) else [])
             if os.path.isfile(os.path.join(root, name, "config"))]
    reuse_layout()                            # one detection for all of them
    resources = pacemaker_resources() if names else {}
    rows = []
    for name in names:
        container = Container(name, root)
        status = container.status()
        row = {"name": name, "state": status.name, "pid": None, "memory": None,
               "ipv4": [], "ipv6": [], "resource": resources.get(name), "from_lxcpath": None}
        if status.owner not in (None, root):
            row["from_lxcpath"] = status.owner  # a same-named one's, not this
        elif status.running:
            row.update(pid=status.state.pid, **_live_columns(container, status.state))
        rows.append(row)
    return rows


def _live_columns(container, record):
    """memory, ipv4 and ipv6 of a running container (None/empty where unreadable)."""
    from hacontain.errors import HacontainError
    found = {}
    try:
        found["memory"] = container._open_recorded_cgroup(record).stats()["memory.current"]
        if record.network:
            from hacontain.runtime.network.view import interfaces
            addresses = [address.split("/")[0] for name, data in
                         interfaces(record.pid).items() if name != "lo"
                         for address in data["addresses"]]
            found["ipv4"] = [a for a in addresses if ":" not in a]
            found["ipv6"] = [a for a in addresses if ":" in a]
    except (HacontainError, OSError):
        pass                                  # it stopped meanwhile
    return found


def render_ls(rows):
    def state(row):
        return row["state"] + (f" (from {row['from_lxcpath']})" if row["from_lxcpath"] else "")

    def addresses(values):
        return ",".join(values) or None
    return table([header for header, _ in LS_COLUMNS],
                 [[row["name"], state(row), row["pid"],
                   size(row["memory"]), addresses(row["ipv4"]), addresses(row["ipv6"]),
                   row["resource"]]
                  for row in rows])


def pacemaker_resources(proc="/proc", cibadmin="/usr/sbin/cibadmin"):
    """{container name: resource id} of the ocf:hacontain:container resources in the
    CIB, read only when cibadmin is installed and the CIB listens on this node; {}
    otherwise (without a cluster this costs a stat and one read of /proc/net/unix)."""
    if not os.access(cibadmin, os.X_OK) or not _cib_listens(proc):
        return {}
    import subprocess
    try:
        result = subprocess.run([cibadmin, "--query", "--scope", "resources"],
                                capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return container_resources(result.stdout) if result.returncode == 0 else {}


def _cib_listens(proc):
    """Whether the CIB's read-only socket is bound in this network namespace: libqb's
    abstract "@cib_ro", or a file .../cib_ro when libqb is forced to file sockets."""
    try:
        with open(f"{proc}/net/unix", encoding="utf-8", errors="replace") as handle:
            return any(line.rstrip().endswith((" @cib_ro", "/cib_ro")) for line in handle)
    except OSError:
        return False


def container_resources(cib_xml):
    """{name parameter: primitive id} of the ocf:hacontain:container primitives in
    `cib_xml` (a CIB or its resources section)."""
    import xml.etree.ElementTree as ElementTree
    try:
        root = ElementTree.fromstring(cib_xml)
    except ElementTree.ParseError:
        return {}
    found = {}
    for primitive in root.iter("primitive"):
        if (primitive.get("class"), primitive.get("provider"), primitive.get("type")) != \
                ("ocf", "hacontain", "container"):
            continue
        for pair in primitive.iter("nvpair"):
            if pair.get("name") == "name" and pair.get("value"):
                found[pair.get("value")] = primitive.get("id")
    return found


# -- ps, cgroup -------------------------------------------------------------

def render_ps(rows):
    return table(["PID", "PPID", "USER", "STATE", "COMMAND"],
                 [[row["pid"], row["ppid"], row["user"], row["state"], row["command"]]
                  for row in rows])


# -- top --------------------------------------------------------------------

def top_sample(lxcpath):
    """{name: (monotonic time, resources)} of the running containers of `lxcpath`."""
    from hacontain import paths
    from hacontain.errors import HacontainError
    from hacontain.runtime.cgroups import reuse_layout
    from hacontain.runtime.container import Container
    root = paths.lxcpath(lxcpath)
    reuse_layout()
    sample = {}
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        if not os.path.isfile(os.path.join(root, name, "config")):
            continue
        container = Container(name, root)
        status = container.status()
        if status.running and status.owner in (None, root):
            try:
                sample[name] = (time.monotonic(),
                                container._open_recorded_cgroup(status.state).stats())
            except (HacontainError, OSError):
                continue                      # it stopped meanwhile
    return sample


def top_rows(before, after):
    """A row per container of `after` (name, cpu_percent over the interval from
    `before`, cpu_seconds, memory, io_read, io_write (bytes), pids)."""
    rows = []
    for name, (when, stats) in after.items():
        used = _cpu_seconds(stats)
        earlier = before.get(name)
        percent = None
        if earlier is not None and used is not None and _cpu_seconds(earlier[1]) is not None \
                and when > earlier[0]:
            percent = round(100 * (used - _cpu_seconds(earlier[1])) / (when - earlier[0]), 1)
        rows.append({"name": name, "cpu_percent": percent, "cpu_seconds": used,
                     "memory": stats.get("memory.current"), "io_read": stats.get("io.read_bytes"),
                     "io_write": stats.get("io.write_bytes"), "pids": stats.get("pids.current")})
    return rows


def _cpu_seconds(stats):
    user, system = stats.get("cpu.user"), stats.get("cpu.system")
    return None if user is None or system is None else round(user + system, 2)


def render_top(rows):
    return table(["NAME", "CPU%", "CPU TIME", "MEMORY", "IO READ", "IO WRITE", "PIDS"],
                 [[row["name"], row["cpu_percent"],
                   None if row["cpu_seconds"] is None else duration(row["cpu_seconds"]),
                   size(row["memory"]), size(row["io_read"]), size(row["io_write"]),
                   row["pids"]]
                  for row in rows])
