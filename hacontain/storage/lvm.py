"""An LVM rootfs (`lvm:/dev/VG/LV`), thick or thin: created with autoactivation off
(Pacemaker's LVM-activate owns activation), read through lvm's JSON reports, mounted at
start in the container's own mount namespace. Snapshots: thin (activated with -K, as
they carry the activation-skip flag), or thick with a COW size (the origin must stay)."""

import os

from hacontain.errors import CommandError, NotFound, StorageError
from hacontain.storage import backends, block
from hacontain.storage.command import run, run_json

TAG = "hacontain"          # on the LVs hacontain made: destroy removes only those


class Lvm(backends.Volume):
    kind = "lvm"
    needs_mount_privilege = True

    def __init__(self, path, options=None):
        super().__init__(path, options)
        parts = path.split("/")
        if len(parts) != 4 or parts[:2] != ["", "dev"]:
            from hacontain.errors import ConfigError
            raise ConfigError(f"rootfs lvm:{path}: expected lvm:/dev/VG/LV")
        self.vg, self.lv = parts[2], parts[3]
        self._origin = None

    def check(self, idmap=False):
        super().check(idmap)
        if not os.path.exists(self.path):
            raise NotFound(f"rootfs {self.spec}: {self.path} does not exist: LV {self.vg}/"
                           f"{self.lv} is not active on this node")
        check_exclusive(self.vg, self.lv, self.spec)
        block.check_device(self.path, self.spec)

    def prepare(self):
        self.mount_fd = block.open_mount(self.path, self.options)

    def info(self):
        """The LV's lvs report: lv_size (bytes), lv_attr, pool_lv, origin, lv_tags."""
        report = run_json(["lvs", "--units", "b", "--nosuffix", "-o",
                           "lv_name,vg_name,lv_size,lv_attr,pool_lv,origin,lv_tags",
                           f"{self.vg}/{self.lv}"], "read the LV")
        rows = report.get("report", [{}])[0].get("lv", [])
        if not rows:
            raise NotFound(f"LV {self.vg}/{self.lv} does not exist")
        return rows[0]

    def destroy(self):
        run(["lvremove", "-y", f"{self.vg}/{self.lv}"], "remove the LV")

    def size(self):
        return int(self.info()["lv_size"])

    def snapshot(self, directory, name, options):
        """A thin snapshot (thin origin; with the activation-skip flag, as a thin LV
        hacontain creates, so activated here with -K) or a thick one of --fssize COW
        space, active with its origin."""
        new = options.lvname or name
        size = (["--setactivationskip", "y"] if self.origin_report().get("pool_lv")
                else ["-L", f"{backends.parse_size(options.fssize)}b"])
        run(["lvcreate", "-s", "-K", *size, "-n", new, "--addtag", TAG,
             f"{self.vg}/{self.lv}"], "make a snapshot")
        clone = Lvm(f"/dev/{self.vg}/{new}")
        try:
            if not os.path.exists(clone.path):
                raise StorageError(f"lvcreate made {self.vg}/{new} but {clone.path} did not "
                                   "appear")
            block.new_uuid(clone)
        except BaseException:
            clone.destroy()
            raise
        return clone

    def origin_report(self):
        """info() read once for a snapshot (clone_relation, then snapshot)."""
        if self._origin is None:
            self._origin = self.info()
        return self._origin

    def clone_relation(self):
        return None if self.origin_report().get("pool_lv") else "lvm-thick"


def check_exclusive(vg, lv, spec):
    """VolumeBusy unless VG/LV is this node's alone: a VG with a system ID not this
    node's, or (lvmlockd: a shared VG) an LV whose lock this node's lvmlockd does not
    hold exclusively (lvs' lv_active_exclusively asks lvmlockd only from lvm 2.03.18 on:
    before, it says "active exclusively" for an LV active shared)."""
    report = run_json(["vgs", "-o", "vg_name,vg_systemid,vg_lock_type", vg], "read the VG")
    row = report["report"][0]["vg"][0]
    owner = row.get("vg_systemid", "")
    if owner and owner != local_system_id():
        raise backends.VolumeBusy(f"rootfs {spec}: VG {vg} belongs to system ID {owner}, "
                                  f"not this node's ({local_system_id() or 'none'})")
    if row.get("vg_lock_type", "") in ("sanlock", "dlm", "idm"):
        try:
            mode = lock_mode(lock_uuid(vg, lv))
        except CommandError as e:
            raise backends.VolumeBusy(f"rootfs {spec}: LV {vg}/{lv} is in shared VG {vg}, but "
                                      f"this node's lvmlockd does not answer ({e})") from None
        if mode != "ex":
            raise backends.VolumeBusy(f"rootfs {spec}: LV {vg}/{lv} is not active exclusively "
                                      "on this node (lvmlockd: activate it with -aey)")


def lock_uuid(vg, lv):
    """The lv_uuid of the LV whose lvmlockd lock covers VG/LV: a thin LV's pool, a thick
    snapshot's origin, else its own."""
    report = run_json(["lvs", "-o", "lv_name,lv_uuid,pool_lv,origin", vg], "read the VG's LVs")
    rows = {row["lv_name"]: row for row in report["report"][0]["lv"]}
    if lv not in rows:
        raise NotFound(f"LV {vg}/{lv} does not exist")
    holder = rows[lv].get("pool_lv") or rows[lv].get("origin") or lv
    return rows[holder]["lv_uuid"]


def lock_mode(uuid):
    """The mode (ex, sh, un) of this node's lvmlockd lock on the LV of `uuid`, '' for none:
    lvmlockctl --info lists it as `LK LV MODE UUID`."""
    text = run(["lvmlockctl", "--info"], "ask lvmlockd for this node's locks")
    for words in map(str.split, text.splitlines()):
        if words[:2] == ["LK", "LV"] and words[3:4] == [uuid]:
            return words[2]
    return ""


def local_system_id():
    """This node's LVM system ID ('' when it has none)."""
    text = run(["lvm", "systemid"], "read this node's LVM system ID")
    return text.split(":", 1)[1].strip() if ":" in text else ""


def activate(vg, lv):
    """Activate VG/LV here unless active (attr a; a thick snapshot is active with its
    origin), with -K where it carries the activation-skip flag (attr k)."""
    report = run_json(["lvs", "-o", "lv_attr", f"{vg}/{lv}"], "read the LV")
    attr = report["report"][0]["lv"][0]["lv_attr"]
    if attr[4] == "a":
        return
    run(["lvchange", "-ay"] + (["-K"] if len(attr) > 9 and attr[9] == "k" else [])
        + [f"{vg}/{lv}"], "activate the LV")


def open_volume(path, options=None):
    return Lvm(path, options)


def create(directory, name, options):
    """A new LV (thin in --thinpool, else thick) of --fssize with a --fstype filesystem."""
    lv = options.lvname or name
    size = f"{backends.parse_size(options.fssize)}b"
    argv = ["lvcreate", "-aly", "-Wy", "--yes", "--addtag", TAG, "-n", lv]
    if options.thinpool:              # thin LVs take no autoactivation setting: skip flag
        argv += ["--setactivationskip", "y", "-V", size,
                 "--thinpool", f"{options.vgname}/{options.thinpool}"]
    else:
        argv += ["--setautoactivation", "n", "-L", size, options.vgname]
    run(argv, "create the LV")
    volume = Lvm(f"/dev/{options.vgname}/{lv}")
    try:
        activate(volume.vg, volume.lv)
        if not os.path.exists(volume.path):
            raise StorageError(f"lvcreate made {options.vgname}/{lv} but {volume.path} "
                               "did not appear")
        block.make_filesystem(volume.path, options.fstype)
    except BaseException:
        volume.destroy()
        raise
    return volume
