"""Containment probes, run from inside real busybox containers.

Each probe is a command attached into a running container. It runs twice:
with the protection on (it must fail, as stated) and with the protection
switched off by the LXC key that controls it (it must succeed) - so a pass
proves the protection, not that the probe is broken.

Every probe must be harmless to this machine when it succeeds, because with
the protection off it does. The rule for each is written next to it; the
system-call probes are in probes/hcprobe.c with their own rules. The suite
also runs in the VM tier (testbed/vm/selection.py).
"""

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from hacontain.runtime.cgroups.devices import DEFAULT_ALLOW
from clitools import HACONTAIN, PREBUILT_PROBE, build_probe, hacontain, prebuilt_probe_is_fresh
from ptytools import Terminal

pytestmark = pytest.mark.root

SECCOMP_OFF = "lxc.seccomp.profile ="
CAPS_OFF = "lxc.cap.drop ="


@pytest.fixture(scope="module")
def probe_binary(tmp_path_factory):
    """hcprobe.c compiled static; where there is no gcc (the VM image), a binary built
    next to its source on the host (`gcc -static -O2 -o tests/integration/probes/hcprobe
    tests/integration/probes/hcprobe.c`, ignored by git) if it is newer than the source."""
    if shutil.which("gcc") is None:
        if prebuilt_probe_is_fresh():
            return PREBUILT_PROBE
        pytest.skip("no gcc to build the system-call probe, and no prebuilt "
                    "tests/integration/probes/hcprobe newer than its source")
    binary = tmp_path_factory.mktemp("probe") / "hcprobe"
    build_probe(binary)
    return str(binary)


@pytest.fixture
def running(make_container):
    """Factory: a started busybox container with `extra` config lines."""
    def start(*extra, name=None):
        container = make_container(extra, name=name)
        container.start()
        return container
    return start


def probe(container, script):
    """Run `script` with sh inside the container: (exit code, stdout + stderr)."""
    result = hacontain("attach", container.name, "-P", container.lxcpath, "--",
                       "/bin/sh", "-c", script, check=False)
    return result.returncode, result.stdout + result.stderr


def install_probe(container, binary):
    """Copy hcprobe into the running container's rootfs as /bin/hcprobe."""
    rootfs = container.load_config().rootfs or os.path.join(container.directory, "rootfs")
    target = os.path.join(rootfs, "bin", "hcprobe")
    if not os.path.exists(target):
        shutil.copy(binary, target)


def syscall_probe(container, name, binary):
    """hcprobe's answer for the named system call: "ok" or "errno=NAME (N)"."""
    install_probe(container, binary)
    code, output = probe(container, f"/bin/hcprobe {name}")
    assert code in (0, 1), output
    return output.strip()


def kernel_has(config_path):
    """Whether the host kernel has a feature, by a file only it creates."""
    return os.path.exists(config_path)


# -- /proc ----------------------------------------------------------------------

# Safety: only ever `h` (print the sysrq help to the kernel log): never b, c, o or any action.
SYSRQ_PROBE = "echo h > /proc/sysrq-trigger"


@pytest.mark.skipif(not os.path.exists("/proc/sysrq-trigger"),
                    reason="this kernel has no /proc/sysrq-trigger (CONFIG_MAGIC_SYSRQ off); "
                           "the probe runs in the VM tier")
def test_sysrq_trigger_is_read_only_unless_proc_rw(running):
    code, output = probe(running(), SYSRQ_PROBE)
    assert code != 0 and "Read-only file system" in output
    code, output = probe(running("lxc.mount.auto = proc:rw"), SYSRQ_PROBE)
    assert code == 0, output


# Safety: writes back the value the file already holds (a global, not namespaced, setting).
SYSCTL = "/proc/sys/kernel/printk_ratelimit"
SYSCTL_PROBE = f"v=$(cat {SYSCTL}) && echo \"$v\" > {SYSCTL}"


def test_proc_sys_is_read_only_unless_proc_rw(running):
    with open(SYSCTL, encoding="ascii") as handle:
        before = handle.read()
    code, output = probe(running(), SYSCTL_PROBE)
    assert code != 0 and "Read-only file system" in output
    code, output = probe(running("lxc.mount.auto = proc:rw"), SYSCTL_PROBE)
    assert code == 0, output
    with open(SYSCTL, encoding="ascii") as handle:
        assert handle.read() == before


def test_proc_masks_hide_kernel_state_unless_proc_rw(running):
    script = "cat /proc/timer_list | wc -c; ls /proc/acpi | wc -l"
    code, output = probe(running(), script)
    assert code == 0 and output.split() == ["0", "0"], output
    code, output = probe(running("lxc.mount.auto = proc:rw"), script)
    assert code == 0 and int(output.split()[0]) > 0, output


# -- /sys -------------------------------------------------------------------------

# Safety: remounts the container's own mount of its own sysfs (its network namespace's)
# read-write, then back read-only (a bind remount: the seccomp filter refuses the other).
REMOUNT_PROBE = "mount -o remount,bind,rw /sys && mount -o remount,bind,ro /sys"
# Safety: the same, of the superblock of the container's own sysfs (its network namespace's).
SUPERBLOCK_REMOUNT_PROBE = "mount -o remount,rw /sys && mount -o remount,ro /sys"


def test_sys_is_read_only_and_remounting_it_needs_sys_admin(running):
    """sys:ro makes /sys read-only; only dropping sys_admin (or a user namespace)
    stops root in the container from remounting it: sys_admin is kept by default,
    as LXC keeps it, because systemd needs it."""
    protected = running("lxc.cap.drop = sys_admin")
    code, output = probe(protected, "touch /sys/probe")
    assert code != 0 and "Read-only file system" in output
    code, output = probe(protected, REMOUNT_PROBE)
    assert code != 0 and "permission denied (are you root?)" in output   # busybox's EPERM
    code, output = probe(running(), REMOUNT_PROBE)
    assert code == 0, output


def test_sys_firmware_masked_unless_sys_rw(running):
    script = "ls /sys/firmware | wc -l"
    code, output = probe(running(), script)
    assert code == 0 and output.strip() == "0", output
    code, output = probe(running("lxc.mount.auto = sys:rw"), script)
    assert code == 0 and int(output.strip()) > 0, output


# -- system calls: seccomp and capabilities -------------------------------------------

def _module_error():
    """What the kernel says to the invalid module once past its permission check."""
    return "errno=EINVAL (22)" if kernel_has("/proc/modules") else "errno=ENOSYS (38)"


def _kexec_error():
    return "errno=EINVAL (22)" if kernel_has("/sys/kernel/kexec_loaded") else "errno=ENOSYS (38)"


@pytest.mark.parametrize("call, expected_off", [
    ("finit_module", _module_error()),
    ("kexec_load", _kexec_error()),
    ("umount_force", "errno=ENOENT (2)"),
    ("fspick", "ok"),
], ids=["module", "kexec", "force-umount", "fspick"])
def test_seccomp_default_profile_refuses_before_the_kernel(running, probe_binary, call, expected_off):
    """On: the default profile answers (EPERM; EACCES for a forced umount, as LXC).
    Off (`lxc.seccomp.profile =` and no capability drops): the call reaches the
    kernel, which rejects the invalid arguments after its permission check
    (ENOSYS where this kernel lacks the feature)."""
    on = syscall_probe(running(CAPS_OFF), call, probe_binary)
    assert on == ("errno=EACCES (13)" if call == "umount_force" else "errno=EPERM (1)")
    assert syscall_probe(running(CAPS_OFF, SECCOMP_OFF), call, probe_binary) == expected_off


@pytest.fixture
def own_tmpfs(tmp_path):
    """A tmpfs this test mounts and unmounts: the only filesystem a remount probe
    may make read-only when the protection is off."""
    mountpoint = tmp_path / "fs"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "hacontain-test", str(mountpoint)],
                   check=True)
    yield mountpoint
    subprocess.run(["umount", str(mountpoint)], check=True)


def _read_only(path):
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def test_a_container_cannot_make_the_filesystem_under_its_rootfs_read_only(running, own_tmpfs):
    """`mount -o remount,ro /` (a Debian guest's shutdown does it) reconfigures the
    filesystem the rootfs directory is on, for the host too; refused by the seccomp
    program whatever the profile. A bind remount, of the container's mount only, works.
    Off (no seccomp filter) the probe makes only this test's tmpfs read-only."""
    def on_tmpfs(*extra):
        first = running(*extra)
        rootfs = own_tmpfs / first.name
        subprocess.run(["cp", "-a", os.path.join(first.directory, "rootfs"), str(rootfs)],
                       check=True)
        first.stop(timeout=0, kill=True)
        with open(os.path.join(first.directory, "config"), "a", encoding="utf-8") as handle:
            handle.write(f"lxc.rootfs.path = dir:{rootfs}\n")
        first.start()
        return first

    protected = on_tmpfs()
    code, output = probe(protected, "mount -o remount,ro /")
    assert code != 0 and "permission denied" in output, output
    assert not _read_only(own_tmpfs)
    code, output = probe(protected, "mount -o remount,bind,ro / && ! touch /probe")
    assert code == 0, output
    assert not _read_only(own_tmpfs)
    protected.stop(timeout=0, kill=True)

    unprotected = on_tmpfs(SECCOMP_OFF)
    code, output = probe(unprotected, "mount -o remount,ro /")
    assert code == 0, output
    assert _read_only(own_tmpfs), "the container reconfigured the host's filesystem"
    unprotected.stop(timeout=0, kill=True)


@pytest.mark.skipif(not kernel_has("/proc/modules"), reason="this kernel has no module support: "
                    "finit_module answers ENOSYS before the capability check (VM tier)")
def test_sys_module_dropped_refuses_modules_without_seccomp(running, probe_binary):
    assert syscall_probe(running(SECCOMP_OFF), "finit_module", probe_binary) == "errno=EPERM (1)"
    assert syscall_probe(running(SECCOMP_OFF, CAPS_OFF), "finit_module", probe_binary) == _module_error()


def test_clock_cannot_be_set_unless_sys_time_kept(running, probe_binary):
    # Safety: hcprobe settime sets the clock to the time it just read.
    assert syscall_probe(running(), "settime", probe_binary) == "errno=EPERM (1)"
    assert syscall_probe(running(CAPS_OFF), "settime", probe_binary) == "ok"


def test_cap_keep_none_leaves_no_capability(running):
    container = running("lxc.cap.keep = none")
    code, output = probe(container, "grep -E '^Cap(Bnd|Eff)' /proc/self/status")
    assert code == 0 and output.split() == ["CapEff:", "0" * 16, "CapBnd:", "0" * 16], output
    code, output = probe(container, "mknod /dev/probe-null c 1 3")
    assert code != 0 and "Operation not permitted" in output


def test_init_and_attached_processes_get_the_same_bounding_set(running):
    container = running("lxc.cap.drop = net_raw")
    code, output = probe(container, "grep CapBnd /proc/1/status /proc/self/status")
    masks = {line.split()[-1] for line in output.splitlines()}
    assert code == 0 and len(masks) == 1, output
    bounding = int(masks.pop(), 16)
    for cap in (13, 16, 17, 25, 32, 33):     # net_raw and the defaults
        assert not bounding >> cap & 1
    assert bounding >> 21 & 1                # sys_admin kept


def test_no_new_privs(running):
    code, output = probe(running("lxc.no_new_privs = 1"), "grep NoNewPrivs /proc/self/status")
    assert code == 0 and output.split() == ["NoNewPrivs:", "1"], output


# -- devices: the cgroup allow-list ---------------------------------------------------

def allow_device(major, minor):
    """Config lines: the default allow-list plus read and mknod of one block device
    (configured device rules replace the default list)."""
    return [f"lxc.cgroup.devices.allow = {rule}" for rule in DEFAULT_ALLOW] + \
        [f"lxc.cgroup.devices.allow = b {major}:{minor} rm"]


def _host_disk():
    """(major, minor) of the block device holding this machine's root file system."""
    device = os.stat("/").st_dev
    numbers = (os.major(device), os.minor(device))
    if not os.path.exists("/sys/dev/block/{}:{}".format(*numbers)):
        pytest.skip("the root file system is not on a block device here")
    return numbers


def test_host_disk_node_cannot_be_made_unless_allowed(running):
    """mknod of a device outside the allow-list fails, even with CAP_MKNOD: the
    device cgroup checks mknod as well as open."""
    major, minor = _host_disk()
    script = f"mknod /dev/probe-disk b {major} {minor} && rm /dev/probe-disk"
    code, output = probe(running(CAPS_OFF), script)
    assert code != 0 and "Operation not permitted" in output, output
    code, output = probe(running(*allow_device(major, minor)), script)
    assert code == 0, output


def _host_can_read(major, minor):
    """Whether this machine itself lets root open its disk (a sandboxed host may not)."""
    with open(f"/sys/dev/block/{major}:{minor}/uevent", encoding="ascii") as handle:
        name = dict(line.strip().split("=", 1) for line in handle if "=" in line)["DEVNAME"]
    try:
        os.close(os.open(f"/dev/{name}", os.O_RDONLY))
    except PermissionError:
        return False
    return True


def test_host_disk_cannot_be_read_unless_allowed(running):
    major, minor = _host_disk()
    if not _host_can_read(major, minor):
        pytest.skip("this machine refuses root on the host itself to open its disk; "
                    "the read probe runs in the VM tier")
    # Safety: the node is opened read-only (dd's input) and one byte is read.
    script = (f"mknod /dev/probe-disk b {major} {minor}; "
              "dd if=/dev/probe-disk bs=1 count=1 2>/dev/null | wc -c")
    code, output = probe(running(CAPS_OFF), script)
    assert "Operation not permitted" in output and "1" not in output.split(), output
    code, output = probe(running(*allow_device(major, minor)), script)
    assert code == 0 and output.split() == ["1"], output


@pytest.fixture
def readonly_disk(tmp_path):
    """A read-only loop device over a small ext4 image holding /marker: the disk to mount.

    Stands in for the host's disk: that one is mounted read-write here, and the
    kernel refuses a second, read-only mount of it (EBUSY) even when allowed.
    """
    content = tmp_path / "content"
    content.mkdir()
    (content / "marker").write_text("X")
    image = tmp_path / "disk.img"
    subprocess.run(["mkfs.ext4", "-q", "-d", str(content), str(image), "4M"], check=True)
    if os.environ.get("HACONTAIN_VM_GUEST") == "1" and not os.path.exists("/dev/loop-control"):
        subprocess.run(["modprobe", "loop"], check=True)   # the VM has no udev to load it
    device = subprocess.run(["losetup", "--find", "--show", "--read-only", str(image)],
                            check=True, capture_output=True, text=True).stdout.strip()
    yield device
    subprocess.run(["losetup", "--detach", device], check=True)


def test_disk_cannot_be_mounted_unless_allowed(running, readonly_disk):
    number = os.stat(readonly_disk).st_rdev
    major, minor = os.major(number), os.minor(number)
    # Safety: a read-only loop device, mounted read-only without journal replay; one byte read.
    script = (f"mknod /dev/probe-disk b {major} {minor}; mkdir -p /mnt/probe && "
              "mount -t ext4 -o ro,noload /dev/probe-disk /mnt/probe && head -c 1 /mnt/probe/marker"
              " && umount /mnt/probe")
    code, output = probe(running(), script)
    assert code != 0 and "X" not in output, output
    code, output = probe(running(*allow_device(major, minor)), script)
    assert code == 0 and output == "X", output


# -- cgroups ------------------------------------------------------------------------

def _pids_view():
    """(directory of the pids controller in the container's view, /proc/self/cgroup prefix)."""
    if os.path.isdir("/sys/fs/cgroup/pids"):
        return "/sys/fs/cgroup/pids", ":pids:"
    return "/sys/fs/cgroup", "0::"


def _cgroup_dir(container, key):
    """The container's cgroup directory on the host, in hierarchy `key` (else the first)."""
    hierarchies = container.status().state.cgroup["hierarchies"]
    key = key if key in hierarchies else next(iter(hierarchies))
    return os.path.join("/sys/fs/cgroup", key) + hierarchies[key]["cgroup"]


def _pids_cgroup_dir(container):
    """The container's cgroup directory on the host, in the pids hierarchy."""
    return _cgroup_dir(container, "pids")


def _pids_on_v1():
    return _pids_view()[1] != "0::"


def _pids_namespace_root(container):
    """The root of the container's cgroup namespace on the host, in the pids hierarchy:
    on cgroup v1 the guest's cgroup below the one holding the limits."""
    own = _pids_cgroup_dir(container)
    return os.path.join(own, "guest") if _pids_on_v1() else own


def _v1_unbound_files(container):
    """The files of the guest's cgroup on v1 that carry the container's limits too
    (cgroups.v1.UNBOUND), as paths in its view: what cgroup:mixed keeps read-only there."""
    from hacontain.runtime.cgroups.v1 import UNBOUND
    hierarchies = container.status().state.cgroup["hierarchies"]
    found = []
    for key, place in sorted(hierarchies.items()):
        guest = os.path.join("/sys/fs/cgroup", key) + place["cgroup"] + "/guest"
        if os.path.isdir(guest):
            found += [f"{key}/{name}" for name in sorted(UNBOUND.intersection(os.listdir(guest)))]
    return found


def _nsdelegate():
    """Whether the host's cgroup2 is mounted with nsdelegate: then the kernel itself
    refuses writes to a cgroup namespace root's control files from inside."""
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        return any(" - cgroup2 " in line and "nsdelegate" in line.rsplit(" - ", 1)[1]
                   for line in handle)


# Safety: the only cgroup.procs written is the container's namespace root's, with the
# probe's own pid; pids.max gets back the value it holds.
def cgroup_probes():
    view, prefix = _pids_view()
    procs = f"cd {view} && echo $$ > cgroup.procs && grep '^[0-9]*{prefix}' /proc/self/cgroup"
    limit = f"cd {view} && v=$(cat pids.max) && echo \"$v\" > pids.max"
    return procs, limit


PIDS_LIMIT = 20
# Safety: raises only the pids.max of the container's namespace root, then starts at
# most 2 x PIDS_LIMIT sleeps in the container (a shell's fork failure ends the subshell;
# builtins only after it). The container is stopped after.
ESCAPE_PIDS_LIMIT = (
    f"cd {_pids_view()[0]} && echo max > pids.max && cat pids.max && "
    f"(n=0; while [ $n -lt {2 * PIDS_LIMIT} ]; do sleep 30 >/dev/null 2>&1 & "
    "n=$((n+1)); echo $n > /tmp/started; done) 2>/dev/null; "
    "read n < /tmp/started; echo started $n")


@pytest.mark.parametrize("mode", ["ro", "mixed"])
def test_cgroup_view_protects_the_containers_own_cgroup(running, mode):
    """cgroup:ro and cgroup:mixed: the container can neither change its limits nor
    leave its cgroup. With ro nothing can be written. With mixed on cgroup v2 its
    cgroup.procs and limits are read-only; on cgroup v1 its namespace root is the
    guest's cgroup, below the cgroup that holds its limits: it may write the guest's
    files, and the limits above still bind it; the files v1 does not apply to
    descendants (blkio throttling, net_cls, net_prio) stay read-only. cgroup:rw allows writing the root's
    cgroup.procs and limits (on cgroup2 with nsdelegate the kernel still refuses the
    limits). In every mode the view's root is the container's cgroup namespace root:
    no parent to escape to."""
    procs, limit = cgroup_probes()
    protected = running(f"lxc.mount.auto = cgroup:{mode}", f"hacontain.limit.pids = {PIDS_LIMIT}")
    if mode == "ro" or not _pids_on_v1():
        for script in (procs, limit):
            code, output = probe(protected, script)
            assert code != 0 and "Read-only file system" in output, output
    else:
        code, output = probe(protected, procs)
        assert code == 0 and output.strip().endswith(":/"), output
        code, output = probe(protected, ESCAPE_PIDS_LIMIT)
        assert code == 0 and output.startswith("max\n"), output     # the guest's own file
        started = int(output.rsplit("started ", 1)[1])
        assert started < PIDS_LIMIT, output                           # the limit above binds
        with open(os.path.join(_pids_cgroup_dir(protected), "pids.max")) as handle:
            assert handle.read().strip() == str(PIDS_LIMIT)
        unbound = _v1_unbound_files(protected)
        code, output = probe(protected, "cd /sys/fs/cgroup && for f in pids/pids.max "
                             + " ".join(f"'{name}'" for name in unbound) + "; do "
                             "if (: > \"$f\") 2>/dev/null; then echo \"open $f\"; "
                             "else echo \"refused $f\"; fi; done")
        assert code == 0 and output.splitlines() == ["open pids/pids.max"] + [
            f"refused {name}" for name in unbound], output
    unprotected = running("lxc.mount.auto = cgroup:rw")
    code, output = probe(unprotected, procs)
    assert code == 0 and output.strip().endswith(":/"), output
    code, output = probe(unprotected, limit)
    if not _pids_on_v1() and _nsdelegate():
        assert code != 0 and "Operation not permitted" in output, output
    else:
        assert code == 0, output


def test_cgroup_mixed_lets_the_container_make_sub_cgroups(running):
    """What systemd needs: make a sub-cgroup and move a process into it."""
    view, prefix = _pids_view()
    container = running("lxc.mount.auto = cgroup:mixed")
    code, output = probe(container, f"mkdir {view}/sub && echo $$ > {view}/sub/cgroup.procs && "
                                    f"grep '^[0-9]*{prefix}' /proc/self/cgroup")
    assert code == 0 and output.strip().endswith(":/sub"), output
    assert os.path.isdir(os.path.join(_pids_namespace_root(container), "sub")), \
        "the sub-cgroup is made on the host below the container's cgroup namespace root"


# Safety: writes one newline, and only to files with no write permission of the container's
# own cgroup: the kernel has no handler for them, so nothing can change if the check fails.
UNCOVERED_FILES = (
    "d=/sys/fs/cgroup; [ -f $d/cgroup.procs ] || d=/sys/fs/cgroup/unified; cd $d && "
    "for f in *; do [ -f \"$f\" ] || continue; "
    "[ \"$f\" = cgroup.subtree_control ] && continue; "
    "if grep -q \" $d/$f \" /proc/self/mountinfo; then echo \"covered $f\"; "
    "else echo \"uncovered $f $(ls -l \"$f\" | cut -c1-10) "
    "$( (chmod u+w \"$f\" && echo > \"$f\" && echo written) 2>&1)\"; fi; done")


@pytest.mark.skipif(not os.path.exists("/sys/fs/cgroup/cgroup.procs")
                    and not os.path.exists("/sys/fs/cgroup/unified/cgroup.procs"),
                    reason="this host has no cgroup2 hierarchy (the cgroup v1 view has its own "
                           "test below)")
@pytest.mark.parametrize("files", ["scanned", "recorded"])
def test_cgroup_mixed_covers_every_writable_file_of_the_containers_own_cgroup(running, rundir,
                                                                              files):
    """On cgroup v2 (a pure v2 host's /sys/fs/cgroup, a hybrid host's unified
    hierarchy), cgroup:mixed binds a read-only twin over each writable file of the
    container's own cgroup; a file it leaves (usage, stat...) has no write permission
    and, having no write handler in the kernel, cannot be written even after a chmod
    (with nsdelegate the kernel refuses first). The same whether the start found the
    writable files by their modes (the first of the boot) or in its record of them."""
    from hacontain.runtime.security import cgroup_files
    if files == "recorded":
        running("lxc.mount.auto = cgroup:mixed")
        assert (rundir / cgroup_files.RECORD).is_file()
    code, output = probe(running("lxc.mount.auto = cgroup:mixed"), UNCOVERED_FILES)
    lines = output.splitlines()
    covered = [line for line in lines if line.startswith("covered ")]
    uncovered = [line.split(" ", 3) for line in lines if line.startswith("uncovered ")]
    assert code == 0 and covered and uncovered, output
    assert "covered cgroup.procs" in covered, output
    for _, name, mode, result in uncovered:
        assert "w" not in mode and "written" not in result, (name, mode, result)
        assert "Invalid argument" in result or "Operation not permitted" in result, \
            (name, mode, result)


# Safety: freezes only the container's own processes (on v1 its namespace root's freezer,
# on v2 a sub-cgroup it makes and moves them to); the test thaws them from the host
# should the stop fail.
def freeze_itself(kind, view):
    """The script a guest freezes its own processes with, on `kind` in `view`."""
    if kind == "v1":
        return (f"(sleep 0.2; echo FROZEN > {view}/freezer.state) </dev/null >/dev/null 2>&1 &")
    return (f"cd {view} && mkdir ice && for p in $(cat cgroup.procs); do "
            "echo $p > ice/cgroup.procs 2>/dev/null; done; "
            "(sleep 0.2; echo 1 > ice/cgroup.freeze) </dev/null >/dev/null 2>&1 &")


def _freezers(container):
    """(kind, view directory, host file telling it is frozen, its frozen line, host file
    and value that thaw it) for each freezer the container can use on this host."""
    hierarchies = container.status().state.cgroup["hierarchies"]
    found = []
    if "freezer" in hierarchies:
        state = os.path.join(_cgroup_dir(container, "freezer"), "guest", "freezer.state")
        found.append(("v1", "/sys/fs/cgroup/freezer", state, "FROZEN", state, "THAWED"))
    for key in ("unified", ""):
        if key in hierarchies:
            ice = os.path.join(_cgroup_dir(container, key), "ice")
            found.append(("v2", os.path.join("/sys/fs/cgroup", key).rstrip("/"),
                          f"{ice}/cgroup.events", "frozen 1", f"{ice}/cgroup.freeze", "0"))
    return found


def test_a_guest_that_freezes_itself_is_still_stopped(running):
    """With cgroup:mixed a guest may freeze its own processes: on v1 its namespace root
    (the guest's cgroup), on v2 a sub-cgroup it makes. A v1-frozen task does not die
    of SIGKILL until thawed, so the stop thaws what is below the container's cgroup
    once it has sent them SIGKILL; v2's freezer lets SIGKILL through. Each freezer
    this host has, in turn."""
    kinds = []
    for index in range(2):
        container = running("lxc.mount.auto = cgroup:mixed")
        freezers = _freezers(container)
        if index >= len(freezers):
            break
        kind, view, state, frozen, thaw, thawed = freezers[index]
        kinds.append(kind)
        code, output = probe(container, freeze_itself(kind, view))
        assert code == 0, output
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(state) or frozen not in open(state).read().splitlines():
                assert time.monotonic() < deadline, f"the guest did not freeze itself ({kind})"
                time.sleep(0.05)
            result = hacontain("stop", container.name, "-P", container.lxcpath, "-t", "1",
                               check=False)
            assert result.returncode == 0, (kind, result.stderr)
            assert not container.status().present
        finally:
            if os.path.exists(thaw):
                with open(thaw, "w") as handle:
                    handle.write(thawed)
    assert kinds, "this host has no freezer the container can use"


# -- pid namespaces -------------------------------------------------------------------

# The init of a container that keeps the host's pid namespace is not PID 1, which busybox
# init refuses: such a container runs sleep as its init.
SHARED_PIDS = ("lxc.namespace.keep = pid", "lxc.init.cmd = /bin/sleep 100000")


def test_host_processes_are_invisible_unless_pid_namespace_kept(running):
    # Safety: only looks at /proc.
    script = f"test -e /proc/{os.getpid()}/comm && cat /proc/{os.getpid()}/comm"
    code, output = probe(running(), script)
    assert code != 0 and output == "", output
    with open("/proc/self/comm", encoding="utf-8") as handle:
        own_name = handle.read().strip()
    code, output = probe(running(*SHARED_PIDS), script)
    assert code == 0 and output.strip() == own_name, output


def test_other_containers_processes_are_unreachable_unless_pid_namespace_kept(running):
    other = running()
    other_init = other.status().state.pid
    # Safety: signal 0 only checks that the process could be signalled; nothing is sent.
    script = f"kill -0 {other_init} && echo reached"
    code, output = probe(running(), script)
    assert code != 0 and "reached" not in output, output
    code, output = probe(running(*SHARED_PIDS), script)
    assert code == 0 and output.strip() == "reached", output


# -- user namespaces -------------------------------------------------------------------

IDMAP = ("lxc.idmap = u 0 100000 65536", "lxc.idmap = g 0 100000 65536")
MAPPED_ROOT = 100000


@pytest.fixture
def userns_running(make_container):
    """Factory: a started container with IDMAP, its rootfs shifted with `hacontain shift-rootfs`.

    The rootfs lives in a directory of its own under /tmp (which the mapped root
    can pass; pytest's own temporary directories are closed to other users).
    """
    made = []

    def start(*extra):
        container = make_container(IDMAP + extra)
        place = tempfile.mkdtemp(prefix="hacontain-userns-", dir="/tmp")
        made.append((container, place))
        os.chmod(place, 0o711)
        rootfs = os.path.join(place, "rootfs")
        shutil.move(os.path.join(container.directory, "rootfs"), rootfs)
        with open(os.path.join(container.directory, "config"), "a", encoding="utf-8") as handle:
            handle.write(f"lxc.rootfs.path = {rootfs}\n")
        result = hacontain("shift-rootfs", container.name, "-P", container.lxcpath)
        assert result.stdout.startswith("shifted ")
        container.start()
        return container

    yield start
    for container, place in made:
        container.stop(timeout=0, kill=True)
        shutil.rmtree(place)


def test_userns_root_inside_is_an_unprivileged_uid_outside(userns_running):
    container = userns_running()
    code, output = probe(container, "id -u && grep ^Uid /proc/1/status")
    assert code == 0 and output.split() == ["0", "Uid:", "0", "0", "0", "0"], output
    with open(f"/proc/{container.status().state.pid}/status", encoding="ascii") as handle:
        uids = next(line for line in handle if line.startswith("Uid:")).split()[1:]
    assert uids == [str(MAPPED_ROOT)] * 4


def test_userns_refuses_host_privileges_even_with_every_capability(running, userns_running, probe_binary):
    """Without drops or seccomp, root of a user namespace still cannot set the host's
    clock or write the host's sysctls: its capabilities count in its namespace only.
    The same probes pass in the same configuration without lxc.idmap."""
    unprotected = (CAPS_OFF, SECCOMP_OFF, "lxc.mount.auto = proc:rw sys:rw")
    # Safety: settime sets the clock to now; the sysctl gets back its own value.
    assert syscall_probe(userns_running(*unprotected), "settime", probe_binary) == "errno=EPERM (1)"
    assert syscall_probe(running(*unprotected), "settime", probe_binary) == "ok"
    code, output = probe(userns_running(*unprotected), SYSCTL_PROBE)
    assert code != 0 and "Permission denied" in output, output
    code, output = probe(running(*unprotected), SYSCTL_PROBE)
    assert code == 0, output


def test_userns_root_cannot_remount_sys_rw(running, userns_running):
    """Even with sys_admin (in its namespace) and no seccomp filter: the kernel refuses
    the user namespace's root to remount the sysfs it was given read-only; the same
    without lxc.idmap works."""
    code, output = probe(userns_running(CAPS_OFF, SECCOMP_OFF), SUPERBLOCK_REMOUNT_PROBE)
    assert code != 0 and "permission denied" in output, output
    code, output = probe(running(CAPS_OFF, SECCOMP_OFF), SUPERBLOCK_REMOUNT_PROBE)
    assert code == 0, output


# -- seccomp profiles from files, AppArmor ------------------------------------------------

def test_custom_seccomp_profile_in_lxc_format(running, tmp_path):
    profile = tmp_path / "profile.seccomp"
    profile.write_text("2\ndenylist\n[all]\nmkdir errno 1\nmkdirat errno 1\n")
    script = "mkdir /tmp/probe-dir"
    code, output = probe(running(f"lxc.seccomp.profile = {profile}"), script)
    assert code != 0 and "Operation not permitted" in output, output
    code, output = probe(running(), script)
    assert code == 0, output


def test_bad_seccomp_profile_is_a_start_error_naming_its_line(make_container, tmp_path):
    profile = tmp_path / "profile.seccomp"
    profile.write_text("2\ndenylist\nmkdir errno one\n")
    container = make_container([f"lxc.seccomp.profile = {profile}"])
    result = hacontain("start", container.name, "-P", container.lxcpath, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"hacontain: error: {profile}:3: invalid seccomp action "
                                     "'errno one' (kill, errno N, trap, trace N, log or allow)")
    assert not container.status().present


def test_apparmor_profile_notice_without_apparmor_or_error_when_not_loaded(make_container):
    """Without AppArmor on the host: a one-line notice, the container starts. With it:
    a profile that is not loaded is a start error naming the config line."""
    from hacontain.runtime.security import apparmor
    container = make_container(["lxc.apparmor.profile = hacontain-probe-not-loaded"])
    result = hacontain("start", container.name, "-P", container.lxcpath, check=False)
    if apparmor.host_enabled():
        assert result.returncode == 1 and "AppArmor profile 'hacontain-probe-not-loaded' is " \
            "not loaded on this host" in result.stderr
        assert not container.status().present
        return
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "AppArmor" in line]
    assert len(notices) == 1 and notices[0].startswith("hacontain: notice: ")
    assert "not applied: this host has no AppArmor" in notices[0]
    assert container.status().running


def test_sys_mixed_leaves_only_the_network_devices_writable(running):
    code, output = probe(running("lxc.mount.auto = sys:mixed"),
                         "touch /sys/probe; grep -E ' /sys(/devices/virtual/net)? ' /proc/mounts")
    assert "Read-only file system" in output, output
    options = {line.split()[1]: line.split()[3].split(",")[0]
               for line in output.splitlines() if line.startswith("sysfs ")}
    assert options == {"/sys": "ro", "/sys/devices/virtual/net": "rw"}, output


def test_userns_start_and_shift_errors_say_what_to_do(make_container):
    container = make_container(IDMAP)
    result = hacontain("start", container.name, "-P", container.lxcpath, check=False)
    assert result.returncode == 1 and result.stderr.strip().endswith(
        f"not by the container's root (host uid {MAPPED_ROOT}): run `hacontain -P "
        f"{container.lxcpath} shift-rootfs {container.name}`"), result.stderr
    plain = make_container()
    result = hacontain("shift-rootfs", plain.name, "-P", plain.lxcpath, check=False)
    assert result.returncode == 1 and "no lxc.idmap: nothing to shift to" in result.stderr
    hacontain("shift-rootfs", container.name, "-P", container.lxcpath)
    result = hacontain("start", container.name, "-P", container.lxcpath, check=False)
    assert result.returncode == 1 and "cannot be passed by the container's root" in result.stderr
    result = hacontain("shift-rootfs", container.name, "-P", container.lxcpath, check=False)
    assert result.returncode == 1 and "already shifted" in result.stderr
    assert not container.status().present


# -- terminals -----------------------------------------------------------------------------

def shell_runs_pushed_input(command, marker):
    """Type `command` into a shell that runs on a pty the test made (the admin's shell:
    the pty is its controlling terminal), then one more command; whether the shell ran,
    in between, what was pushed into its input (the marker exists), and what the
    terminal showed."""
    with Terminal(["/bin/sh"], env=dict(os.environ, PS1="$ ")) as shell:
        shell.type(f"{command}; echo DONE-$?\n")
        shell.expect(r"DONE-\d+")
        shell.type("echo IDLE-$((6*7))\n")       # anything pushed is read before this
        shell.expect("IDLE-42")
        shell.type("exit\n")
        shell.wait()
    return os.path.exists(marker), shell.output.decode(errors="replace")


# Safety: the pushed text only creates a marker file in the test's own temporary
# directory; the only shell that could read it is one the test runs on a pty it made.
def test_attached_process_cannot_push_input_into_the_admins_terminal(running, userns_running,
                                                                     probe_binary, tmp_path):
    """TIOCSTI on every terminal attach gave the command lands in the container's own
    pseudo-terminal, never in the terminal of the shell that ran attach - with and
    without a user namespace. The same probe run straight from that shell does push
    its text there, and the shell runs it: a pass proves the protection."""
    marker = tmp_path / "pushed"
    pushed = f"touch {marker}"
    ran, output = shell_runs_pushed_input(f"{probe_binary} tiocsti '{pushed}'", marker)
    assert ran and "ok fd0" in output, output
    marker.unlink()
    for container in (running(), userns_running()):
        install_probe(container, probe_binary)
        ran, output = shell_runs_pushed_input(
            f"{HACONTAIN[0]} attach {container.name} -P {container.lxcpath} -- "
            f"/bin/hcprobe tiocsti '{pushed}'", marker)
        assert "ok fd0" in output and "DONE-0" in output, output   # into its own pty
        assert not ran, f"the admin's shell ran what the container pushed: {output}"
