"""Layout detection from canned /proc/self/mountinfo and /proc/self/cgroup,
and build_host(): a temp directory laid out like /sys/fs/cgroup on a v1, v2
or hybrid host (used by the driver tests too).
"""

import os

import pytest

from hacontain.errors import NotInstalled, StateError
from hacontain.runtime.cgroups.layout import detect_layout


def carrying(layout, controller):
    return next(h for h in layout.v1 if controller in h.controllers)

HOSTS = {
    # Debian 10 style: joint cpu,cpuacct and net_cls,net_prio, name=systemd, caller in a service
    "v1": ("""\
25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpuset,clone_children
33 25 0:30 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,devices
34 25 0:31 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,freezer
35 25 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,pids
36 25 0:33 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,blkio
37 25 0:34 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:21 - cgroup cgroup rw,net_cls,net_prio
90 60 0:28 / /var/lib/lxc/c1/rootfs/sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
""", """\
10:net_cls,net_prio:/
9:blkio:/system.slice/pacemaker.service
8:pids:/system.slice/pacemaker.service
7:freezer:/
6:devices:/system.slice/pacemaker.service
5:cpuset:/
4:memory:/system.slice/pacemaker.service
3:cpu,cpuacct:/system.slice/pacemaker.service
1:name=systemd:/system.slice/pacemaker.service
0::/system.slice/pacemaker.service
"""),
    # systemd's pure v2; the caller sits in the root cgroup (as in the VM tier)
    "v2": ("""\
25 18 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
""", "0::/\n"),
    # this development machine: v1 controllers and an empty cgroup2 at unified
    "hybrid": ("""\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
""", """\
9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/c2cd
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
"""),
}
V2_CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma misc"


def build_host(tmp_path, kind, v2_subtree=V2_CONTROLLERS, mountinfo=None, membership=None):
    """(sysfs, proc) temp roots for a `kind` host: mounts with their caller cgroups."""
    mountinfo = mountinfo or HOSTS[kind][0]
    membership = membership or HOSTS[kind][1]
    proc, sysfs = tmp_path / "proc", tmp_path / "sys-fs-cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "mountinfo").write_text(mountinfo)
    (proc / "self" / "cgroup").write_text(membership)
    sysfs.mkdir()
    paths = {frozenset(c for c in line.split(":")[1].split(",") if c): line.split(":", 2)[2]
             for line in membership.splitlines()}
    for line in mountinfo.splitlines():
        fields = line.split()
        mountpoint, fstype = fields[4], fields[fields.index("-") + 1]
        if not mountpoint.startswith("/sys/fs/cgroup") or fstype not in ("cgroup", "cgroup2"):
            continue
        mountdir = sysfs / mountpoint[len("/sys/fs/cgroup/"):]
        options = fields[-1].split(",")
        identity = frozenset() if fstype == "cgroup2" else frozenset(
            o for o in options if o not in ("rw", "xattr", "clone_children"))
        caller = mountdir / paths[identity].lstrip("/")
        caller.mkdir(parents=True, exist_ok=True)
        if fstype == "cgroup2":
            (mountdir / "cgroup.controllers").write_text(V2_CONTROLLERS if kind == "v2" else "")
            for directory in {mountdir, caller}:
                (directory / "cgroup.subtree_control").write_text(
                    v2_subtree if kind == "v2" else "")
                (directory / "cgroup.procs").write_text("")
        else:
            for directory in {mountdir, caller}:
                (directory / "cgroup.procs").write_text("")
                if "cpuset" in options:
                    (directory / "cpuset.cpus").write_text("0-3\n")
                    (directory / "cpuset.mems").write_text("0\n")
    return str(sysfs), str(proc)


def test_v1_host(tmp_path):
    sysfs, proc = build_host(tmp_path, "v1")
    layout = detect_layout(sysfs, proc)
    assert layout.kind == "v1" and layout.v2 is None
    assert sorted(h.key for h in layout.hierarchies) == [
        "blkio", "cpu,cpuacct", "cpuset", "devices", "freezer", "memory", "net_cls,net_prio", "pids",
        "systemd"]
    cpu = carrying(layout, "cpu")
    assert cpu is carrying(layout, "cpuacct") and cpu.controllers == {"cpu", "cpuacct"}
    assert cpu.mountdir == f"{sysfs}/cpu,cpuacct"
    assert cpu.caller == "/system.slice/pacemaker.service"
    assert carrying(layout, "freezer").caller == "/"


def test_v2_host(tmp_path):
    sysfs, proc = build_host(tmp_path, "v2")
    layout = detect_layout(sysfs, proc)
    assert layout.kind == "v2" and layout.v1 == ()
    assert layout.v2.key == "" and layout.v2.mountdir == sysfs and layout.v2.caller == "/"
    assert layout.v2.controllers == set(V2_CONTROLLERS.split())


def test_hybrid_host(tmp_path):
    sysfs, proc = build_host(tmp_path, "hybrid")
    layout = detect_layout(sysfs, proc)
    assert layout.kind == "hybrid"
    assert layout.v2.key == "unified" and layout.v2.controllers == frozenset()
    assert carrying(layout, "memory").caller == "/process_api/c2cd"
    named = next(h for h in layout.v1 if h.key == "systemd")            # where a systemd guest
    assert named.name == "systemd" and named.controllers == frozenset()  # tracks its units
    assert named.mount_options == "none,name=systemd" and named.caller == "/"
    assert carrying(layout, "memory").mount_options == "memory"
    assert carrying(layout, "memory").dir_of("/process_api/c2cd/hacontain/web") == \
        f"{sysfs}/memory/process_api/c2cd/hacontain/web"


def test_a_later_mount_hides_an_earlier_one_and_escapes_are_decoded(tmp_path):
    mountinfo = HOSTS["v2"][0] + (
        "26 25 0:40 /sub /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
        "27 25 0:41 / /sys/fs/cgroup/odd\\040name rw - cgroup cgroup rw,pids\n")
    sysfs, proc = build_host(tmp_path, "v2", mountinfo=mountinfo,
                             membership="0::/sub/me\n8:pids:/\n")
    layout = detect_layout(sysfs, proc)
    assert layout.v2.root == "/sub" and layout.v2.dir_of("/sub/me/x") == f"{sysfs}/me/x"
    assert carrying(layout, "pids").mountdir == f"{sysfs}/odd name"


def test_a_cgroup_outside_the_mounted_part_is_a_state_error(tmp_path):
    mountinfo = "25 18 0:22 /lxc/c1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
    sysfs, proc = build_host(tmp_path, "v2", mountinfo=mountinfo, membership="0::/lxc/c1\n")
    with pytest.raises(StateError, match="outside"):
        detect_layout(sysfs, proc).v2.dir_of("/other")


def test_no_cgroup_mount_is_reported(tmp_path):
    sysfs, proc = build_host(tmp_path, "v2", mountinfo="1 0 8:1 / / rw - ext4 /dev/vda rw\n")
    with pytest.raises(NotInstalled, match="/sys/fs/cgroup"):
        detect_layout(sysfs, proc)


@pytest.mark.parametrize("cgroup", ["/", "/hacontain/web", "/a/./b", "/a//b", "/a/b/", "/a/../b",
                                    "/.hacontain-attach", "/x/.y"])
def test_the_directory_of_a_cgroup_is_its_normal_path_below_the_mount(tmp_path, cgroup):
    sysfs, proc = build_host(tmp_path, "hybrid")
    memory = carrying(detect_layout(sysfs, proc), "memory")
    assert memory.root == "/"
    assert memory.dir_of(cgroup) == os.path.normpath(f"{sysfs}/memory/{cgroup}")
