"""Project test files that need a real Linux VM run inside one: one host test per file.

The list is hacontain/testbed/vm/selection.py. All files run in one guest
pytest run; each host test fails with the guest's report of its file.
"""

from pathlib import Path

import pytest

from hacontain.testbed.vm import selection
from hacontain.testbed.vm.fleet import booted
from hacontain.testbed.vm.guest_pytest import run_files

CHECKOUT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def guest_run(vm_image, checkout):
    with booted(vm_image, ["guest-tests"], share=checkout) as [vm]:
        return run_files(vm, checkout, selection.present(checkout))


@pytest.mark.parametrize("path", selection.present(CHECKOUT))
def test_file_passes_inside_vm(path, guest_run):
    problems = guest_run.problems(path)
    if problems:
        pytest.fail(f"{path} inside the VM:\n{problems}", pytrace=False)
    print(guest_run.summary(path))
