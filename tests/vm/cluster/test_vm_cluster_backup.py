"""A backup never blocks a failover, in the two-node Pacemaker cluster of VMs (opt-in:
-m vmcluster): a snapshot backup of the container runs (slowed by --bwlimit, its LV
snapshot held mounted) when the container is moved to the other node: the agent's stop
aborts the backup, LVM-activate deactivates the VG, the container runs on the other
node, nobody is fenced, no snapshot LV is left in the VG."""

import pytest

pytestmark = pytest.mark.vmcluster

CONTAINER = "ct_ct"     # container ct's resource, as hacontain cluster-config names it
OUT = "/tmp/backup.out"


def test_a_move_during_a_snapshot_backup(cluster, measured):
    cluster.recover()
    source = cluster.wait_started(CONTAINER)
    target = cluster.other(source)
    node = cluster.node(source)
    cluster.container_sh(source, "ct", "dd if=/dev/urandom of=/data bs=1M count=8 "
                                       "2>/dev/null && echo kept > /marker && sync")
    node.sh(f"mkdir -p /tmp/dump && setsid hacontain backup ct --mode snapshot --dumpdir "
            f"/tmp/dump --compress none --bwlimit 256 > {OUT} 2>&1 < /dev/null &")
    node.sh(f"timeout 300 sh -c 'until grep -q archiving {OUT}; do sleep 0.2; done' "
            f"|| {{ cat {OUT}; exit 1; }}", timeout=330)
    assert node.sh("lvs --noheadings -o lv_name ha").split().count("ct-hcbackup") == 1
    fencings = len(cluster.fence_device.history)
    try:
        seconds = cluster.timed_move(CONTAINER, target)
        measured("move of the container during a snapshot backup", seconds)
        assert len(cluster.fence_device.history) == fencings       # nobody fenced
        assert node.sh("pgrep -f 'hacontain [b]ackup' || true").strip() == ""   # killed
        assert "ct-hcbackup" not in cluster.node(target).sh(
            "lvs --noheadings -o lv_name ha")
        assert cluster.container_sh(target, "ct", "cat /marker").strip() == "kept"
        assert "hcbackup" not in node.sh("cat /proc/*/mountinfo 2>/dev/null | sort -u")
    finally:
        cluster.node(target).sh(f"crm_resource --clear --resource {CONTAINER}")
