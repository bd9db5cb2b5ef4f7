"""Project test files that need a real Linux VM run inside one: one host test per file.

The list is hacontain/testbed/vm/selection.py. All files run in one guest
pytest run; each host test fails with the guest's report of its file.
"""

import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from hacontain.testbed.vm import selection
from hacontain.testbed.vm.fleet import booted
from hacontain.testbed.vm.guest_pytest import run_files

CHECKOUT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.vm


PROBE = Path("tests/integration/probes/hcprobe")


@pytest.fixture(scope="module")
def guest_run(vm_image, checkout):
    with guest_probe(checkout), booted(vm_image, ["guest-tests"], share=checkout) as [vm]:
        return run_files(vm, checkout, selection.present(checkout))


@contextmanager
def guest_probe(checkout):
    """The containment suite's system-call probe, built static on the host for the
    guest (whose image has no gcc) next to its source, removed afterwards."""
    binary = checkout / PROBE
    subprocess.run(["gcc", "-static", "-O2", "-o", str(binary), str(binary.with_suffix(".c"))],
                   check=True, capture_output=True)
    try:
        yield
    finally:
        binary.unlink(missing_ok=True)


@pytest.mark.parametrize("path", selection.present(CHECKOUT))
def test_file_passes_inside_vm(path, guest_run):
    problems = guest_run.problems(path)
    if problems:
        pytest.fail(f"{path} inside the VM:\n{problems}", pytrace=False)
    print(guest_run.summary(path))
