#!/usr/bin/env python3
"""Benchmark density: N busybox containers, one veth each on one bridge.

    /opt/hacontain/venv/bin/python bench/density.py [--containers 500] [--command PATH]

As root. Makes a network namespace with a bridge br0 (192.0.2.1/24; the
containers' veths carry no address) and, inside it (with a sysfs of that
netns on /sys, as bench/network.py does), N containers in a temporary LXCPATH
and RUNDIR, started one after the other with `hacontain start --settle 0`
while the others run: each start is timed, so the last ones start with N-1
containers, and N-1 host-side veths, already there. Prints the median start
time of the first and the last 50 and their ratio (target from issue 18:
last <= 1.1x first at N = 500) - and, as the wall time follows the machine's
load, the CPU time (user + system) of the same starts, first and last 50, and
the load average before and after -, the memory per container (its cgroup's
memory.current, which counts the console holder, and the holder's own
smaps_rollup), then stops and destroys them all and reports what is left
(veths in the netns, cgroups, RUNDIR entries: all should be 0). Removes
everything at the end, also on failure. Not a test: timings depend on the
machine.
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
PARALLEL = 4              # creations and removals at a time (not measured)


def run(argv, env):
    result = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr}")
    return result.stdout


def make(command, names, lxcpath, env):
    """Create the containers (a few at a time: not measured) with one veth each."""
    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(lambda name: run([command, "-P", lxcpath, "create", name, "-t",
                                        "busybox"], env), names))
    for name in names:
        config = os.path.join(lxcpath, name, "config")
        with open(config, encoding="utf-8") as handle:
            lines = [line for line in handle.read().splitlines()
                     if not line.startswith("lxc.net.")]
        with open(config, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines + VETH) + "\n")


def start_all(command, names, lxcpath, env):
    """(wall time, CPU time of the start command) in seconds of each start, in order."""
    times, cpu = [], []
    for number, name in enumerate(names, 1):
        began, used = time.perf_counter(), _children_cpu()
        run([command, "-P", lxcpath, "start", name, "--settle", "0"], env)
        times.append(time.perf_counter() - began)
        cpu.append(_children_cpu() - used)
        if number % 100 == 0:
            print(f"{number} started", file=sys.stderr)
    return times, cpu


def _children_cpu():
    """User + system seconds of this process's reaped children (the start commands; the
    console holders and inits they fork are not theirs to reap)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def memory(command, lxcpath, env):
    """(median cgroup memory.current, median holder smaps {field: KiB}) of the containers."""
    rows = json.loads(run([command, "-P", lxcpath, "ls", "--json"], env))
    os.environ["HACONTAIN_RUNDIR"] = env["HACONTAIN_RUNDIR"]
    from hacontain.runtime import state as statefile
    holders = [smaps(statefile.read(row["name"]).holder) for row in rows]
    return (statistics.median(row["memory"] for row in rows),
            {field: statistics.median(h[field] for h in holders) for field in holders[0]})


def remove(command, name, lxcpath, env):
    for action in (["stop", "-k"], ["destroy", "-f"]):
        subprocess.run([command, "-P", lxcpath, *action, name], env=env, capture_output=True)


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


def report(count, times, cpu, load, used, holder, left):
    first = statistics.median(times[:EDGE]) * 1000
    last = statistics.median(times[-EDGE:]) * 1000
    cpu_first = statistics.median(cpu[:EDGE]) * 1000
    cpu_last = statistics.median(cpu[-EDGE:]) * 1000
    print(f"\n{count} busybox containers, one veth each on br0; `hacontain start --settle 0`")
    print(f"  start, first {EDGE}: {first:.1f} ms median; last {EDGE}: {last:.1f} ms median; "
          f"ratio {last / first:.2f}x (target 1.1x: {'met' if last <= 1.1 * first else 'NOT met'})")
    print(f"  CPU of the start command, first {EDGE}: {cpu_first:.1f} ms median; last {EDGE}: "
          f"{cpu_last:.1f} ms median; ratio {cpu_last / cpu_first:.2f}x")
    print(f"  load average (1 min) before the starts {load[0]:.1f}, after {load[1]:.1f}")
    print(f"  memory per container (cgroup memory.current, holder included): "
          f"{used / 1048576:.2f} MiB median")
    print("  console holder (smaps_rollup, KiB, median): "
          + ", ".join(f"{field} {value:.0f}" for field, value in holder.items()))
    print("  left after stop and destroy: "
          + ", ".join(f"{what} {number}" for what, number in left.items()))


def inner(args):
    """In the netns: the containers, the measures, the cleanup."""
    work = tempfile.mkdtemp(prefix="hacontain-bench-density.")
    lxcpath, rundir = os.path.join(work, "lxc"), os.path.join(work, "run")
    env = {**os.environ, "HACONTAIN_RUNDIR": rundir}
    names = [f"hcd{os.getpid()}x{number}" for number in range(args.containers)]
    try:
        make(args.command, names, lxcpath, env)
        load = [os.getloadavg()[0]]
        times, cpu = start_all(args.command, names, lxcpath, env)
        load.append(os.getloadavg()[0])
        used, holder = memory(args.command, lxcpath, env)
    finally:
        with ThreadPoolExecutor(PARALLEL) as pool:
            list(pool.map(lambda name: remove(args.command, name, lxcpath, env), names))
        left = leftovers(names, rundir)
        shutil.rmtree(work, ignore_errors=True)
    report(args.containers, times, cpu, load, used, holder, left)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--containers", type=int, default=500)
    parser.add_argument("--command", default=os.path.join(os.path.dirname(sys.executable),
                                                           "hacontain"))
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.containers < 2 * EDGE:
        sys.exit(f"bench/density.py: at least {2 * EDGE} containers")
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
                        str(args.containers), "--command", args.command, "--inside", netns],
                       check=True)
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)


if __name__ == "__main__":
    main()
