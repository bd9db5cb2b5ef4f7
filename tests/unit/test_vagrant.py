"""vagrant/: the Vagrantfile passes `vagrant validate --ignore-provider` (Vagrant's own
check of every setting but the provider's) and `ruby -c`; a misspelt setting fails the
same check; the scenario script parses. Vagrant's state goes to a temporary directory.
Without vagrant or ruby the test is skipped for a developer and fails in CI, where
deploy/testbed.sh installs them."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

VAGRANT_DIR = Path(__file__).resolve().parents[2] / "vagrant"


def tool(name):
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (deploy/testbed.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def validate(directory, tmp_path):
    env = dict(os.environ, VAGRANT_CWD=str(directory), VAGRANT_HOME=str(tmp_path / "home"),
               VAGRANT_DOTFILE_PATH=str(tmp_path / "dot"), VAGRANT_CHECKPOINT_DISABLE="1")
    return subprocess.run([tool("vagrant"), "validate", "--ignore-provider"], env=env,
                          capture_output=True, text=True, timeout=300)


def test_vagrantfile_validates(tmp_path):
    result = validate(VAGRANT_DIR, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Vagrantfile validated successfully." in result.stdout
    assert not (VAGRANT_DIR / ".vagrant").exists()


def test_a_misspelt_setting_fails_validation(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    text = (VAGRANT_DIR / "Vagrantfile").read_text()
    assert "node.vm.hostname = name" in text
    (broken / "Vagrantfile").write_text(text.replace("node.vm.hostname = name",
                                                     "node.vm.hostnme = name"))
    result = validate(broken, tmp_path)
    assert result.returncode != 0
    assert "The following settings shouldn't exist: hostnme" in result.stdout + result.stderr


def test_vagrantfile_is_ruby():
    result = subprocess.run([tool("ruby"), "-c", str(VAGRANT_DIR / "Vagrantfile")],
                            capture_output=True, text=True)
    assert (result.returncode, result.stdout.strip()) == (0, "Syntax OK"), result.stderr


def test_vagrantfile_provisions_with_deploy_node_scripts():
    text = (VAGRANT_DIR / "Vagrantfile").read_text()
    for script in ("packages.sh", "lvm.sh", "drbd.sh", "corosync.sh"):
        assert f"#{{DEPLOY}}/{script}" in text
        assert (VAGRANT_DIR.parent / "deploy" / "node" / script).is_file()
    assert 'lv.watchdog model: "i6300esb"' in text and "lv.storage :file" in text


def test_scenario_script_parses():
    result = subprocess.run(["bash", "-n", str(VAGRANT_DIR / "scenario.sh")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
