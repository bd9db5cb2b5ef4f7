"""The agent's meta-data XML, OCF 1.1 (the only lxml user).

Only the name is unique (unique-group, and the deprecated unique="1" that
crmsh still reads): names are unique on a host, so containers may share an
lxcpath. Every parameter but name, lxcpath and config is reloadable: a change
makes Pacemaker call reload-agent, which applies it live; a change of the
others restarts the container.
"""

from hacontain import __version__
from hacontain.ocf.params import PARAMETERS

OCF_VERSION = "1.1"

LONGDESC = """\
Runs a Linux system container with hacontain: its own namespaces, cgroup and
init, from an LXC-format config (LXCPATH/NAME/config), as one cluster resource.

start launches the container's init detached from the agent (its own session
and cgroup, outside Pacemaker's), waits until it runs and, when monitor_cmd is
set, until that command passes inside it. It returns at once for a running
container.

stop sends the halt signal (halt_signal, else lxc.signal.halt, else SIGPWR) and
waits up to the operation's timeout minus a margin for the init to exit, then
kills everything left in the container's cgroup; it returns success only when
nothing of the container is left. Stopping a stopped container, or one whose
config is not on this node, succeeds.

monitor: depth 0 reads the recorded init and checks it in /proc, without
starting any process; depth 10 also runs monitor_cmd inside the container;
depth 20 also checks that every network interface inside the container is up.
A container whose init died but whose cgroup is left is a failure; probes on a
node without the config report it stopped.

reload-agent applies changed limits (memory, cpu_weight, cpu_quota,
cpuset_cpus, pids) to the running container's cgroup live; halt_signal and
monitor_cmd take effect at their next use (reload does the same, for cluster
managers that predate OCF 1.1). Changing name, lxcpath or config restarts the
container. Live migration is not supported (migrate_to/migrate_from return
"unimplemented"); a container moves by stop and start, with its rootfs on
shared or replicated storage started before it.

checkpoint_on_move=true keeps the processes across a planned move: a stop of a
running container whose resource has not failed on this node (fail count 0:
Pacemaker gives a recovery's stop the same environment as a move's) checkpoints
it with CRIU into checkpoint_dir, and the next start restores it when the
checkpoint is fresh and consistent, else starts it cold, logging why.
"""

SHORTDESC = "High-availability Linux system container (hacontain)"

# (action, timeout, extra attributes): the monitors differ in interval, as
# Pacemaker requires of monitors of one resource.
ACTIONS = (
    ("start", "60s", {}),
    ("stop", "60s", {}),
    ("monitor", "20s", {"interval": "10s", "depth": "0"}),
    ("monitor", "30s", {"interval": "30s", "depth": "10"}),
    ("monitor", "30s", {"interval": "60s", "depth": "20"}),
    ("reload-agent", "20s", {}),
    ("reload", "20s", {}),
    ("validate-all", "20s", {}),
    ("meta-data", "5s", {}),
)


def build():
    """The meta-data document as UTF-8 bytes."""
    from lxml import etree
    root = etree.Element("resource-agent", name="container", version=__version__)
    etree.SubElement(root, "version").text = OCF_VERSION
    _descriptions(root, LONGDESC, SHORTDESC)
    parameters = etree.SubElement(root, "parameters")
    for parameter in PARAMETERS:
        element = etree.SubElement(parameters, "parameter", name=parameter.name,
                                   required="1" if parameter.required else "0",
                                   unique="1" if parameter.unique else "0")
        if parameter.unique:
            element.set("unique-group", parameter.name)
        if parameter.reloadable:
            element.set("reloadable", "1")
        _descriptions(element, parameter.longdesc, parameter.shortdesc)
        content = etree.SubElement(element, "content", type=parameter.kind)
        if parameter.default:
            content.set("default", parameter.default)
    actions = etree.SubElement(root, "actions")
    for name, timeout, extra in ACTIONS:
        etree.SubElement(actions, "action", name=name, timeout=timeout, **extra)
    # No encoding in the declaration (UTF-8 is XML's default): crmsh parses the
    # text as a str, which lxml refuses when the declaration names an encoding.
    return b'<?xml version="1.0"?>\n' + etree.tostring(root, encoding="UTF-8",
                                                       pretty_print=True)


def _descriptions(parent, longdesc, shortdesc):
    from lxml import etree
    etree.SubElement(parent, "longdesc", lang="en").text = longdesc
    etree.SubElement(parent, "shortdesc", lang="en").text = shortdesc
