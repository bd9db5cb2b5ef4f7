"""LVM inside a VM (the host kernel has no device-mapper): tests/storage_smoke/lvm_smoke.sh on a blank disk."""

import pytest

from testbed.vm.fleet import booted

pytestmark = pytest.mark.vm


def test_lvm_smoke(vm_image, checkout):
    with booted(vm_image, ["lvm"], share=checkout) as [vm]:
        result = vm.check(["sh", str(checkout / "tests/storage_smoke/lvm_smoke.sh"), "/dev/vdb"], timeout=180)
    assert result.stdout.rstrip().endswith("lvm smoke: ok"), result.stdout
