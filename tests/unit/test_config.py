"""The LXC-format config parser: keys, legacy mapping, includes, errors."""

import os
import signal

import pytest

from hacontain import config
from hacontain.errors import ConfigError


def write(tmp_path, text, name="config"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_reads_current_keys(tmp_path):
    path = write(tmp_path, """
# comment
lxc.uts.name = "web1"
lxc.rootfs.path = dir:/srv/web1/rootfs
lxc.init.cmd = /sbin/init --verbose
lxc.signal.halt = SIGRTMIN+3
lxc.signal.stop = 9
lxc.mount.auto = proc:mixed sys:ro
lxc.mount.entry = /srv/data data none bind,create=dir 0 0
lxc.environment = FOO=bar
lxc.autodev = 1
lxc.tty.max = 2
lxc.pty.max = 16
lxc.cgroup.memory.limit_in_bytes = 256M
lxc.cgroup2.memory.max = 256M
lxc.cap.drop = sys_module sys_time
lxc.apparmor.profile = unconfined
""")
    parsed = config.load(path)
    assert parsed.uts_name == "web1"
    assert parsed.rootfs == "/srv/web1/rootfs"
    assert parsed.init_cmd == ("/sbin/init", "--verbose")
    assert parsed.halt_signal == signal.SIGRTMIN + 3
    assert parsed.stop_signal == 9
    assert parsed.mount_auto == ("proc:mixed", "sys:ro")
    assert parsed.mounts[0].source == "/srv/data" and parsed.mounts[0].target == "data"
    assert parsed.mounts[0].options == ("bind", "create=dir")
    assert parsed.environment == ("FOO=bar",)
    assert (parsed.tty_max, parsed.pty_max) == (2, 16)
    assert [e.key for e in parsed.cgroup] == ["lxc.cgroup.memory.limit_in_bytes", "lxc.cgroup2.memory.max"]
    assert set(parsed.cap_drop) == {"mac_admin", "mac_override", "sys_time", "sys_module", "sys_rawio"}
    assert parsed.apparmor_profile == "unconfined"


def test_plain_rootfs_path_and_networks(tmp_path):
    path = write(tmp_path, """
lxc.rootfs.path = /srv/r
lxc.net.0.type = veth
lxc.net.0.link = br0
lxc.net.0.ipv4.address = 192.0.2.10/24
lxc.net.0.ipv4.address = 192.0.2.11/24
lxc.net.0.ipv4.gateway = auto
lxc.net.1.type = macvlan
lxc.net.1.link = eth0
lxc.net.1.macvlan.mode = bridge
lxc.net.1.hwaddr = 02:00:00:xx:xx:xx
""")
    parsed = config.load(path)
    assert parsed.rootfs == "/srv/r"
    veth, macvlan = parsed.nets
    assert veth.type == "veth" and veth.link == "br0"
    assert veth.ipv4 == ("192.0.2.10/24", "192.0.2.11/24") and veth.ipv4_gateway == "auto"
    assert macvlan.macvlan_mode == "bridge" and macvlan.hwaddr == "02:00:00:xx:xx:xx"


def test_legacy_keys_are_mapped_with_a_warning(tmp_path, capsys):
    path = write(tmp_path, """
lxc.utsname = old
lxc.rootfs = /srv/old
lxc.haltsignal = SIGUSR1
lxc.tty = 3
lxc.pts = 10
lxc.network.type = veth
lxc.network.link = br0
lxc.network.ipv4 = 192.0.2.5/24
lxc.network.type = empty
""")
    parsed = config.load(path)
    assert (parsed.uts_name, parsed.rootfs, parsed.halt_signal) == ("old", "/srv/old", signal.SIGUSR1)
    assert (parsed.tty_max, parsed.pty_max) == (3, 10)
    assert [n.type for n in parsed.nets] == ["veth", "empty"]
    assert parsed.nets[0].ipv4 == ("192.0.2.5/24",)
    err = capsys.readouterr().err
    assert "legacy key lxc.utsname read as lxc.uts.name" in err
    assert "lxc.network.ipv4 read as lxc.net.0.ipv4.address" in err


def test_include_file_and_directory(tmp_path):
    (tmp_path / "d").mkdir()
    write(tmp_path, "lxc.tty.max = 4\n", "d/10-a.conf")
    write(tmp_path, "lxc.tty.max = 5\n", "d/20-b.conf")
    write(tmp_path, "lxc.tty.max = 9\n", "d/ignored.txt")
    write(tmp_path, "lxc.pty.max = 7\n", "common.conf")
    path = write(tmp_path, f"lxc.include = {tmp_path}/common.conf\nlxc.include = d\n")
    parsed = config.load(path)
    assert (parsed.pty_max, parsed.tty_max) == (7, 5)


def test_empty_value_clears_a_list(tmp_path):
    path = write(tmp_path, "lxc.cap.drop = sys_time sys_boot\nlxc.cap.drop =\nlxc.cap.drop = mknod\n"
                           "lxc.net.0.type = veth\nlxc.net =\n")
    parsed = config.load(path)
    assert parsed.cap_drop == ("mknod",)
    assert parsed.nets == () and parsed.net_configured


@pytest.mark.parametrize("line, message", [
    ("lxc.bogus.key = 1", "unknown configuration key"),
    ("lxc.tty.max = many", "expected an integer"),
    ("lxc.signal.halt = SIGNOPE", "unknown signal"),
    ("lxc.rootfs.path = relative/path", "absolute path"),
    ("lxc.rootfs.path = zfs:tank/ct", "not supported"),
    ("lxc.uts.name = bad_host!", "invalid host name"),
    ("lxc.init.cmd = sbin/init", "absolute path"),
    ("lxc.autodev = yes", "expected 0 or 1"),
    ("lxc.mount.entry = /a b", "expected 'source target type options"),
    ("lxc.mount.auto = proc:weird", "unknown mount.auto value"),
    ("lxc.net.0.type = tunnel", "unknown network type"),
    ("lxc.net.0.type = veth\nlxc.net.0.ipv4.address = 300.1.1.1/24", "invalid address"),
    ("lxc.net.0.type = veth\nlxc.net.0.ipv4.address = 192.0.2.1", "prefix length"),
    ("lxc.net.0.type = macvlan", "needs lxc.net.0.link"),
    ("lxc.net.0.link = br0", "has no lxc.net.0.type"),
    ("lxc.net.0.type = veth\nlxc.net.0.mtu = 20", "out of range"),
    ("lxc.idmap = u 0 100000", "expected 'u|g NSID HOSTID RANGE'"),
    ("lxc.include = /nonexistent/file.conf", "does not exist"),
    ("this is not a config line", "expected 'key = value'"),
])
def test_bad_lines_name_file_line_and_key(tmp_path, line, message):
    path = write(tmp_path, "lxc.uts.name = ok\n" + line + "\n")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:")
    assert message in text
    key = line.split("\n")[-1].split("=")[0].strip()
    if key.startswith("lxc.") and "has no" not in message and "needs" not in message:
        assert f": {key}: " in text


def test_include_loop_is_an_error(tmp_path):
    path = write(tmp_path, f"lxc.include = {tmp_path}/config\n")
    with pytest.raises(ConfigError, match="include loop"):
        config.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(str(tmp_path / "nope"))


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".", "..", "-x", "x" * 65, "a b"])
def test_bad_container_names(name):
    with pytest.raises(ConfigError, match="invalid container name"):
        config.valid_name(name)


@pytest.mark.parametrize("text, number", [
    ("SIGPWR", signal.SIGPWR), ("PWR", signal.SIGPWR), ("sigterm", signal.SIGTERM),
    ("SIGRTMIN+3", signal.SIGRTMIN + 3), ("RTMAX-1", signal.SIGRTMAX - 1), ("10", 10),
])
def test_signals(text, number):
    assert config.parse_signal(text) == number


def test_lxc_busybox_template_config_parses(tmp_path):
    """A config as `lxc-create -t busybox` (LXC 5) writes it."""
    path = write(tmp_path, """
lxc.net.0.type = veth
lxc.net.0.link = lxcbr0
lxc.net.0.flags = up
lxc.apparmor.profile = generated
lxc.apparmor.allow_nesting = 1
lxc.rootfs.path = dir:/var/lib/lxc/b1/rootfs
lxc.signal.halt = SIGUSR1
lxc.signal.reboot = SIGTERM
lxc.uts.name = "b1"
lxc.autodev = 1
lxc.tty.max = 5
lxc.pty.max = 1
lxc.cap.drop = sys_module mac_admin mac_override sys_time
lxc.mount.auto = cgroup:mixed proc:mixed sys:ro
lxc.mount.entry = shm dev/shm tmpfs defaults,create=dir 0 0
lxc.mount.entry = mqueue dev/mqueue mqueue defaults,optional,create=dir 0 0
lxc.mount.entry = /lib lib none ro,bind 0 0
lxc.mount.entry = /sys/kernel/security sys/kernel/security none ro,bind,optional 0 0
""")
    parsed = config.load(path)
    assert parsed.uts_name == "b1" and parsed.halt_signal == signal.SIGUSR1
    assert len(parsed.mounts) == 4 and parsed.nets[0].link == "lxcbr0"


# -- files that are no regular files, or too large, are never read -------------------

@pytest.mark.parametrize("kind", ["fifo", "device", "directory", "large"])
def test_includes_fstabs_and_profiles_must_be_small_regular_files(tmp_path, kind):
    from hacontain.runtime.security import seccomp_profile
    special = {"fifo": str(tmp_path / "fifo"), "device": "/dev/zero",
               "directory": str(tmp_path / "dir"), "large": str(tmp_path / "large")}[kind]
    if kind == "fifo":
        os.mkfifo(special)                    # opening it for reading would block
    elif kind == "directory":
        os.mkdir(special)
    elif kind == "large":
        with open(special, "w") as handle:
            handle.write("# " + "x" * config.MAX_FILE_BYTES + "\n")
    why = {"fifo": "it is a FIFO", "device": "it is a character device",
           "directory": "it is a directory", "large": f"larger than {config.MAX_FILE_BYTES}"}
    with pytest.raises(ValueError, match=why[kind]):
        config.read_text_file(special)
    if kind != "directory":                   # a directory include reads its *.conf
        with pytest.raises(ConfigError, match=rf"config:2: lxc.include: .*{why[kind]}"):
            config.load(write(tmp_path, f"lxc.uts.name = a\nlxc.include = {special}\n"))
    with pytest.raises(ConfigError, match=rf"config:1: lxc.mount.fstab: .*{why[kind]}"):
        config.load(write(tmp_path, f"lxc.mount.fstab = {special}\n"))
    with pytest.raises(ConfigError, match=why[kind]):
        seccomp_profile.load(special)
    with pytest.raises(ConfigError, match=why[kind]):
        config.load(special)


def test_a_proc_file_of_size_zero_is_read_to_its_end_within_the_limit(tmp_path):
    assert config.read_text_file("/proc/self/status").startswith("Name:")


# -- values start would refuse are refused here, at their line ------------------------

@pytest.mark.parametrize("line, complaint", [
    ("lxc.environment = NOEQUALS", "expected NAME=VALUE"),
    ("lxc.environment = 1A=b", "expected NAME=VALUE"),
    ("lxc.environment = BIG=" + "x" * config.MAX_ENV_ENTRY, "at most"),
    ("lxc.cgroup.memory.limit_in_bytes = abc", "not a size"),
    ("lxc.cgroup.memory.limit_in_bytes = max", "cgroup v1 takes -1"),
    ("lxc.cgroup2.memory.max = 12X", "not a size"),
    ("lxc.cgroup.cpu.cfs_quota_us = 999", "at least 1000"),
    ("lxc.cgroup2.cpu.max = 500 100000", "at least 1000"),
    ("lxc.cgroup2.cpu.max = max 10", "outside 1000..1000000"),
    ("lxc.cgroup.pids.max = 99999999", "outside 4..4194304"),
    ("lxc.cgroup.cpuset.cpus = 3-1", "goes down"),
    ("lxc.cgroup.cpuset.cpus = 0-99999999999", "beyond 8191"),
    ("lxc.cgroup.memory.limit_in_bytes = \u0661\u0662", "ASCII"),
    ("hacontain.limit.memory = 99999999999999999999T", "more than 8 EiB"),
    ("hacontain.limit.cpu.quota = 1e400", "at most"),
    ("hacontain.limit.cpu.quota = \u0661", "ASCII"),
    ("hacontain.limit.pids = \u0661\u0660", "ASCII"),
    ("hacontain.limit.cpu.weight = 1_0", "not a whole number"),
    ("lxc.tty.max = \u0661", "expected an integer"),
    ("lxc.signal.halt = \u00b2", "unknown signal"),
    ("lxc.idmap = u 0 \u0661 65536", "expected 'u|g NSID HOSTID RANGE'"),
    ("lxc.net.\u0661.type = veth", "unknown configuration key"),
])
def test_values_the_kernel_would_refuse_name_file_and_line(tmp_path, line, complaint):
    path = write(tmp_path, f"lxc.uts.name = a\n{line}\n")
    with pytest.raises(ConfigError, match=complaint) as caught:
        config.load(path)
    assert (caught.value.path, caught.value.line) == (path, 2)


def test_the_environment_as_a_whole_must_fit_execve(tmp_path):
    entry = "A=" + "x" * (config.MAX_ENV_ENTRY - 2)
    count = config.MAX_ENV_TOTAL // len(entry) + 1
    line = f"lxc.environment = {entry}\n"
    include = write(tmp_path, line * (count // 2), "half.conf")    # one file: past its limit
    path = write(tmp_path, f"lxc.include = {include}\n" + line * (count - count // 2))
    with pytest.raises(ConfigError, match="add up to more than"):
        config.load(path)


def test_the_container_name_is_a_parameter_error():
    from hacontain.errors import ParameterError
    for name in ("a/b", "", "..", "ok\n", "\u0661"):
        with pytest.raises(ParameterError):
            config.valid_name(name)
