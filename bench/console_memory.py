#!/usr/bin/env python3
"""Memory per container: hacontain's console holder against LXC's monitor process.

    /opt/hacontain/venv/bin/python bench/console_memory.py [--containers 5]

As root. Starts `--containers` busybox containers with hacontain (temporary
LXCPATH and RUNDIR) and as many with LXC 5 (`lxc-create -t busybox`,
`lxc-start -d`), then reads /proc/PID/smaps_rollup of each container's
long-lived host-side process: hacontain's console holder (the init's parent,
runtime/console.py) and LXC's `[lxc monitor]` (also the init's parent).
Prints the median Rss, Pss and Private_Dirty (KiB) per container. Private
(dirty) memory is what each more container costs; Rss also counts pages
shared with every other process of the same program (the holder's static
code, liblxc's), which Pss divides among them. Removes everything at the end,
also on failure or Ctrl-C.

Not a test: figures depend on the machine, its C library and its LXC build.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HACONTAIN = os.path.join(os.path.dirname(sys.executable), "hacontain")
FIELDS = ("Rss", "Pss", "Private_Dirty")


def smaps(pid):
    """{field: KiB} of /proc/PID/smaps_rollup."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
        for line in handle:
            parts = line.split()
            if parts and parts[0].rstrip(":") in FIELDS:
                values[parts[0].rstrip(":")] = int(parts[1])
    return values


def parent(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def run(*argv, env=None):
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def measure_hacontain(count, workdir):
    env = {**os.environ, "HACONTAIN_LXCPATH": f"{workdir}/hc", "HACONTAIN_RUNDIR": f"{workdir}/run"}
    names = [f"hcmem{n}" for n in range(count)]
    try:
        for name in names:
            run(HACONTAIN, "create", name, "-t", "busybox", env=env)
            run(HACONTAIN, "start", name, "--settle", "0", env=env)
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        from hacontain.runtime import state as statefile
        os.environ.update(HACONTAIN_RUNDIR=env["HACONTAIN_RUNDIR"])
        rows = []
        for name in names:
            record = statefile.read(name)
            assert parent(record.pid) == record.holder, "the holder is not the init's parent"
            rows.append(smaps(record.holder))
        return rows
    finally:
        for name in names:
            subprocess.run([HACONTAIN, "stop", name, "-k"], env=env, capture_output=True)
            subprocess.run([HACONTAIN, "destroy", name, "-f"], env=env, capture_output=True)


def measure_lxc(count, workdir):
    lxcpath = f"{workdir}/lxc"
    os.makedirs(lxcpath)
    names = [f"lxcmem{n}" for n in range(count)]
    try:
        for name in names:
            run("lxc-create", "-P", lxcpath, "-n", name, "-t", "busybox")
            config = os.path.join(lxcpath, name, "config")
            with open(config, encoding="utf-8") as handle:
                kept = [line for line in handle.read().splitlines()
                        if not line.startswith("lxc.net.")]
            with open(config, "w", encoding="utf-8") as handle:   # no bridge needed
                handle.write("\n".join(kept + ["lxc.net.0.type = empty"]) + "\n")
            run("lxc-start", "-P", lxcpath, "-n", name, "-d")
        rows = []
        for name in names:
            pid = subprocess.run(["lxc-info", "-P", lxcpath, "-n", name, "-p", "-H"], check=True,
                                 capture_output=True, text=True).stdout.strip()
            rows.append(smaps(parent(int(pid))))
        return rows
    finally:
        for name in names:
            subprocess.run(["lxc-stop", "-P", lxcpath, "-n", name, "-k"], capture_output=True)
            subprocess.run(["lxc-destroy", "-P", lxcpath, "-n", name], capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=5, help="containers per runtime")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="hc-membench-")
    try:
        results = {"hacontain console holder": measure_hacontain(args.containers, workdir)}
        if shutil.which("lxc-start"):
            results["LXC 5 [lxc monitor]"] = measure_lxc(args.containers, workdir)
        print(f"memory of the host-side process per container, median of {args.containers} (KiB)")
        print(f"{'process':<28}" + "".join(f"{field:>15}" for field in FIELDS))
        for label, rows in results.items():
            print(f"{label:<28}" + "".join(
                f"{statistics.median(row[field] for row in rows):>15.0f}" for field in FIELDS))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
