"""The console holder on the real kernel: `hacontain console` through a real
pseudo-terminal, the ttys, the bounded console log, start -F, why an init
died, and the holder's crash cases (holder killed, init killed, stop)."""

import fcntl
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import time

import pytest

from hacontain.runtime import state as statefile
from clitools import HACONTAIN, hacontain

pytestmark = pytest.mark.root

ECHO_LOOP = ("echo $0-ready > /dev/console; while read line; do case $line in size) stty size;; tty) tty;; "
             "*) echo \"got:$line\";; esac; done")


class Terminal:
    """The real CLI run on a new pseudo-terminal, driven like a user would."""

    def __init__(self, *args, rows=33, cols=111):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.execv(HACONTAIN[0], HACONTAIN + list(args))
        self.output, self.seen = b"", 0

    def expect(self, token, timeout=20.0):
        """Wait until `token` appears in the output after what was expected before."""
        deadline = time.monotonic() + timeout
        while token not in self.output[self.seen:]:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                raise AssertionError(f"{token!r} not seen; output: {self.output!r}")
        self.seen = self.output.index(token, self.seen) + len(token)

    def _read(self, timeout):
        if not select.select([self.fd], [], [], timeout)[0]:
            return False
        try:
            data = os.read(self.fd, 4096)
        except OSError:                   # EIO: the CLI exited and closed the terminal
            return False
        self.output += data
        return bool(data)

    def wait_raw(self, timeout=20.0):
        """Wait until the CLI has put its terminal in raw mode (it is proxying: what is
        typed before is flushed, as on a real terminal). tcgetattr on a pseudo-terminal
        master reads its slave's settings."""
        deadline = time.monotonic() + timeout
        while termios.tcgetattr(self.fd)[3] & termios.ECHO:
            assert time.monotonic() < deadline, f"never raw; output: {self.output!r}"
            self._read(0.05)

    def send(self, data):
        os.write(self.fd, data)

    def resize(self, rows, cols):
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def wait(self):
        """The CLI's exit code, once it has exited (its remaining output read)."""
        while self._read(5.0):
            pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)


def with_inittab(container, *lines):
    path = os.path.join(container.lxcpath, container.name, "rootfs", "etc", "inittab")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))


def wait_in_log(container, token, timeout=20.0):
    """Wait until `token` is in the console log (while the container runs)."""
    log = container.status().state.console_log
    deadline = time.monotonic() + timeout
    while token not in _read_log(log):
        assert container.status().running and time.monotonic() < deadline, _read_log(log)
        container_holder_wait(container, 0.1)


def _read_log(path):
    """The console log's content; b"" while the holder rotates it (renamed, not yet
    made again)."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return b""


def run_directory_files(container):
    return set(os.listdir(statefile.directory(container.name)))


def test_console_is_interactive_follows_the_window_size_and_detaches(make_container):
    container = make_container()
    with_inittab(container, f"::respawn:/bin/sh -c '{ECHO_LOOP}' console")
    container.start()
    wait_in_log(container, b"console-ready")
    term = Terminal("console", container.name)
    term.expect(b"type Ctrl-a q to detach")
    term.wait_raw()
    term.send(b"hello\n")
    term.expect(b"got:hello")
    term.send(b"size\n")
    term.expect(b"33 111")
    term.resize(40, 120)
    term.send(b"size\n")
    term.expect(b"40 120")
    term.send(b"\x01q")
    term.expect(b"detached")
    assert term.wait() == 0
    assert container.status().running
    with open(container.status().state.console_log, "rb") as handle:
        assert b"got:hello" in handle.read()  # the holder logs what the console shows
    again = Terminal("console", container.name, "-e", "b")
    again.expect(b"Ctrl-b q")
    again.wait_raw()
    again.send(b"back\n")
    again.expect(b"got:back")
    again.send(b"\x02q")
    assert again.wait() == 0


@pytest.fixture
def make_userns_container(make_container):
    """Factory: a container with lxc.idmap, its rootfs shifted and moved where uid
    100000 can pass; stopped and its rootfs removed at teardown."""
    places = []

    def factory(extra=(), inittab=()):
        container = make_container(["lxc.idmap = u 0 100000 65536",
                                    "lxc.idmap = g 0 100000 65536", *extra])
        with_inittab(container, *inittab)
        place = tempfile.mkdtemp(prefix="hacontain-userns-", dir="/tmp")
        places.append((container, place))
        os.chmod(place, 0o711)
        rootfs = os.path.join(place, "rootfs")
        shutil.move(os.path.join(container.directory, "rootfs"), rootfs)
        with open(os.path.join(container.directory, "config"), "a", encoding="utf-8") as handle:
            handle.write(f"lxc.rootfs.path = {rootfs}\n")
        hacontain("shift-rootfs", container.name)
        return container

    yield factory
    for container, place in places:
        container.stop(timeout=0, kill=True)
        shutil.rmtree(place)


def test_console_of_a_user_namespace_container(make_userns_container):
    """With lxc.idmap the holder stays host root (a second child makes the user
    namespace) and the console works the same."""
    container = make_userns_container(inittab=[f"::respawn:/bin/sh -c '{ECHO_LOOP}' console"])
    container.start()
    wait_in_log(container, b"console-ready")
    state = container.status().state
    assert os.stat(f"/proc/{state.holder}").st_uid == 0
    assert os.stat(f"/proc/{state.pid}").st_uid == 100000
    term = Terminal("console", container.name)
    term.expect(b"detach")
    term.wait_raw()
    term.send(b"mapped\n")
    term.expect(b"got:mapped")
    term.send(b"\x01q")
    assert term.wait() == 0


def test_tty_is_handed_over_one_client_at_a_time(make_container):
    container = make_container(["lxc.tty.max = 2"])
    with_inittab(container, f"tty2::respawn:/bin/sh -c '{ECHO_LOOP}' tty2")
    container.start()
    wait_in_log(container, b"tty2-ready")
    term = Terminal("console", container.name, "--tty", "2")
    term.wait_raw()
    term.send(b"tty\n")
    term.expect(b"/dev/tty2")
    busy = hacontain("console", container.name, "--tty", "2", check=False)
    assert busy.returncode == 1 and "tty 2 is in use by another client" in busy.stderr
    term.send(b"\x01q")
    assert term.wait() == 0
    missing = hacontain("console", container.name, "--tty", "3", check=False)
    assert missing.returncode == 1 and "there is no tty 3 (lxc.tty.max = 2)" in missing.stderr
    again = Terminal("console", container.name, "--tty", "2")  # free again after detach
    again.wait_raw()
    again.send(b"again\n")
    again.expect(b"got:again")
    again.send(b"\x01q")
    assert again.wait() == 0


def test_console_of_a_frozen_container_is_refused(make_container):
    container = make_container()
    container.start()
    container.freeze()
    try:
        frozen = hacontain("console", container.name, check=False)
        assert frozen.returncode == 1 and "is FROZEN: unfreeze it" in frozen.stderr
    finally:
        container.unfreeze()


def test_an_init_that_closes_its_descriptors_still_has_a_console(make_container):
    container = make_container([
        "lxc.init.cmd = /bin/sh -c 'exec 0<&- 1>&- 2>&-; echo reopened > /dev/console; "
        "exec sleep 1000'"])
    container.start()
    wait_in_log(container, b"reopened")


def test_console_is_handed_over_raw(make_container):
    """The holder forwards console output from the moment it hands the console over:
    a peer still cooked then would add a second CR to every line."""
    from hacontain.runtime import console
    container = make_container()
    container.start()
    fd, _, connection = console.connect(statefile.directory(container.name), container.name, 0)
    try:
        _, output, _, local, *_ = termios.tcgetattr(fd)
        assert not output & termios.OPOST and not local & (termios.ICANON | termios.ECHO)
    finally:
        os.close(fd)
        os.close(connection)


def container_holder_wait(container, seconds):
    """Wait `seconds` on the holder's pidfd (a condition wait that returns early if it exits)."""
    pidfd = os.pidfd_open(container.status().state.holder)
    try:
        select.select([pidfd], [], [], seconds)
    finally:
        os.close(pidfd)


def test_holder_survives_the_callers_process_group_and_is_the_inits_parent(make_container):
    container = make_container()
    caller = subprocess.Popen(
        ["/bin/sh", "-c", f"{HACONTAIN[0]} start {container.name} && echo started && sleep 1000"],
        start_new_session=True, stdout=subprocess.PIPE)
    assert caller.stdout.readline() == b"started\n"
    os.killpg(caller.pid, signal.SIGKILL)        # the agent's process group, killed
    caller.wait()
    caller.stdout.close()
    state = container.status().state
    assert container.status().running
    assert os.getsid(state.holder) == state.holder != caller.pid   # a session of its own
    with open(f"/proc/{state.pid}/stat", encoding="ascii") as handle:
        assert int(handle.read().rsplit(")", 1)[1].split()[1]) == state.holder


def test_killed_holder_leaves_the_container_running_and_stop_leaves_nothing(make_container):
    container = make_container()
    container.start()
    state = container.status().state
    os.kill(state.holder, signal.SIGKILL)
    _wait_gone(state.holder)
    assert container.status().running          # the container does not depend on it
    gone = hacontain("console", container.name, check=False)
    assert gone.returncode == 1 and "its console holder is gone" in gone.stderr
    assert container.stop(timeout=10) == "halted"
    assert not container.status().present
    assert run_directory_files(container) <= {"lock", "console.log"}


def test_killed_init_is_reported_with_its_signal_and_the_log_kept(make_container):
    container = make_container(["lxc.init.cmd = /bin/sh -c 'echo last-words; exec sleep 1000'"])
    container.start()
    wait_in_log(container, b"last-words")
    state = container.status().state
    os.kill(state.pid, signal.SIGKILL)
    _wait_gone(state.holder)                   # the holder exits with its init
    assert run_directory_files(container) >= {"exit"} and "console" not in \
        run_directory_files(container), "it records the exit and removes its socket"
    info = container.info()
    assert info["state"] == "DEFUNCT"
    assert info["init_exit"] == f"init (pid {state.pid}) was killed by SIGKILL"
    assert "was killed by SIGKILL" in info["reason"]
    assert info["console_log"] == state.console_log
    printed = hacontain("info", container.name).stdout
    assert "was killed by SIGKILL" in printed and state.console_log in printed
    container.stop(timeout=5)
    assert run_directory_files(container) <= {"lock", "console.log"}
    with open(state.console_log, "rb") as handle:
        assert b"last-words" in handle.read()


def test_start_fails_with_the_exit_status_and_last_console_lines(make_container):
    container = make_container(
        ["lxc.init.cmd = /bin/sh -c 'echo first-line; echo cannot-go-on >&2; exit 3'"])
    result = hacontain("start", container.name, check=False)
    assert result.returncode == 1, result.stderr
    assert "its init exited with status 3 right after it started" in result.stderr
    assert "first-line" in result.stderr and "cannot-go-on" in result.stderr
    assert not container.status().present     # cleaned up: nothing of it is left
    assert run_directory_files(container) <= {"lock", "console.log"}


def test_start_in_the_foreground_shows_the_console_and_returns_the_exit_status(make_container):
    container = make_container(
        ["lxc.init.cmd = /bin/sh -c 'echo booting; read answer; echo \"got:$answer\"; exit 7'"])
    term = Terminal("start", "-F", container.name)
    term.expect(b"booting")
    term.wait_raw()
    term.send(b"yes\n")
    term.expect(b"got:yes")
    term.expect(b"its init exited with status 7")
    assert term.wait() == 7
    assert not container.status().present
    assert run_directory_files(container) <= {"lock", "console.log"}


def test_start_in_the_foreground_detaches_with_the_escape_key(make_container):
    container = make_container(["lxc.init.cmd = /bin/sh -c 'echo up; exec sleep 1000'"])
    term = Terminal("start", "-F", container.name)
    term.expect(b"up")
    term.wait_raw()
    term.send(b"\x01q")
    term.expect(b"keeps running")
    assert term.wait() == 0
    assert container.status().running


@pytest.mark.parametrize("rotate", ["1", "0"])
def test_console_log_is_bounded(make_container, rotate):
    """Also when output piles up before the holder reads it (the guest writes 12 kB
    as it starts) and comes in reads larger than the bound."""
    container = make_container([
        "lxc.console.size = 4kB", f"lxc.console.rotate = {rotate}",
        "lxc.init.cmd = /bin/sh -c 'i=0; while [ $i -lt 300 ]; do "
        "echo line-$i-of-the-console-log-padding; i=$((i+1)); done; echo done-writing; "
        "exec sleep 1000'"])
    container.start()
    log = container.status().state.console_log
    wait_in_log(container, b"done-writing")
    assert os.path.getsize(log) <= 4096
    assert os.path.exists(log + ".1") == (rotate == "1")
    if rotate == "1":
        assert os.path.getsize(log + ".1") <= 4096


def test_console_logfile_is_honoured(make_container, tmp_path):
    log = tmp_path / "custom-console.log"
    container = make_container([f"lxc.console.logfile = {log}",
                                "lxc.init.cmd = /bin/sh -c 'echo to-custom; exec sleep 1000'"])
    container.start()
    assert container.info()["console_log"] == str(log)
    wait_in_log(container, b"to-custom")
    container.stop(timeout=5)
    assert b"to-custom" in log.read_bytes()


@pytest.mark.parametrize("userns", [False, True], ids=["plain", "userns"])
def test_a_console_log_the_holder_cannot_open_fails_the_start_and_leaves_nothing(
        make_container, make_userns_container, tmp_path, userns):
    """The holder opens the log once it has forked the init (with a user namespace,
    before): either way the start reports why, and neither init nor cgroup stays."""
    log = tmp_path / "no-such-directory" / "console.log"
    container = (make_userns_container if userns else make_container)(
        [f"lxc.console.logfile = {log}"])
    result = hacontain("start", container.name, check=False)
    assert result.returncode == 1, result
    assert str(log) in result.stderr and "No such file or directory" in result.stderr, result
    assert not container.status().present       # no state, no cgroup: nothing runs in it


def test_bad_console_size_names_the_line(make_container):
    container = make_container(["lxc.console.size = lots"])
    result = hacontain("start", container.name, check=False)
    assert result.returncode == 1
    assert "lxc.console.size" in result.stderr and "is not a size" in result.stderr
    assert not container.status().present


def test_start_without_the_holders_program_says_so_and_makes_nothing(make_container, tmp_path,
                                                                     monkeypatch):
    from hacontain.errors import NotInstalled
    from hacontain.runtime import console
    missing = str(tmp_path / "console-holder")
    monkeypatch.setattr(console, "PROGRAM", missing)
    container = make_container()
    with pytest.raises(NotInstalled, match=f"program {missing} is missing"):
        container.start()
    assert not container.status().present
    assert not os.path.exists(statefile.directory(container.name) + "/state.json")


def _wait_gone(pid, timeout=10.0):
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        assert select.select([pidfd], [], [], timeout)[0], f"process {pid} did not exit"
    finally:
        os.close(pidfd)
