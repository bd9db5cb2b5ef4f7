#!/usr/bin/env python3
"""Benchmark ocf:hacontain:container against ocf:heartbeat:lxc on one container.

    /opt/hacontain/venv/bin/python bench/agent.py [--rounds 5] [--monitors 6]

As root. Makes a busybox container with `lxc-create -t busybox` in a temporary
LXCPATH (network type empty), then in each round drives it with
/usr/lib/ocf/resource.d/heartbeat/lxc (which runs LXC 5: lxc-start, lxc-info,
lxc-stop) and with the installed ocf:hacontain:container pointed at the same
config (lxcpath = that LXCPATH): start, `--monitors` monitors of the running
container, stop, `--monitors` monitors of the stopped one. Prints the median
wall time of each action per agent, the ratio hacontain/lxc, and how many
processes one monitor of each agent starts (counted with strace -f). Removes
the container, its state and the temporary directories at the end, also on
failure or Ctrl-C.

Not a test: timings depend on the machine. Targets from the issue: monitor at
most 0.5x heartbeat/lxc's with no child process; start at most 0.5x.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

OCF_ROOT = "/usr/lib/ocf"
LXC_AGENT = f"{OCF_ROOT}/resource.d/heartbeat/lxc"
OUR_AGENT = f"{OCF_ROOT}/resource.d/hacontain/container"
TIMEOUT_MS = "20000"
ACTIONS = ("start", "monitor (running)", "stop", "monitor (stopped)")
SETTLE = 3.0       # s after start: monitors run on a booted container, not one running its rc scripts


class Agent:
    """One resource agent with its environment."""

    def __init__(self, label, path, env):
        self.label, self.path = label, path
        self.env = {**os.environ, "OCF_ROOT": OCF_ROOT, "OCF_RESOURCE_INSTANCE": "bench",
                    "OCF_RESKEY_CRM_meta_timeout": TIMEOUT_MS, **env}

    def run(self, action, expect):
        """(wall, cpu) seconds of one `action`; raises when its exit code is not `expect`.

        cpu: user + system time of the agent and of the processes it waited for.
        """
        with tempfile.TemporaryFile() as errors:
            began = time.perf_counter()
            child = subprocess.Popen([self.path, action], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=errors)
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - began
            code = os.waitstatus_to_exitcode(status)
            if code != expect:
                errors.seek(0)
                raise RuntimeError(f"{self.label} {action} exited {code}, expected {expect}: "
                                   f"{errors.read().decode(errors='replace').strip()}")
        return wall, usage.ru_utime + usage.ru_stime

    def processes_started(self, action):
        """Processes one `action` starts: fork/vfork/clone calls seen by strace -f."""
        with tempfile.NamedTemporaryFile("r", suffix=".strace") as trace:
            subprocess.run(["strace", "-f", "-qq", "-e", "trace=process", "-o", trace.name,
                            self.path, action], env=self.env, capture_output=True, timeout=120)
            calls = [line.split(None, 1)[1].split("(")[0] for line in trace.read().splitlines()]
        # a thread is a clone too, but neither agent starts threads
        return sum(calls.count(call) for call in ("fork", "vfork", "clone", "clone3"))


def make_lxc_container(lxcpath, name, *create_args):
    """`lxc-create -t busybox [CREATE_ARGS]`, with its network switched to type empty."""
    subprocess.run(["lxc-create", "-P", lxcpath, "-n", name, "-t", "busybox", *create_args],
                   check=True, capture_output=True, text=True, timeout=300)
    config = os.path.join(lxcpath, name, "config")
    with open(config, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    kept = [line for line in lines if not line.startswith("lxc.net.")]
    with open(config, "w", encoding="utf-8") as handle:
        handle.write("\n".join(kept + ["lxc.net.0.type = empty"]) + "\n")
    return config


def measure(agents, rounds, monitors):
    """{agent label: {action: [(wall, cpu)]}} over `rounds` start/monitor/stop cycles."""
    times = {agent.label: {action: [] for action in ACTIONS} for agent in agents}
    for number in range(rounds):
        order = agents if number % 2 == 0 else agents[::-1]
        for agent in order:
            record = times[agent.label]
            record["start"].append(agent.run("start", 0))
            time.sleep(SETTLE)
            record["monitor (running)"] += [agent.run("monitor", 0) for _ in range(monitors)]
            record["stop"].append(agent.run("stop", 0))
            record["monitor (stopped)"] += [agent.run("monitor", 7) for _ in range(monitors)]
        print(f"round {number + 1}/{rounds} done", file=sys.stderr)
    return times


def count_processes(agents):
    """{agent label: {"running": n, "stopped": n}} processes per monitor."""
    counts = {}
    for agent in agents:
        agent.run("start", 0)
        running = agent.processes_started("monitor")
        agent.run("stop", 0)
        counts[agent.label] = {"running": running, "stopped": agent.processes_started("monitor")}
    return counts


def report(times, counts, ours, theirs, rounds, monitors):
    print(f"\nocf:hacontain:container vs ocf:heartbeat:lxc, busybox container, {rounds} rounds, "
          f"{rounds * monitors} monitors per state; medians in ms")
    print(f"{'':<20} {'wall':>30}   {'cpu (user+sys)':>30}")
    print(f"{'action':<20} " + f"{'heartbeat/lxc':>14} {'hacontain':>9} {'ratio':>6}   " * 2)
    ratios = {}
    for action in ACTIONS:
        row = f"{action:<20} "
        for index in (0, 1):
            lxc = statistics.median(sample[index] for sample in times[theirs][action]) * 1000
            our = statistics.median(sample[index] for sample in times[ours][action]) * 1000
            if index == 0:
                ratios[action] = our / lxc
            row += f"{lxc:>14.1f} {our:>9.1f} {our / lxc:>5.2f}x   "
        print(row)
    paired = statistics.median(our[0] / their[0] for our, their
                               in zip(times[ours]["start"], times[theirs]["start"]))
    print(f"\nstart, each round's pair (the two agents back to back) as a ratio, median of "
          f"{rounds}: {paired:.2f}x")
    print("\nprocesses started by one monitor (strace -f: fork/vfork/clone)")
    for state in ("running", "stopped"):
        print(f"  {state:<8} heartbeat/lxc {counts[theirs][state]:>3}   "
              f"hacontain {counts[ours][state]:>3}")
    print("\ntargets (wall-time ratios)")
    for action in ("monitor (running)", "monitor (stopped)", "start"):
        verdict = "met" if ratios[action] <= 0.5 else "NOT met"
        print(f"  {action} <= 0.5x: {ratios[action]:.2f}x {verdict}")
    children = counts[ours]["running"] + counts[ours]["stopped"]
    print(f"  monitor starts no process: {'met' if children == 0 else 'NOT met'}")


def cleanup(lxcpath, name, rundir, agents):
    """Stop the container with both tools (whichever runs it), destroy it, remove dirs."""
    for agent in agents:
        subprocess.run([agent.path, "stop"], env=agent.env, capture_output=True, timeout=120)
    subprocess.run(["lxc-stop", "-n", name, "-k"], capture_output=True, timeout=60)
    subprocess.run(["lxc-destroy", "-P", lxcpath, "-n", name], capture_output=True, timeout=60)
    shutil.rmtree(lxcpath, ignore_errors=True)
    shutil.rmtree(rundir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="start/stop cycles (default 5)")
    parser.add_argument("--monitors", type=int, default=6,
                        help="monitors per state and round (default 6)")
    parser.add_argument("--agent", default=OUR_AGENT, help=f"our agent (default {OUR_AGENT})")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/agent.py: must run as root")
    for path, hint in ((LXC_AGENT, "apt-get install resource-agents lxc"),
                       (args.agent, "hacontain install-agent"),
                       (shutil.which("strace"), "apt-get install strace")):
        if not path or not os.path.exists(path):
            sys.exit(f"bench/agent.py: {path or 'strace'} missing: {hint}")
    name = f"hcbench{os.getpid()}"
    lxcpath = tempfile.mkdtemp(prefix="hacontain-bench-lxc.")
    rundir = tempfile.mkdtemp(prefix="hacontain-bench-run.")
    theirs = Agent("heartbeat/lxc", LXC_AGENT, {
        "OCF_RESKEY_container": name, "OCF_RESKEY_config": os.path.join(lxcpath, name, "config"),
        "OCF_RESKEY_log": os.path.join(lxcpath, "lxc.log")})
    ours = Agent("hacontain", args.agent, {
        "OCF_RESKEY_name": name, "OCF_RESKEY_lxcpath": lxcpath, "HACONTAIN_RUNDIR": rundir})
    agents = [theirs, ours]
    try:
        make_lxc_container(lxcpath, name)
        times = measure(agents, args.rounds, args.monitors)
        counts = count_processes(agents)
        report(times, counts, ours.label, theirs.label, args.rounds, args.monitors)
    finally:
        cleanup(lxcpath, name, rundir, agents)


if __name__ == "__main__":
    main()
