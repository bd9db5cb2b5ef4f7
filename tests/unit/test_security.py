"""The pure parts of containment: capability names, seccomp profiles and the BPF
program (run through an interpreter of the kernel's seccomp BPF subset), id maps,
config checks; and the rootfs shift on a real directory."""

import os
import stat
import struct

import pytest

from hacontain import config
from hacontain.errors import ConfigError
from hacontain.runtime.security import bpf, capabilities, idmap, seccomp_profile, shift
from hacontain.runtime.security.syscalls_x86_64 import AUDIT_ARCH, NUMBERS, X32_BIT

AUDIT_ARCH_I386 = 0x40000003


def run(program, nr, arch=AUDIT_ARCH, args=()):
    """What the kernel's seccomp would return for one syscall, `program` given as packed bytes."""
    instructions = [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]
    data = {0: nr, 4: arch}
    for index, value in enumerate(args):
        data[16 + 8 * index] = value & 0xFFFFFFFF
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = instructions[pc]
        if code == 0x20:
            acc = data.get(k, 0)
        elif code == 0x06:
            return k
        else:
            taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += jt if taken else jf
        pc += 1


# -- capabilities --------------------------------------------------------------------

@pytest.mark.parametrize("name, number", [
    ("chown", 0), ("sys_admin", 21), ("CAP_SYS_ADMIN", 21), ("sys_boot", 22), ("mknod", 27),
    ("checkpoint_restore", 40), ("21", 21),
])
def test_capability_numbers(name, number):
    assert capabilities.number(name) == number


@pytest.mark.parametrize("name", ["sys_everything", "41", "", "cap_"])
def test_unknown_capability(name):
    with pytest.raises(ValueError, match="unknown capability"):
        capabilities.number(name)


def test_capability_table_matches_the_kernels_last_cap():
    assert len(capabilities.NAMES) - 1 >= capabilities.last_cap()


def test_to_drop_keep_and_none():
    assert capabilities.to_drop(capabilities.DEFAULT_DROP, (), 40) == [16, 17, 25, 32, 33]
    assert capabilities.to_drop((), ("sys_admin", "chown"), 40) == \
        [n for n in range(41) if n not in (0, 21)]
    assert capabilities.to_drop((), ("none",), 40) == list(range(41))
    assert capabilities.to_drop(("checkpoint_restore",), (), 39) == []   # beyond this kernel


# -- seccomp profiles and the BPF program ------------------------------------------------

def test_default_profile_denies_lxcs_list():
    program = seccomp_profile.parse(seccomp_profile.DEFAULT_PROFILE).program()
    for name in ("kexec_load", "kexec_file_load", "open_by_handle_at", "init_module",
                 "finit_module", "delete_module"):
        assert run(program, NUMBERS[name]) == bpf.errno(1), name
    for name in ("read", "mount", "reboot", "clone3", "umount2"):
        assert run(program, NUMBERS[name]) == bpf.RET_ALLOW, name
    assert run(program, NUMBERS["umount2"], args=(0, 1)) == bpf.errno(13)   # MNT_FORCE
    assert run(program, NUMBERS["umount2"], args=(0, 2)) == bpf.RET_ALLOW   # MNT_DETACH


def test_foreign_abis_are_killed():
    program = seccomp_profile.parse(seccomp_profile.DEFAULT_PROFILE).program()
    assert run(program, 0, arch=AUDIT_ARCH_I386) == bpf.RET_KILL_PROCESS
    assert run(program, X32_BIT | NUMBERS["read"]) == bpf.RET_KILL_PROCESS


def test_v2_denylist_sections_and_actions(tmp_path):
    path = tmp_path / "profile"
    path.write_text("""2
denylist errno 38
# rules before any section are native
mknod errno 0
[x86]
open
[all]
keyctl
socketcall
ptrace trap
[x86_64]
personality log
bpf trace 7
""")
    profile = seccomp_profile.load(str(path))
    program = profile.program()
    assert run(program, NUMBERS["mknod"]) == bpf.errno(0)
    assert run(program, NUMBERS["keyctl"]) == bpf.RET_KILL_PROCESS   # no action: kill
    assert run(program, NUMBERS["ptrace"]) == bpf.RET_TRAP
    assert run(program, NUMBERS["personality"]) == bpf.RET_LOG
    assert run(program, NUMBERS["bpf"]) == bpf.RET_TRACE | 7
    assert run(program, NUMBERS["open"]) == bpf.errno(38)   # the [x86] rule is skipped
    assert not profile.force_umount


def test_v2_allowlist_and_v1():
    program = seccomp_profile.parse("2\nallowlist\nread\nwrite errno 5\n").program()
    assert run(program, NUMBERS["read"]) == bpf.RET_ALLOW
    assert run(program, NUMBERS["write"]) == bpf.errno(5)
    assert run(program, NUMBERS["open"]) == bpf.RET_KILL_PROCESS
    program = seccomp_profile.parse("1\nwhitelist\n0\n1\n").program()
    assert run(program, 0) == bpf.RET_ALLOW and run(program, 2) == bpf.RET_KILL_PROCESS


MS_RDONLY, MS_REMOUNT, MS_BIND = 0x1, 0x20, 0x1000


@pytest.mark.parametrize("text", [seccomp_profile.DEFAULT_PROFILE, "2\ndenylist\n",
                                  "2\nallowlist\nmount\nfspick\n", "1\nallowlist\n165\n433\n"],
                         ids=["default", "denylist", "allowlist", "v1"])
def test_every_profile_refuses_to_reconfigure_a_mounted_filesystem(text):
    """mount -o remount,ro / in a privileged container would make the host's filesystem
    read-only: refused whatever the profile; a bind remount (this mount only) is not."""
    program = seccomp_profile.parse(text).program()
    mount = NUMBERS["mount"]
    assert run(program, mount, args=(0, 0, 0, MS_REMOUNT | MS_RDONLY)) == bpf.errno(1)
    assert run(program, mount, args=(0, 0, 0, 0xC0ED0000 | MS_REMOUNT)) == bpf.errno(1)
    assert run(program, NUMBERS["fspick"]) == bpf.errno(1)
    assert run(program, mount, args=(0, 0, 0, MS_REMOUNT | MS_BIND | MS_RDONLY)) == bpf.RET_ALLOW
    assert run(program, mount, args=(0, 0, 0, MS_BIND)) == bpf.RET_ALLOW
    assert run(program, mount, args=(0, 0, 0, 0)) == bpf.RET_ALLOW


def test_later_rule_for_a_syscall_wins():
    program = seccomp_profile.parse("2\ndenylist\nmknod errno 1\nmknod errno 2\n").program()
    assert run(program, NUMBERS["mknod"]) == bpf.errno(2)


@pytest.mark.parametrize("text, line, message", [
    ("3\ndenylist\n", 1, "unsupported seccomp profile version"),
    ("2\ngraylist\n", 2, "expected denylist or allowlist"),
    ("2\ndenylist\n[sparc]\n", 3, "unknown architecture section"),
    ("2\ndenylist\nnot_a_syscall\n", 3, "unknown x86_64 syscall"),
    ("2\ndenylist\nmknod errno\n", 3, "invalid seccomp action"),
    ("2\ndenylist\nmknod notify\n", 3, "invalid seccomp action"),
    ("2\ndenylist\nmount errno 1 [2,1,SCMP_CMP_EQ]\n", 3, "argument conditions"),
    ("1\ndenylist\n", 2, "version 1 profile must be an allowlist"),
    ("1\nwhitelist\nread\n", 3, "expected a syscall number"),
])
def test_profile_errors_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "profile"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        seccomp_profile.load(str(path))
    assert str(caught.value).startswith(f"{path}:{line}: ") and message in str(caught.value)


def test_unknown_name_under_all_is_skipped():
    profile = seccomp_profile.parse("2\ndenylist\n[all]\nsocketcall\n")
    assert profile.rules == []


def test_syscall_table_is_consistent():
    assert NUMBERS["read"] == 0 and NUMBERS["kexec_load"] == 246 and NUMBERS["finit_module"] == 313
    assert len(set(NUMBERS.values())) == len(NUMBERS)


# -- config checks ------------------------------------------------------------------

def load(tmp_path, text):
    path = tmp_path / "config"
    path.write_text(text)
    return config.load(str(path))


def test_cap_drop_adds_to_the_defaults_and_empty_clears(tmp_path):
    assert set(load(tmp_path, "lxc.cap.drop = sys_admin\n").cap_drop) == \
        set(capabilities.DEFAULT_DROP) | {"sys_admin"}
    assert load(tmp_path, "lxc.cap.drop =\n").cap_drop == ()
    assert load(tmp_path, "").cap_drop == capabilities.DEFAULT_DROP


def test_seccomp_profile_unset_is_default_and_empty_is_off(tmp_path):
    assert load(tmp_path, "").seccomp_profile is None
    assert load(tmp_path, "lxc.seccomp.profile =\n").seccomp_profile == ""


@pytest.mark.parametrize("text, message", [
    ("lxc.cap.drop = sys_everything", "unknown capability 'sys_everything'"),
    ("lxc.cap.keep = chown\nlxc.cap.drop = mknod", "cannot both be set"),
    ("lxc.cap.drop = mknod\nlxc.cap.keep = chown", "cannot both be set"),
    ("lxc.namespace.keep = mnt", "own mount namespace"),
    ("lxc.namespace.keep = bogus", "unknown namespace"),
    ("lxc.mount.auto = cgroup:mixed\nlxc.namespace.keep = cgroup", "host's cgroup namespace"),
    ("lxc.mount.auto = cgroup proc:mixed\nlxc.namespace.keep = ipc cgroup",
     "host's cgroup namespace"),
    ("lxc.idmap = u 0 100000 0", "empty or beyond 2^32"),
    ("lxc.idmap = u 0 4294967295 2", "empty or beyond 2^32"),
    ("lxc.apparmor.profile = two words", "has no spaces"),
])
def test_containment_keys_errors_name_file_line_and_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "lxc.uts.name = ok\n" + text + "\n")
    line = text.count("\n") + 2
    key = text.split("\n")[-1].split("=")[0].strip()
    assert str(caught.value).startswith(f"{tmp_path}/config:{line}: {key}: ")
    assert message in str(caught.value)


def test_a_filter_on_another_architecture_is_refused_unless_switched_off(tmp_path, monkeypatch):
    from hacontain.runtime.security import containment
    monkeypatch.setattr(os, "uname", lambda: os.uname_result(("Linux", "n", "6", "1", "aarch64")))
    with pytest.raises(ConfigError, match="built for x86_64 only, this host is aarch64"):
        containment.from_config(load(tmp_path, ""))
    assert containment.from_config(load(tmp_path, "lxc.seccomp.profile =\n")).seccomp is None


def test_cap_keep_with_cleared_drop_is_fine(tmp_path):
    parsed = load(tmp_path, "lxc.cap.drop = mknod\nlxc.cap.drop =\nlxc.cap.keep = chown\n")
    assert parsed.cap_keep == ("chown",)


def test_apparmor_notice_where_the_host_has_none(tmp_path, monkeypatch):
    from hacontain.runtime.security import apparmor
    monkeypatch.setattr(apparmor, "host_enabled", lambda: False)
    parsed = load(tmp_path, "lxc.apparmor.profile = lxc-container-default-cgns\n")
    assert parsed.warnings == (f"{tmp_path}/config:1: lxc.apparmor.profile: AppArmor profile "
                               "'lxc-container-default-cgns' not applied: this host has no AppArmor",)
    assert load(tmp_path, "lxc.apparmor.profile = unconfined\n").warnings == ()


# -- id maps ------------------------------------------------------------------------

MAP = (("u", 0, 100000, 65536), ("g", 0, 100000, 1000), ("g", 1000, 300000, 10))


def test_host_id():
    assert idmap.host_id(MAP, "u", 0) == 100000
    assert idmap.host_id(MAP, "u", 65535) == 165535
    assert idmap.host_id(MAP, "u", 65536) is None
    assert idmap.host_id(MAP, "g", 1005) == 300005
    assert idmap.host_id(MAP, "g", 1010) is None


@pytest.mark.parametrize("lines, message", [
    ("lxc.idmap = u 0 100000 65536", "no gid map for root"),
    ("lxc.idmap = u 1 100000 65536\nlxc.idmap = g 0 100000 65536", "no uid map for root"),
    ("lxc.idmap = u 0 100000 10\nlxc.idmap = u 5 200000 10\nlxc.idmap = g 0 1 1",
     "overlapping uid maps"),
    ("lxc.idmap = u 0 100000 10\nlxc.idmap = g 0 1 1\nlxc.namespace.keep = user",
     "needs a user namespace"),
    ("lxc.idmap = u 0 100000 10\nlxc.idmap = g 0 1 1\nlxc.namespace.keep = pid uts",
     "cannot use the host's pid, uts namespace"),
    ("lxc.idmap = u 0 100000 10\nlxc.idmap = g 0 1 1\nlxc.net.0.type = none",
     r"cannot use the host's net \(type none\) namespace"),
])
def test_idmap_check(tmp_path, lines, message):
    with pytest.raises(ConfigError, match=message):
        idmap.check(load(tmp_path, lines + "\n"))


# -- the rootfs shift (real files; chown needs root) ------------------------------------

@pytest.mark.root
def test_shift_moves_owners_once_keeps_setuid_and_leaves_links(tmp_path):
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    tool = root / "bin" / "su"
    tool.write_text("x")
    os.chmod(tool, 0o4755)
    os.link(tool, root / "bin" / "su-again")
    os.symlink("/etc/passwd", root / "passwd-link")
    os.symlink("/bin", root / "bin-link")
    owned = root / "home"
    owned.mkdir()
    os.chown(owned, 1000, 1000)
    count = shift.shift(str(root), (("u", 0, 100000, 65536), ("g", 0, 100000, 65536)))
    assert count == 6                       # rootfs, bin, su (once), 2 links, home
    assert os.stat(tool).st_uid == 100000 and stat.S_IMODE(os.stat(tool).st_mode) == 0o4755
    assert os.lstat(root / "passwd-link").st_uid == 100000
    assert os.stat("/etc/passwd").st_uid == 0
    assert (os.stat(owned).st_uid, os.stat(owned).st_gid) == (101000, 101000)
    with pytest.raises(ConfigError, match="already shifted"):
        shift.shift(str(root), (("u", 0, 100000, 65536), ("g", 0, 100000, 65536)))


@pytest.mark.root
def test_shift_makes_file_capabilities_name_the_containers_root(tmp_path):
    """Revision 2 (host root's, e.g. from setcap) becomes revision 3 for host uid 100000:
    only that one the kernel honours inside the user namespace."""
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    ping = root / "bin" / "ping"
    ping.write_text("x")
    cap_net_raw = 1 << 13
    version_2 = struct.pack("<5I", 0x02000001, cap_net_raw, 0, 0, 0)     # effective, +ep
    os.setxattr(ping, "security.capability", version_2)
    shift.shift(str(root), (("u", 0, 100000, 65536), ("g", 0, 100000, 65536)))
    assert os.getxattr(ping, "security.capability") == \
        struct.pack("<6I", 0x03000001, cap_net_raw, 0, 0, 0, 100000)


def test_namespaced_capability_of_each_revision():
    assert shift.namespaced_capability(struct.pack("<3I", 0x01000000, 5, 6), 7) == \
        struct.pack("<6I", 0x03000000, 5, 6, 0, 0, 7)
    assert shift.namespaced_capability(struct.pack("<6I", 0x03000001, 1, 2, 3, 4, 9), 7) == \
        struct.pack("<6I", 0x03000001, 1, 2, 3, 4, 7)
    assert shift.namespaced_capability(b"\x00\x00\x00\x09junk", 7) == b"\x00\x00\x00\x09junk"


@pytest.mark.root
def test_shift_refuses_ids_outside_the_map_before_changing_anything(tmp_path):
    root = tmp_path / "rootfs"
    root.mkdir()
    (root / "far").write_text("x")
    os.chown(root / "far", 70000, 0)
    with pytest.raises(ConfigError, match="outside the container's lxc.idmap"):
        shift.shift(str(root), (("u", 0, 100000, 65536), ("g", 0, 100000, 65536)))
    assert os.stat(root).st_uid == 0


# -- the containment record attach reads -----------------------------------------------

def test_containment_record_round_trip(tmp_path):
    from hacontain.runtime.security.containment import Containment, for_attach, save
    program = seccomp_profile.parse(seccomp_profile.DEFAULT_PROFILE).program()
    save(Containment((16, 17), program, True, "lxc-default"), tmp_path / "containment")
    loaded = for_attach(tmp_path / "containment", os.getpid())
    with open("/proc/self/status", encoding="ascii") as handle:
        bounding = next(int(line.split()[1], 16) for line in handle if line.startswith("CapBnd:"))
    absent = {cap for cap in range(capabilities.last_cap() + 1) if not bounding >> cap & 1}
    assert loaded.drop_caps == tuple(sorted(absent | {16, 17}))
    assert (loaded.seccomp, loaded.no_new_privs, loaded.apparmor) == (program, True, "lxc-default")
    save(Containment((), None, False, None), tmp_path / "containment")
    loaded = for_attach(tmp_path / "containment", os.getpid())
    assert (loaded.drop_caps, loaded.seccomp, loaded.apparmor) == (tuple(sorted(absent)), None, None)


def test_no_record_means_only_the_inits_bounding_set(tmp_path):
    from hacontain.runtime.security.containment import for_attach
    loaded = for_attach(tmp_path / "none", os.getpid())
    assert loaded.seccomp is None and not loaded.no_new_privs and loaded.apparmor is None
