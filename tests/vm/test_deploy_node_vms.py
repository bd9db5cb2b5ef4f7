"""deploy/node's scripts provisioning two linked VMs, as an admin runs them on two
fresh nodes: packages (all in the image: no apt), LVM, the DRBD resource (metadata,
up, blank disks marked in sync), the VG on DRBD with the node's system ID, and
Corosync (the first node's key on the second) forming a two-node quorum."""

import shlex

import pytest

from testbed.cluster_wait import wait_for
from testbed.vm.fleet import booted

pytestmark = [pytest.mark.vm, pytest.mark.vmextended]

NAMES = ("node-a", "node-b")
DRBD = "--resource r0 --node node-a=192.0.2.11:/dev/vdb --node node-b=192.0.2.12:/dev/vdb"
COROSYNC = "--name vmc --node node-a=192.0.2.11 --node node-b=192.0.2.12"


def sh(vm, script, timeout=180):
    return vm.check(["bash", "-c", script], timeout=timeout).stdout


def lines(vm, script, timeout=180):
    return sh(vm, script, timeout).splitlines()


def test_deploy_node_scripts_provision_two_nodes(vm_image, checkout):
    node = shlex.quote(str(checkout / "deploy" / "node"))
    with booted(vm_image, list(NAMES), linked=True, share=checkout, data_disk_size="64M") as [a, b]:
        for vm in (a, b):
            assert lines(vm, f"bash {node}/packages.sh --without pcs --without fence-agents")[0] \
                == "Debian packages: all installed"
            assert vm.run(["test", "-x", "/usr/lib/ocf/resource.d/hacontain/container"]).rc == 0
            assert lines(vm, f"bash {node}/lvm.sh --backing /dev/vdb --vg ha --local-vg ''") == \
                ["/etc/lvm/lvmlocal.conf: written"]
            assert lines(vm, f"bash {node}/drbd.sh {DRBD}") == [
                "/etc/drbd.d/r0.res: written", "DRBD r0: metadata created", "DRBD r0: up"]

        # Blank disks: in sync without a resync, on both sides.
        assert lines(b, f"bash {node}/drbd.sh {DRBD} --new", timeout=400)[-1] == \
            "DRBD r0: blank disks marked in sync"
        wait_for(lambda: sh(a, "drbdadm dstate r0") == "UpToDate/UpToDate\n", 60,
                 interval=0.5, what="node-a UpToDate/UpToDate")
        # Run again: nothing remade, nothing taken down.
        assert lines(a, f"bash {node}/drbd.sh {DRBD}") == [
            "/etc/drbd.d/r0.res: unchanged", "DRBD r0: up"]

        # The filter hides the backing disk; the VG on DRBD is node-b's (system ID).
        refused = b.run(["pvcreate", "/dev/vdb"], timeout=60)
        assert refused.rc != 0 and "filter" in refused.stderr, refused.stderr
        sh(b, "drbdadm primary r0 && pvcreate -q /dev/drbd0 && vgcreate -q ha /dev/drbd0")
        assert sh(b, "vgs --noheadings -o systemid ha").strip() == "node-b"
        assert lines(b, f"bash {node}/lvm.sh --backing /dev/vdb --vg ha --local-vg ''") == [
            "/etc/lvm/lvmlocal.conf: unchanged", "VG ha: autoactivation off"]
        assert sh(b, "vgs --noheadings -o autoactivation ha").strip() == ""

        # Corosync: node-a makes the key, node-b installs it; both form the quorum.
        assert lines(a, f"bash {node}/corosync.sh {COROSYNC}")[1].startswith(
            "/etc/corosync/authkey: made")
        key = sh(a, "base64 -w0 /etc/corosync/authkey")
        sh(b, f"echo {key} | base64 -d > /root/authkey && "
              f"bash {node}/corosync.sh {COROSYNC} --authkey /root/authkey")
        for vm in (a, b):
            sh(vm, "corosync -t && corosync")

        def two_node_quorum():
            text = a.run(["corosync-quorumtool", "-s"], timeout=30).stdout
            return all(part in text for part in ("Total votes:      2", "Quorate:          Yes",
                                                 "2Node")) and text

        assert wait_for(two_node_quorum, 120, interval=1, what="node-a's two-node quorum")
