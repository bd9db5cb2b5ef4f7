#!/usr/bin/env python3
"""Benchmark a move's downtime with a checkpoint (CRIU) against stop + cold start, same run.

    /opt/hacontain/venv/bin/python bench/checkpoint.py [--rounds 5] [--memory 64]
    /opt/hacontain/venv/bin/python bench/checkpoint.py --vm [--rounds 5] [--memory 64]

As root, on a host where `criu check` passes; --vm boots a VM of the VM tier
(Debian's kernel and criu) and runs this script inside it. A busybox container
whose busybox init runs a counter appending to /tmp/counts every 0.2 s and
(--memory MB) a shell holding MB of state in a variable. Each round, alternating
which goes first, the container goes down and up again in place, as on a move
whose volume is already at the target:

    checkpoint  runtime.checkpoint: checkpoint(stop=True), then restore()
    cold        Container.stop() (busybox init's clean halt), then start()

Downtime: from the first call until the counter writes again. Prints the medians
(with the dump and restore parts) and the ratio checkpoint/cold. Everything is
removed at the end, also on failure. Not a test: timings depend on the machine.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INITTAB = ("::sysinit:/etc/init.d/rcS\n::once:/counter.sh\n{ballast}"
           "::shutdown:/etc/init.d/rcK\n")
COUNTER = "#!/bin/sh\ni=0\nwhile :; do i=$((i+1)); echo $i >> /tmp/counts; sleep 0.2; done\n"
BALLAST = ("#!/bin/sh\nstate=$(head -c {size} /dev/zero | tr '\\0' a)\n"
           "touch /tmp/ballast-ready\nwhile :; do sleep 3600; done\n")


def make(lxcpath, memory_mb):
    from hacontain.runtime.container import Container
    from hacontain.templates import create
    create("bench", lxcpath, "busybox")
    rootfs = os.path.join(lxcpath, "bench", "rootfs")
    ballast = "::once:/ballast.sh\n" if memory_mb else ""
    files = {"etc/inittab": INITTAB.format(ballast=ballast), "counter.sh": COUNTER,
             "ballast.sh": BALLAST.format(size=memory_mb << 20)}
    for relative, text in files.items():
        path = os.path.join(rootfs, relative)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(path, 0o755)
    return Container("bench", lxcpath)


def count_lines(container):
    try:
        with open(os.path.join(container.directory, "rootfs/tmp/counts"), "rb") as handle:
            return handle.read().count(b"\n")
    except FileNotFoundError:
        return 0


def wait_counting(container, after, timeout=60.0):
    """Wait until the counter has written more than `after` lines."""
    deadline = time.monotonic() + timeout
    while count_lines(container) <= after:
        if time.monotonic() > deadline:
            raise RuntimeError("the counter did not write again")
        time.sleep(0.005)


def ballast_marker(container):
    return os.path.join(container.directory, "rootfs/tmp/ballast-ready")


def wait_ballast(container, memory_mb, timeout=120.0):
    """Wait until the shell holding the ballast has filled it."""
    deadline = time.monotonic() + timeout
    while memory_mb and not os.path.exists(ballast_marker(container)):
        if time.monotonic() > deadline:
            raise RuntimeError("the ballast did not grow")
        time.sleep(0.1)


def by_checkpoint(container):
    from hacontain.runtime import checkpoint
    before = count_lines(container)
    began = time.perf_counter()
    checkpoint.checkpoint(container, stop=True)
    dumped = time.perf_counter()
    checkpoint.restore(container)
    restored = time.perf_counter()
    wait_counting(container, before)
    return {"downtime": time.perf_counter() - began, "dump": dumped - began,
            "restore": restored - dumped}


def by_cold_start(container):
    before = count_lines(container)
    began = time.perf_counter()
    container.stop(timeout=30)
    stopped = time.perf_counter()
    try:
        os.unlink(ballast_marker(container))
    except FileNotFoundError:
        pass
    container.start()
    started = time.perf_counter()
    wait_counting(container, before)
    return {"downtime": time.perf_counter() - began, "stop": stopped - began,
            "start": started - stopped}


def bench(args):
    work = tempfile.mkdtemp(prefix="hacontain-bench-checkpoint-")
    os.environ["HACONTAIN_RUNDIR"] = os.path.join(work, "run")
    lxcpath = os.path.join(work, "lxc")
    os.makedirs(lxcpath)
    container = make(lxcpath, args.memory)
    results = {"checkpoint": [], "cold": []}
    try:
        container.start()
        wait_counting(container, 2)
        for index in range(args.rounds):
            order = ("checkpoint", "cold") if index % 2 == 0 else ("cold", "checkpoint")
            for kind in order:
                wait_ballast(container, args.memory)
                run = by_checkpoint if kind == "checkpoint" else by_cold_start
                results[kind].append(run(container))
        report(results, args)
    finally:
        container.stop(timeout=0, kill=True)
        shutil.rmtree(work, ignore_errors=True)


def report(results, args):
    def median(kind, key):
        return statistics.median(r[key] for r in results[kind])
    print(f"busybox container, counter every 0.2 s, {args.memory} MiB held in memory; "
          f"{args.rounds} rounds; medians:")
    print(f"  checkpoint + restore  {median('checkpoint', 'downtime'):6.2f} s "
          f"(dump {median('checkpoint', 'dump'):.2f} s, restore "
          f"{median('checkpoint', 'restore'):.2f} s)")
    print(f"  stop + cold start     {median('cold', 'downtime'):6.2f} s "
          f"(stop {median('cold', 'stop'):.2f} s, start {median('cold', 'start'):.2f} s)")
    ratio = median("checkpoint", "downtime") / median("cold", "downtime")
    print(f"  ratio checkpoint/cold {ratio:6.2f}x")


def in_vm(args):
    sys.path.insert(0, CHECKOUT)
    from testbed.vm.fleet import booted
    from testbed.vm.image import ensure_image
    env = {"PYTHONPATH": CHECKOUT, "PYTHONDONTWRITEBYTECODE": "1"}
    argv = ["python3", os.path.join(CHECKOUT, "bench", "checkpoint.py"),
            "--rounds", str(args.rounds), "--memory", str(args.memory)]
    with booted(ensure_image(), ["bench-checkpoint"], memory_mb=1024) as [vm]:
        result = vm.run(argv, env=env, timeout=3600, cwd="/")
    print("-- in the VM:")
    print(result.stdout + result.stderr, end="")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="moves of each kind")
    parser.add_argument("--memory", type=int, default=0, metavar="MB",
                        help="MiB of state a process in the container holds")
    parser.add_argument("--vm", action="store_true", help="run inside a VM of the VM tier")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/checkpoint.py: run as root")
    if args.vm:
        in_vm(args)
        return
    sys.path.insert(0, CHECKOUT)
    from hacontain.runtime import criu
    why_not = criu.check()
    if why_not:
        sys.exit(f"bench/checkpoint.py: checkpoints do not work here ({why_not}); use --vm")
    bench(args)


if __name__ == "__main__":
    main()
