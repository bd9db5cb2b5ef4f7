"""hacontain.paths: the os-free fast forms agree with os.path."""

import os

import pytest

from hacontain import paths


@pytest.mark.parametrize("value", ["/srv/lxc", "/", "/srv//lxc", "/srv/lxc/", "/srv/./lxc",
                                   "/srv/x/../lxc", "relative/lxc", "/srv/.hidden/lxc", "//srv"])
def test_lxcpath_is_what_abspath_makes_of_it(value):
    assert paths.lxcpath(value) == os.path.abspath(value)


def test_lxcpath_and_rundir_come_from_the_given_environment():
    environ = {"HACONTAIN_LXCPATH": "/srv/c", "HACONTAIN_RUNDIR": "/tmp/run/"}
    assert paths.lxcpath(None, environ) == "/srv/c"
    assert paths.lxcpath(None, {}) == paths.DEFAULT_LXCPATH
    assert paths.state_file("ct", environ) == "/tmp/run/ct/state.json"
    assert paths.state_file("ct", {}) == os.path.join(paths.DEFAULT_RUNDIR, "ct", "state.json")


def test_paths_imports_nothing():
    """Every action reads the state file's path through it: it costs no import."""
    with open(paths.__file__, encoding="utf-8") as handle:
        assert not [line for line in handle if line.startswith(("import ", "from "))]
