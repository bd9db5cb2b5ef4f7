"""A container whose rootfs is a DRBD device, in two linked VMs (in-tree DRBD 8.4):
the resource made with storage.drbd's helpers (resource file, create-md, up, the first
sync, or skipping it on blank disks), the guard refusing the Secondary, the Primary
running it, and after a crash of the Primary the other node promoting and starting it
with the data written before the crash; the same with a VG on the DRBD device (LVM on
DRBD, the LVM filter rejecting the backing disk) and the container on an LV of it."""

import pytest

from testbed.vm.fleet import booted

pytestmark = pytest.mark.vm

LXCPATH = "/tmp/lxc"
HACONTAIN = ["python3", "-c", "import sys; sys.argv[0] = 'hacontain'; "
             "from hacontain.cli import main; main()"]
NODES = "[('drbd-a', '192.0.2.11', '/dev/vdb'), ('drbd-b', '192.0.2.12', '/dev/vdb')]"
CONFIGURE = ("from hacontain.storage import drbd; v = drbd.kernel_version(); "
             "drbd.write_resource('r0', drbd.resource_file('r0', 0, 7789, " + NODES + ", v, "
             "fencing=False, net=['ping-int 2;', 'ping-timeout 5;', 'connect-int 2;', "
             "'timeout 10;'], disk=['c-plan-ahead 0;', 'resync-rate 300M;'])); "
             "drbd.create_md('r0'); drbd.up('r0')")
STATES = "from hacontain.storage import drbd; print(*drbd.adm_states('r0'))"
ROLE = "from hacontain.storage import drbd; print(drbd.local_role(0))"
SKIP_SYNC = ("from hacontain.storage import drbd; "
             "drbd.skip_initial_sync('r0', drbd.kernel_version())")
WAIT = ('deadline=$(( $(date +%s) + {seconds} )); '
        'until drbdadm cstate r0 | grep -qE "^({states})$"; do '
        '[ "$(date +%s)" -lt "$deadline" ] || {{ cat /proc/drbd; exit 1; }}; sleep 0.2; done')


class Node:
    def __init__(self, vm, checkout):
        self.vm, self.checkout = vm, checkout
        self.env = {"PYTHONPATH": str(checkout), "PYTHONDONTWRITEBYTECODE": "1"}

    def agent(self, action, **extra):
        """The OCF agent's `action` on container ct (run from the checkout)."""
        env = dict(self.env, OCF_ROOT="/usr/lib/ocf", OCF_RESOURCE_INSTANCE="ct",
                   OCF_RESKEY_name="ct", OCF_RESKEY_lxcpath=LXCPATH, **extra)
        return self.vm.run(["python3", str(self.checkout / "ocf/container"), action],
                           env=env, timeout=120, cwd="/")

    def py(self, code):
        return self.vm.check(["python3", "-c", code], env=self.env, timeout=120).stdout

    def sh(self, script, timeout=120):
        return self.vm.check(["sh", "-c", script], timeout=timeout).stdout

    def hc(self, command, *args, ok=True):
        result = self.vm.run(HACONTAIN + [command, "-P", LXCPATH, *args], timeout=120,
                             env=self.env, cwd="/")
        if ok:
            assert result.rc == 0, f"hacontain {command} {args}: {result.stdout}{result.stderr}"
        return result

    def wait(self, states, seconds):
        self.sh(WAIT.format(states=states, seconds=seconds), timeout=seconds + 30)

    def container_on_drbd(self):
        """Container ct, its rootfs the bare device /dev/drbd0."""
        self.hc("create", "ct", "-t", "busybox")
        self.sh(f"sed -i 's|^lxc.rootfs.path = .*|lxc.rootfs.path = /dev/drbd0|' "
                f"{LXCPATH}/ct/config")

    def inside(self, script):
        return self.hc("attach", "ct", "--", "/bin/sh", "-c", script).stdout


def test_container_on_drbd_guard_and_failover(vm_image, checkout):
    with booted(vm_image, ["drbd-a", "drbd-b"], linked=True, share=checkout,
                data_disk_size="128M") as vms:
        a, b = (Node(vm, checkout) for vm in vms)
        for node in (a, b):
            node.sh("modprobe drbd")
            node.py(CONFIGURE)
        a.wait("Connected", 60)
        a.py("from hacontain.storage import drbd; drbd.initial_sync('r0')")   # a is the source
        a.sh('until [ "$(drbdadm dstate r0)" = UpToDate/UpToDate ]; do sleep 0.2; done',
             timeout=120)
        assert a.py(STATES).split() == ["Primary/Secondary", "Connected", "UpToDate/UpToDate"]
        assert b.py(ROLE).strip() == "Secondary"

        # the rootfs: the busybox tree copied onto an ext4 on /dev/drbd0
        for node in (a, b):
            node.container_on_drbd()
        a.sh(f"mkfs.ext4 -q /dev/drbd0 && mkdir -p /mnt/r && mount /dev/drbd0 /mnt/r && "
             f"cp -a {LXCPATH}/ct/rootfs/. /mnt/r && umount /mnt/r")

        refused = b.hc("start", "ct", ok=False)
        assert refused.rc == 1
        assert "/dev/drbd0 is DRBD minor 0, Secondary on this node" in refused.stderr
        start = b.agent("start")                               # node-local: 2, the reason
        assert start.rc == 2 and "DRBD minor 0, Secondary on this node" in start.stderr
        assert b.agent("monitor", OCF_RESKEY_CRM_meta_interval="0").rc == 7     # a probe
        assert "NotFound" == b.py(
            "from hacontain.runtime.container import Container\n"
            "from hacontain.storage.backends import VolumeBusy\n"
            "try:\n    Container('ct', '/tmp/lxc').check()\n"
            "except VolumeBusy as e:\n    print(type(e).__mro__[1].__name__)").strip()

        a.hc("start", "ct")
        a.inside("echo written-before-the-crash > /data && sync")
        vms[0].crash()

        b.wait("WFConnection|StandAlone", 60)
        b.sh("drbdadm primary r0")
        b.hc("start", "ct")
        assert b.inside("cat /data").strip() == "written-before-the-crash"
        b.hc("stop", "ct")
        b.hc("destroy", "ct")
        assert b.sh("blkid -o value -s TYPE /dev/drbd0").strip() == "ext4"   # device kept


# What an admin puts in lvm.conf for a VG on DRBD: LVM sees the PV on /dev/drbd0 only.
LVM_FILTER = 'devices { global_filter = [ "a|^/dev/drbd.*|", "r|^/dev/vdb$|" ] }'


def test_container_on_lvm_on_drbd_failover(vm_image, checkout):
    with booted(vm_image, ["drbd-a", "drbd-b"], linked=True, share=checkout,
                data_disk_size="256M") as vms:
        a, b = (Node(vm, checkout) for vm in vms)
        for node in (a, b):
            node.sh(f"modprobe -a drbd dm_mod dm_snapshot && "
                    f"echo '{LVM_FILTER}' >> /etc/lvm/lvm.conf")
            node.py(CONFIGURE)
        a.wait("Connected", 60)
        a.py(SKIP_SYNC)                                         # blank disks: no first sync
        assert a.py(STATES).split() == ["Secondary/Secondary", "Connected", "UpToDate/UpToDate"]
        a.sh("drbdadm primary r0 && pvcreate -q /dev/drbd0 && vgcreate -q ha /dev/drbd0")
        assert a.py(ROLE).strip() == "Primary"
        a.hc("create", "ct", "-t", "busybox", "-B", "lvm", "--vgname", "ha", "--fssize", "96M")
        assert "lxc.rootfs.path = lvm:/dev/ha/ct" in a.sh(f"cat {LXCPATH}/ct/config")
        b.hc("create", "ct", "-t", "busybox")                 # the config on the other node
        b.sh(f"sed -i 's|^lxc.rootfs.path = .*|lxc.rootfs.path = lvm:/dev/ha/ct|' "
             f"{LXCPATH}/ct/config")

        refused = b.hc("start", "ct", ok=False)                # Secondary: no VG here
        assert refused.rc == 1 and "ha/ct is not active on this node" in refused.stderr

        a.hc("start", "ct")
        a.inside("echo on-lvm-on-drbd > /data && sync")
        vms[0].crash()

        b.wait("WFConnection|StandAlone", 60)
        b.sh("drbdadm primary r0 && vgchange -q -ay ha")
        b.hc("start", "ct")
        assert b.inside("cat /data").strip() == "on-lvm-on-drbd"
        b.hc("stop", "ct")
