"""A backup never blocks a failover, in the two-node Pacemaker cluster of VMs (opt-in:
-m vmcluster): a snapshot backup of container ct runs (slowed by --bwlimit, its LV
snapshot held mounted) when the containers are moved to the other node (the tier's
move during a backup, conftest.py): the agent's stop aborts the backup, LVM-activate
deactivates the VG, ct runs on the other node, nobody is fenced, no snapshot LV is left
in the VG."""

import pytest

from cluster_tier import SCENARIO_CT

pytestmark = pytest.mark.vmcluster


def test_a_move_during_a_snapshot_backup(cluster, move_during_backup):
    moved = move_during_backup
    node = cluster.node(moved.source)
    assert moved.snapshots == 1                      # the backup held its snapshot
    assert len(cluster.fence_device.history) == moved.fencings       # nobody fenced
    assert node.sh("pgrep -f 'hacontain [b]ackup' || true").strip() == ""   # killed
    assert f"{SCENARIO_CT}-hcbackup" not in cluster.node(moved.target).sh(
        "lvs --noheadings -o lv_name ha")
    assert cluster.container_sh(moved.target, SCENARIO_CT, "cat /marker").strip() == "kept"
    assert "hcbackup" not in node.sh("cat /proc/*/mountinfo 2>/dev/null | sort -u")
