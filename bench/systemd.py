#!/usr/bin/env python3
"""Benchmark a systemd guest's boot and stop: hacontain against LXC 5, same rootfs, same run.

    /opt/hacontain/venv/bin/python bench/systemd.py [--rounds 5]

As root. Unpacks the debian-systemd template's cached rootfs (Debian bookworm,
systemd-sysv, dbus; built by debootstrap on first use) into a temporary
LXCPATH and writes one config both tools read (network empty, halt signal
SIGRTMIN+3, `lxc.mount.auto = cgroup:mixed proc:mixed sys:mixed`). Each
round, in turns, boots and stops it with `hacontain start/stop -P LXCPATH`
and with `lxc-start/lxc-stop -P LXCPATH`:

    boot  from the start command until `systemctl is-system-running --wait`,
          run in the container through nsenter (the same probe for both,
          repeated every 10 ms while systemd is not up enough to answer: no
          socket yet, or "offline"), says running or degraded
    stop  the stop command (timeout 30 s), which must halt, not kill

Prints the medians and the ratios hacontain/LXC. Targets from the issue:
boot <= 2.0x LXC, stop <= 2.0x LXC + 1 s. Removes the container, its state
and the temporary directories at the end, also on failure or Ctrl-C.
Not a test: timings depend on the machine.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HACONTAIN = os.path.join(os.path.dirname(sys.executable), "hacontain")
STOP_TIMEOUT = "30"


def make_rootfs(lxcpath, name):
    """The container directory: the cached debian-systemd tree and a config for both tools."""
    from hacontain.templates import debian
    directory = os.path.join(lxcpath, name)
    rootfs = os.path.join(directory, "rootfs")
    debian.build_rootfs(rootfs, name, "systemd")
    lines = [f"lxc.uts.name = {name}", f"lxc.rootfs.path = dir:{rootfs}",
             "lxc.net.0.type = empty"] + debian.config_lines("systemd")
    with open(os.path.join(directory, "config"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


class Tool:
    """Start, stop and find the init of the container with one tool."""

    def __init__(self, label, start, stop, init_pid, halted):
        self.label, self._start, self._stop = label, start, stop
        self._init_pid, self._halted = init_pid, halted

    def boot(self):
        """(seconds until running/degraded, seconds of the start command alone, state)."""
        began = time.perf_counter()
        run(self._start)
        started = time.perf_counter() - began
        probe = ["nsenter", "-t", str(self._init_pid()), "-a",
                 "systemctl", "is-system-running", "--wait"]
        while True:      # until systemd is up enough to answer (the init has just exec'd)
            state = subprocess.run(probe, capture_output=True, text=True,
                                   timeout=300).stdout.strip()
            if state not in ("", "offline") or time.perf_counter() - began > 300:
                break
            time.sleep(0.01)
        booted = time.perf_counter() - began
        if state not in ("running", "degraded"):
            raise RuntimeError(f"{self.label}: the guest ended its boot {state or 'without a state'}")
        return booted, started, state

    def stop(self):
        began = time.perf_counter()
        result = run(self._stop)
        elapsed = time.perf_counter() - began
        if not self._halted(result):
            raise RuntimeError(f"{self.label}: the guest was killed, not halted: {result.stderr}")
        return elapsed


def run(argv):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip()}")
    return result


def tools(lxcpath, name):
    def hacontain_pid():
        return json.loads(run([HACONTAIN, "info", name, "-P", lxcpath, "--json"]).stdout)["pid"]

    def lxc_pid():
        return int(run(["lxc-info", "-n", name, "-P", lxcpath, "-p", "-H"]).stdout)

    ours = Tool("hacontain", [HACONTAIN, "start", name, "-P", lxcpath],
                [HACONTAIN, "stop", name, "-P", lxcpath, "-t", STOP_TIMEOUT], hacontain_pid,
                lambda result: "killed" not in result.stderr)
    theirs = Tool("LXC", ["lxc-start", "-n", name, "-P", lxcpath],
                  ["lxc-stop", "-n", name, "-P", lxcpath, "-t", STOP_TIMEOUT], lxc_pid,
                  lambda result: True)
    return [theirs, ours]


def measure(agents, rounds):
    """{label: {"boot": [s], "start": [s], "stop": [s], "states": [str]}}, alternating first."""
    times = {tool.label: {"boot": [], "start": [], "stop": [], "states": []} for tool in agents}
    for number in range(rounds):
        for tool in agents if number % 2 == 0 else agents[::-1]:
            booted, started, state = tool.boot()
            record = times[tool.label]
            record["boot"].append(booted)
            record["start"].append(started)
            record["states"].append(state)
            record["stop"].append(tool.stop())
        print(f"round {number + 1}/{rounds} done", file=sys.stderr)
    return times


def report(times, rounds):
    lxc, ours = times["LXC"], times["hacontain"]
    print(f"\nsystemd guest (Debian bookworm, cgroup:mixed proc:mixed sys:mixed), hacontain vs "
          f"LXC {lxc_version()}, {rounds} rounds; medians in s")
    print(f"{'':<34} {'LXC':>8} {'hacontain':>10} {'ratio':>7}")
    rows = (("boot (start until running)", "boot"), ("  of which the start command", "start"),
            ("stop (halt, SIGRTMIN+3)", "stop"))
    medians = {}
    for label, key in rows:
        theirs, mine = statistics.median(lxc[key]), statistics.median(ours[key])
        medians[key] = (theirs, mine)
        print(f"{label:<34} {theirs:>8.3f} {mine:>10.3f} {mine / theirs:>6.2f}x")
    print(f"end states: LXC {sorted(set(lxc['states']))}, hacontain {sorted(set(ours['states']))}")
    boot, stop = medians["boot"], medians["stop"]
    print("\ntargets")
    print(f"  boot <= 2.0x LXC: {boot[1] / boot[0]:.2f}x "
          f"{'met' if boot[1] <= 2.0 * boot[0] else 'NOT met'}")
    print(f"  stop <= 2.0x LXC + 1 s: {stop[1]:.3f} s vs {2.0 * stop[0] + 1:.3f} s "
          f"{'met' if stop[1] <= 2.0 * stop[0] + 1 else 'NOT met'}")


def lxc_version():
    return subprocess.run(["lxc-start", "--version"], capture_output=True, text=True).stdout.strip()


def cleanup(lxcpath, name, rundir):
    subprocess.run([HACONTAIN, "stop", name, "-P", lxcpath, "-k"], capture_output=True, timeout=60)
    subprocess.run(["lxc-stop", "-n", name, "-P", lxcpath, "-k"], capture_output=True, timeout=60)
    shutil.rmtree(lxcpath, ignore_errors=True)
    shutil.rmtree(rundir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="boot/stop cycles (default 5)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/systemd.py: must run as root")
    for program, hint in (("lxc-start", "apt-get install lxc"),
                          ("nsenter", "apt-get install util-linux"),
                          (HACONTAIN, "bash deploy/install.sh")):
        if shutil.which(program) is None:
            sys.exit(f"bench/systemd.py: {program} missing: {hint}")
    name = f"hcsdbench{os.getpid()}"
    lxcpath = tempfile.mkdtemp(prefix="hacontain-bench-lxc.")
    rundir = tempfile.mkdtemp(prefix="hacontain-bench-run.")
    os.environ["HACONTAIN_RUNDIR"] = rundir
    try:
        make_rootfs(lxcpath, name)
        report(measure(tools(lxcpath, name), args.rounds), args.rounds)
    finally:
        cleanup(lxcpath, name, rundir)


if __name__ == "__main__":
    main()
