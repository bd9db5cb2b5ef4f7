"""Parameter parsing and the OCF environment."""

import signal

import pytest

from hacontain.errors import ConfigError
from hacontain.ocf import params as ocfparams
from hacontain.ocf.params import PARAMETERS, Params, action_timeout, check_level, is_probe


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
])
def test_check_names_the_wrong_parameter(values, complaint):
    with pytest.raises(ConfigError, match=complaint):
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
                                          ("deep", 0)])
def test_check_level(monkeypatch, value, depth):
    monkeypatch.delenv("OCF_CHECK_LEVEL", raising=False)
    if value is not None:
        monkeypatch.setenv("OCF_CHECK_LEVEL", value)
    assert check_level() == depth
