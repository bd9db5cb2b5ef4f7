#!/usr/bin/env python3
"""Benchmark backup throughput: hacontain's archive against plain `tar | zstd -T0`.

    /opt/hacontain/venv/bin/python bench/backup.py [--rounds 5] [--large-mib 512]

As root. Two trees in a temporary directory: a Debian rootfs (the debian template's
cached tarball in /var/cache/hacontain unpacked; `hacontain create -t debian` makes
it) and a few large files (copies of this machine's /usr/lib binaries, --large-mib in
all). Per tree and round, alternating which goes first, the same tree is archived by
`tar -cf - -C TREE . | zstd -T0 -q > FILE` (the peer), by the archive engine as a
library call in this process (backup.archive.write: GNU tar with numeric owners,
xattrs, ACLs, sparse files, writing into zstd -T0 --check, the same level, 3, its
listing read for the manifest), the same with --checksums (tar's output through the
streaming reader that hashes every file for the manifest), and by the whole `hacontain backup NAME --compress zstd`
command on a stopped container whose rootfs is the tree (dump directory checks, the
read-only view, the log, the fsync and rename). All write to the same directory. One warm-up run of each first: every run reads a warm page cache, so this
measures the work of the archiving, not the disk. Prints medians of the wall time,
throughput (bytes of the tree's files per second), CPU time (all processes of the run)
and archive size, with the ratios of throughput and of CPU time (the peer's over
ours: what the throughput ratio is where the pipeline is CPU-bound) to the peer's, and
the load average before and after (the machine may be shared). Target from the issue:
>= 0.9x. Everything is removed at the end, also on failure. Not a test: timings
depend on the machine.
"""

import argparse
import glob
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HACONTAIN = os.path.join(os.path.dirname(sys.executable), "hacontain")
PEER = "tar | zstd -T0"


def debian_tree(where):
    caches = sorted(glob.glob("/var/cache/hacontain/debian-bookworm-[0-9]*.tar"))
    if not caches:
        sys.exit("bench/backup.py: no Debian template cache: run `hacontain create x -t debian` "
                 "once (and destroy x)")
    os.makedirs(where)
    subprocess.run(["tar", "-xf", caches[-1], "-C", where], check=True)
    return where


def large_tree(where, mib):
    """Files of real binaries (compressible as a rootfs's are), `mib` MiB in all."""
    os.makedirs(where)
    sources = [path for path in glob.glob("/usr/lib/x86_64-linux-gnu/*.so*") + glob.glob(
        "/usr/bin/*") if os.path.isfile(path) and not os.path.islink(path)]
    target, written, index = mib << 20, 0, 0
    handle = None
    for path in sources * 50:
        if handle is None or handle.tell() >= 128 << 20:
            if handle:
                handle.close()
            handle = open(os.path.join(where, f"blob{index}"), "wb")
            index += 1
        with open(path, "rb") as source:
            data = source.read(target - written)
        handle.write(data)
        written += len(data)
        if written >= target:
            break
    handle.close()
    return where


def tree_bytes(root):
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            total += os.lstat(os.path.join(folder, name)).st_size
    return total


def peer(tree, output):
    subprocess.run(f"tar -cf - -C {tree} . | zstd -T0 -q -c > {output}", shell=True, check=True)


def engine(checksums):
    def run(tree, output):
        from hacontain.backup import archive
        with open(output, "wb") as handle:
            archive.write(tree, {archive.CONFIG: b"lxc.uts.name = bench\n"}, handle,
                          archive.Settings(threads=0, checksums=checksums))
    return run


def command(lxcpath, name, dumpdir):
    def run(tree, output):
        made = subprocess.run([HACONTAIN, "-P", lxcpath, "backup", name, "--dumpdir", dumpdir,
                               "--no-stdexcludes"], capture_output=True, text=True)
        if made.returncode != 0:
            sys.exit(f"bench/backup.py: hacontain backup failed: {made.stderr.strip()}")
        os.rename(made.stdout.strip(), output)
        for path in glob.glob(os.path.join(dumpdir, "*")):
            os.unlink(path)
    return run


def measure(trees, rounds, lxcpath, dumpdir, scratch):
    results = {}
    for label, (tree, name) in trees.items():
        kinds = {PEER: peer, "archive engine (library call)": engine(False),
                 "engine with --checksums": engine(True),
                 "hacontain backup (command)": command(lxcpath, name, dumpdir)}
        rows = results[label] = {kind: [] for kind in kinds}
        output = os.path.join(scratch, "out")
        for kind, action in kinds.items():          # warm-up: the page cache
            action(tree, output)
            os.unlink(output)
        for number in range(rounds):
            order = list(kinds.items())
            if number % 2:
                order.reverse()
            for kind, action in order:
                start, cpu = time.perf_counter(), cpu_seconds()
                action(tree, output)
                rows[kind].append((time.perf_counter() - start, os.path.getsize(output),
                                   cpu_seconds() - cpu))
                os.unlink(output)
    return results


def cpu_seconds():
    """CPU time of this process and its reaped children (user + system)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def report(results, sizes):
    for label, rows in results.items():
        print(f"\n{label}: {sizes[label] / 2**20:.0f} MiB in files")
        print(f"{'':32} {'median s':>9} {'MiB/s':>8} {'ratio':>6} {'CPU s':>7} "
              f"{'CPU ratio':>9} {'archive MiB':>12}")
        theirs = statistics.median(t for t, _, _ in rows[PEER])
        their_cpu = statistics.median(c for _, _, c in rows[PEER])
        for kind, samples in rows.items():
            wall = statistics.median(t for t, _, _ in samples)
            size = statistics.median(s for _, s, _ in samples) / 2**20
            cpu = statistics.median(c for _, _, c in samples)
            print(f"{kind:32} {wall:9.2f} {sizes[label] / 2**20 / wall:8.1f} "
                  f"{theirs / wall:5.2f}x {cpu:7.2f} {their_cpu / cpu:8.2f}x {size:12.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs of each kind (default 5)")
    parser.add_argument("--large-mib", type=int, default=512,
                        help="MiB of the large-files tree (default 512)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/backup.py: run as root")
    scratch = tempfile.mkdtemp(prefix="hacontain-bench-backup-")
    os.chmod(scratch, 0o755)
    rundir = tempfile.mkdtemp(prefix="hacontain-bench-run-")
    os.environ["HACONTAIN_RUNDIR"] = rundir
    lxcpath, dumpdir = os.path.join(scratch, "lxc"), os.path.join(scratch, "dump")
    os.makedirs(lxcpath)
    os.makedirs(dumpdir)
    try:
        trees = {"Debian rootfs": debian_tree(os.path.join(scratch, "debian")),
                 "large files": large_tree(os.path.join(scratch, "large"), args.large_mib)}
        named = {}
        for index, (label, tree) in enumerate(trees.items()):
            name = f"bench{index}"
            subprocess.run([HACONTAIN, "-P", lxcpath, "create", name, "-t", f"dir:{tree}"],
                           check=True, capture_output=True)
            named[label] = (tree, name)
        sizes = {label: tree_bytes(tree) for label, tree in trees.items()}
        before = os.getloadavg()
        report(measure(named, args.rounds, lxcpath, dumpdir, scratch), sizes)
        print(f"\nload average (1, 5, 15 min): before {before[0]:.1f} {before[1]:.1f} "
              f"{before[2]:.1f}, after " + " ".join(f"{v:.1f}" for v in os.getloadavg()))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(rundir, ignore_errors=True)


if __name__ == "__main__":
    main()
