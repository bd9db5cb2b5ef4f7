"""Parameter parsing and the OCF environment."""

import signal

import pytest

from hacontain.errors import ParameterError
from hacontain.ocf import params as ocfparams
from hacontain.ocf.params import (PARAMETERS, Params, action_budget, action_timeout, check_level,
                                  is_probe)


def env(**values):
    return {f"OCF_RESKEY_{key}": value for key, value in values.items()}


def test_defaults_when_unset():
    p = Params({})
    assert p.name == ""
    assert p.lxcpath == "/var/lib/hacontain"
    assert p.config_path() is None
    assert p.limits() == []
    assert p.monitor_argv() is None
    assert p.halt_signum() is None


def test_values_are_read_and_stripped():
    p = Params(env(name=" ct1 ", lxcpath="/srv/ct", config="/etc/ct1.conf", memory="512M",
                   pids="100", monitor_cmd="/bin/sh -c 'pidof httpd'", halt_signal="SIGRTMIN+3"))
    assert (p.name, p.lxcpath, p.config_path()) == ("ct1", "/srv/ct", "/etc/ct1.conf")
    assert p.limits() == [("hacontain.limit.memory", "512M"), ("hacontain.limit.pids", "100")]
    assert p.monitor_argv() == ["/bin/sh", "-c", "pidof httpd"]
    assert p.halt_signum() == signal.SIGRTMIN + 3
    p.check()


@pytest.mark.parametrize("values, complaint", [
    ({}, "name is required"),
    ({"name": "a/b"}, "invalid container name"),
    ({"name": "ok", "lxcpath": "rel"}, "lxcpath must be an absolute path"),
    ({"name": "ok", "config": "rel.conf"}, "config must be an absolute path"),
    ({"name": "ok", "halt_signal": "SIGNOPE"}, "halt_signal"),
    ({"name": "ok", "monitor_cmd": "'open"}, "monitor_cmd"),
    ({"name": "ok", "memory": "lots"}, "memory"),
    ({"name": "ok", "cpu_weight": "0"}, "cpu_weight"),
    ({"name": "ok", "cpu_quota": "0.001"}, "cpu_quota"),
    ({"name": "ok", "cpuset_cpus": "0-"}, "cpuset_cpus"),
    ({"name": "ok", "pids": "-1"}, "pids"),
    ({"name": "ok", "pids": "99999999"}, "pids: .*outside 4..4194304"),
    ({"name": "ok", "memory": "\u0661\u0662\u0663M"}, "memory: .*ASCII"),
    ({"name": "ok", "memory": "99999999999999999999T"}, "memory: .*8 EiB"),
    ({"name": "ok", "cpu_weight": "1_00"}, "cpu_weight: .*not a whole number"),
    ({"name": "ok", "cpu_quota": "1e400"}, "cpu_quota: .*at most"),
    ({"name": "ok", "cpuset_cpus": "3-1"}, "cpuset_cpus: .*goes down"),
    ({"name": "ok", "cpuset_cpus": "99999"}, "cpuset_cpus: .*beyond 8191"),
    ({"name": "ok", "cpuset_cpus": "0-99999999999"}, "cpuset_cpus: .*beyond 8191"),
    ({"name": "ok", "halt_signal": "\u00b2"}, "halt_signal: unknown signal"),
])
def test_check_names_the_wrong_parameter(values, complaint):
    """Every parameter problem is wrong on every node (ParameterError: exit code 6)."""
    with pytest.raises(ParameterError, match=complaint):
        Params(env(**values)).check()


def test_every_limit_parameter_maps_to_a_known_limit_key():
    from hacontain.runtime.cgroups.keys import parse_key
    limits = [parameter for parameter in PARAMETERS if parameter.limit]
    assert {parameter.name for parameter in limits} == {
        "memory", "cpu_weight", "cpu_quota", "cpuset_cpus", "pids"}
    for parameter in limits:
        assert parse_key(parameter.limit).limit is not None
        assert parameter.reloadable, "live limits must be reloadable"


def test_only_the_name_is_unique_and_only_the_identity_restarts():
    """Names are unique on a host (RUNDIR/NAME): containers may share an lxcpath."""
    assert {parameter.name for parameter in PARAMETERS if parameter.unique} == {"name"}
    restart = {parameter.name for parameter in PARAMETERS if not parameter.reloadable}
    assert restart == {"name", "lxcpath", "config"}
    assert "container" not in ocfparams.BY_NAME


@pytest.mark.parametrize("value, seconds", [
    (None, 42.0), ("", 42.0), ("20000", 20.0), ("1500", 1.5), ("0", 42.0), ("-5", 42.0),
    ("soon", 42.0)])
def test_action_timeout_is_milliseconds_with_a_default(monkeypatch, value, seconds):
    monkeypatch.delenv("OCF_RESKEY_CRM_meta_timeout", raising=False)
    if value is not None:
        monkeypatch.setenv("OCF_RESKEY_CRM_meta_timeout", value)
    assert action_timeout(42.0) == seconds


@pytest.mark.parametrize("action, interval, probe", [
    ("monitor", "0", True), ("monitor", "10000", False), ("monitor", None, False),
    ("start", "0", False)])
def test_is_probe(monkeypatch, action, interval, probe):
    monkeypatch.delenv("OCF_RESKEY_CRM_meta_interval", raising=False)
    if interval is not None:
        monkeypatch.setenv("OCF_RESKEY_CRM_meta_interval", interval)
    assert is_probe(action) is probe


@pytest.mark.parametrize("value, depth", [(None, 0), ("0", 0), ("10", 10), ("20", 20),
                                          ("deep", 0), ("\u00b2", 0), ("\u0661\u0660", 0)])
def test_check_level(monkeypatch, value, depth):
    monkeypatch.delenv("OCF_CHECK_LEVEL", raising=False)
    if value is not None:
        monkeypatch.setenv("OCF_CHECK_LEVEL", value)
    assert check_level() == depth


@pytest.mark.parametrize("timeout, budget", [("5000", 4.0), ("1000", 0.5), (None, 19.0)])
def test_action_budget_keeps_a_margin_of_at_most_half(monkeypatch, timeout, budget):
    monkeypatch.delenv("OCF_RESKEY_CRM_meta_timeout", raising=False)
    if timeout is not None:
        monkeypatch.setenv("OCF_RESKEY_CRM_meta_timeout", timeout)
    assert action_budget(20.0, 1.0) == budget
