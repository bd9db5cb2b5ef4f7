"""install_agent, what the installed agent costs to start, and the node install:
deploy/install.sh from a built wheel into a fresh virtualenv, which never
touches a service, with the agent it installs passing ocf-tester."""

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from ocftester import ocf_1_1_path, ocf_tester

from hacontain.ocf.install import install_agent, python_command

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODE_INSTALL = os.path.join(CHECKOUT, "deploy", "install.sh")
TEST_SETUP = os.path.join(CHECKOUT, "deploy", "testbed.sh")
# What would take a node out of its cluster, or act on a service at all.
SERVICE_COMMANDS = ("systemctl", "service", "invoke-rc.d", "deb-systemd-invoke", "kill",
                    "pkill", "killall", "crm", "pcs", "crm_resource", "corosync-cfgtool")
TEST_ONLY_PACKAGES = ("pacemaker", "corosync", "crmsh", "pcs", "qemu-system-x86", "gcc", "lxc",
                      "drbd-utils", "lvm2")

@pytest.fixture
def installed(tmp_path):
    return install_agent(str(tmp_path))


def test_installs_executable_under_the_ocf_provider_directory(installed, tmp_path):
    assert installed == str(tmp_path / "usr/lib/ocf/resource.d/hacontain/container")
    assert stat.S_IMODE(os.stat(installed).st_mode) == 0o755
    assert install_agent(str(tmp_path)) == installed, "installing again replaces it"
    assert os.listdir(os.path.dirname(installed)) == ["container"]


def test_installed_script_is_the_shell_half_running_python_without_site(installed):
    with open(installed, encoding="utf-8") as handle:
        text = handle.read()
    assert text.startswith("#!/bin/sh\n") and "PYTHON_FLAGS=-SI\n" in text
    assert subprocess.run(["sh", "-n", installed]).returncode == 0
    result = subprocess.run([installed, "meta-data"], capture_output=True, env={})
    assert result.returncode == 0, result.stderr
    assert b"<resource-agent name=\"container\"" in result.stdout


# What start and stop never load: enum (loaded by re, json and signal) costs every
# action several milliseconds of CPU.
START_STOP_AVOID = ("re", "json", "enum", "signal", "functools", "collections", "subprocess",
                    "click", "lxml", "psutil", "pyroute2")


def imported(env, action):
    """Modules the installed agent's Python half imports for `action` (-X importtime)."""
    python, flags, *code = python_command()
    result = subprocess.run([python, flags, "-X", "importtime", *code, action],
                            env=env, capture_output=True, text=True)
    names = {line.split("|")[-1].strip() for line in result.stderr.splitlines()
             if line.startswith("import time:")}
    return result.returncode, names


@pytest.mark.root
def test_start_and_stop_load_no_enum_re_or_json(container):
    ct, run = container(memory="64M", pids="50")
    for action in ("start", "stop"):
        code, names = imported(run.env(), action)
        assert code == 0
        assert not names & set(START_STOP_AVOID), (action, names & set(START_STOP_AVOID))
    assert not ct.status().present


@pytest.mark.root
@pytest.mark.parametrize("running", [True, False])
def test_a_depth_0_monitor_starts_no_process(container, installed, tmp_path, running):
    """The shell half answers with its builtins: no Python, no other program."""
    ct, run = container()
    if running:
        assert run("start").returncode == 0
    trace = tmp_path / "trace"
    result = subprocess.run(["strace", "-f", "-qq", "-e", "trace=process", "-o", str(trace),
                             installed, "monitor"], env=run.env(), capture_output=True)
    assert result.returncode == (0 if running else 7)
    calls = [line.split(None, 1)[1].split("(")[0] for line in trace.read_text().splitlines()]
    assert calls.count("execve") == 1, calls
    assert not {"fork", "vfork", "clone", "clone3"} & set(calls), calls


# -- the node install -------------------------------------------------------------

def commands(script):
    """The words of a shell script's code lines (comments dropped)."""
    with open(script, encoding="utf-8") as handle:
        code = [line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
                for line in handle]
    return set(re.findall(r"[A-Za-z0-9_.+-]+", " ".join(code)))


def test_the_node_install_script_never_acts_on_a_service():
    words = commands(NODE_INSTALL)
    assert not words & set(SERVICE_COMMANDS), words & set(SERVICE_COMMANDS)
    assert not words & set(TEST_ONLY_PACKAGES), words & set(TEST_ONLY_PACKAGES)
    assert "NEEDRESTART_SUSPEND" in words


def test_the_static_check_sees_the_test_setup_stop_services():
    """The check above can fail: the test machine set-up does stop services."""
    words = commands(TEST_SETUP)
    assert {"systemctl", "pacemaker", "corosync"} <= words


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """hacontain's wheel, built (pip wheel) from a copy of this checkout."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    # Not the checkout's built console holder either: the wheel's build makes its own.
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "console-holder")
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "hacontain", "testbed", "ocf"):
        path = os.path.join(CHECKOUT, name)
        if os.path.isdir(path):
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy(path, source / name)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                             str(work / "dist"), str(source)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = (work / "dist").glob("hacontain-*.whl")
    return built


def test_the_wheel_holds_the_package_and_its_agent_but_no_test_harness(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"hacontain", "-".join(wheel.name.split("-")[:2]) + ".dist-info"}, tops
    assert {"hacontain/ocf/entry.py", "hacontain/ocf/install.py",
            "hacontain/ocf/agent.sh", "hacontain/runtime/console-holder"} <= set(names)
    assert "-linux_" in wheel.name, "it carries a program for this platform"
    assert not [name for name in names if "testbed" in name]


@pytest.fixture(scope="module")
def node(wheel):
    """deploy/install.sh of the wheel below a scratch root, with every command that acts
    on services (and apt) replaced on PATH by one that records its call. Below /tmp, not
    pytest's private tmp: ocf-tester runs the agent as nobody too."""
    if os.geteuid() != 0:
        pytest.skip("the node install runs as root")
    work = Path(tempfile.mkdtemp(prefix="hacontain-node-install-"))
    work.chmod(0o755)
    shims, calls, root = work / "shims", work / "calls", work / "root"
    shims.mkdir()
    for name in SERVICE_COMMANDS + ("apt-get", "apt", "dpkg", "needrestart"):
        shim = shims / name
        shim.write_text(f"#!/bin/sh\necho \"{name} $*\" >> {calls}\nexit 0\n")
        shim.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if key != "HACONTAIN_VENV"}
    env["PATH"] = f"{shims}:{env['PATH']}"
    result = subprocess.run(["bash", NODE_INSTALL, "--root", str(root), str(wheel)], env=env,
                            capture_output=True, text=True, timeout=900)
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield root, calls
    finally:
        shutil.rmtree(work)


@pytest.mark.root
def test_the_node_install_touches_no_service(node):
    root, calls = node
    assert not calls.exists(), calls.read_text()
    venv = root / "opt/hacontain/venv"
    assert os.readlink(root / "usr/local/bin/hacontain") == str(venv / "bin/hacontain")
    assert (root / "etc/hacontain").is_dir() and (root / "var/lib/hacontain").is_dir()


@pytest.mark.root
def test_the_wheel_installed_agent_runs_from_the_venv_not_the_checkout(node):
    root, _ = node
    agent = root / "usr/lib/ocf/resource.d/hacontain/container"
    venv = root / "opt/hacontain/venv"
    text = agent.read_text()
    assert f"\nPYTHON={venv}/bin/python3\n" in text and CHECKOUT not in text
    where = subprocess.run([venv / "bin/python3", "-c", "import hacontain; print(hacontain.__file__)"],
                           capture_output=True, text=True, cwd="/", check=True).stdout
    assert where.startswith(str(venv)), where
    found = subprocess.run([venv / "bin/python3", "-c", "import testbed"], capture_output=True,
                           cwd="/")
    assert found.returncode != 0, "the test harness must not be installed"


@pytest.mark.root
def test_the_agent_installed_from_the_wheel_passes_ocf_tester(node, container, lxcpath,
                                                              tmp_path):
    root, _ = node
    agent = str(root / "usr/lib/ocf/resource.d/hacontain/container")
    ct, run = container()
    result = ocf_tester(agent, run.env(), ocf_1_1_path(str(tmp_path)),
                        "-n", "t", "-o", f"name={ct.name}", "-o", f"lxcpath={lxcpath}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{agent} passed all tests" in result.stdout
    assert not ct.status().present


@pytest.mark.root
def test_the_node_install_installs_the_fast_command_completion_and_man_pages(node):
    root, _ = node
    venv = root / "opt/hacontain/venv"
    command = (venv / "bin/hacontain").read_text()
    assert command.startswith(f"#!{venv}/bin/python3 -SI\n") and "cli_fast" in command
    assert CHECKOUT not in command
    completion = root / "usr/share/bash-completion/completions/hacontain"
    assert subprocess.run(["bash", "-n", str(completion)]).returncode == 0
    assert "_HACONTAIN_COMPLETE" in completion.read_text()
    pages = sorted(os.listdir(root / "usr/local/share/man/man1"))
    assert "hacontain.1" in pages and "hacontain-start.1" in pages
    for page in pages:
        result = subprocess.run(["groff", "-man", "-ww", "-z", str(root / "usr/local/share/man/man1" / page)],
                                capture_output=True, text=True)
        assert result.returncode == 0 and result.stderr == "", (page, result.stderr)
    listed = subprocess.run([root / "usr/local/bin/hacontain", "--help"], capture_output=True,
                            text=True, cwd="/")
    assert listed.returncode == 0 and "install-cli" in listed.stdout
