"""Booting test VMs together, optionally joined by a link, and removing all they left."""

import shutil
import socket
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

from . import commands
from .machine import BOOT_TIMEOUT, Vm
from .qemu import Link, VmSpec

WORK_PREFIX = "hacontain-vm-"
# The checkout this code runs from: shared read-only into the VMs by default.
CHECKOUT = Path(__file__).resolve().parents[2]
LINK_NET = "192.0.2"


@contextmanager
def booted(image, names, *, linked=False, share=CHECKOUT, memory_mb=512, data_disk_size="256M",
           boot_timeout=BOOT_TIMEOUT, exchange=False, shared_disk_size=None):
    """Boot one VM per name in parallel and yield them as a list; stop and remove them afterwards.

    With ``linked`` the two VMs get an Ethernet link (eth0) with 192.0.2.11/24
    and 192.0.2.12/24, carried by qemu UDP sockets on 127.0.0.1. With
    ``exchange`` they all share one host folder read-write (the 9p tag
    "exchange", each VM's ``spec.exchange``; the guest mounts it itself). With
    ``shared_disk_size`` they all write one raw disk of that size (serial "shared").
    """
    if linked and len(names) != 2:
        raise ValueError(f"a link joins exactly two VMs, not {len(names)}: {names}")
    links = link_pair() if linked else {}
    workroot = Path(tempfile.mkdtemp(prefix=WORK_PREFIX))
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workroot, ignore_errors=True)
        shared = workroot / "exchange" if exchange else None
        if shared:
            shared.mkdir()
        disk = workroot / "shared.raw" if shared_disk_size else None
        if disk:
            commands.run([commands.tool("qemu-img", "qemu-utils"), "create", "-q", "-f", "raw",
                          disk, shared_disk_size])
        vms = []
        for index, name in enumerate(names):
            spec = VmSpec(name, memory_mb, data_disk_size, links.get(index), share, shared, disk)
            vm = Vm(spec, image, workroot / name)
            cleanup.callback(vm.stop)
            vm.launch()
            vms.append(vm)
        for vm in vms:
            vm.wait_ready(boot_timeout)
        yield vms


def link_pair():
    """The two ends of one link: {0: Link, 1: Link} on two free UDP ports of 127.0.0.1."""
    a, b = free_udp_ports(2)
    return {
        0: Link("52:54:00:c0:02:0b", a, b, f"{LINK_NET}.11/24"),
        1: Link("52:54:00:c0:02:0c", b, a, f"{LINK_NET}.12/24"),
    }


def free_udp_ports(count):
    """``count`` distinct UDP ports on 127.0.0.1 that are free right now."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) for _ in range(count)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def leftovers():
    """VM work folders in the temp folder and qemu processes of any: should be none after a run."""
    prefix = str(Path(tempfile.gettempdir()) / WORK_PREFIX)
    found = [f"folder {f}" for f in sorted(Path(tempfile.gettempdir()).glob(WORK_PREFIX + "*"))]
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "qemu" in cmdline and prefix in cmdline:
            found.append(f"qemu pid {proc.name}")
    return found
