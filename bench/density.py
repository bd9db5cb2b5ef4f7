#!/usr/bin/env python3
"""Benchmark density: N busybox containers, one veth each on one bridge.

    /opt/hacontain/venv/bin/python bench/density.py [--containers 500] [--rounds 3]
                                                    [--command PATH]

As root. Makes a network namespace with a bridge br0 (192.0.2.1/24; the
containers' veths carry no address) and, inside it (with a sysfs of that
netns on /sys, as bench/network.py does), N containers in a temporary LXCPATH
and RUNDIR. Measured: `hacontain start --settle 0` of the first 50 containers,
one after the other, with 0 to 49 others running ("first 50"), and of the last
50 with N-50 to N-1 others running ("last 50"), each start with the others'
processes, cgroups and host-side veths on the bridge. As the wall time follows
the load of a shared machine, the two windows alternate in rounds: a round
starts the first 50 (measured), the middle ones (a few at a time, not
measured), the last 50 (measured), then stops all; the windows of one round
are seconds apart, and the rounds repeat that. Before each window, the bench
waits until the running containers' processes are quiet (the starts before
it leave their boot scripts running).
Prints, per round and over all
rounds, the median wall time and CPU time (user + system of the start
command) of a start in each window and their ratios (target from issue 18:
last <= 1.1x first at N = 500); the wall time also in units of a reference
run after each start (an interpreter start, which the containers do not slow:
the ratio with the machine's speed in each window taken out); how busy the
machine's CPUs were in each window (all processes, these starts included)
and its load average; the CPU
of the rootfs-in-use scan (status.rootfs_users, which a start runs in its
first child, so not in the start command's CPU) at each window's size; the
memory per container (its cgroup's memory.current, which counts the console
holder, and the holder's own smaps_rollup) with all N running; then destroys
them all and reports what is left (veths in the netns, cgroups, RUNDIR
entries: all should be 0). Removes everything at the end, also on failure.
Not a test: timings depend on the machine.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from console_memory import smaps  # noqa: E402
from network import WITH_NETNS_SYSFS, make_host_netns  # noqa: E402

VETH = ["lxc.net.0.type = veth", "lxc.net.0.link = br0", "lxc.net.0.flags = up"]
EDGE = 50
PARALLEL = 4              # creations, middle starts, stops, removals at a time (not measured)
REFERENCE = [sys.executable, "-S", "-I", "-c", "pass"]


def run(argv, env):
    result = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr}")
    return result.stdout


def in_parallel(work, names):
    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(work, names))


def make(command, names, lxcpath, env):
    """Create the containers (a few at a time: not measured) with one veth each."""
    in_parallel(lambda name: run([command, "-P", lxcpath, "create", name, "-t", "busybox"],
                                 env), names)
    for name in names:
        config = os.path.join(lxcpath, name, "config")
        with open(config, encoding="utf-8") as handle:
            lines = [line for line in handle.read().splitlines()
                     if not line.startswith("lxc.net.")]
        with open(config, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines + VETH) + "\n")


class Window:
    """The measures of one window of starts: wall and CPU seconds of each start, wall
    seconds of the reference run right after each (an interpreter start, which
    nothing of the containers slows: how fast the shared machine was then), the
    share of the machine's CPU time busy meanwhile, the load average when it began."""

    def __init__(self, command, names, lxcpath, env):
        self.load = os.getloadavg()[0]
        before = _cpu_times()
        self.wall, self.cpu, self.reference = [], [], []
        for name in names:
            began, used = time.perf_counter(), _children_cpu()
            run([command, "-P", lxcpath, "start", name, "--settle", "0"], env)
            self.wall.append(time.perf_counter() - began)
            self.cpu.append(_children_cpu() - used)
            began = time.perf_counter()
            run(REFERENCE, env)
            self.reference.append(time.perf_counter() - began)
        after = _cpu_times()
        total = sum(after) - sum(before)
        idle = (after[3] + after[4]) - (before[3] + before[4])
        self.busy = 1 - idle / total if total else 0.0


def _cpu_times():
    """The machine's CPU times (/proc/stat's cpu line: user nice system idle iowait ...)."""
    with open("/proc/stat", encoding="ascii") as handle:
        return [int(value) for value in handle.readline().split()[1:]]


def _children_cpu():
    """User + system seconds of this process's reaped children (the start commands; the
    console holders and inits they fork are not theirs to reap)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def settle(names):
    """Wait until the inits and console holders of the running ones of `names` (and what
    they reaped) use less than 2% of a CPU over half a second: the boot scripts
    of the containers just started, which would otherwise run during the next
    window; at most 120 s. The seconds waited."""
    began = time.monotonic()
    last = _containers_cpu(names)
    while time.monotonic() < began + 120:
        time.sleep(0.5)
        now = _containers_cpu(names)
        if now - last < 0.01:
            break
        last = now
    return time.monotonic() - began


def _containers_cpu(names):
    """CPU seconds of the inits and holders of `names`' running containers, with their
    reaped children's (/proc/PID/stat's utime, stime, cutime, cstime)."""
    from hacontain.runtime import state as statefile
    ticks = 0
    for name in names:
        record = statefile.read(name)
        for pid in (record.pid, record.holder) if record is not None else ():
            try:
                with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except (OSError, TypeError):
                continue                      # gone meanwhile
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def scan_cpu(rootfs):
    """Median CPU seconds of the rootfs-in-use scan (the start's, in this process)."""
    from hacontain.runtime.status import rootfs_users
    times = []
    for _ in range(9):
        began = time.process_time()
        rootfs_users(rootfs)
        times.append(time.process_time() - began)
    return statistics.median(times)


def stop_all(command, names, lxcpath, env):
    in_parallel(lambda name: run([command, "-P", lxcpath, "stop", "-k", name], env), names)


def memory(command, lxcpath, env):
    """(median cgroup memory.current, median holder smaps {field: KiB}) of the containers."""
    rows = json.loads(run([command, "-P", lxcpath, "ls", "--json"], env))
    from hacontain.runtime import state as statefile
    holders = [smaps(statefile.read(row["name"]).holder) for row in rows]
    return (statistics.median(row["memory"] for row in rows),
            {field: statistics.median(h[field] for h in holders) for field in holders[0]})


def remove(command, name, lxcpath, env):
    """Destroy the container (stopped first if it runs: after a failure)."""
    subprocess.run([command, "-P", lxcpath, "destroy", "-f", name], env=env,
                   capture_output=True)


def leftovers(names, rundir):
    """What the stopped and destroyed containers left: veths, cgroups, RUNDIR entries."""
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    veths = [line for line in links if "veth" in line or "@if" in line]
    wanted = set(names)
    cgroups = [directory for top, dirs, _ in os.walk("/sys/fs/cgroup")
               for directory in dirs if directory in wanted]
    return {"veths": len(veths), "cgroups": len(cgroups),
            "rundir entries": len(os.listdir(rundir)) if os.path.isdir(rundir) else 0}


def rounds(args, names, lxcpath, env):
    """[(first window, last window, scan CPU first, scan CPU last)] of each round, and the
    memory measures taken with all containers running in the last one."""
    first, middle, last = names[:EDGE], names[EDGE:-EDGE], names[-EDGE:]
    rootfs = os.path.join(lxcpath, first[0], "rootfs")
    measured, used = [], None
    for number in range(1, args.rounds + 1):
        waited = settle(names)
        low = Window(args.command, first, lxcpath, env)
        scan_low = scan_cpu(rootfs)
        in_parallel(lambda name: run([args.command, "-P", lxcpath, "start", name, "--settle",
                                      "0"], env), middle)
        waited += settle(names)
        high = Window(args.command, last, lxcpath, env)
        print(f"round {number}: {waited:.0f} s waited for the containers to settle",
              file=sys.stderr)
        scan_high = scan_cpu(rootfs)
        measured.append((low, high, scan_low, scan_high))
        if number == args.rounds:
            used = memory(args.command, lxcpath, env)
        stop_all(args.command, names, lxcpath, env)
        print(f"round {number} of {args.rounds} done", file=sys.stderr)
    return measured, used


def ms(values):
    """The median of `values` (seconds), in milliseconds."""
    return statistics.median(values) * 1000


def adjusted(window):
    """The window's median start time in medians of its reference runs."""
    return ms(window.wall) / ms(window.reference)


def report(count, measured, used, left):
    print(f"\n{count} busybox containers, one veth each on br0; `hacontain start --settle 0`; "
          f"{len(measured)} rounds (first {EDGE}, the middle ones unmeasured, last {EDGE}, "
          f"stop all)")
    for number, (low, high, scan_low, scan_high) in enumerate(measured, 1):
        print(f"  round {number}: wall {ms(low.wall):.1f} / {ms(high.wall):.1f} ms "
              f"({ms(high.wall) / ms(low.wall):.2f}x), CPU {ms(low.cpu):.1f} / "
              f"{ms(high.cpu):.1f} ms ({ms(high.cpu) / ms(low.cpu):.2f}x); in references "
              f"{adjusted(low):.2f} / {adjusted(high):.2f} "
              f"({adjusted(high) / adjusted(low):.2f}x); CPUs busy "
              f"{low.busy:.0%} / {high.busy:.0%}, load {low.load:.1f} / {high.load:.1f}; "
              f"scan {ms([scan_low]):.2f} / {ms([scan_high]):.2f} ms")
    wall_first = ms([t for low, _, _, _ in measured for t in low.wall])
    wall_last = ms([t for _, high, _, _ in measured for t in high.wall])
    cpu_first = ms([t for low, _, _, _ in measured for t in low.cpu])
    cpu_last = ms([t for _, high, _, _ in measured for t in high.cpu])
    print(f"  all rounds, start, first {EDGE}: {wall_first:.1f} ms median; last {EDGE}: "
          f"{wall_last:.1f} ms median; ratio {wall_last / wall_first:.2f}x (target 1.1x: "
          f"{'met' if wall_last <= 1.1 * wall_first else 'NOT met'})")
    ref_first = ms([t for low, _, _, _ in measured for t in low.reference])
    ref_last = ms([t for _, high, _, _ in measured for t in high.reference])
    print(f"  all rounds, reference (interpreter start after each start), first {EDGE}: "
          f"{ref_first:.1f} ms median; last {EDGE}: {ref_last:.1f} ms median; start in "
          f"references: {wall_first / ref_first:.2f} / {wall_last / ref_last:.2f}, ratio "
          f"{(wall_last / ref_last) / (wall_first / ref_first):.2f}x (the wall ratio "
          f"with the machine's speed of each window taken out)")
    print(f"  all rounds, CPU of the start command, first {EDGE}: {cpu_first:.1f} ms median; "
          f"last {EDGE}: {cpu_last:.1f} ms median; ratio {cpu_last / cpu_first:.2f}x")
    print(f"  rootfs-in-use scan (in the start's first child, not in the CPU above): "
          f"{ms([m[2] for m in measured]):.2f} ms CPU at {EDGE} containers, "
          f"{ms([m[3] for m in measured]):.2f} ms at {count}")
    print(f"  memory per container (cgroup memory.current, holder included): "
          f"{used[0] / 1048576:.2f} MiB median")
    print("  console holder (smaps_rollup, KiB, median): "
          + ", ".join(f"{field} {value:.0f}" for field, value in used[1].items()))
    print("  left after stop and destroy: "
          + ", ".join(f"{what} {number}" for what, number in left.items()))


def inner(args):
    """In the netns: the containers, the measures, the cleanup."""
    work = tempfile.mkdtemp(prefix="hacontain-bench-density.")
    lxcpath, rundir = os.path.join(work, "lxc"), os.path.join(work, "run")
    env = {**os.environ, "HACONTAIN_RUNDIR": rundir}
    os.environ["HACONTAIN_RUNDIR"] = rundir
    names = [f"hcd{os.getpid()}x{number}" for number in range(args.containers)]
    try:
        make(args.command, names, lxcpath, env)
        measured, used = rounds(args, names, lxcpath, env)
    finally:
        in_parallel(lambda name: remove(args.command, name, lxcpath, env), names)
        left = leftovers(names, rundir)
        shutil.rmtree(work, ignore_errors=True)
    report(args.containers, measured, used, left)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--containers", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--command", default=os.path.join(os.path.dirname(sys.executable),
                                                           "hacontain"))
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.containers < 2 * EDGE:
        sys.exit(f"bench/density.py: at least {2 * EDGE} containers")
    if args.rounds < 1:
        sys.exit("bench/density.py: at least 1 round")
    if args.inside:
        return inner(args)
    if os.geteuid() != 0:
        sys.exit("bench/density.py: must run as root")
    netns = f"hcdensity{os.getpid()}"
    make_host_netns(netns)
    try:
        subprocess.run(["nsenter", f"--net=/run/netns/{netns}", "unshare", "-m",
                        "--propagation", "slave", "sh", "-c", WITH_NETNS_SYSFS, "sh",
                        sys.executable, os.path.abspath(__file__), "--containers",
                        str(args.containers), "--rounds", str(args.rounds), "--command",
                        args.command, "--inside", netns],
                       check=True)
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)


if __name__ == "__main__":
    main()
