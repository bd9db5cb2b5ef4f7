"""The guest agent and its host client, joined by a socket pair on the host (no VM needed)."""

import importlib.util
import socket
import threading
from pathlib import Path

import pytest

from hacontain.errors import CommandError, Timeout
from testbed.vm import agent_client
from testbed.vm.agent_client import AgentClient
from testbed.vm.recipe import GUEST_DIR


def load_agent():
    spec = importlib.util.spec_from_file_location("hacontain_guest_agent", GUEST_DIR / "agent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def client(monkeypatch):
    """An AgentClient talking to the agent's serve() in a thread."""
    monkeypatch.setattr(agent_client, "ANSWER_MARGIN", 10)
    host, guest = socket.socketpair()
    server = threading.Thread(target=load_agent().serve, args=(guest.fileno(), guest.fileno()))
    server.start()
    client = AgentClient("test", host, check_alive=lambda: None)
    client.wait_ready(timeout=10)
    yield client
    host.shutdown(socket.SHUT_RDWR)
    server.join(timeout=10)
    host.close()
    guest.close()


def gone(pid):
    """True if ``pid`` no longer runs (missing, or a zombie waiting for its reaper)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_returns_rc_stdout_stderr_and_takes_input(client):
    result = client.run(["sh", "-c", "cat; echo err >&2; exit 3"], timeout=10, input="in\n")
    assert (result.rc, result.stdout, result.stderr) == (3, "in\n", "err\n")


def test_passes_environment_and_working_folder(client, tmp_path):
    result = client.run(["sh", "-c", 'echo "$GREETING $(pwd)"'], timeout=10, env={"GREETING": "hi"}, cwd=str(tmp_path))
    assert result.stdout == f"hi {tmp_path}\n"


def test_missing_program_is_rc_127(client):
    result = client.run(["/nonexistent/program"], timeout=10)
    assert result.rc == 127 and "cannot run /nonexistent/program" in result.stderr


def test_timeout_kills_the_process_group(client, tmp_path):
    pidfile = tmp_path / "pid"
    with pytest.raises(Timeout, match="did not finish within 1 s and was killed"):
        client.run(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; echo started; sleep 60"], timeout=1)
    assert gone(int(pidfile.read_text())), "the background child of the killed command survived"
    assert client.run(["true"], timeout=10).rc == 0, "the agent stopped answering after a timeout"


def test_bad_request_is_an_error(client):
    with pytest.raises(CommandError, match="bad request"):
        client.run([], timeout=10)
    assert "bad request" in load_agent().answer(b"not json")["error"]
