#!/usr/bin/env python3
"""Benchmark an LVM thin snapshot clone: hacontain against `lxc-copy -s -B lvm`, in a VM.

    /opt/hacontain/venv/bin/python bench/clone_lvm.py [--rounds 10]

As root, on the host: boots one VM of the VM test tier (this host's kernel has no
device-mapper), which runs this file with --guest: a VG on the VM's data disk with a
thin pool, one busybox container made by `lxc-create -t busybox -B lvm --thinpool pool`
(ext4), then per round a thin snapshot clone of it with `lxc-copy -s -B lvm` and with
hacontain, alternating which goes first: the library call (storage.clone.copy, in
process, what `hacontain copy -s` runs) and the whole `hacontain copy -s` command.
Prints medians of the wall time with the ratio to lxc-copy (target <= 1.0x), and the
bytes written and allocated as bench/clone.py does. The VM goes at the end, with all
it made. Not a test: timings depend on the machine (the VM is emulated, no KVM).
"""

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# Thin snapshots without the automatic activation-skip flag: lxc-copy activates no
# snapshot, and cannot copy a thin LV with Debian's default (auto_set_activation_skip = 1).
SETUP = ("echo 'activation { auto_set_activation_skip = 0 }' >> /etc/lvm/lvm.conf && "
         "modprobe -a dm_mod dm_snapshot dm_thin_pool && pvcreate -q /dev/vdb && "
         "vgcreate -q lxc /dev/vdb && lvcreate -q -y --type thin-pool -L 1G -n pool lxc")
HACONTAIN = [sys.executable, "-c", "import sys; sys.argv[0] = 'hacontain'; "
             "from hacontain.cli import main; main()"]


def lvm_kinds(lxcpath, source):
    """{label: action(new name)} of the LVM thin snapshot clones compared."""
    from clone import run

    from hacontain.runtime.container import Container
    from hacontain.storage.clone import copy
    return {
        "lxc-copy -s -B lvm": lambda new: run(
            ["lxc-copy", "-P", lxcpath, "-n", source, "-N", new, "-s", "-B", "lvm"]),
        "hacontain copy (library call)": lambda new: copy(
            Container(source, lxcpath), new, snapshot=True),
        "hacontain copy -s (command)": lambda new: run(
            HACONTAIN + ["copy", "-P", lxcpath, "-s", source, new]),
    }


def guest(rounds):
    """In the VM: the pool, the source container, the clones; the report on stdout."""
    import subprocess

    from agent import make_lxc_container
    from clone import measure, report
    subprocess.run(["sh", "-c", SETUP], check=True, capture_output=True, timeout=300)
    lxcpath = tempfile.mkdtemp(prefix="bench-clone-lvm-")
    os.environ["HACONTAIN_RUNDIR"] = tempfile.mkdtemp(prefix="bench-run-")
    make_lxc_container(lxcpath, "src", "-B", "lvm", "--vgname", "lxc", "--thinpool", "pool",
                       "--fssize", "256M", "--fstype", "ext4")
    results = measure(lxcpath, lvm_kinds(lxcpath, "src"), rounds)
    report(results)


def host(rounds):
    """Boot one VM sharing this checkout and run the guest part in it."""
    sys.path.insert(0, os.path.dirname(HERE))
    from testbed.vm.fleet import booted
    from testbed.vm.image import ensure_image
    env = {"PYTHONPATH": os.path.dirname(HERE), "PYTHONDONTWRITEBYTECODE": "1"}
    with booted(ensure_image(), ["bench-clone-lvm"], data_disk_size="2G") as [vm]:
        result = vm.run(["python3", os.path.join(HERE, "clone_lvm.py"), "--guest",
                         "--rounds", str(rounds)], timeout=3600, env=env, cwd="/")
    print(result.stdout, end="")
    if result.rc != 0:
        sys.exit(f"bench/clone_lvm.py in the VM failed ({result.rc}):\n{result.stderr}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="clones of each kind (default 10)")
    parser.add_argument("--guest", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/clone_lvm.py: run as root")
    (guest if args.guest else host)(args.rounds)


if __name__ == "__main__":
    main()
