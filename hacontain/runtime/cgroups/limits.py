"""hacontain's version-independent limits (hacontain.limit.NAME) and their
translation to cgroup v1 and v2 files. This table is the documentation:

| NAME          | value                                  | cgroup v2                  | cgroup v1                                        |
|---------------|----------------------------------------|----------------------------|--------------------------------------------------|
| memory        | bytes, suffix K/M/G/T (x1024), or max  | memory.max                 | memory.limit_in_bytes (max: -1)                  |
| swap          | swap beyond memory: bytes/suffix/max   | memory.swap.max            | memory.memsw.limit_in_bytes = memory + swap      |
| cpu.weight    | 1..10000                               | cpu.weight                 | cpu.shares = 2 + ceil((W - 1) * 262142 / 9999)   |
| cpu.shares    | 2..262144                              | cpu.weight = 1 + ((S - 2) * 9999) // 262142 | cpu.shares                      |
| cpu.quota     | CPUs, a decimal >= 0.01, or max        | cpu.max "Q 100000"         | cpu.cfs_period_us 100000, cpu.cfs_quota_us Q     |
| cpuset.cpus   | CPU list, e.g. 0-3,6                   | cpuset.cpus                | cpuset.cpus                                      |
| cpuset.mems   | memory node list, e.g. 0               | cpuset.mems                | cpuset.mems                                      |
| pids          | a count or max                         | pids.max                   | pids.max                                         |
| io.weight     | 1..10000                               | io.weight "default W"      | blkio.weight (or blkio.bfq.weight) = 10 + ceil((W - 1) * 990 / 9999) |
| io.read_bps   | "MAJ:MIN BYTES" (suffixes ok) or "MAJ:MIN max" | io.max "MAJ:MIN rbps=B" | blkio.throttle.read_bps_device "MAJ:MIN B" (max: 0) |
| io.write_bps  | as io.read_bps                         | io.max wbps=               | blkio.throttle.write_bps_device                  |
| io.read_iops  | "MAJ:MIN COUNT" or "MAJ:MIN max"       | io.max riops=              | blkio.throttle.read_iops_device                  |
| io.write_iops | as io.read_iops                        | io.max wiops=              | blkio.throttle.write_iops_device                 |

Q = CPUs x 100000 (microseconds of CPU time per 100 ms period), at most
2^44 - 1 (the kernel's bound). Values are ASCII: other scripts' digits are
refused, as the kernel would. Sizes are below 2^63 (8 EiB); CPU numbers below
8192 and memory nodes below 1024 (the most any Linux kernel supports; which
of them this host has is checked against its cgroups, see keys.py); pids up to
4194304 (PID_MAX_LIMIT). A memory limit is at least 8 MiB and pids at least 4:
with less no container can start (MIN_MEMORY, MIN_PIDS). The shares
to weight formula is the one of the kernel/runc documentation; the inverse
rounds up so that a weight survives the round trip through shares (shares do
not: many map to one weight). A v1 swap limit needs the memory limit set
before it; a later memory change keeps the swap allowance. Reading a limit
back (get) gives the same syntax: bytes or max, CPUs, weights, and for the io
throttles one "MAJ:MIN VALUE" line per limited device.
"""

import math

from hacontain import chars
from hacontain.record import Record

CPU_PERIOD_US = 100000
V1_UNLIMITED = 1 << 62        # v1 reports "no limit" as PAGE_COUNTER_MAX pages in bytes (>= this)
_SUFFIX = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
MAX_QUOTA_US = (1 << 44) - 1  # the kernel's max_cfs_runtime, in microseconds
MAX_SIZE = (1 << 63) - 1
MAX_CPU, MAX_NODE = 8191, 1023  # NR_CPUS and MAX_NUMNODES at their largest, less 1
PID_MAX_LIMIT = 4 * 1024 * 1024
# What starting a container takes in its cgroup: a memory limit below ~3 MiB or
# pids below 3 (launch.py's processes) fail every start; these leave a margin.
MIN_MEMORY, MIN_PIDS = 8 << 20, 4
MEMSW = "memory.memsw.limit_in_bytes"
SWAP_NEEDS_MEMORY = ("on cgroup v1 a swap limit needs hacontain.limit.memory set before it "
                     "(memory.memsw.limit_in_bytes = memory + swap)")


class Limit(Record):
    """One hacontain.limit key: how to parse its value and write/read it per version.

    to_v1/to_v2(value, files) give the (file, text) writes in order; from_v1/
    from_v2(files) read the current value back. `files` reads the container's
    cgroup: files.read(name) -> text, files.exists(name) -> bool. Translation
    problems raise ValueError (the caller names the key).
    """

    name: str
    controller: str                 # the v2 name of the controller it needs
    parse: object                   # the functions named above
    to_v1: object
    to_v2: object
    from_v1: object
    from_v2: object


# -- value syntax --------------------------------------------------------

def parse_size(text):
    """Bytes from "256M"/"1g"/"4096"; None for "max"."""
    text = text.strip()
    if text == "max":
        return None
    number, suffix = text, ""
    if text[-1:].lower() in ("k", "m", "g", "t"):
        number, suffix = text[:-1].rstrip(), text[-1].lower()
    if not chars.is_number(number):
        raise ValueError(f"{text!r} is not a size (bytes with an optional K/M/G/T suffix, or max)")
    size = int(number) * _SUFFIX[suffix]
    if size > MAX_SIZE:
        raise ValueError(f"{text!r} is more than 8 EiB")
    return size


def parse_memory(text):
    """A memory limit: at least MIN_MEMORY, or None for "max"."""
    size = parse_size(text)
    if size is not None and size < MIN_MEMORY:
        raise ValueError(f"{text.strip()!r}: a container needs at least {MIN_MEMORY >> 20} MiB "
                         "(its first process, a fork of hacontain, is charged to it)")
    return size


def count_between(low, high):
    def parse(text):
        if not _digits(text.strip().removeprefix("-")):
            raise ValueError(f"{text!r} is not a whole number")
        value = int(text.strip())
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}..{high}")
        return value
    return parse


def _digits(text):
    """Whether `text` is one or more of the ASCII digits 0-9 (str.isdigit takes any script's)."""
    return text.isascii() and text.isdigit()


def parse_count_or_max(text):
    text = text.strip()
    if text == "max":
        return None
    return count_between(0, 2**63 - 1)(text)


def parse_pids(text):
    """A process count (MIN_PIDS..PID_MAX_LIMIT); None for "max"."""
    text = text.strip()
    return None if text == "max" else count_between(MIN_PIDS, PID_MAX_LIMIT)(text)


def parse_cpus(text):
    """CPUs as a Decimal ("0.5", "2"); None for "max"."""
    from decimal import Decimal, InvalidOperation   # only when a CPU quota is set
    text = text.strip()
    if text == "max":
        return None
    try:
        if not text.isascii():
            raise InvalidOperation(text)
        cpus = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number of CPUs (e.g. 0.5, 2, or max)") from None
    if not cpus.is_finite() or cpus * CPU_PERIOD_US < 1000:
        raise ValueError(f"{text!r}: the quota must be at least 0.01 CPUs")
    if cpus * CPU_PERIOD_US > MAX_QUOTA_US:
        raise ValueError(f"{text!r}: the quota must be at most {MAX_QUOTA_US // CPU_PERIOD_US} "
                         "CPUs (the kernel's largest)")
    return cpus


def list_parser(most):
    """A parser of lists like "0-3,6" (ascending ranges of numbers up to `most`)."""
    def parse(text):
        text = text.strip()
        members(text, most)
        return text
    return parse


def members(text, most=MAX_CPU):
    """The numbers of a list like "0-3,6"; ValueError when it is not one (up to `most`)."""
    numbers = set()
    for part in text.split(","):
        low, dash, high = part.partition("-")
        if not _digits(low) or (dash and not _digits(high)):
            raise ValueError(f"{text!r} is not a list like 0-3,6")
        first = int(low)
        last = int(high) if dash else first
        if last < first:
            raise ValueError(f"{text!r}: the range {part} goes down")
        if last > most:
            raise ValueError(f"{text!r}: {last} is beyond {most}, the largest any kernel has")
        numbers.update(range(first, last + 1))
    return numbers


def throttle_parser(value_parser):
    """ "MAJ:MIN VALUE" -> (device, amount or None for max)."""
    def parse(text):
        words = text.split()
        major, colon, minor = words[0].partition(":") if words else ("", "", "")
        if len(words) != 2 or not (chars.is_number(major) and colon and chars.is_number(minor)):
            raise ValueError(f"{text!r} is not 'MAJOR:MINOR VALUE'")
        return words[0], value_parser(words[1])
    return parse


# -- conversions ---------------------------------------------------------

def shares_to_weight(shares):
    return 1 + ((shares - 2) * 9999) // 262142


def weight_to_shares(weight):
    return 2 + math.ceil((weight - 1) * 262142 / 9999)


def io_weight_to_blkio(weight):
    return 10 + math.ceil((weight - 1) * 990 / 9999)


def blkio_to_io_weight(blkio):
    return 1 + ((blkio - 10) * 9999) // 990


def _text(amount):
    return "max" if amount is None else str(amount)


def _v1_bytes(text):
    value = int(text)
    return None if value >= V1_UNLIMITED else value


def _cpus_text(quota, period):
    from decimal import Decimal
    return "max" if quota is None else format((Decimal(quota) / Decimal(period)).normalize(), "f")


def _weight_value(text):
    """A weight file's default: "default 100" (io.weight, bfq) or a bare number."""
    first = text.splitlines()[0].split()
    return int(first[-1])


# -- memory --------------------------------------------------------------

def _memory_v1(limit, files):
    """memory.limit_in_bytes, moving memsw along so the swap allowance stays."""
    memory = ("memory.limit_in_bytes", "-1" if limit is None else str(limit))
    memsw = _v1_bytes(files.read(MEMSW)) if files.exists(MEMSW) else None
    if memsw is None:
        return [memory]
    old = _v1_bytes(files.read("memory.limit_in_bytes"))
    if limit is None:
        return [(MEMSW, "-1"), memory]
    both = (MEMSW, str(limit + memsw - old))
    return [both, memory] if limit > old else [memory, both]


def _swap_v1(swap, files):
    if not files.exists(MEMSW):
        raise ValueError("this kernel does not account swap in cgroup v1 (boot with swapaccount=1)")
    if swap is None:
        return [(MEMSW, "-1")]
    memory = _v1_bytes(files.read("memory.limit_in_bytes"))
    if memory is None:
        raise ValueError(SWAP_NEEDS_MEMORY)
    return [(MEMSW, str(memory + swap))]


def _swap_from_v1(files):
    memsw = _v1_bytes(files.read(MEMSW))
    return "max" if memsw is None else str(memsw - _v1_bytes(files.read("memory.limit_in_bytes")))


def _number_or_max(file):
    """A writer and a reader of a file holding a number or "max"."""
    return (lambda value, files: [(file, _text(value))]), (lambda files: files.read(file))


# -- cpu -----------------------------------------------------------------

def _quota_v2(cpus, files):
    quota = "max" if cpus is None else str(int(cpus * CPU_PERIOD_US))
    return [("cpu.max", f"{quota} {CPU_PERIOD_US}")]


def _quota_v1(cpus, files):
    quota = "-1" if cpus is None else str(int(cpus * CPU_PERIOD_US))
    return [("cpu.cfs_period_us", str(CPU_PERIOD_US)), ("cpu.cfs_quota_us", quota)]


def _quota_from_v2(files):
    quota, period = files.read("cpu.max").split()
    return _cpus_text(None if quota == "max" else int(quota), int(period))


def _quota_from_v1(files):
    quota = int(files.read("cpu.cfs_quota_us"))
    return _cpus_text(None if quota < 0 else quota, int(files.read("cpu.cfs_period_us")))


# -- io ------------------------------------------------------------------

def _blkio_weight_file(files):
    for name in ("blkio.weight", "blkio.bfq.weight"):
        if files.exists(name):
            return name
    raise ValueError("this kernel has no blkio.weight nor blkio.bfq.weight (no CFQ/BFQ scheduler)")


def _io_weight_v2(weight, files):
    if not files.exists("io.weight"):
        raise ValueError("this kernel has no io.weight (no blk-iocost)")
    return [("io.weight", f"default {weight}")]


def _io_weight_v1(weight, files):
    return [(_blkio_weight_file(files), str(io_weight_to_blkio(weight)))]


def _throttle(v2_field, v1_file):
    """The four translators of one io.max field / blkio.throttle file."""
    def to_v2(value, files):
        device, amount = value
        return [("io.max", f"{device} {v2_field}={_text(amount)}")]

    def to_v1(value, files):
        device, amount = value
        return [(v1_file, f"{device} {0 if amount is None else amount}")]

    def from_v2(files):
        lines = []
        for line in files.read("io.max").splitlines():
            device, *fields = line.split()
            settings = dict(field.split("=", 1) for field in fields)
            if settings.get(v2_field, "max") != "max":
                lines.append(f"{device} {settings[v2_field]}")
        return "\n".join(lines)

    def from_v1(files):
        return "\n".join(line for line in files.read(v1_file).splitlines()
                         if line.split() and line.split()[-1] != "0")
    return to_v1, to_v2, from_v1, from_v2


def _table():
    memory_v2, memory_from_v2 = _number_or_max("memory.max")
    swap_v2, swap_from_v2 = _number_or_max("memory.swap.max")
    pids_write, pids_read = _number_or_max("pids.max")

    def as_given(file):
        return (lambda value, files: [(file, value)]), (lambda files: files.read(file))
    cpus_write, cpus_read = as_given("cpuset.cpus")
    mems_write, mems_read = as_given("cpuset.mems")
    weight = count_between(1, 10000)
    size_throttle, count_throttle = throttle_parser(parse_size), throttle_parser(parse_count_or_max)
    limits = [
        Limit("memory", "memory", parse_memory, _memory_v1, memory_v2,
              lambda f: _text(_v1_bytes(f.read("memory.limit_in_bytes"))), memory_from_v2),
        Limit("swap", "memory", parse_size, _swap_v1, swap_v2, _swap_from_v1, swap_from_v2),
        Limit("cpu.weight", "cpu", weight,
              lambda w, f: [("cpu.shares", str(weight_to_shares(w)))],
              lambda w, f: [("cpu.weight", str(w))],
              lambda f: str(shares_to_weight(int(f.read("cpu.shares")))),
              lambda f: f.read("cpu.weight")),
        Limit("cpu.shares", "cpu", count_between(2, 262144),
              lambda s, f: [("cpu.shares", str(s))],
              lambda s, f: [("cpu.weight", str(shares_to_weight(s)))],
              lambda f: f.read("cpu.shares"),
              lambda f: str(weight_to_shares(int(f.read("cpu.weight"))))),
        Limit("cpu.quota", "cpu", parse_cpus, _quota_v1, _quota_v2, _quota_from_v1, _quota_from_v2),
        Limit("cpuset.cpus", "cpuset", list_parser(MAX_CPU),
              cpus_write, cpus_write, cpus_read, cpus_read),
        Limit("cpuset.mems", "cpuset", list_parser(MAX_NODE),
              mems_write, mems_write, mems_read, mems_read),
        Limit("pids", "pids", parse_pids,
              pids_write, pids_write, pids_read, pids_read),
        Limit("io.weight", "io", weight, _io_weight_v1, _io_weight_v2,
              lambda f: str(blkio_to_io_weight(_weight_value(f.read(_blkio_weight_file(f))))),
              lambda f: str(_weight_value(f.read("io.weight")))),
        Limit("io.read_bps", "io", size_throttle,
              *_throttle("rbps", "blkio.throttle.read_bps_device")),
        Limit("io.write_bps", "io", size_throttle,
              *_throttle("wbps", "blkio.throttle.write_bps_device")),
        Limit("io.read_iops", "io", count_throttle,
              *_throttle("riops", "blkio.throttle.read_iops_device")),
        Limit("io.write_iops", "io", count_throttle,
              *_throttle("wiops", "blkio.throttle.write_iops_device")),
    ]
    return {limit.name: limit for limit in limits}


LIMITS = _table()
