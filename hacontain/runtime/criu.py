"""The criu binary (Debian's criu package): its version, its own check, and running
a dump or a restore with its log kept beside the images."""

import os
import shutil
import subprocess

from hacontain.errors import HacontainError, NotInstalled

# What every dump and restore passes: POSIX locks, unlinked-but-open files, the
# container's cgroup recorded (its properties only where criu makes it), host bind
# mounts found by path (mnt[]), and nftables for the network lock (Debian's
# image has no iptables-restore; only established TCP connections need the lock).
COMMON = ("--file-locks", "--link-remap", "--manage-cgroups=soft", "--external", "mnt[]",
          "--network-lock", "nftables")


QUICK_TIMEOUT = 30.0      # seconds for criu --version and criu check


class CriuError(HacontainError):
    """criu failed; the message ends with its log's first error and the log's path."""


def binary():
    """The criu program's path; NotInstalled when there is none."""
    path = shutil.which("criu") or next(
        (p for p in ("/usr/sbin/criu", "/sbin/criu") if os.access(p, os.X_OK)), None)
    if path is None:
        raise NotInstalled("criu not found: install Debian's criu package to checkpoint "
                           "containers")
    return path


def version():
    """criu's version, e.g. "3.17.1" (the image format a restore must match)."""
    try:
        result = subprocess.run([binary(), "--version"], capture_output=True, text=True,
                                check=False, timeout=QUICK_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise CriuError(f"criu --version did not answer within {QUICK_TIMEOUT:.0f}s") from None
    for line in result.stdout.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    raise CriuError(f"criu --version printed no version: {result.stdout.strip()!r}")


def check():
    """None when `criu check` says checkpoints work on this kernel, else why not."""
    try:
        program = binary()
    except NotInstalled as exc:
        return str(exc)
    try:
        result = subprocess.run([program, "check"], capture_output=True, text=True,
                                check=False, timeout=QUICK_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"criu check did not finish within {QUICK_TIMEOUT:.0f}s"
    if result.returncode == 0:
        return None
    return "criu check: " + (_first_error(result.stdout + result.stderr)
                             or f"exited with status {result.returncode}")


def run(action, args, log, pass_fds=(), timeout=None, preexec=None):
    """Run `criu ACTION ARGS...` with its log at `log`; CriuError when it fails or
    takes more than `timeout` seconds (it is killed then). `preexec`: called in
    criu's process before it starts."""
    argv = [binary(), action, *COMMON, "--log-file", log, *args]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False,
                                pass_fds=pass_fds, timeout=timeout, preexec_fn=preexec)
    except subprocess.TimeoutExpired:
        raise CriuError(f"criu {action} did not finish within {timeout:.0f}s: killed "
                        f"(log: {log})") from None
    if result.returncode != 0:
        raise CriuError(f"criu {action} failed (exit {result.returncode}): "
                        f"{failure(log) or result.stderr.strip()[-300:]} (log: {log})")


def failure(log):
    """The first error criu wrote to `log`, or ''."""
    try:
        with open(log, encoding="utf-8", errors="replace") as handle:
            return _first_error(handle.read())
    except OSError:
        return ""


def _first_error(text):
    for line in text.splitlines():
        if "Error" in line:
            return line.split("Error", 1)[1].lstrip(" :").split("): ", 1)[-1].strip()
    return ""
