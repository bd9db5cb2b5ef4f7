"""The real-kernel cgroup behaviours, shared by test_cgroup_v1.py (this kind of
host's v1 controllers, also as a simulated pure-v1 host) and test_cgroup_v2.py
(a pure v2 host such as the VM tier's). No tests here: each check_* is called
by a test of those files with a CgroupScope for its layout.

CgroupScope makes cgroups below hacontain-test-<pid> (relative to the
caller's own cgroup), starts processes in them the way the runtime does
(add_process in the child before exec), and on exit kills and reaps every
process, removes every cgroup and fails if anything of it is left.
"""

import errno
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time

from hacontain.runtime.cgroups import open_cgroup
from hacontain.runtime.cgroups.devices import DEFAULT_ALLOW
from hacontain.runtime.cgroups.fs import CGROUPFS
from hacontain.runtime.cgroups.layout import detect_layout
from hacontain.runtime.cgroups.place import places_from_record
from hacontain.runtime.cgroups.v2 import V2Cgroup

MiB = 1 << 20
_names = itertools.count()


def swap_in_use():
    with open("/proc/swaps") as handle:
        return len(handle.read().splitlines()) > 1


class CgroupScope:
    """Cgroups and processes of one test, all removed on exit."""

    def __init__(self, proc="/proc"):
        self.proc, self.parent = proc, f"hacontain-test-{os.getpid()}"
        self.cgroups, self.processes = [], []

    def __enter__(self):
        return self

    def cgroup(self, limits=(), devices=None, default_parent=False):
        """A new cgroup below this scope's parent (or hacontain's default parent)."""
        name = f"hacontain-test-{os.getpid()}-{next(_names)}"
        cg = open_cgroup(name, None if default_parent else self.parent, proc=self.proc)
        self.cgroups.append(cg)
        cg.create(list(limits), devices)
        return cg

    def start(self, cg, code, **options):
        """python3 -c `code`, a member of `cg` before it runs anything."""
        options.setdefault("stdout", subprocess.PIPE)
        options.setdefault("text", True)
        preexec = None if cg is None else (lambda: cg.add_process(os.getpid()))
        process = subprocess.Popen([sys.executable, "-c", code], preexec_fn=preexec, **options)
        self.processes.append(process)
        return process

    def layout(self):
        return detect_layout(proc=self.proc)

    def __exit__(self, *exc):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(10)
            for stream in (process.stdin, process.stdout):
                if stream:
                    stream.close()
        for cg in self.cgroups:
            if cg.exists():
                if cg.pids():
                    cg.kill_all(10)
                cg.remove()
        left = [path for path in self.created_dirs() if os.path.exists(path)]
        assert not left, f"cgroups left behind: {left}"

    def created_dirs(self):
        """Every directory of this scope's parent, on every hierarchy."""
        return [h.dir_of(f"{h.caller.rstrip('/')}/{self.parent}")
                for h in detect_layout(proc=self.proc).hierarchies]


def wait_for(predicate, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not within {timeout} s"
        time.sleep(0.02)


def memory_limits(memory):
    limits = [("hacontain.limit.memory", memory)]
    return limits + [("hacontain.limit.swap", "0")] if swap_in_use() else limits


# -- the checks ----------------------------------------------------------------

HOLD = "import sys; data = b'x' * ({size}); print('holding', flush=True); sys.stdin.readline()"


def check_memory_limit_oom_kills_inside_only(scope):
    cg = scope.cgroup(memory_limits("64M"))
    bystander = scope.start(None, HOLD.format(size=128 * MiB), stdin=subprocess.PIPE)
    assert bystander.stdout.readline().strip() == "holding"
    hog = scope.start(cg, HOLD.format(size=256 * MiB), stdin=subprocess.PIPE)
    out, _ = hog.communicate(timeout=30)
    assert hog.returncode == -signal.SIGKILL and "holding" not in out
    assert bystander.poll() is None, "the OOM killer hit a process outside the cgroup"
    peak = cg.stats()["memory.peak"]
    assert peak is None or peak <= 64 * MiB + MiB


FORKS = """
import os, sys
read_end, write_end = os.pipe()
made = failed = 0
for _ in range(30):
    try:
        pid = os.fork()
    except BlockingIOError:
        failed += 1
        continue
    if pid == 0:
        os.close(write_end)
        os.read(read_end, 1)
        os._exit(0)
    made += 1
print(made, failed, flush=True)
os.close(write_end)
for _ in range(made):
    os.wait()
"""


def check_pids_limit_stops_a_fork_loop(scope):
    cg = scope.cgroup([("hacontain.limit.pids", "10")])
    loop = scope.start(cg, FORKS)
    out, _ = loop.communicate(timeout=30)
    assert loop.returncode == 0
    assert out.split() == ["9", "21"], out          # 10 = the loop itself + 9 children
    assert cg.get("hacontain.limit.pids") == "10"


def check_cpuset_pins(scope):
    cpu = max(os.sched_getaffinity(0))
    cg = scope.cgroup([("hacontain.limit.cpuset.cpus", str(cpu))])
    show = scope.start(cg, "print([l.split()[1] for l in open('/proc/self/status') "
                           "if l.startswith('Cpus_allowed_list')][0])")
    out, _ = show.communicate(timeout=10)
    assert out.strip() == str(cpu)
    assert cg.get("hacontain.limit.cpuset.cpus") == str(cpu)


BURN = """
import time
start, cpu = time.monotonic(), time.process_time()
while time.monotonic() < start + 1.5:
    pass
print((time.process_time() - cpu) / (time.monotonic() - start), flush=True)
"""


def check_cpu_quota_throttles(scope):
    cg = scope.cgroup([("hacontain.limit.cpu.quota", "0.2")])
    assert cg.get("hacontain.limit.cpu.quota") == "0.2"
    burn = scope.start(cg, BURN)
    out, _ = burn.communicate(timeout=30)
    share = float(out)                        # CPU seconds per second while busy-looping
    assert share < 0.4, f"a busy loop got {share:.2f} CPUs with a 0.2 CPU quota"
    assert cg.stats()["cpu.user"] > 0.1


COUNTER = """
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
n = 0
while True:
    n += 1
    os.pwrite(fd, b"%20d" % n, 0)
    time.sleep(0.005)
"""


def check_freeze_stops_progress_and_thaw_resumes(scope):
    cg = scope.cgroup()
    with tempfile.NamedTemporaryFile() as counter:
        scope.start(cg, COUNTER.replace("sys.argv[1]", repr(counter.name)))

        def count():
            text = open(counter.name).read().strip()
            return int(text) if text else 0
        wait_for(lambda: count() > 5, what="the counter starting")
        cg.freeze()
        assert cg.frozen()
        frozen_at = count()
        time.sleep(0.3)
        assert count() == frozen_at, "the counter advanced while frozen"
        cg.thaw()
        assert not cg.frozen()
        wait_for(lambda: count() > frozen_at + 5, what="the counter resuming")


def start_family(scope, cg):
    """A process ignoring SIGTERM with a child and a grandchild; returns it once all three exist."""
    code = ("import os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "if os.fork() == 0:\n    os.fork()\nprint('up', flush=True)\ntime.sleep(120)\n")
    family = scope.start(cg, code)
    wait_for(lambda: len(cg.pids()) == 3, what="three processes in the cgroup")
    return family


def check_kill_all_empties_and_remove_removes(scope):
    cg = scope.cgroup([("hacontain.limit.pids", "50")])
    family = start_family(scope, cg)
    cg.kill_all(10)
    assert cg.pids() == []
    assert family.wait(10) == -signal.SIGKILL
    cg.remove()
    assert not cg.exists()
    assert not any(os.path.exists(d) for d in scope.created_dirs()), "the empty parent stayed"


def check_unified_cgroup_kill(scope):
    """cgroup.kill of the v2 cgroup kills members in every hierarchy (hybrid and v2 hosts)."""
    cg = scope.cgroup()
    family = start_family(scope, cg)
    place = next(p for p in places_from_record(scope.layout(), cg.paths) if p.hierarchy.version == 2)
    V2Cgroup(place, CGROUPFS).kill()
    wait_for(lambda: cg.pids() == [], what="the cgroup emptied by cgroup.kill")
    assert family.wait(10) == -signal.SIGKILL


OPEN = """
import os
for path in {paths!r}:
    try:
        os.close(os.open(path, os.O_RDONLY))
        print(path, "ok")
    except OSError as exc:
        print(path, exc.errno)
"""


def opens(scope, cg, paths):
    """{path: "ok" or errno} for opening each path from inside `cg` (or outside for None)."""
    out, _ = scope.start(cg, OPEN.format(paths=paths)).communicate(timeout=10)
    return dict(line.rsplit(" ", 1) for line in out.splitlines())


def block_device():
    return next((f"/dev/{name}" for name in sorted(os.listdir("/sys/block"))
                 if os.path.exists(f"/dev/{name}") and not name.startswith(("zram", "ram"))), None)


def check_denied_devices_cannot_be_opened(scope):
    denied = [("allow", rule) for rule in DEFAULT_ALLOW] + [("deny", "c 1:7 rwm")]
    paths = ["/dev/null", "/dev/full"] + ([block_device()] if block_device() else [])
    assert set(opens(scope, None, paths).values()) == {"ok"}, "the test needs openable devices"
    inside = opens(scope, scope.cgroup(devices=denied), paths)
    assert inside["/dev/null"] == "ok" and inside["/dev/full"] == str(errno.EPERM)
    if block_device():
        assert inside[block_device()] == str(errno.EPERM), "the default policy let a disk through"
    default = opens(scope, scope.cgroup(), paths)
    assert default["/dev/full"] == "ok" and default["/dev/null"] == "ok"


def check_live_memory_change(scope):
    cg = scope.cgroup(memory_limits("64M"))
    grower = scope.start(cg, "import sys; sys.stdin.readline(); data = b'x' * (128 << 20); "
                             "print('grown', flush=True)", stdin=subprocess.PIPE)
    cg.set("hacontain.limit.memory", "512M")
    assert cg.get("hacontain.limit.memory") == str(512 * MiB)
    out, _ = grower.communicate("go\n", timeout=30)
    assert grower.returncode == 0 and out.strip() == "grown"
    cg.set("hacontain.limit.memory", "64M")
    assert cg.get("hacontain.limit.memory") == str(64 * MiB)


def check_stats_count_members(scope):
    cg = scope.cgroup()
    start_family(scope, cg)
    stats = cg.stats()
    assert stats["pids.current"] == 3 and stats["memory.current"] > 0
    assert set(stats) == {"memory.current", "memory.peak", "cpu.user", "cpu.system",
                          "io.read_bytes", "io.write_bytes", "pids.current"}
