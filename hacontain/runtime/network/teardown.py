"""Undo a container's networking from what start recorded (State.network).

Works after a clean stop, after a crash (the init was SIGKILLed) and on a
half-made start, and may run again after a failure: what is already gone is
skipped.

- veth: the host end is deleted by its recorded name (its peer goes with
  it), at once - a dying netns would delete it only asynchronously.
- phys: moved out of the held netns (see hold) back into the netns hacontain
  runs in, with its original name, MTU and MAC. If that fails the netns
  stays held and the error is raised, so the next stop tries again.
- macvlan: dies with the container's netns.
"""

import os

from hacontain.errors import HacontainError, KernelError
from hacontain.runtime.network import hold, netlink

IFF_LOOPBACK = 0x8


def teardown(records, held_path):
    """Undo `records`; release the netns held on `held_path`."""
    failures = []
    phys = [record for record in records if record["type"] == "phys"]
    if phys and hold.is_held(held_path):
        failures += _give_back(phys, held_path)
    veths = [record for record in records if record["type"] == "veth"]
    if veths:
        failures += _delete_host_ends(veths)
    if failures:
        raise HacontainError("network cleanup: " + "; ".join(failures))
    hold.release(held_path)


def _give_back(records, held_path):
    failures = []
    try:
        inside = netlink.inside(held_path)
    except HacontainError as exc:
        return [str(exc)]
    try:
        own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            for record in records:
                try:
                    _give_back_one(record, inside, own)
                except HacontainError as exc:
                    failures.append(str(exc))
        finally:
            os.close(own)
    finally:
        inside.close()
    return failures


def _give_back_one(record, inside, own_netns):
    """Find the NIC by its container-side name, else by its original index, and move
    it out - only a link of the NIC's own kind (none for real hardware, which a
    container cannot make) and not the loopback, so whatever the container renamed
    or made is never given out."""
    name, original = record["name"], record["original"]
    links = {message["index"]: message for message in inside.links()
             if not message["flags"] & IFF_LOOPBACK and
             message.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") == original.get("kind")}
    named = [index for index, link in links.items() if link.get_attr("IFLA_IFNAME") == name]
    candidates = [index for index in named + [original["index"]] if index in links]
    if not candidates:
        return
    index = candidates[0]
    restore = [("IFLA_MTU", original["mtu"])]
    if original.get("hwaddr"):
        restore.append(("IFLA_ADDRESS", original["hwaddr"]))
    inside.set_link("restore MTU/MAC", name, index, restore, up=False)
    inside.set_link(f"give back as {original['name']}", name, index,
                    [("IFLA_NET_NS_FD", own_netns), ("IFLA_IFNAME", original["name"])])


def _delete_host_ends(records):
    failures = []
    host = netlink.host()
    try:
        for record in records:
            try:
                _delete_veth(host, record["host"])
            except HacontainError as exc:
                failures.append(str(exc))
    finally:
        host.close()
    return failures


def _delete_veth(host, name):
    """Delete veth `name` if it (still) exists and is a veth."""
    link = host.link(name)
    if link is None or link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") != "veth":
        return
    try:
        host.delete_link("delete veth", name, link["index"])
    except KernelError as exc:
        if not netlink.missing(exc):
            raise
