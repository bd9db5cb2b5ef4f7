"""Fixtures of the VM test tier (tests/vm): the cached image and the checkout the VMs share.

Files under guest/ run only inside a VM (the bridge sets HACONTAIN_VM_GUEST=1),
so host collection leaves them out.
"""

import os
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]

collect_ignore_glob = [] if os.environ.get("HACONTAIN_VM_GUEST") else ["guest/*"]


# Opt-in tiers: their tests run only when -m names their marker (pyproject.toml).
OPT_IN_MARKERS = ("vmcluster", "vmextended")


def pytest_collection_modifyitems(config, items):
    """Deselect the opt-in tiers' tests unless -m names their marker."""
    wanted = config.option.markexpr or ""
    left_out = [item for item in items
                if any(marker in item.keywords and marker not in wanted
                       for marker in OPT_IN_MARKERS)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]


@pytest.fixture(scope="session")
def checkout():
    """The project checkout, shared read-only into the VMs at the same path."""
    return CHECKOUT


@pytest.fixture(scope="session")
def vm_image():
    """The VM image for the current recipe, built on first use (about a minute).

    Skips only when qemu or Debian's kernel cannot be had on this host, and
    never in CI (CI=true), where the tier must run.
    """
    from hacontain.errors import NotInstalled
    from testbed.vm.image import ensure_image
    from testbed.vm.machine import require_qemu

    try:
        require_qemu()
        return ensure_image()
    except NotInstalled as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the VM tier must run in CI, but: {e}", pytrace=False)
        pytest.skip(f"VM tier unavailable: {e}")


@pytest.fixture(scope="session", autouse=True)
def vm_leak_check():
    """After the tier's tests: no VM work folder or qemu process they made may remain."""
    from testbed.vm.fleet import leftovers

    before = set(leftovers())
    yield
    left = sorted(set(leftovers()) - before)
    assert not left, f"the VM tier left behind: {', '.join(left)}"
