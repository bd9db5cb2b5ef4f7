"""The translation table of hacontain.limit keys, and key/value checking."""

import pytest

from hacontain.errors import ConfigError
from hacontain.runtime.cgroups import limits
from hacontain.runtime.cgroups.keys import parse_key
from hacontain.runtime.cgroups.limits import LIMITS

V1_MAX = "9223372036854771712"


class Files(dict):
    """A cgroup's control files as a dict (the translators' `files`)."""

    def read(self, name):
        return self[name]

    def exists(self, name):
        return name in self


def writes(name, version, value, files=None):
    limit = LIMITS[name]
    translate = limit.to_v1 if version == 1 else limit.to_v2
    return translate(limit.parse(value), Files(files or {}))


def test_shares_to_weight_is_the_documented_formula():
    assert limits.shares_to_weight(2) == 1
    assert limits.shares_to_weight(1024) == 1 + (1022 * 9999) // 262142 == 39
    assert limits.shares_to_weight(262144) == 10000


def test_every_weight_survives_the_round_trip_through_shares():
    for weight in range(1, 10001):
        shares = limits.weight_to_shares(weight)
        assert 2 <= shares <= 262144
        assert limits.shares_to_weight(shares) == weight


def test_io_weight_maps_onto_blkio_range_at_its_granularity():
    assert limits.io_weight_to_blkio(1) == 10 and limits.io_weight_to_blkio(10000) == 1000
    assert limits.blkio_to_io_weight(10) == 1 and limits.blkio_to_io_weight(1000) == 10000
    assert limits.io_weight_to_blkio(100) == 20
    assert limits.blkio_to_io_weight(20) == 102      # 990 blkio steps for 9999 weights


@pytest.mark.parametrize("text,expected", [
    ("256M", 256 << 20), ("1g", 1 << 30), ("4096", 4096), ("2 K", 2048), ("1T", 1 << 40),
    ("max", None)])
def test_sizes(text, expected):
    assert limits.parse_size(text) == expected


@pytest.mark.parametrize("name,version,value,expected", [
    ("memory", 2, "256M", [("memory.max", "268435456")]),
    ("memory", 1, "256M", [("memory.limit_in_bytes", "268435456")]),
    ("memory", 1, "max", [("memory.limit_in_bytes", "-1")]),
    ("swap", 2, "1G", [("memory.swap.max", "1073741824")]),
    ("cpu.weight", 2, "100", [("cpu.weight", "100")]),
    ("cpu.weight", 1, "100", [("cpu.shares", "2598")]),
    ("cpu.shares", 2, "1024", [("cpu.weight", "39")]),
    ("cpu.shares", 1, "1024", [("cpu.shares", "1024")]),
    ("cpu.quota", 2, "0.5", [("cpu.max", "50000 100000")]),
    ("cpu.quota", 2, "max", [("cpu.max", "max 100000")]),
    ("cpu.quota", 1, "1.25", [("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "125000")]),
    ("cpu.quota", 1, "max", [("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "-1")]),
    ("cpuset.cpus", 1, "0-1,3", [("cpuset.cpus", "0-1,3")]),
    ("cpuset.mems", 2, "0", [("cpuset.mems", "0")]),
    ("pids", 1, "100", [("pids.max", "100")]),
    ("pids", 2, "max", [("pids.max", "max")]),
    ("io.read_bps", 2, "8:0 10M", [("io.max", "8:0 rbps=10485760")]),
    ("io.write_bps", 1, "8:0 1k", [("blkio.throttle.write_bps_device", "8:0 1024")]),
    ("io.read_iops", 1, "253:1 max", [("blkio.throttle.read_iops_device", "253:1 0")]),
    ("io.write_iops", 2, "253:1 300", [("io.max", "253:1 wiops=300")]),
])
def test_translation(name, version, value, expected):
    files = {"memory.limit_in_bytes": V1_MAX}
    assert writes(name, version, value, files) == expected


def test_io_weight_uses_the_file_the_kernel_has():
    assert writes("io.weight", 2, "500", {"io.weight": "default 100"}) == [("io.weight", "default 500")]
    assert writes("io.weight", 1, "100", {"blkio.bfq.weight": "default 100"}) == \
        [("blkio.bfq.weight", "20")]
    with pytest.raises(ValueError, match="blkio.weight"):
        writes("io.weight", 1, "100", {})


def test_v1_memory_keeps_the_swap_allowance_in_order():
    files = {"memory.limit_in_bytes": str(64 << 20), limits.MEMSW: str(96 << 20)}
    assert writes("memory", 1, "128M", files) == [              # raise: memsw first
        (limits.MEMSW, str(160 << 20)), ("memory.limit_in_bytes", str(128 << 20))]
    assert writes("memory", 1, "32M", files) == [               # lower: memory first
        ("memory.limit_in_bytes", str(32 << 20)), (limits.MEMSW, str(64 << 20))]
    assert writes("memory", 1, "max", files) == [(limits.MEMSW, "-1"), ("memory.limit_in_bytes", "-1")]


def test_v1_swap_is_memory_plus_swap_and_needs_memory():
    files = {"memory.limit_in_bytes": str(64 << 20), limits.MEMSW: V1_MAX}
    assert writes("swap", 1, "32M", files) == [(limits.MEMSW, str(96 << 20))]
    with pytest.raises(ValueError, match="needs hacontain.limit.memory"):
        writes("swap", 1, "32M", {"memory.limit_in_bytes": V1_MAX, limits.MEMSW: V1_MAX})
    with pytest.raises(ValueError, match="swapaccount"):
        writes("swap", 1, "32M", {"memory.limit_in_bytes": str(64 << 20)})


@pytest.mark.parametrize("name,v1,v2,expected", [
    ("memory", {"memory.limit_in_bytes": V1_MAX}, {"memory.max": "max"}, "max"),
    ("memory", {"memory.limit_in_bytes": "67108864"}, {"memory.max": "67108864"}, "67108864"),
    ("swap", {"memory.limit_in_bytes": "1024", limits.MEMSW: "3072"},
     {"memory.swap.max": "2048"}, "2048"),
    ("cpu.weight", {"cpu.shares": "2598"}, {"cpu.weight": "100"}, "100"),
    ("cpu.shares", {"cpu.shares": "2598"}, {"cpu.weight": "100"}, "2598"),
    ("cpu.quota", {"cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "100000"},
     {"cpu.max": "50000 100000"}, "0.5"),
    ("cpu.quota", {"cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000"},
     {"cpu.max": "max 100000"}, "max"),
    ("io.weight", {"blkio.weight": "21"}, {"io.weight": "default 112\n8:0 300"}, "112"),
    ("io.read_bps", {"blkio.throttle.read_bps_device": "8:0 1048576\n8:16 0"},
     {"io.max": "8:0 rbps=1048576 wbps=max riops=max wiops=max\n8:16 rbps=max wbps=5 riops=max wiops=max"},
     "8:0 1048576"),
])
def test_reading_back(name, v1, v2, expected):
    assert LIMITS[name].from_v1(Files(v1)) == expected
    assert LIMITS[name].from_v2(Files(v2)) == expected


@pytest.mark.parametrize("key,value,message", [
    ("hacontain.limit.memory", "lots", "not a size"),
    ("hacontain.limit.memory", "0", "at least 8 MiB"),
    ("hacontain.limit.memory", "2M", "at least 8 MiB"),
    ("hacontain.limit.pids", "3", "outside 4.."),
    ("hacontain.limit.cpu.weight", "0", "outside 1..10000"),
    ("hacontain.limit.cpu.shares", "1", "outside 2..262144"),
    ("hacontain.limit.cpu.quota", "0.001", "at least 0.01"),
    ("hacontain.limit.cpu.quota", "two", "not a number of CPUs"),
    ("hacontain.limit.cpuset.cpus", "0-", "not a list"),
    ("hacontain.limit.pids", "-3", "outside"),
    ("hacontain.limit.io.read_bps", "sda 1M", "MAJOR:MINOR"),
    ("lxc.cgroup.memory.limit_in_bytes", "1\n2", "single line"),
])
def test_bad_values_name_the_key(key, value, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_key(key).value(value)
    assert caught.value.key == key and str(caught.value).startswith(key)


@pytest.mark.parametrize("key,message", [
    ("hacontain.limit.memroy", "unknown limit"),
    ("lxc.cgroups.memory.max", "not a cgroup key"),
    ("lxc.cgroup2.../../etc/passwd", "not a cgroup control file"),
    ("lxc.cgroup2.memory", "not a cgroup control file"),
    ("lxc.cgroup.devices.allow", "device rules"),
    ("lxc.cgroup2.cgroup.procs", "managed by hacontain"),
    ("lxc.cgroup.freezer.state", "managed by hacontain"),
])
def test_bad_keys_name_the_key(key, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_key(key)
    assert caught.value.key == key


def test_parsed_keys():
    key = parse_key("lxc.cgroup.cpuacct.usage")
    assert (key.version, key.file, key.controller) == (1, "cpuacct.usage", "cpuacct")
    assert parse_key("lxc.cgroup2.io.max").controller == "io"
    assert parse_key("hacontain.limit.io.read_bps").controller == "io"
    assert parse_key("lxc.cgroup2.cgroup.freeze", writing=False).file == "cgroup.freeze"
