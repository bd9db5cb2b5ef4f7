"""The one runner of the storage stack's admin tools (lvm, mkfs, btrfs, xfs_admin, cp)."""

import json
import subprocess

from hacontain.errors import CommandError, NotInstalled


def run(argv, what=None):
    """Run `argv`; its stdout. NotInstalled when the tool is missing, CommandError (naming
    the command and the last line of its stderr) when it fails."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False,
                                stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise NotInstalled(f"{argv[0]} is not installed on this node"
                           + (f" (needed to {what})" if what else "")) from None
    if result.returncode != 0:
        hint = f"Run `{argv[0]} --help'"            # lvm's last line says only that
        raise CommandError(argv, result.returncode, "\n".join(
            line for line in result.stderr.splitlines() if not line.strip().startswith(hint)))
    return result.stdout


def run_json(argv, what=None):
    """Run an lvm report command with `--reportformat json`; its parsed output."""
    return json.loads(run(list(argv) + ["--reportformat", "json"], what) or "{}")
