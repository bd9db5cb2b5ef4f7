"""Command line of the VM test tier.

    python -m testbed.vm build              build (or reuse) the cached image
    python -m testbed.vm run [-n 2] -- CMD  boot VMs, run CMD in each, stop them
"""

import argparse
import sys
import time

from hacontain.errors import HacontainError

from .fleet import booted
from .image import DEFAULT_CACHE_DIR, ensure_image
from .machine import require_qemu


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m testbed.vm", description=__doc__.split("\n")[0])
    parser.add_argument("--cache", default=DEFAULT_CACHE_DIR, help="image cache folder (default %(default)s)")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("build", help="build the image unless the cache has it; print where it is")
    run = sub.add_parser("run", help="boot VMs (linked when two), run a command in each, print its output")
    run.add_argument("-n", "--vms", type=int, default=1, choices=(1, 2))
    run.add_argument("--timeout", type=int, default=300, help="seconds the command may take")
    run.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    try:
        return act(args)
    except HacontainError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def act(args):
    start = time.monotonic()
    require_qemu()
    image = ensure_image(args.cache, log=lambda message: print(message, file=sys.stderr))
    kernel = image.manifest["kernel_release"]
    print(f"image {image.directory}, kernel {kernel} ({time.monotonic() - start:.1f} s)", file=sys.stderr)
    if args.action == "build":
        return 0
    names = ["vm-a", "vm-b"][: args.vms]
    rc = 0
    with booted(image, names, linked=args.vms == 2) as vms:
        print(f"booted {', '.join(names)} ({time.monotonic() - start:.1f} s)", file=sys.stderr)
        for vm in vms:
            result = vm.run(args.command, timeout=args.timeout)
            print(f"--- {vm.name}: exit {result.rc}", file=sys.stderr)
            sys.stdout.write(result.stdout)
            sys.stderr.write(result.stderr)
            rc = rc or result.rc
    return rc


if __name__ == "__main__":
    sys.exit(main())
