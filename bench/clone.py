#!/usr/bin/env python3
"""Benchmark an overlay snapshot clone: hacontain against `lxc-copy -s -B overlay`.

    /opt/hacontain/venv/bin/python bench/clone.py [--rounds 20]

As root. Makes one busybox container with `lxc-create -t busybox` in a
temporary LXCPATH (network type empty), then per round clones it with
`lxc-copy -n SRC -N NEW -s -B overlay` and with hacontain, alternating which
goes first: the copy itself as the library call in this process
(storage.clone.copy, which is what `hacontain copy -s` runs), and the whole
`hacontain copy -s` command. Prints medians of the wall time, the bytes the
copy wrote (write syscalls, /proc/self/io wchar, children included once reaped)
and the space the new container takes (allocated blocks), with the ratio of the
library call to lxc-copy. Targets from the issue: <= 1.0x the time,
<= 100 KiB written. Everything is removed at the end, also on failure.
Not a test: timings depend on the machine.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent import make_lxc_container  # noqa: E402

HACONTAIN = os.path.join(os.path.dirname(sys.executable), "hacontain")


def written():
    """Bytes this process (and its reaped children) passed to write syscalls."""
    with open("/proc/self/io", encoding="ascii") as handle:
        return int(dict(line.split(": ") for line in handle.read().splitlines())["wchar"])


def allocated(path):
    """Bytes allocated to the files below `path`."""
    total = 0
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return total


def timed(lxcpath, new, action):
    before_bytes, start = written(), time.perf_counter()
    action()
    elapsed = time.perf_counter() - start
    return elapsed, written() - before_bytes, allocated(os.path.join(lxcpath, new))


def run(argv):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr}")


def overlay_kinds(lxcpath, source):
    """{label: action(new name)} of the overlay clones compared."""
    from hacontain.runtime.container import Container
    from hacontain.storage.clone import copy
    return {
        "lxc-copy -s -B overlay": lambda new: run(
            ["lxc-copy", "-P", lxcpath, "-n", source, "-N", new, "-s", "-B", "overlay"]),
        "hacontain copy (library call)": lambda new: copy(
            Container(source, lxcpath), new, snapshot=True, backend="overlay"),
        "hacontain copy -s (command)": lambda new: run(
            [HACONTAIN, "copy", "-P", lxcpath, "-s", "-B", "overlay", source, new]),
    }


def measure(lxcpath, kinds, rounds):
    """{label: [(wall s, written bytes, allocated bytes)]}: each of `kinds` once a round,
    alternating which goes first."""
    results = {label: [] for label in kinds}
    made = 0
    for number in range(rounds):
        order = list(kinds.items())
        if number % 2:
            order.reverse()
        for label, action in order:
            new = f"c{number}{made}"
            results[label].append(timed(lxcpath, new, lambda: action(new)))
            made += 1
    return results


def report(results):
    """A table of medians; the ratio to the first kind (the peer)."""
    theirs = statistics.median(t for t, _, _ in next(iter(results.values())))
    print(f"{'':32} {'median ms':>10} {'ratio':>6} {'written KiB':>12} {'allocated KiB':>14}")
    for label, rows in results.items():
        wall = statistics.median(t for t, _, _ in rows)
        wrote = statistics.median(w for _, w, _ in rows) / 1024
        space = statistics.median(a for _, _, a in rows) / 1024
        print(f"{label:32} {wall * 1000:10.2f} {wall / theirs:5.2f}x {wrote:12.1f} {space:14.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="clones of each kind (default 20)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/clone.py: run as root")
    lxcpath = tempfile.mkdtemp(prefix="hacontain-bench-clone-")
    rundir = tempfile.mkdtemp(prefix="hacontain-bench-run-")
    os.environ["HACONTAIN_RUNDIR"] = rundir
    try:
        make_lxc_container(lxcpath, "src")
        report(measure(lxcpath, overlay_kinds(lxcpath, "src"), args.rounds))
    finally:
        shutil.rmtree(lxcpath, ignore_errors=True)
        shutil.rmtree(rundir, ignore_errors=True)


if __name__ == "__main__":
    main()
