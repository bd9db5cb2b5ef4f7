"""The one mapping from exceptions to OCF exit codes."""

import pytest

from hacontain import errors
from hacontain.ocf import codes
from hacontain.ocf.codes import OcfExit, exit_code

PARAMETER = errors.ParameterError("memory: 'abc' is not a size")
CONFIG = errors.ConfigError("unknown configuration key", "/var/lib/hacontain/ct/config", 3,
                            "lxc.rootfs.pth")
MISSING = errors.NotFound("no config")
SOFTWARE = errors.NotInstalled("no cgroup")


@pytest.mark.parametrize("exc, action, probe, code", [
    (PARAMETER, "start", False, codes.ERR_CONFIGURED),
    (PARAMETER, "validate-all", False, codes.ERR_CONFIGURED),
    (PARAMETER, "reload", False, codes.ERR_CONFIGURED),
    (PARAMETER, "monitor", False, codes.ERR_CONFIGURED),
    (PARAMETER, "monitor", True, codes.NOT_RUNNING),
    (PARAMETER, "stop", False, codes.SUCCESS),
    (CONFIG, "start", False, codes.ERR_ARGS),          # the config file is this node's
    (CONFIG, "validate-all", False, codes.ERR_ARGS),
    (CONFIG, "reload", False, codes.ERR_ARGS),
    (CONFIG, "monitor", False, codes.ERR_ARGS),
    (CONFIG, "monitor", True, codes.NOT_RUNNING),
    (CONFIG, "stop", False, codes.SUCCESS),
    (MISSING, "start", False, codes.ERR_ARGS),
    (MISSING, "validate-all", False, codes.ERR_ARGS),
    (MISSING, "monitor", False, codes.NOT_RUNNING),
    (MISSING, "monitor", True, codes.NOT_RUNNING),
    (MISSING, "stop", False, codes.SUCCESS),
    (SOFTWARE, "start", False, codes.ERR_INSTALLED),
    (SOFTWARE, "validate-all", False, codes.ERR_INSTALLED),
    (SOFTWARE, "monitor", False, codes.ERR_INSTALLED),
    (SOFTWARE, "monitor", True, codes.NOT_RUNNING),
    (SOFTWARE, "stop", False, codes.SUCCESS),
    (errors.StateError("busy"), "start", False, codes.ERR_GENERIC),
    (errors.StateError("busy"), "stop", False, codes.ERR_GENERIC),
    (errors.Timeout("slow"), "stop", False, codes.ERR_GENERIC),
    (errors.KernelError("mount", 22, "/x"), "start", False, codes.ERR_GENERIC),
    (PermissionError(13, "denied"), "monitor", False, codes.ERR_PERM),
    (RuntimeError("bug"), "start", False, codes.ERR_GENERIC),
    (OcfExit(codes.ERR_UNIMPLEMENTED, "no"), "migrate_to", False, codes.ERR_UNIMPLEMENTED),
    (OcfExit(codes.NOT_RUNNING, "stopped"), "monitor", True, codes.NOT_RUNNING),
])
def test_exit_code(exc, action, probe, code):
    assert exit_code(exc, action, probe) == code


def test_a_probe_never_gets_5_or_6():
    for exc in (PARAMETER, CONFIG, MISSING, SOFTWARE):
        assert exit_code(exc, "monitor", probe=True) not in (codes.ERR_INSTALLED,
                                                             codes.ERR_CONFIGURED)


def test_only_parameter_errors_are_wrong_everywhere():
    """6 stops the resource on every node: nothing found on one node may give it."""
    for exc in (CONFIG, MISSING, SOFTWARE, errors.ConfigError("no bridge br9")):
        for action in ("start", "validate-all", "reload", "monitor"):
            assert exit_code(exc, action) != codes.ERR_CONFIGURED
