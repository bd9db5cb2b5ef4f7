"""The debian template: Debian bookworm made with debootstrap, cached.

The init is sysvinit (no systemd: no cgroup delegation needed), set up to
shut down on SIGPWR: its inittab runs `init 0` on a power failure, and an
inittab entry writes /var/log/shutdown-marker on the way down. The first
debootstrap run (about a minute) is cached as a tarball under
/var/cache/hacontain; later containers unpack it in seconds.
"""

import os
import shutil
import subprocess

from hacontain.errors import CommandError, NotInstalled

SUITE = "bookworm"
MIRROR = os.environ.get("HACONTAIN_DEBIAN_MIRROR", "http://deb.debian.org/debian")
CACHE = os.environ.get("HACONTAIN_CACHE", "/var/cache/hacontain")
PACKAGES = ("sysvinit-core", "ifupdown", "iproute2", "iputils-ping", "procps", "netbase")
RECIPE_VERSION = "2"

_MARKER_SCRIPT = """#!/bin/sh
### BEGIN INIT INFO
# Provides:          hacontain-marker
# Short-Description: leave a clean-shutdown marker for the host (run from inittab)
### END INIT INFO
[ "$1" = stop ] && echo "shutdown $(date +%s)" > /var/log/shutdown-marker && sync
exit 0
"""


def build_rootfs(rootfs, hostname):
    """Unpack the cached Debian tree into `rootfs` (building the cache first if needed)."""
    tarball = _cached_tarball()
    os.makedirs(rootfs, exist_ok=True)
    _run(["tar", "-C", rootfs, "--numeric-owner", "-xpf", tarball])
    with open(os.path.join(rootfs, "etc/hostname"), "w", encoding="utf-8") as handle:
        handle.write(hostname + "\n")


def config_lines():
    """Config lines this template adds."""
    return ["lxc.init.cmd = /sbin/init", "lxc.signal.halt = SIGPWR", "lxc.tty.max = 0"]


def _cached_tarball():
    tarball = os.path.join(CACHE, f"debian-{SUITE}-{RECIPE_VERSION}.tar")
    if os.path.exists(tarball):
        return tarball
    if shutil.which("debootstrap") is None:
        raise NotInstalled("debootstrap not found: install Debian's debootstrap package")
    os.makedirs(CACHE, exist_ok=True)
    work = f"{tarball}.build-{os.getpid()}"
    try:
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
              SUITE, work, MIRROR])
        _configure(work)
        _run(["tar", "-C", work, "--numeric-owner", "-cpf", f"{tarball}.tmp", "."])
        os.rename(f"{tarball}.tmp", tarball)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if os.path.exists(f"{tarball}.tmp"):
            os.unlink(f"{tarball}.tmp")
    return tarball


def _configure(root):
    """Make sysvinit a container init: no gettys, power failure halts, marker on halt."""
    inittab = os.path.join(root, "etc/inittab")
    with open(inittab, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    kept = []
    for line in lines:
        if line.split(":", 1)[0].isdigit() or line.startswith(("pf:", "pn:", "po:")):
            continue
        if line.startswith("l0:"):
            # Before rc 0, which ends in halt: entries after it never run.
            kept.append("hm:06:wait:/etc/init.d/hacontain-marker stop")
        kept.append(line)
    kept += ["# hacontain: SIGPWR (power failure) halts the container",
             "p0::powerfail:/sbin/init 0", "pn::powerfailnow:/sbin/init 0"]
    with open(inittab, "w", encoding="utf-8") as handle:
        handle.write("\n".join(kept) + "\n")
    script = os.path.join(root, "etc/init.d/hacontain-marker")
    with open(script, "w", encoding="utf-8") as handle:
        handle.write(_MARKER_SCRIPT)
    os.chmod(script, 0o755)
    for folder in ("var/cache/apt/archives", "var/lib/apt/lists"):
        path = os.path.join(root, folder)
        for name in os.listdir(path):
            if name.endswith((".deb", "_Packages", "_Release", "_InRelease")):
                os.unlink(os.path.join(path, name))


def _run(argv):
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CommandError(argv, result.returncode, result.stderr or result.stdout)
