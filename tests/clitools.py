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


def cgroups_named(name):
    """The cgroup directories named `name` on this machine, on every hierarchy."""
    return [os.path.join(top, directory) for top, dirs, _ in os.walk("/sys/fs/cgroup")
            for directory in dirs if directory == name]


def mounts_below(path):
    """Mount points of this mount namespace below `path`."""
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        return [line.split()[4] for line in handle if line.split()[4].startswith(str(path))]


PROBE_SOURCE = os.path.join(os.path.dirname(__file__), "integration", "probes", "hcprobe.c")
PREBUILT_PROBE = PROBE_SOURCE[:-len(".c")]      # built for the VM guest, which has no gcc; ignored by git


def build_probe(binary):
    """Compile the containment suite's system-call probe, static, to `binary`."""
    subprocess.run(["gcc", "-static", "-O2", "-o", str(binary), PROBE_SOURCE], check=True)


def prebuilt_probe_is_fresh():
    """Whether PREBUILT_PROBE exists and is newer than its source."""
    return os.path.exists(PREBUILT_PROBE) and \
        os.path.getmtime(PREBUILT_PROBE) >= os.path.getmtime(PROBE_SOURCE)
