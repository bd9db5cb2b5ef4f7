"""cgroups through the runtime and CLI on a real container: limits, freeze, live set, kill-all."""

import json
import os
import time

import pytest

from clitools import hacontain

pytestmark = pytest.mark.root


def info(container):
    return json.loads(hacontain("info", container.name, "-P", container.lxcpath, "--json").stdout)


def test_memory_limit_oom_kills_a_hog_inside_only(make_container):
    container = make_container(["hacontain.limit.memory = 32M"])
    container.start()
    # A shell holding 96 MiB in a variable: the OOM killer ends it, the init survives.
    result = hacontain("attach", container.name, "-P", container.lxcpath, "--", "/bin/sh", "-c",
                       "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived", check=False)
    assert "survived" not in result.stdout
    assert result.returncode != 0
    assert container.status().running
    resources = info(container)["resources"]
    assert resources["memory.peak"] <= (32 << 20) + (1 << 20)


def test_freeze_shows_frozen_and_stops_progress(make_container):
    container = make_container()
    container.start()
    hacontain("attach", container.name, "-P", container.lxcpath, "--", "/bin/sh", "-c",
              "(while :; do date +%s%N > /tmp/tick; sleep 0.05; done) >/dev/null 2>&1 &")
    tick = os.path.join(container.load_config().rootfs, "tmp/tick")
    time.sleep(0.3)
    hacontain("freeze", container.name, "-P", container.lxcpath)
    assert info(container)["state"] == "FROZEN"
    frozen_value = open(tick, encoding="utf-8").read()
    time.sleep(0.5)
    assert open(tick, encoding="utf-8").read() == frozen_value, "a frozen container made progress"
    hacontain("unfreeze", container.name, "-P", container.lxcpath)
    assert info(container)["state"] == "RUNNING"
    time.sleep(0.5)
    assert open(tick, encoding="utf-8").read() != frozen_value, "thawed container did not resume"


def test_frozen_container_stops_and_leaves_no_cgroup(make_container):
    container = make_container()
    container.start()
    paths = container.status().state.cgroup
    hacontain("freeze", container.name, "-P", container.lxcpath)
    hacontain("stop", container.name, "-P", container.lxcpath, "-t", "1")
    assert info(container)["state"] == "STOPPED"
    for mount, where in paths["hierarchies"].items():
        assert not os.path.exists(os.path.join(mount, where["cgroup"].lstrip("/"))), mount


def test_live_limit_change_through_the_cli(make_container):
    container = make_container(["hacontain.limit.pids = 50"])
    container.start()
    assert hacontain("cgroup", container.name, "hacontain.limit.pids",
                     "-P", container.lxcpath).stdout.strip() == "50"
    hacontain("cgroup", container.name, "hacontain.limit.pids", "7", "-P", container.lxcpath)
    assert container.cgroup_value("hacontain.limit.pids") == "7"
    # The new limit holds at once: seven processes at most.
    out = hacontain("attach", container.name, "-P", container.lxcpath, "--", "/bin/sh", "-c",
                    "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done 2>&1; echo done", check=False)
    assert "can't fork" in (out.stdout + out.stderr) or "Resource temporarily unavailable" in (out.stdout + out.stderr)


def test_bad_cgroup_key_is_a_clear_error(make_container):
    container = make_container(["hacontain.limit.memory = lots"])
    result = hacontain("start", container.name, "-P", container.lxcpath, check=False)
    assert result.returncode == 1 and "hacontain.limit.memory" in result.stderr
    assert "Traceback" not in result.stderr and not container.status().present


def test_the_init_is_in_the_containers_cgroup_on_every_hierarchy(make_container):
    """The first child joins v1 hierarchies through `tasks` (the guest's cgroup below
    the container's, which holds its limits) and the v2 one at fork (clone3
    CLONE_INTO_CGROUP): the init and its children are in each."""
    container = make_container()
    container.start()
    hierarchies = info(container)["cgroup"]["hierarchies"]
    pid = container.status().state.pid
    with open(f"/proc/{pid}/cgroup", encoding="utf-8") as handle:
        lines = [line.rstrip("\n").split(":", 2) for line in handle]
    assert hierarchies
    for key, place in hierarchies.items():
        # /proc/PID/cgroup names a v1 hierarchy by its controllers (a named one, mounted
        # at systemd, by name=systemd), the v2 one by ""
        matches = [path for _, controllers, path in lines
                   if (controllers == "" if key in ("", "unified") else
                       {key, f"name={key}"} & set(controllers.split(",")))]
        assert matches, f"hierarchy {key} not in /proc/{pid}/cgroup: {lines}"
        expected = place["cgroup"] if key in ("", "unified") else f"{place['cgroup']}/guest"
        assert matches[0] == expected, f"init not in its cgroup on {key}: {matches[0]}"
