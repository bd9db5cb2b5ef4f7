"""A minimal backup for the tests of hacontain/backup/snapshot.py: the consistent view
of a container archived with tar, optionally held open (until killed) in the view or
in suspend's second pass. Usage: backup_driver.py NAME LXCPATH MODE ARCHIVE [HOLD]
(HOLD: view | second-pass). Prints the log, `view ROOT MODE`, `holding`, `freeze MS`."""

import signal
import subprocess
import sys

from hacontain.backup.snapshot import consistent_view, enter_private_mount_namespace


def archive(root, target, live=False):
    """tar the tree; on a `live` tree (suspend's first pass) files may change meanwhile
    (tar's exit status 1)."""
    code = subprocess.run(["tar", "-C", str(root), "--one-file-system", "--numeric-owner",
                           "-cf", target, "."]).returncode
    if code not in ((0, 1) if live else (0,)):
        raise SystemExit(f"tar exited with {code}")


def hold():
    print("holding", flush=True)
    while True:
        signal.pause()


def main(name, lxcpath, mode, target, held=""):
    enter_private_mount_namespace()
    with consistent_view(name, lxcpath, mode, lambda line: print(line, flush=True)) as view:
        print(f"view {view.root} {view.mode}", flush=True)
        archive(view.root, target, live=view.mode == "suspend")
        if held == "view":
            hold()
        with view.second_pass():
            if held == "second-pass":
                hold()
            if view.mode == "suspend":
                archive(view.root, target)
    print(f"freeze {view.freeze_ms}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
