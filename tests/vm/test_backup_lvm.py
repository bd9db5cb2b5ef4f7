"""Backups of containers on LVM inside a VM (the host kernel has no device-mapper):
snapshot mode on a thick LV (ext4, a COW size) and a thin LV (xfs: mounted
`norecovery,nouuid`), the freeze window logged and the snapshot removed; and the
failover case: with a snapshot backup held open, the agent's stop aborts it, so
resource-agents' LVM-activate stop deactivates the VG (a snapshot left open would make
it fail, and Pacemaker fence the node); a backup of a stopped container holding its LV
makes LVM-activate's stop fail until the agent's stop aborts it. The backups are
`hacontain backup` (slowed down by --bwlimit where one must be caught halfway)."""

import re
import shlex

import pytest

from testbed.vm.fleet import booted
from test_storage_lvm_containers import HACONTAIN, LXCPATH, SETUP, Guest

pytestmark = [pytest.mark.vm, pytest.mark.vmextended]

DUMPDIR = "/tmp/dump"
LVM_ACTIVATE = "/usr/lib/ocf/resource.d/heartbeat/LVM-activate"


class BackupGuest(Guest):
    def backup(self, name):
        """`hacontain backup NAME` in snapshot mode, to completion; its log."""
        return self.hc("backup", name, "--mode", "snapshot", "--dumpdir", DUMPDIR,
                       "--compress", "none").stderr

    def backup_held(self, name):
        """`hacontain backup NAME` at 256 KiB/s in the background (8 MiB of data: half a
        minute); return once it archives."""
        out = f"/tmp/{name}.backup.out"
        self.vm.check(["sh", "-c", f"setsid {' '.join(map(shlex.quote, HACONTAIN))} backup "
                       f"-P {LXCPATH} {name} --dumpdir {DUMPDIR} --compress none --bwlimit "
                       f"256 > {out} 2>&1 < /dev/null &"], env=self.env, cwd="/", timeout=30)
        waited = self.vm.run(["timeout", "120", "sh", "-c",
                              f"until grep -q archiving {out}; do sleep 0.1; done"], timeout=150)
        assert waited.rc == 0, self.sh(f"cat {out}")

    def agent(self, action, name, timeout_ms=30000):
        env = dict(self.env, OCF_ROOT="/usr/lib/ocf", OCF_RESOURCE_INSTANCE=name,
                   OCF_RESKEY_name=name, OCF_RESKEY_lxcpath=LXCPATH,
                   OCF_RESKEY_CRM_meta_timeout=str(timeout_ms))
        return self.vm.run(["python3", f"{self.checkout}/ocf/container", action], env=env,
                           timeout=timeout_ms / 1000 + 30, cwd="/")

    def lvm_activate_stop(self, vg):
        env = {"OCF_ROOT": "/usr/lib/ocf", "OCF_RESOURCE_INSTANCE": f"{vg}-vg",
               "OCF_RESKEY_vgname": vg, "OCF_RESKEY_vg_access_mode": "system_id",
               "OCF_RESKEY_CRM_meta_timeout": "30000"}
        return self.vm.run([LVM_ACTIVATE, "stop"], env=env, timeout=60, cwd="/")

    def archived(self, name):
        return self.sh(f"tar -tf {DUMPDIR}/hacontain-{name}-*.tar").split()

    def backup_processes(self):
        return self.vm.run(["pgrep", "-f", "backup -P"], timeout=30).stdout.split()


COUNTER = ("setsid sh -c 'i=0; while true; do i=$((i+1)); echo $i >> /log; "
           "echo $i > /c.tmp; mv /c.tmp /c; done' </dev/null >/dev/null 2>&1 &")


def check_snapshot_backup(guest, name, kind):
    """A snapshot backup while a loop inside writes a log and a counter: the archive
    has every log line whole and the counter at the log's last value or the one
    before (the snapshot of a live filesystem, mounted without journal replay)."""
    guest.inside(name, COUNTER)
    out = guest.backup(name)
    window = re.search(rf"freeze window ([0-9.]+) ms \(freeze, LVM {kind} snapshot "
                       rf"lxc/{name}-hcbackup, thaw\)", out)
    assert window, out
    assert "backup mode: snapshot" in out and "archiving /run/hacontain/" in out
    assert f"removed LVM {kind} snapshot lxc/{name}-hcbackup" in out
    assert guest.lv(f"{name}-hcbackup") is None
    assert "rootfs/root-marker" in guest.archived(name)
    assert "rootfs/bin/busybox" in guest.archived(name)
    archive = f"{DUMPDIR}/hacontain-{name}-*.tar"
    counted = [int(line) for line in guest.sh(f"tar -xOf {archive} rootfs/log").split()]
    assert counted and counted == list(range(1, len(counted) + 1))
    assert int(guest.sh(f"tar -xOf {archive} rootfs/c")) in (counted[-1], counted[-1] - 1)
    assert guest.inside(name, "cat /root-marker").strip() == "kept"        # running, thawed
    assert "hcbackup" not in guest.sh("cat /proc/self/mountinfo")
    return float(window.group(1))


def test_lvm_snapshot_backups_and_the_failover_case(vm_image, checkout):
    with booted(vm_image, ["backup-lvm"], share=checkout, data_disk_size="640M") as [vm]:
        guest = BackupGuest(vm, checkout)
        guest.sh(SETUP + f" && mkdir {DUMPDIR}")

        guest.hc("create", "thick", "-t", "busybox", "-B", "lvm", "--fssize", "128M")
        guest.hc("start", "thick")
        guest.inside("thick", "echo kept > /root-marker")
        check_snapshot_backup(guest, "thick", "thick")

        guest.hc("create", "thin", "-t", "busybox", "-B", "lvm", "--thinpool", "pool",
                 "--fssize", "320M", "--fstype", "xfs")   # xfs: 300M at least
        guest.hc("start", "thin")
        guest.inside("thin", "echo kept > /root-marker")
        check_snapshot_backup(guest, "thin", "thin")
        guest.hc("stop", "thin")

        # failover: a snapshot backup holds its snapshot mounted; the agent's stop aborts
        # it, then LVM-activate's stop deactivates the VG
        guest.inside("thick", "dd if=/dev/urandom of=/data bs=1M count=8 2>/dev/null")
        guest.backup_held("thick")
        assert guest.lv("thick-hcbackup") is not None
        stopped = guest.agent("stop", "thick")
        assert stopped.rc == 0, stopped.stderr
        assert "aborted the backup of container thick" in stopped.stderr
        assert guest.backup_processes() == []
        assert guest.lv("thick-hcbackup") is None
        deactivated = guest.lvm_activate_stop("lxc")
        assert deactivated.rc == 0, deactivated.stdout + deactivated.stderr
        assert all(guest.lv(lv)["lv_attr"][4] != "a" for lv in ("thick", "thin", "pool"))

        # a backup of the stopped container holds its LV (mounted read-only): LVM-activate's
        # stop fails until the agent's stop aborts the backup
        guest.sh("vgchange -q -ay lxc && lvchange -q -ay -K lxc/thin")
        guest.hc("start", "thin")
        guest.inside("thin", "dd if=/dev/urandom of=/data bs=1M count=8 2>/dev/null")
        guest.hc("stop", "thin")
        guest.backup_held("thin")
        refused = guest.lvm_activate_stop("lxc")
        assert refused.rc != 0, "LVM-activate stopped a VG with an LV in use"
        stopped = guest.agent("stop", "thin")
        assert stopped.rc == 0 and "aborted the backup of container thin" in stopped.stderr
        assert guest.backup_processes() == []
        deactivated = guest.lvm_activate_stop("lxc")
        assert deactivated.rc == 0, deactivated.stdout + deactivated.stderr
