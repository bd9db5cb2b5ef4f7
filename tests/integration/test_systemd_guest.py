"""systemd guests: the debian-systemd template (Debian bookworm, systemd as init) boots to
running with `cgroup:mixed proc:mixed sys:mixed`, halts on SIGRTMIN+3 without being
killed, and makes no cgroup outside the container's own on any host hierarchy.

Runs here (cgroup v1 + name=systemd + an empty cgroup2: systemd's hybrid mode) and in
the VM tier (pure cgroup v2, nsdelegate), where the template's rootfs tarball comes
from the host through the shared checkout (testbed/vm/selection.GUEST_CACHE).
"""

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from clitools import hacontain, unique_name
from testbed.vm.selection import GUEST_CACHE

pytestmark = pytest.mark.root
CHECKOUT = Path(__file__).resolve().parents[2]

# What systemd names its cgroups: init.scope, system.slice, foo.service, ...
UNIT_CGROUP = re.compile(r"\.(scope|slice|service|socket|mount|swap|target|device|automount|"
                         r"path|timer)$")


def cgroup_dirs():
    """Every cgroup directory of every hierarchy mounted under /sys/fs/cgroup."""
    return {os.path.join(current, d) for current, dirs, _ in os.walk("/sys/fs/cgroup")
            for d in dirs}


def own_dirs(record):
    """The container's cgroup directory on each hierarchy, from its state."""
    return [os.path.join("/sys/fs/cgroup", key, where["cgroup"].lstrip("/"))
            for key, where in record.cgroup["hierarchies"].items()]


def below(path, tops):
    return any(path == top or path.startswith(top + "/") for top in tops)


def systemd_made_outside(new, own):
    """New directories named like systemd's cgroups that are not below `own` (another
    test's container running a systemd guest at the same time is below its own
    directory under a `hacontain` parent, which is not systemd-named)."""
    return sorted(path for path in new if not below(path, own)
                  and any(UNIT_CGROUP.search(part) for part in _outside_containers(path)))


def _outside_containers(path):
    """The parts of `path` not inside some container's directory (hacontain/NAME/...)."""
    parts = path.split("/")
    if "hacontain" in parts:
        index = parts.index("hacontain")
        return parts[:index + 1]              # below hacontain/NAME: another container's own
    return parts


def attach(name, lxcpath, *argv, timeout=180):
    return hacontain("attach", name, "-P", str(lxcpath), "--", *argv, timeout=timeout,
                     check=False)


def tracking_dir(own):
    """The root of the container's cgroup namespace on the hierarchy systemd tracks its
    units on: on a v1 or hybrid host the guest's cgroup below the container's on
    name=systemd, on a pure v2 host the container's cgroup."""
    v1 = next((d for d in own if d.startswith("/sys/fs/cgroup/systemd/")), None)
    if v1 is not None:
        return os.path.join(v1, "guest")
    return next(d for d in own if not d.startswith("/sys/fs/cgroup/unified/"))


def boot_state(name, lxcpath, timeout=180):
    """`systemctl is-system-running --wait` inside, asked again while systemd is not up
    enough to answer (no socket yet, or "offline": the init has only just exec'd);
    its CompletedProcess."""
    deadline = time.monotonic() + timeout
    while True:
        state = attach(name, lxcpath, "systemctl", "is-system-running", "--wait")
        if state.stdout.strip() not in ("", "offline") or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


@pytest.fixture
def lxcpath(lxcpath, monkeypatch):
    """The test's LXCPATH; in the VM on its disk (its /tmp, a small tmpfs, is shared by
    the whole guest run) and the template's tarball from the host (no network there)."""
    if os.environ.get("HACONTAIN_VM_GUEST") != "1":
        yield lxcpath
        return
    monkeypatch.setenv("HACONTAIN_CACHE", str(CHECKOUT / GUEST_CACHE))
    on_disk = Path(tempfile.mkdtemp(prefix="hacontain-systemd-", dir="/var/tmp"))
    monkeypatch.setenv("HACONTAIN_LXCPATH", str(on_disk))
    yield on_disk
    shutil.rmtree(on_disk)


@pytest.fixture
def systemd_guest(lxcpath, rundir):
    """A container from the debian-systemd template (the first build takes minutes)."""
    name = unique_name("sd")
    hacontain("create", name, "-t", "debian-systemd", "-P", str(lxcpath), timeout=1200)
    yield name
    hacontain("stop", name, "-P", str(lxcpath), "-k", check=False)
    hacontain("destroy", name, "-P", str(lxcpath), check=False)


def test_systemd_guest_boots_halts_and_stays_in_its_cgroup(systemd_guest, lxcpath):
    from hacontain.runtime.container import Container
    name = systemd_guest
    rootfs = lxcpath / name / "rootfs"
    before = cgroup_dirs()
    hacontain("start", name, "-P", str(lxcpath))
    record = Container(name, str(lxcpath)).status().state
    own = own_dirs(record)

    state = boot_state(name, lxcpath)
    failed = attach(name, lxcpath, "systemctl", "--failed", "--no-legend", "--plain").stdout
    console = Path(record.console_log).read_text(errors="replace")[-3000:]
    assert state.stdout.strip() in ("running", "degraded"), (state, failed, console)
    assert state.stdout.strip() == "running", f"degraded; failed units:\n{failed}"
    inside = attach(name, lxcpath, "cat", "/proc/1/cgroup").stdout
    tracking = "name=systemd" if os.path.isdir("/sys/fs/cgroup/systemd") else "0:"
    assert f"{tracking}:/init.scope" in inside, inside   # its own hierarchy, its own root

    # systemd made its units' cgroups below the container's own on the host ...
    for directory in (tracking_dir(own), *[d for d in own if "/unified/" in d]):
        assert os.path.isdir(os.path.join(directory, "init.scope")), directory
        assert os.path.isdir(os.path.join(directory, "system.slice")), directory
    # ... and on pure v2 enabled controllers for them (the delegated cgroup.subtree_control)
    if not os.path.isdir("/sys/fs/cgroup/systemd"):
        control = Path(tracking_dir(own), "cgroup.subtree_control")
        assert "pids" in control.read_text().split(), control.read_text()
        assert attach(name, lxcpath, "true").returncode == 0   # attach joins a leaf then
    # ... and nothing anywhere else
    booted = cgroup_dirs()
    assert systemd_made_outside(booted - before, own) == []

    stopped = hacontain("stop", name, "-P", str(lxcpath), "-t", "30")
    assert "killed" not in stopped.stderr, stopped.stderr
    assert (rootfs / "var/log/shutdown-marker").read_text().startswith("shutdown ")
    after = cgroup_dirs()
    assert [d for d in after if below(d, own)] == [], "the container's cgroups outlived it"
    assert systemd_made_outside(after - before, []) == []


def test_systemd_init_without_a_cgroup_mount_is_refused(systemd_guest, lxcpath):
    config = lxcpath / systemd_guest / "config"
    lines = config.read_text().splitlines()
    kept = [line for line in lines if not line.startswith("lxc.mount.auto")]
    config.write_text("\n".join(kept + ["lxc.mount.auto = proc:mixed sys:mixed"]) + "\n")
    refused = hacontain("start", systemd_guest, "-P", str(lxcpath), check=False)
    assert refused.returncode == 1
    assert f"{config}:{len(kept) + 1}: lxc.mount.auto: the init /sbin/init is systemd" \
        in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr

    config.write_text("\n".join(kept) + "\n")
    refused = hacontain("start", systemd_guest, "-P", str(lxcpath), check=False)
    assert refused.returncode == 1 and f"{config}: lxc.mount.auto:" in refused.stderr
    assert "STOPPED" in hacontain("info", systemd_guest, "-P", str(lxcpath)).stdout
