"""Helpers for tests: the real CLI, unique names, mount inspection."""

import os
import subprocess
import sys
import uuid

HACONTAIN = [os.path.join(os.path.dirname(sys.executable), "hacontain")]


def unique_name(prefix="t"):
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def hacontain(*args, check=True, **kwargs):
    """Run the real CLI; CompletedProcess with text output."""
    result = subprocess.run(HACONTAIN + list(args), capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"hacontain {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def mounts_below(path):
    """Mount points of this mount namespace below `path`."""
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        return [line.split()[4] for line in handle if line.split()[4].startswith(str(path))]
