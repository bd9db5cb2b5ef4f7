"""The resources and constraints of a Stack, independent of the tool that loads them.

DRBD as a promotable clone; a storage group (LVM-activate, then the Filesystems)
colocated with its Promoted instance and started after the promote; each container
(in a group with its service IP when it has one) colocated with the storage group and
started after it, so that one container's failure touches no other."""

from hacontain.clusterconfig import agents
from hacontain.record import Record

DRBD = "ocf:linbit:drbd"
LVM = "ocf:heartbeat:LVM-activate"
FILESYSTEM = "ocf:heartbeat:Filesystem"
CONTAINER = "ocf:hacontain:container"
IPADDR = "ocf:heartbeat:IPaddr2"

PROMOTED_MONITOR, UNPROMOTED_MONITOR = "29s", "31s"      # distinct per role, as required
MONITOR_INTERVALS = {LVM: "30s", FILESYSTEM: "20s", CONTAINER: "10s", IPADDR: "10s"}


class Op(Record):
    name: str
    interval: str
    timeout: str
    role: str | None = None


class Primitive(Record):
    id: str
    agent: str
    params: tuple                  # ((name, value), ...)
    ops: tuple


class Plan(Record):
    primitives: tuple
    clone: tuple                   # (id, primitive id, ((meta name, value), ...))
    groups: tuple                  # ((id, (member ids...)), ...)
    colocations: tuple             # ((id, resource, with resource, its role or None), ...)
    orders: tuple                  # ((id, first, first action, then, then action), ...)


def build(stack, load=agents.load):
    """The Plan of `stack`, its parameters checked against the installed agents
    (`load(agent name)` -> agents.Agent)."""
    installed = {}

    def primitive(rid, agent, params, ops=None):
        if agent not in installed:
            installed[agent] = load(agent)
        info = installed[agent]
        info.check([name for name, _ in params])
        if ops is None:
            ops = (Op("monitor", MONITOR_INTERVALS[agent], info.timeout("monitor")),)
        ops = (Op("start", "0s", info.timeout("start")), Op("stop", "0s", info.timeout("stop")),
               *ops)
        return Primitive(id=rid, agent=agent, params=tuple(params), ops=ops)

    drbd = f"drbd_{stack.drbd}"
    drbd_info = installed.setdefault(DRBD, load(DRBD))
    primitives = [primitive(drbd, DRBD, [("drbd_resource", stack.drbd)], (
        Op("promote", "0s", drbd_info.timeout("promote")),
        Op("demote", "0s", drbd_info.timeout("demote")),
        Op("notify", "0s", drbd_info.timeout("notify")),
        Op("monitor", PROMOTED_MONITOR, drbd_info.timeout("monitor"), "Promoted"),
        Op("monitor", UNPROMOTED_MONITOR, drbd_info.timeout("monitor"), "Unpromoted")))]
    clone = (f"ms_{drbd}", drbd, (("promotable", "true"), ("promoted-max", "1"),
                                  ("promoted-node-max", "1"), ("clone-max", "2"),
                                  ("clone-node-max", "1"), ("notify", "true")))

    storage = f"storage_{stack.vg}"
    members = [f"lvm_{stack.vg}"]
    primitives.append(primitive(members[0], LVM, [("vgname", stack.vg),
                                                  ("vg_access_mode", stack.access_mode)]))
    for fs in stack.filesystems:
        params = [("device", fs.device), ("directory", fs.directory), ("fstype", fs.fstype)]
        members.append(f"fs_{stack.vg}_{fs.lv}")
        primitives.append(primitive(members[-1], FILESYSTEM, params))
    groups = [(storage, tuple(members))]
    colocations = [(f"col_{storage}_with_{clone[0]}", storage, clone[0], "Promoted")]
    orders = [(f"order_{clone[0]}_then_{storage}", clone[0], "promote", storage, "start")]

    for ct in stack.containers:
        params = [("name", ct.name)] + ([("lxcpath", stack.lxcpath)] if stack.lxcpath else [])
        primitives.append(primitive(f"ct_{ct.name}", CONTAINER, params))
        service = f"ct_{ct.name}"
        if ct.ip is not None:
            params = [("ip", str(ct.ip.ip)), ("cidr_netmask", str(ct.ip.network.prefixlen))]
            if stack.nic:
                params.append(("nic", stack.nic))
            primitives.append(primitive(f"ip_{ct.name}", IPADDR, params))
            service = f"svc_{ct.name}"
            groups.append((service, (f"ct_{ct.name}", f"ip_{ct.name}")))
        colocations.append((f"col_{service}_with_{storage}", service, storage, None))
        orders.append((f"order_{storage}_then_{service}", storage, "start", service, "start"))
    return Plan(primitives=tuple(primitives), clone=clone, groups=tuple(groups),
                colocations=tuple(colocations), orders=tuple(orders))
