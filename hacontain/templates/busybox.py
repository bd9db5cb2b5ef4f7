"""The busybox template: a rootfs from Debian's busybox-static.

Its init is busybox init with an inittab whose shutdown path writes
/var/log/shutdown-marker, so a clean stop is observable from the host.
Busybox init halts on SIGPWR (also SIGUSR1) and reboots on SIGTERM.
"""

import os
import shutil
import subprocess

from hacontain.errors import CommandError, NotInstalled

BUSYBOX = "/bin/busybox"
SHUTDOWN_MARKER = "/var/log/shutdown-marker"

_FILES = {
    "etc/inittab": (
        "::sysinit:/etc/init.d/rcS\n"
        "::shutdown:/etc/init.d/rcK\n", 0o644),
    "etc/init.d/rcS": (
        "#!/bin/sh\n"
        "# Boot: record the boot, bring up what the container's network config gave.\n"
        "mkdir -p /var/log /run /tmp\n"
        "echo \"booted $(date +%s)\" >> /var/log/boot.log\n"
        "rm -f " + SHUTDOWN_MARKER + "\n", 0o755),
    "etc/init.d/rcK": (
        "#!/bin/sh\n"
        "# Clean shutdown: leave a marker the host can check, flush it.\n"
        "echo \"shutdown $(date +%s)\" > " + SHUTDOWN_MARKER + "\n"
        "sync\n", 0o755),
    "etc/passwd": ("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", 0o644),
    "etc/group": ("root:x:0:\ntty:x:5:\nnogroup:x:65534:\n", 0o644),
    "etc/shells": ("/bin/sh\n", 0o644),
    "etc/hosts": ("127.0.0.1 localhost\n", 0o644),
}
_DIRS = ("bin", "sbin", "usr/bin", "usr/sbin", "etc/init.d", "dev", "proc", "sys", "tmp",
         "root", "home", "mnt", "run", "var/log", "var/run", "lib")


def build_rootfs(rootfs, hostname):
    """Populate `rootfs` with busybox, its applet links and the init scripts."""
    if not os.path.exists(BUSYBOX):
        raise NotInstalled(f"{BUSYBOX} not found: install Debian's busybox-static")
    for folder in _DIRS:
        os.makedirs(os.path.join(rootfs, folder), exist_ok=True)
    os.chmod(os.path.join(rootfs, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(rootfs, "bin/busybox"))
    for applet in _applets():
        link = os.path.join(rootfs, applet)
        if not os.path.lexists(link):
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink("/bin/busybox", link)
    for relative, (text, mode) in _FILES.items():
        path = os.path.join(rootfs, relative)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(path, mode)
    with open(os.path.join(rootfs, "etc/hostname"), "w", encoding="utf-8") as handle:
        handle.write(hostname + "\n")


def config_lines():
    """Config lines this template adds."""
    return ["lxc.init.cmd = /sbin/init", "lxc.signal.halt = SIGPWR"]


def _applets():
    result = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CommandError([BUSYBOX, "--list-full"], result.returncode, result.stderr)
    return [line.strip() for line in result.stdout.splitlines()
            if line.strip() and not line.startswith("bin/busybox")]
