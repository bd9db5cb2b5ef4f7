"""The LVM system ID guard inside a VM: a container on an LV that is active here while
its VG belongs to another node's system ID (what a failover without LVM-activate's
hand-over leaves) is refused by `hacontain start` and by the agent's start (exit code
2, node-local, the reason naming the VG and both IDs); the agent's probe says 7;
back under this node's ID it starts."""

import pytest
from test_storage_lvm_containers import LXCPATH, Guest

from testbed.vm.fleet import booted

pytestmark = [pytest.mark.vm, pytest.mark.vmextended]

LOCAL = ("printf 'global {{ system_id_source = \"lvmlocal\" }}\\n"
         "local {{ system_id = \"{}\" }}\\n' > /etc/lvm/lvmlocal.conf")
REASON = "VG lxc belongs to system ID node-a, not this node's (node-b)"


def agent(guest, action, **extra):
    env = dict(guest.env, OCF_ROOT="/usr/lib/ocf", OCF_RESOURCE_INSTANCE="ct",
               OCF_RESKEY_name="ct", OCF_RESKEY_lxcpath=LXCPATH, **extra)
    return guest.vm.run(["python3", str(guest.checkout / "ocf/container"), action], env=env,
                        timeout=120, cwd="/")


def test_lv_of_a_vg_of_another_system_id_is_refused(vm_image, checkout):
    with booted(vm_image, ["lvm-sysid"], share=checkout, data_disk_size="300M") as [vm]:
        guest = Guest(vm, checkout)
        guest.sh(LOCAL.format("node-a") + " && modprobe -a dm_mod dm_snapshot && "
                 "pvcreate -q /dev/vdb && vgcreate -q lxc /dev/vdb")
        guest.hc("create", "ct", "-t", "busybox", "-B", "lvm", "--fssize", "64M")
        assert guest.sh("vgs --noheadings -o vg_systemid lxc").strip() == "node-a"

        guest.sh(LOCAL.format("node-b"))                      # this node is node-b now
        refused = guest.hc("start", "ct", ok=False)
        assert refused.rc == 1 and REASON in refused.stderr, refused.stderr
        start = agent(guest, "start")
        assert start.rc == 2 and REASON in start.stderr, start.stderr
        assert agent(guest, "monitor", OCF_RESKEY_CRM_meta_interval="0").rc == 7

        guest.sh(LOCAL.format("node-a"))
        guest.hc("start", "ct")
        assert agent(guest, "monitor", OCF_RESKEY_CRM_meta_interval="0").rc == 0
        guest.hc("stop", "ct")
        guest.hc("destroy", "ct")
