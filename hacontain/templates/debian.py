"""The debian templates: Debian bookworm made with debootstrap, cached.

`debian`: the init is sysvinit (no systemd: no cgroup delegation needed),
set up to shut down on SIGPWR: its inittab runs `init 0` on a power failure,
and an inittab entry writes /var/log/shutdown-marker on the way down.
`debian-systemd`: systemd as init (systemd-sysv, dbus), halting on
SIGRTMIN+3, with `cgroup:mixed proc:mixed sys:mixed` as LXC gives such
guests; a unit writes the same marker when it is stopped on the way down.
The first debootstrap run (about a minute) is cached as a tarball under
/var/cache/hacontain; later containers unpack it in seconds. Progress (each
debootstrap phase, the cache, the unpacking) goes to stderr.
"""

import os
import shutil
import subprocess
import sys
import time

from hacontain.errors import CommandError, NotInstalled

SUITE = "bookworm"
MIRROR = os.environ.get("HACONTAIN_DEBIAN_MIRROR", "http://deb.debian.org/debian")
CACHE = os.environ.get("HACONTAIN_CACHE", "/var/cache/hacontain")
PACKAGES = {"sysvinit": ("sysvinit-core", "ifupdown", "iproute2", "iputils-ping", "procps",
                         "netbase"),
            "systemd": ("systemd-sysv", "dbus", "iproute2", "procps")}
RECIPE_VERSION = {"sysvinit": "2", "systemd": "1"}

_MARKER_SCRIPT = """#!/bin/sh
### BEGIN INIT INFO
# Provides:          hacontain-marker
# Short-Description: leave a clean-shutdown marker for the host (run from inittab)
### END INIT INFO
[ "$1" = stop ] && echo "shutdown $(date +%s)" > /var/log/shutdown-marker && sync
exit 0
"""

_MARKER_UNIT = """[Unit]
Description=hacontain: leave a clean-shutdown marker for the host when stopped
DefaultDependencies=no
After=local-fs.target
Conflicts=shutdown.target
Before=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
ExecStop=/bin/sh -c 'echo "shutdown $(date +%%s)" > /var/log/shutdown-marker && sync'

[Install]
WantedBy=sysinit.target
"""


def build_rootfs(rootfs, hostname, init="sysvinit"):
    """Unpack the cached Debian tree with `init` (sysvinit or systemd) into `rootfs`
    (building the cache first if needed)."""
    tarball = cached_tarball(init)
    os.makedirs(rootfs, exist_ok=True)
    progress(f"unpacking {tarball} into {rootfs}")
    _run(["tar", "-C", rootfs, "--numeric-owner", "-xpf", tarball])
    with open(os.path.join(rootfs, "etc/hostname"), "w", encoding="utf-8") as handle:
        handle.write(hostname + "\n")


def config_lines(init="sysvinit"):
    """Config lines this template adds."""
    if init == "systemd":
        return ["lxc.init.cmd = /sbin/init", "lxc.signal.halt = SIGRTMIN+3", "lxc.tty.max = 0",
                "lxc.mount.auto = cgroup:mixed proc:mixed sys:mixed"]
    return ["lxc.init.cmd = /sbin/init", "lxc.signal.halt = SIGPWR", "lxc.tty.max = 0"]


def cached_tarball(init="sysvinit"):
    """The cached tarball of the rootfs with `init`, built first when missing."""
    suffix = "" if init == "sysvinit" else f"-{init}"
    tarball = os.path.join(CACHE, f"debian-{SUITE}{suffix}-{RECIPE_VERSION[init]}.tar")
    if os.path.exists(tarball):
        return tarball
    if shutil.which("debootstrap") is None:
        raise NotInstalled("debootstrap not found: install Debian's debootstrap package")
    os.makedirs(CACHE, exist_ok=True)
    work = f"{tarball}.build-{os.getpid()}"
    progress(f"no cached Debian {SUITE} ({init}) in {CACHE}: building it with debootstrap "
             f"from {MIRROR} (about a minute; $HACONTAIN_DEBIAN_MIRROR sets the mirror)")
    began = time.monotonic()
    try:
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES[init])}",
              SUITE, work, MIRROR], _debootstrap_phase())
        (_configure_systemd if init == "systemd" else _configure)(work)
        _drop_apt_downloads(work)
        progress(f"writing the cache {tarball}")
        _run(["tar", "-C", work, "--numeric-owner", "-cpf", f"{tarball}.tmp", "."])
        os.rename(f"{tarball}.tmp", tarball)
        progress(f"cached in {time.monotonic() - began:.0f} s; later containers unpack it")
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


def _configure_systemd(root):
    """systemd as a container init: the marker unit enabled, no hardware-only units
    (nothing udev-driven is installed by minbase), an empty machine-id made at boot."""
    unit = os.path.join(root, "etc/systemd/system/hacontain-marker.service")
    with open(unit, "w", encoding="utf-8") as handle:
        handle.write(_MARKER_UNIT)
    wants = os.path.join(root, "etc/systemd/system/sysinit.target.wants")
    os.makedirs(wants, exist_ok=True)
    os.symlink("/etc/systemd/system/hacontain-marker.service",
               os.path.join(wants, "hacontain-marker.service"))
    with open(os.path.join(root, "etc/machine-id"), "w", encoding="utf-8"):
        pass                                  # systemd fills it in at boot (a fresh id each container)


def _drop_apt_downloads(root):
    for folder in ("var/cache/apt/archives", "var/lib/apt/lists"):
        path = os.path.join(root, folder)
        for name in os.listdir(path):
            if name.endswith((".deb", "_Packages", "_Release", "_InRelease")):
                os.unlink(os.path.join(path, name))


def progress(message):
    """One line of progress on stderr."""
    sys.stderr.write(f"hacontain: {message}\n")
    sys.stderr.flush()


def _debootstrap_phase():
    """A reader of debootstrap's output lines that reports each new phase: the first
    line of each run of one verb ("I: Retrieving ...", "I: Extracting ...")."""
    seen = {"verb": None}

    def read(line):
        if not line.startswith("I: "):
            return
        verb = line[3:].split(" ", 1)[0]
        if verb != seen["verb"]:
            seen["verb"] = verb
            progress(f"debootstrap: {line[3:].strip()}")
    return read


def _run(argv, each_line=None):
    """Run `argv`; CommandError with its output when it fails. `each_line`: called with
    each line of its output as it comes."""
    if each_line is None:
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        output, code = result.stderr or result.stdout, result.returncode
    else:
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) as child:
            lines = []
            for line in child.stdout:
                lines.append(line)
                each_line(line)
            output, code = "".join(lines[-40:]), child.wait()
    if code != 0:
        raise CommandError(argv, code, output)
