"""The lvmlockd guard with a real lock manager: two VMs share one disk (one qemu raw
file), each runs sanlock (watchdog off) and lvmlockd with its own host_id, and the
container's rootfs is an LV of a shared VG made on node A. Where A holds the LV's
exclusive lock (-aey), `hacontain start` and the agent's start run it (a thin LV too,
under its pool's lock); B cannot take the lock, its agent refuses the start node-locally
(2, the reason naming the device) and its probe says 7; an LV active shared (-asy), or
active while the node's lvmlockd is gone, is refused with the reason; once A lets the
lock go, B takes it and runs the container with A's data, and again after its lvmlockd,
killed, was restarted and adopted the lock."""

import pytest
from test_storage_lvm_containers import LXCPATH, Guest
from test_storage_lvm_systemid import agent

from testbed.vm.fleet import booted

pytestmark = [pytest.mark.vm, pytest.mark.vmextended]

QUIET = "</dev/null >/dev/null 2>&1"
WAIT = ('deadline=$(( $(date +%s) + 90 )); until {}; do '
        '[ "$(date +%s)" -lt "$deadline" ] || exit 1; sleep 0.5; done')
# lvmlockd -A 1: a restarted lvmlockd adopts the locks its killed predecessor held.
LOCK_MANAGER = (
    "printf 'global {{ use_lvmlockd = 1 }}\\nlocal {{ host_id = {} }}\\n' "
    "> /etc/lvm/lvmlocal.conf && modprobe -a dm_thin_pool && mkdir -p /run/lvm && "
    f"sanlock daemon -w 0 {QUIET} && " + WAIT.format(f"sanlock client status {QUIET}") + " && "
    f"lvmlockd -A 1 {QUIET} && " + WAIT.format(f"lvmlockctl --info {QUIET}"))
SHARED_DISK = ('for d in /sys/block/vd*; do '
               '[ "$(cat $d/serial)" = shared ] && echo /dev/${d##*/}; done')
# No udev in the VM: the lvmlock LV's node appears only after the vgchange that
# activated it failed to start the lockspace on it; the next one starts it.
LOCK_START = WAIT.format(f"vgchange --lockstart lxc {QUIET}")
DEVICE = "/dev/lxc/ct"
NOT_ACTIVE = f"rootfs lvm:{DEVICE}: {DEVICE} does not exist: LV lxc/ct is not active"
NOT_EXCLUSIVE = (f"rootfs lvm:{DEVICE}: LV lxc/ct is not active exclusively on this node "
                 "(lvmlockd: activate it with -aey)")
NO_LVMLOCKD = f"rootfs lvm:{DEVICE}: LV lxc/ct is in shared VG lxc, but this node's lvmlockd"
PROBE = {"OCF_RESKEY_CRM_meta_interval": "0"}


def refused(node, reason):
    """`hacontain start` (1) and the agent's start (2: this node only) refuse with
    `reason`; the agent's probe says 7."""
    cli = node.hc("start", "ct", ok=False)
    assert cli.rc == 1 and reason in cli.stderr, cli.stderr
    start = agent(node, "start")
    assert start.rc == 2 and f"ocf-exit-reason:{reason}" in start.stderr, start.stderr
    assert agent(node, "monitor", **PROBE).rc == 7


def locked_out(node, mode):
    """lvchange -a{mode}y of lxc/ct fails on `node`: the other node holds its lock."""
    taken = node.vm.run(["lvchange", f"-a{mode}y", "lxc/ct"])
    assert taken.rc != 0 and "LV locked by other host: lxc/ct" in taken.stderr, taken.stderr


def test_shared_vg_lv_runs_only_under_this_nodes_exclusive_lock(vm_image, checkout):
    with booted(vm_image, ["lockd-a", "lockd-b"], share=checkout, data_disk_size="16M",
                shared_disk_size="640M") as vms:
        a, b = (Guest(vm, checkout) for vm in vms)
        for host_id, node in enumerate((a, b), 1):
            node.sh(LOCK_MANAGER.format(host_id))
        a.sh(f"vgcreate -q --shared lxc {a.sh(SHARED_DISK).strip()}")   # started on A
        assert a.sh("vgs --noheadings -o vg_lock_type lxc").strip() == "sanlock"
        b.sh(LOCK_START)
        a.hc("create", "ct", "-t", "busybox", "-B", "lvm", "--fssize", "64M")
        b.vm.check(["sh", "-c", f"mkdir -p {LXCPATH} && base64 -d | tar -C {LXCPATH} -xf -"],
                   input=a.sh(f"tar -C {LXCPATH} -cf - ct | base64"))      # ct's config on B

        # 1. A holds the exclusive lock (lvcreate took it): the CLI and the agent run ct there
        a.hc("start", "ct")
        a.inside("ct", "echo written-on-a > /root-marker && sync")
        a.hc("stop", "ct")
        assert agent(a, "start").rc == 0 and agent(a, "monitor").rc == 0
        a.sh("lvcreate -q -y --type thin-pool -L 64M -n pool lxc")   # thin: the pool's lock
        a.hc("create", "thin", "-t", "busybox", "-B", "lvm", "--thinpool", "pool",
             "--fssize", "64M")
        a.hc("start", "thin")
        a.hc("stop", "thin")

        # 2. B cannot take the lock A holds: its start is refused here only, its probe says 7
        locked_out(b, "e")
        locked_out(b, "s")
        refused(b, NOT_ACTIVE)

        # 3. active shared (-asy, no exclusive lock): refused with the -aey hint
        assert agent(a, "stop").rc == 0
        a.sh("lvchange -an lxc/ct")
        b.sh("lvchange -asy lxc/ct")
        refused(b, NOT_EXCLUSIVE)
        locked_out(a, "e")                                   # B's shared lock is real too
        b.sh("lvchange -an lxc/ct")

        # 4. B takes the lock A let go: it runs the container with what A wrote
        b.sh("lvchange -aey lxc/ct")
        assert agent(b, "start").rc == 0 and agent(b, "monitor").rc == 0
        assert b.inside("ct", "cat /root-marker").strip() == "written-on-a"
        assert agent(b, "stop").rc == 0

        # 5. B's lvmlockd dies, the LV active (sanlock keeps its lease, orphaned): refused,
        # and A is still locked out; a new lvmlockd adopts the lock and B runs it again
        b.sh("lvchange -aey lxc/ct && kill -KILL $(cat /run/lvmlockd.pid) && "
             + WAIT.format(f"! lvmlockctl --info {QUIET}"))
        refused(b, NO_LVMLOCKD)
        locked_out(a, "e")
        b.sh(f"lvmlockd -A 1 {QUIET} && "
             + WAIT.format("lvmlockctl --info 2>/dev/null | grep -q 'LK LV ex'"))
        assert agent(b, "start").rc == 0 and agent(b, "monitor").rc == 0
        assert agent(b, "stop").rc == 0
