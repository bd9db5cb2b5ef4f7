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
    netns = os.open(held_path, os.O_RDONLY | os.O_CLOEXEC)
    own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    inside = netlink.inside(netns, held_path)
    try:
        for record in records:
            try:
                _give_back_one(record, inside, own)
            except HacontainError as exc:
                failures.append(str(exc))
    finally:
        inside.close()
        os.close(own)
        os.close(netns)
    return failures


def _give_back_one(record, inside, own_netns):
    """Find the NIC by its container-side name, else by its original index; move it out."""
    original = record["original"]
    found = netlink.call("look up", record["name"], inside.link_lookup, ifname=record["name"])
    if not found:
        indexes = {message["index"] for message in
                   netlink.call("list interfaces", record["name"], inside.get_links)}
        found = [original["index"]] if original["index"] in indexes else []
    if not found:
        return
    index = found[0]
    restore = {"state": "down", "mtu": original["mtu"]}
    if original.get("hwaddr"):
        restore["address"] = original["hwaddr"]
    netlink.call("restore MTU/MAC", record["name"], inside.link, "set", index=index, **restore)
    netlink.call(f"give back as {original['name']}", record["name"], inside.link, "set",
                 index=index, net_ns_fd=own_netns, ifname=original["name"])


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
    try:
        found = netlink.call("look up", name, host.link_lookup, ifname=name)
        if not found:
            return
        link = netlink.call("look up", name, host.get_links, found[0])[0]
        if link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") == "veth":
            netlink.call("delete veth", name, host.link, "del", index=found[0])
    except KernelError as exc:
        if not netlink.missing(exc):
            raise
