#!/usr/bin/env python3
"""Benchmark a snapshot backup's freeze window against a bare snapshot of the same volume.

    /opt/hacontain/venv/bin/python bench/backup_freeze.py [--rounds 15] [--busy]
    /opt/hacontain/venv/bin/python bench/backup_freeze.py --vm [--backend lvm-thin] [--rounds 9]

As root. Without --vm: a btrfs filesystem on a loop device (a sparse image in a
temporary directory) and a busybox container on a subvolume of it. With --vm (LVM:
this host's kernel has no device-mapper): boots a VM of the VM test tier and runs this
script inside it with `--backend lvm-thick` and `--backend lvm-thin` (or the one
given) and `--device /dev/vdb` (a VG on the VM's blank data disk, a container on a
256M ext4 LV).

The container is started (`--busy`: with a shell loop inside writing a counter file
and a log). Then, in a child process with its own mount namespace, per round,
alternating which goes first: a bare snapshot of the rootfs volume (`btrfs subvolume
snapshot -r`, or `lvcreate -s` with the backup's COW size), timed after a sync (the
backup syncs the filesystem before its freeze too), then removed; and
backup.snapshot.consistent_view in snapshot mode (its freeze window: freeze the
cgroup, the same snapshot command, thaw). Prints the medians, the ratio and the
snapshot command's own time inside the window; target from the issue: window <= 1.2x
the bare snapshot + 10 ms. Everything is removed at the end, also on failure. Not a
test: timings depend on the machine. After each snapshot is removed, udev is let
settle (`udevadm settle`), so that neither kind waits for the other's device events.
"""

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_HACONTAIN = os.path.join(os.path.dirname(sys.executable), "hacontain")
HACONTAIN = [VENV_HACONTAIN] if os.path.exists(VENV_HACONTAIN) else [
    sys.executable, "-c", "import sys; sys.argv[0] = 'hacontain'; "
    "from hacontain.cli import main; main()"]
WRITER = ("setsid sh -c 'i=0; while true; do i=$((i+1)); echo $i >> /log; "
          "echo $i > /c.tmp; mv /c.tmp /c; done' </dev/null >/dev/null 2>&1 &")
VG = "hcbench"


def run(argv):
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=300)


def measure(lxcpath, name, rounds, bare):
    """{"bare": [ms], "window": [ms]}, measured in a child in its own mount namespace."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        code = 1
        try:
            results = rounds_in_private_namespace(lxcpath, name, rounds, bare)
            os.write(write_end, json.dumps(results).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as handle:
        data = handle.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        sys.exit(f"bench/backup_freeze.py: the measuring child failed (wait status {status})")
    return json.loads(data)


def rounds_in_private_namespace(lxcpath, name, rounds, bare):
    from hacontain.backup import snapshot
    snapshot.enter_private_mount_namespace()
    results = {"bare": [], "window": [], "inside": []}
    make_snapshot = snapshot.make_snapshot

    def timed_make_snapshot(*args):       # the snapshot command's share of the window
        start = time.perf_counter()
        make_snapshot(*args)
        results["inside"].append((time.perf_counter() - start) * 1000)

    snapshot.make_snapshot = timed_make_snapshot

    def window():
        with snapshot.consistent_view(name, lxcpath, "snapshot", lambda line: None) as view:
            measured = view.freeze_ms
        settle()
        return measured

    for number in range(rounds):
        order = [("bare", bare), ("window", window)]
        if number % 2:
            order.reverse()
        for label, action in order:
            results[label].append(action())
    return results


def timed_then_removed(make, remove):
    """`make` timed (after a sync: the backup also syncs before its window), then `remove`."""
    os.sync()
    start = time.perf_counter()
    run(make)
    elapsed = (time.perf_counter() - start) * 1000
    run(remove)
    settle()
    return elapsed


def settle():
    """Wait until udev has handled the events of the snapshot just removed (an LV's
    device): the next snapshot, of either kind, starts from the same quiet system."""
    if shutil.which("udevadm"):
        run(["udevadm", "settle", "--timeout=30"])


def report(results, what):
    bare = statistics.median(results["bare"])
    window = statistics.median(results["window"])
    target = 1.2 * bare + 10
    print(f"bare {what:22} {bare:8.1f} ms (median of {len(results['bare'])})")
    print(f"backup freeze window        {window:8.1f} ms  {window / bare:.2f}x the bare snapshot")
    print(f"  of which the snapshot     {statistics.median(results['inside']):8.1f} ms")
    verdict = "met" if window <= target else "NOT met"
    print(f"target 1.2x + 10 ms         {target:8.1f} ms: {verdict}")


def bench_btrfs(work, args):
    image, mountpoint = os.path.join(work, "btrfs.img"), os.path.join(work, "btrfs")
    lxcpath = os.path.join(mountpoint, "lxc")
    with open(image, "wb") as handle:
        handle.truncate(1024 ** 3)
    run(["mkfs.btrfs", "-q", image])
    os.makedirs(mountpoint)
    run(["mount", "-o", "loop", image, mountpoint])
    try:
        os.makedirs(lxcpath)
        origin = os.path.join(lxcpath, "ct", "rootfs")
        bare_path = os.path.join(lxcpath, "ct", "bare-snapshot")
        container(lxcpath, ["-B", "btrfs"], args.busy, lambda: report(measure(
            lxcpath, "ct", args.rounds, lambda: timed_then_removed(
                ["btrfs", "subvolume", "snapshot", "-r", origin, bare_path],
                ["btrfs", "subvolume", "delete", bare_path])), "btrfs snapshot"))
    finally:
        subprocess.run(["umount", mountpoint], check=False)


def bench_lvm(work, args):
    if not args.device:
        sys.exit("bench/backup_freeze.py: --backend lvm-* needs --device (a blank disk it "
                 "makes a VG on), or use --vm")
    thin = args.backend == "lvm-thin"
    lxcpath = os.path.join(work, "lxc")
    os.makedirs(lxcpath)
    run(["modprobe", "-a", "dm_mod", "dm_snapshot", "dm_thin_pool"])
    run(["pvcreate", "-q", "-y", args.device])
    try:
        run(["vgcreate", "-q", VG, args.device])
        options = ["-B", "lvm", "--vgname", VG, "--fssize", "256M"]
        if thin:
            run(["lvcreate", "-q", "-y", "--type", "thin-pool", "-L", "400M", "-n", "pool", VG])
            options += ["--thinpool", "pool"]
        size = [] if thin else ["-l", "20%ORIGIN"]        # the backup's default COW size
        container(lxcpath, options, args.busy, lambda: report(measure(
            lxcpath, "ct", args.rounds, lambda: timed_then_removed(
                ["lvcreate", "-q", "-s", *size, "-n", "bare", f"{VG}/ct"],
                ["lvremove", "-q", "-y", f"{VG}/bare"])),
            f"LVM {'thin' if thin else 'thick'} snapshot"))
    finally:
        subprocess.run(["vgremove", "-q", "-y", VG], capture_output=True)
        subprocess.run(["pvremove", "-q", "-y", args.device], capture_output=True)


def container(lxcpath, options, busy, work):
    """A busybox container `ct` on `options`' backend, running while work() runs."""
    run(HACONTAIN + ["create", "-P", lxcpath, "ct", "-t", "busybox", *options])
    try:
        run(HACONTAIN + ["start", "-P", lxcpath, "ct"])
        if busy:
            run(HACONTAIN + ["attach", "-P", lxcpath, "ct", "--", "/bin/sh", "-c", WRITER])
        work()
    finally:
        subprocess.run(HACONTAIN + ["destroy", "-P", lxcpath, "-f", "ct"], capture_output=True)


def in_vm(args):
    """This script inside a VM of the VM tier, for each LVM backend; its output."""
    sys.path.insert(0, CHECKOUT)
    from testbed.vm.fleet import booted
    from testbed.vm.image import ensure_image
    env = {"PYTHONPATH": CHECKOUT, "PYTHONDONTWRITEBYTECODE": "1"}
    with booted(ensure_image(), ["bench-backup"], data_disk_size="640M") as [vm]:
        backends = [args.backend] if args.backend != "btrfs" else ["lvm-thick", "lvm-thin"]
        for backend in backends:
            argv = ["python3", os.path.join(CHECKOUT, "bench", "backup_freeze.py"), "--backend",
                    backend, "--device", "/dev/vdb", "--rounds", str(args.rounds)]
            if args.busy:
                argv.append("--busy")
            result = vm.run(argv, env=env, timeout=1800, cwd="/")
            print(f"-- in the VM: {' '.join(map(shlex.quote, argv[1:]))}")
            print(result.stdout + result.stderr, end="")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="snapshots of each kind")
    parser.add_argument("--busy", action="store_true", help="a writing loop in the container")
    parser.add_argument("--backend", choices=("btrfs", "lvm-thick", "lvm-thin"),
                        default="btrfs")
    parser.add_argument("--device", help="lvm-*: the blank disk to make a VG on (wiped)")
    parser.add_argument("--vm", action="store_true", help="LVM thick and thin, in a VM")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/backup_freeze.py: run as root")
    if args.vm:
        in_vm(args)
        return
    work = tempfile.mkdtemp(prefix="hacontain-bench-backup-")
    os.environ["HACONTAIN_RUNDIR"] = os.path.join(work, "run")
    try:
        (bench_btrfs if args.backend == "btrfs" else bench_lvm)(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
