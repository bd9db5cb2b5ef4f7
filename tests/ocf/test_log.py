"""Logging like ocf_log: files, debug switch, syslog, exit reasons."""

import os
import subprocess
import sys

import pytest

from hacontain.ocf import log


@pytest.fixture
def quiet_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith("HA_") or key == "OCF_EXIT_REASON_PREFIX":
            monkeypatch.delenv(key)
    monkeypatch.setenv("OCF_RESOURCE_INSTANCE", "web")


def test_messages_go_to_the_log_file_with_level_and_tag(quiet_env, monkeypatch, tmp_path, capsys):
    logfile = tmp_path / "ha.log"
    monkeypatch.setenv("HA_LOGFILE", str(logfile))
    log.log("info", "started")
    log.log("warn", "slow")
    text = logfile.read_text()
    assert f"container(web)[{os.getpid()}]:" in text
    assert "INFO: started" in text and "WARNING: slow" in text
    assert capsys.readouterr().err == ""


def test_debug_only_when_ha_debug_is_1(quiet_env, monkeypatch, tmp_path):
    debuglog = tmp_path / "debug.log"
    monkeypatch.setenv("HA_DEBUGLOG", str(debuglog))
    log.log("debug", "hidden")
    assert not debuglog.exists()
    monkeypatch.setenv("HA_debug", "1")
    log.log("debug", "shown")
    assert "DEBUG: shown" in debuglog.read_text()
    assert "hidden" not in debuglog.read_text()


def test_without_syslog_or_file_messages_go_to_stderr(quiet_env, capsys):
    log.log("err", "broken")
    assert "ERROR: broken" in capsys.readouterr().err


def test_syslog_gets_facility_tag_and_priority(quiet_env, monkeypatch):
    """A recording stand-in for the syslog module (this machine has no /dev/log)."""
    import syslog
    calls = []
    monkeypatch.setattr(syslog, "openlog", lambda *args: calls.append(("open",) + args))
    monkeypatch.setattr(syslog, "syslog", lambda *args: calls.append(("log",) + args))
    monkeypatch.setattr(syslog, "closelog", lambda: None)
    monkeypatch.setenv("HA_LOGFACILITY", "local3")
    log.log("warn", "careful")
    assert calls == [("open", f"container(web)[{os.getpid()}]", 0, syslog.LOG_LOCAL3),
                     ("log", syslog.LOG_WARNING, "WARNING: careful")]
    calls.clear()
    monkeypatch.setenv("HA_LOGFACILITY", "none")
    log.log("warn", "not to syslog")
    assert calls == []


def test_exit_reason_line_and_log(quiet_env, monkeypatch, tmp_path, capsys):
    logfile = tmp_path / "ha.log"
    monkeypatch.setenv("HA_LOGFILE", str(logfile))
    log.exit_reason("no config here")
    assert capsys.readouterr().err == "ocf-exit-reason:no config here\n"
    assert "ERROR: no config here" in logfile.read_text()
    monkeypatch.setenv("OCF_EXIT_REASON_PREFIX", "reason=")
    log.exit_reason("again")
    assert capsys.readouterr().err == "reason=again\n"


def test_exit_reason_is_printed_once_without_a_log_destination(quiet_env, capsys):
    log.exit_reason("once")
    assert capsys.readouterr().err.count("once") == 1


def test_an_unwritable_log_file_is_reported_not_raised(quiet_env, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HA_LOGFILE", str(tmp_path / "missing-dir" / "ha.log"))
    log.log("info", "hello")
    assert "cannot write" in capsys.readouterr().err


def test_in_a_subprocess_the_agent_logs_nothing_on_a_healthy_meta_data(tmp_path):
    env = {"PATH": os.environ["PATH"], "HA_LOGFILE": str(tmp_path / "ha.log")}
    result = subprocess.run([sys.executable, "-c",
                             "import sys; from hacontain.ocf.agent import main; "
                             "sys.exit(main(['container', 'meta-data']))"],
                            env=env, capture_output=True)
    assert result.returncode == 0
    assert result.stderr == b""
    assert not (tmp_path / "ha.log").exists()
