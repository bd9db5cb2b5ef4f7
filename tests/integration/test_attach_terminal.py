"""attach and execute, with and without a terminal: the real CLI on a pseudo-terminal
the test makes (tests/ptytools.py), never the session's own terminal."""

import os
import stat
import subprocess

import pytest

from clitools import HACONTAIN, hacontain
from ptytools import Terminal

pytestmark = pytest.mark.root

PTS_MAJOR = 136


def _devpts_of(pid):
    """st_dev of the devpts mounted on /dev/pts in the mount namespace of `pid`."""
    return os.stat(f"/proc/{pid}/root/dev/pts/ptmx").st_dev


def _terminal_fds(pid):
    """{fd: (st_dev, st_rdev)} of the terminals process `pid` holds."""
    found = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            info = os.stat(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if stat.S_ISCHR(info.st_mode) and os.major(info.st_rdev) in (PTS_MAJOR, 5):
            found[int(fd)] = (info.st_dev, info.st_rdev)
    return found


def test_attach_gets_a_terminal_of_the_container(make_container):
    container = make_container()
    container.start()
    init = container.status().state.pid
    script = ("tty; readlink /proc/self/fd/0; stty size; echo READY; read line; "
              "i=0; while [ \"$(stty size)\" != '41 97' ] && [ $i -lt 300 ]; do sleep 0.1; "
              "i=$((i+1)); done; stty size; echo \"got $line\"; exit 7")
    with Terminal(HACONTAIN + ["attach", container.name, "-P", container.lxcpath, "--",
                               "/bin/sh", "-c", script], rows=33, cols=111) as term:
        before = term.attributes()
        outer = os.fstat(term.slave)
        first = term.expect(rb"(/dev/pts/\d+)\r\n(/dev/pts/\d+)\r\n33 111\r\nREADY")
        assert first.group(1) == first.group(2)
        # While the command waits: every process of the container (the attach helper
        # included) holds terminals of the container's devpts only, never the test's;
        # the shell's stdin, stdout and stderr are one pty slave of that devpts.
        devpts = _devpts_of(init)
        holders = {pid: _terminal_fds(pid) for pid in container._cgroup_of_running().pids()}
        for pid, fds in holders.items():
            for fd, (device, rdev) in fds.items():
                assert (device, rdev) != (outer.st_dev, outer.st_rdev), \
                    f"pid {pid} fd {fd} is the outer terminal"
                assert device == devpts, (pid, fd, device, rdev)
        shells = [fds for fds in holders.values() if set(fds) >= {0, 1, 2}
                  and len({fds[0], fds[1], fds[2]}) == 1 and os.major(fds[0][1]) == PTS_MAJOR
                  and os.minor(fds[0][1]) == int(first.group(1).rsplit(b"/", 1)[1])]
        assert shells, holders
        # The raw outer terminal passes the line; the new size reaches the inside.
        assert term.attributes() != before
        term.resize(41, 97)
        term.type("hello\r")
        term.expect(r"41 97\r\ngot hello")
        assert term.wait() == 7
        assert term.attributes() == before


def test_attach_returns_when_the_command_ends_though_a_child_keeps_the_terminal(make_container):
    container = make_container()
    container.start()
    with Terminal(HACONTAIN + ["attach", container.name, "-P", container.lxcpath, "--",
                               "/bin/sh", "-c", "sleep 1000 & echo bye-$((40+2)); exit 4"]) as term:
        assert term.wait() == 4
        assert b"bye-42" in term.output


def test_attach_on_a_terminal_passes_pipes_through(make_container):
    """stdin a pipe, stdout/stderr the terminal: the pipe's data reaches the command
    unchanged, its output comes back on the terminal."""
    container = make_container()
    container.start()
    master, slave = os.openpty()
    try:
        process = subprocess.Popen(
            HACONTAIN + ["attach", container.name, "-P", container.lxcpath, "--",
                         "/bin/sh", "-c", "tty; test -t 0 || echo stdin-not-a-tty; wc -c"],
            stdin=subprocess.PIPE, stdout=slave, stderr=slave)
        process.communicate(b"12345", timeout=60)
        assert process.returncode == 0
        output = os.read(master, 65536)
        assert b"not a tty" in output and b"stdin-not-a-tty" in output and b"5" in output
    finally:
        os.close(master)
        os.close(slave)


def test_attach_without_a_terminal_has_no_controlling_terminal(make_container):
    """Pipes pass through unchanged (no \\r), and the command is in a session of its
    own: the caller's controlling terminal (a pty of the test) cannot be opened as
    /dev/tty inside."""
    container = make_container()
    container.start()
    master, slave = os.openpty()
    path = os.ttyname(slave)

    def take_controlling_terminal():       # opened by a session leader: its terminal
        os.close(os.open(path, os.O_RDWR))

    try:
        result = subprocess.run(
            HACONTAIN + ["attach", container.name, "-P", container.lxcpath, "--", "/bin/sh",
                         "-c", "cat; echo err >&2; (exec 3</dev/tty) 2>/dev/null && echo HAS-TTY; "
                         "cut -d' ' -f7 /proc/self/stat"],
            input=b"line1\nline2\n", capture_output=True, timeout=60, start_new_session=True,
            preexec_fn=take_controlling_terminal)
    finally:
        os.close(master)
        os.close(slave)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"line1\nline2\n0\n"      # tty_nr 0: no controlling terminal
    assert result.stderr == b"err\n"


def test_attach_refuses_a_frozen_container(make_container):
    container = make_container()
    container.start()
    container.freeze()
    try:
        result = hacontain("attach", container.name, "-P", container.lxcpath, "--", "/bin/true",
                           check=False, timeout=60)
        assert result.returncode == 1
        assert f"container {container.name} is frozen" in result.stderr
    finally:
        container.unfreeze()


def _execute(container, *command):
    return HACONTAIN + ["execute", container.name, "-P", container.lxcpath, "--"] + list(command)


def test_execute_on_a_terminal_gets_the_console_in_the_foreground(make_container):
    container = make_container()
    script = ("echo early; tty; echo READY; read line; "
              "i=0; while [ \"$(stty size)\" != '29 93' ] && [ $i -lt 300 ]; do sleep 0.1; "
              "i=$((i+1)); done; stty size; echo \"got $line\"; exit 3")
    with Terminal(_execute(container, "/bin/sh", "-c", script), rows=29, cols=93) as term:
        before = term.attributes()
        # What it wrote before the console was reached is replayed from the log (\r+:
        # written before the terminal is raw, the replay gets one more \r).
        term.expect(r"early\r+\n/dev/pts/\d+\r+\nREADY")
        # No process in the container's namespaces holds the outer terminal.
        outer = os.fstat(term.slave)
        init = container.status().state.pid
        pid_namespace = os.stat(f"/proc/{init}/ns/pid").st_ino
        inside = [pid for pid in container._cgroup_of_running().pids()
                  if os.stat(f"/proc/{pid}/ns/pid").st_ino == pid_namespace]
        assert init in inside
        for pid in inside:
            assert (outer.st_dev, outer.st_rdev) not in _terminal_fds(pid).values(), pid
        term.type("hello\r")
        term.expect(r"29 93\r\ngot hello")
        assert term.wait() == 3
        assert term.attributes() == before
    assert not container.status().present


def test_execute_on_a_terminal_shows_a_command_that_ended_at_once(make_container):
    container = make_container()
    with Terminal(_execute(container, "/bin/sh", "-c",
                           "echo quick-$((40+2)); echo second; exit 4")) as term:
        assert term.wait() == 4
        # Lines end as the console wrote them, whether shown live or from its log.
        assert b"quick-42\r\nsecond\r\n" in term.output, term.output
    assert not container.status().present


def test_execute_on_a_terminal_ends_with_ctrl_a_q(make_container):
    container = make_container()
    with Terminal(_execute(container, "/bin/sh", "-c", "echo RUNNING; exec sleep 1000")) as term:
        term.expect("RUNNING")
        term.type(b"\x01q")
        assert term.wait() != 0
    assert not container.status().present


def test_execute_without_a_terminal_keeps_the_callers_pipes(make_container):
    container = make_container()
    result = subprocess.run(_execute(container, "/bin/sh", "-c", "cat; echo err >&2; exit 5"),
                            input=b"line1\nline2\n", capture_output=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (5, b"line1\nline2\n", b"err\n")
    assert not container.status().present
