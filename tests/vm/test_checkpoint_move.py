"""A move to the other node that keeps the processes: two linked VMs with DRBD (8.4,
protocol C) under an ext4 filesystem that holds LXCPATH. A busybox container whose
counter appends 1, 2, 3... to /tmp/counts runs on drbd-a; `hacontain checkpoint
--stop` puts its checkpoint in its rootfs, on the replicated volume; the volume
moves to drbd-b (unmount, secondary, primary there, mount), where
`hacontain restore-checkpoint` starts the same processes again: the counts go on
from their value. The DRBD steps are tests/storage_smoke/drbd_node.sh's.
"""

import pytest

from testbed.vm.fleet import booted

pytestmark = [pytest.mark.vm, pytest.mark.vmextended]

NODES = ("drbd-a", "192.0.2.11", "drbd-b", "192.0.2.12")
STEP_TIMEOUT = 300
LXCPATH = "/srv/ct"
ROOTFS = f"{LXCPATH}/ct/rootfs"
SETUP = f"""
set -e
hacontain create ct -t busybox -P {LXCPATH} >/dev/null
printf '::sysinit:/etc/init.d/rcS\\n::once:/counter.sh\\n::shutdown:/etc/init.d/rcK\\n' \\
    > {ROOTFS}/etc/inittab
printf '#!/bin/sh\\ni=0\\nwhile :; do i=$((i+1)); echo $i >> /tmp/counts; sleep 0.2; done\\n' \\
    > {ROOTFS}/counter.sh
chmod 755 {ROOTFS}/counter.sh
"""
WAIT_COUNTS = f"""
for i in $(seq 600); do
    [ "$(wc -l < {ROOTFS}/tmp/counts 2>/dev/null || echo 0)" -ge $1 ] && exit 0
    sleep 0.1
done
echo "the counter did not reach $1: $(tail -3 {ROOTFS}/tmp/counts)" >&2; exit 1
"""


def test_checkpoint_moves_with_the_drbd_volume_and_the_counter_goes_on(vm_image, checkout):
    script = str(checkout / "tests/storage_smoke/drbd_node.sh")

    def step(vm, *args):
        return vm.check(["sh", script, *args], timeout=STEP_TIMEOUT).stdout

    def sh(vm, command, *args):
        return vm.check(["sh", "-c", command, "sh", *args], timeout=STEP_TIMEOUT).stdout

    with booted(vm_image, ["drbd-a", "drbd-b"], linked=True, share=checkout,
                data_disk_size="64M") as [a, b]:
        for vm in (a, b):
            step(vm, "configure", *NODES)
        step(a, "primary", "--force")
        step(a, "wait", "synced", "180")
        sh(a, f"mkfs.ext4 -q /dev/drbd0 && mkdir -p {LXCPATH} && mount /dev/drbd0 {LXCPATH}")
        sh(a, SETUP)
        sh(a, f"hacontain start ct -P {LXCPATH}")
        sh(a, WAIT_COUNTS, "5")
        sh(a, f"hacontain checkpoint ct --stop -P {LXCPATH}")
        at_checkpoint = len(sh(a, f"cat {ROOTFS}/tmp/counts").split())
        sh(a, f"sync && umount {LXCPATH}")
        step(a, "secondary")

        step(b, "primary")
        sh(b, f"mkdir -p {LXCPATH} && mount /dev/drbd0 {LXCPATH}")
        assert "checkpoint.json" in sh(b, f"ls {ROOTFS}/.hacontain-checkpoint")
        sh(b, f"hacontain restore-checkpoint ct -P {LXCPATH}")
        assert "RUNNING" in sh(b, f"hacontain info ct -P {LXCPATH}")
        sh(b, WAIT_COUNTS, str(at_checkpoint + 5))
        values = [int(v) for v in sh(b, f"cat {ROOTFS}/tmp/counts").split()[:-1]]
        assert values == list(range(1, len(values) + 1)), f"the counter restarted: {values}"
        assert sh(b, f"ls -A {ROOTFS}/.hacontain-checkpoint 2>/dev/null || true") == ""
        sh(b, f"hacontain stop ct -P {LXCPATH} -t 20")
        assert "shutdown" in sh(b, f"cat {ROOTFS}/var/log/shutdown-marker")
        sh(b, f"umount {LXCPATH}")
