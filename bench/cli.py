#!/usr/bin/env python3
"""Benchmark the `hacontain` command's start-up, side by side in one run.

    /opt/hacontain/venv/bin/python bench/cli.py [--rounds 15] [--command PATH]

As root. Makes a busybox container in a temporary LXCPATH (and RUNDIR), then in
each round times, in turns: the bare interpreter start (`/usr/bin/python3 -c
pass`), `hacontain ls`, `hacontain info NAME` (container running),
`hacontain --help`, and a start of the stopped container by the installed
ocf:hacontain:container agent, by `hacontain start --settle 0` and by
`hacontain start` (default --settle 0.5), each followed by `hacontain stop -k`
(not timed). Prints medians and the ratios the targets are about. Removes the
container, its state and the temporary directories at the end, also on failure.

Not a test: timings depend on the machine. Targets (issue 18): ls and info at
most 2.5x the bare interpreter start; start at most the agent's start + 10 ms.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

AGENT = "/usr/lib/ocf/resource.d/hacontain/container"
NAME = "benchcli"


def timed(argv, env, expect=0):
    """Wall seconds of `argv`; raises when its exit status is not `expect`."""
    began = time.perf_counter()
    result = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    wall = time.perf_counter() - began
    if result.returncode != expect:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr}")
    return wall


def measure(command, lxcpath, env, rounds):
    """{label: [seconds]} over `rounds` rounds."""
    hc = [command, "-P", lxcpath]
    agent_env = {**env, "OCF_ROOT": "/usr/lib/ocf", "OCF_RESOURCE_INSTANCE": "bench",
                 "OCF_RESKEY_name": NAME, "OCF_RESKEY_lxcpath": lxcpath,
                 "OCF_RESKEY_CRM_meta_timeout": "20000"}
    stop = hc + ["stop", "-k", NAME]
    times = {}
    for _ in range(rounds):
        for label, argv, run_env in (
                ("agent start", [AGENT, "start"], agent_env),
                ("hacontain start --settle 0", hc + ["start", "--settle", "0", NAME], env),
                ("hacontain start (--settle 0.5)", hc + ["start", NAME], env)):
            times.setdefault(label, []).append(timed(argv, run_env))
            if label == "hacontain start --settle 0":
                for other, query in (("python3 -c pass", ["/usr/bin/python3", "-c", "pass"]),
                                     ("hacontain ls", hc + ["ls"]),
                                     ("hacontain info", hc + ["info", NAME]),
                                     ("hacontain --help", [command, "--help"])):
                    times.setdefault(other, []).append(timed(query, env))
            timed(stop, env)
    return times


def report(times, rounds):
    median = {label: statistics.median(values) * 1000 for label, values in times.items()}
    print(f"{rounds} rounds, medians")
    for label, value in median.items():
        print(f"  {label:<32} {value:7.1f} ms")
    bare = median["python3 -c pass"]
    for label in ("hacontain ls", "hacontain info", "hacontain --help"):
        print(f"  {label} / python3 -c pass: {median[label] / bare:.2f}x (target 2.5x: ls, info)")
    for label in ("hacontain start --settle 0", "hacontain start (--settle 0.5)"):
        print(f"  {label} - agent start: {median[label] - median['agent start']:+.1f} ms "
              "(target +10 ms)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--command", default="/usr/local/bin/hacontain")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="hacontain-bench-cli-")
    lxcpath, rundir = os.path.join(work, "lxc"), os.path.join(work, "run")
    env = {**os.environ, "HACONTAIN_RUNDIR": rundir}
    try:
        subprocess.run([args.command, "-P", lxcpath, "create", NAME, "-t", "busybox"], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        report(measure(args.command, lxcpath, env, args.rounds), args.rounds)
    finally:
        subprocess.run([args.command, "-P", lxcpath, "destroy", "-f", NAME], env=env,
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
