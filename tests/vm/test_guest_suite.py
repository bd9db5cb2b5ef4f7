"""Project test files that need a real Linux VM run inside one: one host test per file.

The list is testbed/vm/selection.py. All files run in one guest
pytest run; each host test fails with the guest's report of its file.
"""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from testbed.vm import selection
from testbed.vm.fleet import booted
from testbed.vm.guest_pytest import run_files
from clitools import PREBUILT_PROBE, build_probe, prebuilt_probe_is_fresh

CHECKOUT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def guest_run(vm_image, checkout):
    return _run_in_a_vm(vm_image, checkout, selection.present(checkout))


@pytest.fixture(scope="module")
def extended_guest_run(vm_image, checkout):
    return _run_in_a_vm(vm_image, checkout,
                        selection.present(checkout, selection.EXTENDED_GUEST_TEST_FILES))


def _run_in_a_vm(vm_image, checkout, files):
    with guest_probe(), guest_cache(checkout), \
            booted(vm_image, ["guest-tests"], share=checkout) as [vm]:
        return run_files(vm, checkout, files)


@contextmanager
def guest_probe():
    """The containment suite's system-call probe, built on the host for the guest
    (whose image has no gcc) unless a fresh one is there; removed if built here."""
    if prebuilt_probe_is_fresh():
        yield
        return
    build_probe(PREBUILT_PROBE)
    try:
        yield
    finally:
        os.unlink(PREBUILT_PROBE)


@contextmanager
def guest_cache(checkout):
    """The debian-systemd rootfs tarball (built here when missing: the VM has no network)
    linked into the shared checkout's selection.GUEST_CACHE for the run, then removed."""
    from hacontain.templates import debian
    tarball = Path(debian.cached_tarball("systemd"))
    cache = checkout / selection.GUEST_CACHE
    cache.mkdir(exist_ok=True)
    shared = cache / tarball.name
    try:
        try:
            os.link(tarball, shared)
        except OSError:                       # another file system: copy
            shutil.copyfile(tarball, shared)
        yield
    finally:
        shared.unlink(missing_ok=True)
        cache.rmdir()


@pytest.mark.parametrize("path", selection.present(CHECKOUT))
def test_file_passes_inside_vm(path, guest_run):
    _check(guest_run, path)


@pytest.mark.vmextended
@pytest.mark.parametrize("path", selection.present(CHECKOUT, selection.EXTENDED_GUEST_TEST_FILES))
def test_extended_file_passes_inside_vm(path, extended_guest_run):
    _check(extended_guest_run, path)


def _check(run, path):
    problems = run.problems(path)
    if problems:
        pytest.fail(f"{path} inside the VM:\n{problems}", pytrace=False)
    print(run.summary(path))
