"""Backup and restore round trips with the real commands, as root: a busybox rootfs
given xattrs (user, trusted), a file capability, POSIX ACLs (access and default), hard
links, a sparse file, device nodes, a fifo, setuid and sticky modes, odd and long
names (newlines, backslashes, quotes, bytes that are not UTF-8, in names and link
targets); a shifted-uid (unprivileged) rootfs; a running container (suspend mode).
Backed up, verified, restored to a new container: every file identical in content,
owner, mode, times, xattrs and ACLs, the hard links still linked, the sparse file still
sparse, and the restored container starts."""

import hashlib
import os
import shutil
import stat
import subprocess
import tempfile

import pytest

from clitools import hacontain, unique_name

pytestmark = pytest.mark.root

SPARSE_SIZE = 64 << 20


@pytest.fixture
def place(rundir):
    """(LXCPATH, dump directory): LXCPATH passable (o+x) for a user-namespaced root;
    every container in it destroyed at the end."""
    where = tempfile.mkdtemp(prefix="hacontain-backup-", dir="/tmp")
    os.chmod(where, 0o711)
    lxcpath, dumpdir = os.path.join(where, "lxc"), os.path.join(where, "dump")
    os.makedirs(lxcpath, mode=0o711)
    os.makedirs(dumpdir)
    yield lxcpath, dumpdir
    for name in os.listdir(lxcpath):
        if os.path.isfile(os.path.join(lxcpath, name, "config")):
            hacontain("-P", lxcpath, "destroy", "-f", name, check=False)
    shutil.rmtree(where)



def decorate(rootfs, owner=0):
    """Give the rootfs every kind of file and attribute an archive must keep
    (`owner`: the host uid of the container's root, for a shifted rootfs)."""
    data = os.path.join(rootfs, "data")
    os.makedirs(data)
    run = lambda *argv: subprocess.run(argv, check=True, capture_output=True)  # noqa: E731
    with open(os.path.join(data, "random"), "wb") as handle:
        handle.write(os.urandom(3 << 20) + b"tail")
    with open(os.path.join(data, "xattrs"), "w", encoding="utf-8") as handle:
        handle.write("with attributes\n")
    os.setxattr(os.path.join(data, "xattrs"), "user.colour", b"blue")
    os.setxattr(os.path.join(data, "xattrs"), "trusted.secret", b"\x00\x01binary")
    shutil.copy(os.path.join(rootfs, "bin", "busybox"), os.path.join(data, "ping"))
    run("setcap", "cap_net_raw+ep", os.path.join(data, "ping"))
    with open(os.path.join(data, "acl"), "w", encoding="utf-8") as handle:
        handle.write("acl\n")
    run("setfacl", "-m", f"u:{owner + 1234}:rx,g:{owner + 99}:r", os.path.join(data, "acl"))
    os.makedirs(os.path.join(data, "acldir"))
    run("setfacl", "-d", "-m", f"u:{owner + 1234}:rwx", os.path.join(data, "acldir"))
    with open(os.path.join(data, "linked"), "w", encoding="utf-8") as handle:
        handle.write("one inode, three names\n")
    os.link(os.path.join(data, "linked"), os.path.join(data, "linked2"))
    os.makedirs(os.path.join(data, "sub"))
    os.link(os.path.join(data, "linked"), os.path.join(data, "sub", "linked3"))
    with open(os.path.join(data, "sparse"), "wb") as handle:
        handle.truncate(SPARSE_SIZE)
        handle.seek(1 << 20)
        handle.write(b"island one")
        handle.seek(40 << 20)
        handle.write(os.urandom(8192))
    os.mknod(os.path.join(data, "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(os.path.join(data, "loopdev"), 0o660 | stat.S_IFBLK, os.makedev(7, 200))
    os.mkfifo(os.path.join(data, "fifo"), 0o640)
    os.symlink("../etc/passwd", os.path.join(data, "symlink"))
    with open(os.path.join(data, "setuid"), "w", encoding="utf-8") as handle:
        handle.write("#!/bin/sh\n")
    os.makedirs(os.path.join(data, "sticky"))
    long_dir = os.path.join(data, *(["a-rather-long-directory-name"] * 5))
    os.makedirs(long_dir)
    odd = os.path.join(long_dir, "ünïcode name with spaces\tand tab")
    with open(odd, "w", encoding="utf-8") as handle:
        handle.write("odd\n")
    odd_names = os.path.join(os.fsencode(data), b"odd names")
    os.makedirs(odd_names)
    for name in (b"new\nline", b"back\\slash", b'q"uote', b"a -> b", b"x link to y",
                 b"not utf-8 \xff\xfe", b"del\x7f and bell\a"):
        with open(os.path.join(odd_names, name), "wb") as handle:
            handle.write(name)
        os.symlink(name, os.path.join(odd_names, b"sym " + name))
        os.link(os.path.join(odd_names, name), os.path.join(odd_names, b"hard " + name))
    for path in (os.path.join(data, "setuid"),):
        os.chmod(path, 0o4755)
    os.chmod(os.path.join(data, "sticky"), 0o1777)
    for folder, dirs, files in os.walk(data):
        for name in dirs + files + ["."]:
            os.lchown(os.path.join(folder, name), owner + 1000, owner + 1000)
    os.lchown(os.path.join(data, "null"), owner, owner)
    os.lchown(os.path.join(data, "ping"), owner, owner)   # chown drops the capability:
    run("setcap", "cap_net_raw+ep", os.path.join(data, "ping"))   # set it again after
    os.chmod(os.path.join(data, "setuid"), 0o4755)        # chown clears setuid too
    with open(os.path.join(rootfs, "marker"), "w", encoding="utf-8") as handle:
        handle.write("backed up\n")


def tree(root):
    """{path: (type, mode, uid, gid, size, rdev, link, mtime, xattrs, sha256)} and
    [sets of paths that are one inode] of every file below `root`."""
    found, inodes = {}, {}
    for folder, dirs, files in os.walk(root):
        for name in ["."] + dirs + files:
            path = os.path.normpath(os.path.join(folder, name))
            info = os.lstat(path)
            relative = os.path.relpath(path, root)
            if name == "." and path != os.path.normpath(root):
                continue
            xattrs = {key: os.getxattr(path, key, follow_symlinks=False)
                      for key in sorted(os.listxattr(path, follow_symlinks=False))}
            digest = None
            if stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    digest = hashlib.file_digest(handle, "sha256").hexdigest()
                if info.st_nlink > 1:
                    inodes.setdefault(info.st_ino, set()).add(relative)
            found[relative] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), info.st_uid,
                               info.st_gid, info.st_size if not stat.S_ISDIR(info.st_mode)
                               else 0, info.st_rdev, os.readlink(path)
                               if stat.S_ISLNK(info.st_mode) else None,
                               int(info.st_mtime) if not stat.S_ISLNK(info.st_mode) else None,
                               xattrs, digest)
    return found, sorted(sorted(group) for group in inodes.values())


def assert_same_tree(source, restored):
    expected, expected_links = tree(source)
    got, got_links = tree(restored)
    assert sorted(got) == sorted(expected)
    for path, entry in expected.items():
        assert got[path] == entry, f"{path} differs"
    assert got_links == expected_links
    return expected


def only_archive(dumpdir, name):
    archives = [f for f in os.listdir(dumpdir) if f.startswith(f"hacontain-{name}-")
                and f.endswith(".tar.zst")]
    assert len(archives) == 1, os.listdir(dumpdir)
    return os.path.join(dumpdir, archives[0])


def start_and_read_marker(lxcpath, name):
    hacontain("-P", lxcpath, "start", name)
    try:
        return hacontain("-P", lxcpath, "attach", name, "--", "/bin/cat", "/marker").stdout
    finally:
        hacontain("-P", lxcpath, "stop", "-k", name)


def test_roundtrip_keeps_every_file_and_attribute(place):
    lxcpath, dumpdir = place
    name, copy = unique_name("b"), unique_name("r")
    hacontain("-P", lxcpath, "create", name, "-t", "busybox")
    rootfs = os.path.join(lxcpath, name, "rootfs")
    decorate(rootfs)
    made = hacontain("-P", lxcpath, "backup", name, "--dumpdir", dumpdir, "--notes", "first")
    path = only_archive(dumpdir, name)
    assert made.stdout.strip() == path
    assert "ok:" in hacontain("backup", "verify", path).stdout
    hacontain("-P", lxcpath, "restore", path, copy)
    restored = os.path.join(lxcpath, copy, "rootfs")
    entries = assert_same_tree(rootfs, restored)
    assert b"blue" == entries["data/xattrs"][8]["user.colour"]
    assert "security.capability" in entries["data/ping"][8]
    assert "system.posix_acl_access" in entries["data/acl"][8]
    assert "system.posix_acl_default" in entries["data/acldir"][8]
    assert subprocess.run(["getcap", os.path.join(restored, "data", "ping")], check=True,
                          capture_output=True, text=True).stdout.split()[-1] == "cap_net_raw=ep"
    sparse = os.lstat(os.path.join(restored, "data", "sparse"))
    assert sparse.st_size == SPARSE_SIZE and sparse.st_blocks * 512 < 1 << 20, \
        "the sparse file lost its holes"
    with open(os.path.join(lxcpath, copy, "config"), encoding="utf-8") as handle:
        config = handle.read()
    assert f"lxc.rootfs.path = dir:{restored}" in config
    assert start_and_read_marker(lxcpath, copy) == "backed up\n"
    listed = hacontain("backups", dumpdir).stdout
    assert name in listed and "first" in listed


def test_roundtrip_of_a_shifted_uid_rootfs_keeps_the_ids_on_disk(place):
    lxcpath, dumpdir = place
    name, copy = unique_name("b"), unique_name("r")
    hacontain("-P", lxcpath, "create", name, "-t", "busybox", "--idmap", "200000:65536")
    rootfs = os.path.join(lxcpath, name, "rootfs")
    decorate(rootfs, owner=200000)
    os.lchown(os.path.join(rootfs, "marker"), 200000, 200000)
    hacontain("-P", lxcpath, "backup", name, "--dumpdir", dumpdir, "--compress", "gzip")
    path = [os.path.join(dumpdir, f) for f in os.listdir(dumpdir) if f.endswith(".tar.gz")][0]
    hacontain("-P", lxcpath, "restore", path, copy)
    restored = os.path.join(lxcpath, copy, "rootfs")
    entries = assert_same_tree(rootfs, restored)
    assert entries["."][2] == 200000 and entries["data/random"][2] == 201000
    with open(os.path.join(lxcpath, copy, "config"), encoding="utf-8") as handle:
        assert "lxc.idmap = u 0 200000 65536" in handle.read()
    assert start_and_read_marker(lxcpath, copy) == "backed up\n"


def test_running_container_in_suspend_mode_and_restore_over_a_stopped_one(place, tmp_path):
    lxcpath, dumpdir = place
    name, staging = unique_name("b"), tmp_path / "staging"
    staging.mkdir()
    hacontain("-P", lxcpath, "create", name, "-t", "busybox")
    rootfs = os.path.join(lxcpath, name, "rootfs")
    with open(os.path.join(rootfs, "marker"), "w", encoding="utf-8") as handle:
        handle.write("backed up\n")
    hacontain("-P", lxcpath, "start", name)
    try:
        made = hacontain("-P", lxcpath, "backup", name, "--dumpdir", dumpdir, "--mode",
                         "suspend", "--compress", "none", "--tmpdir", str(staging))
        assert "backup mode: suspend" in made.stderr and "freeze window" in made.stderr
        assert f"copied to {staging}/" in made.stderr
        refused = hacontain("-P", lxcpath, "restore", made.stdout.strip(), name, "--force",
                            check=False)
        assert refused.returncode == 1 and "is running" in refused.stderr
    finally:
        hacontain("-P", lxcpath, "stop", "-k", name)
    archive = made.stdout.strip()
    assert archive.endswith(".tar") and os.path.isfile(archive)
    assert not [f for f in os.listdir(dumpdir) if f.startswith(".")], "temporary files left"
    assert os.listdir(staging) == [], "the staging copy was left"
    with open(os.path.join(rootfs, "marker"), "w", encoding="utf-8") as handle:
        handle.write("changed after the backup\n")
    refused = hacontain("-P", lxcpath, "restore", archive, name, check=False)
    assert refused.returncode == 1 and "--force" in refused.stderr
    hacontain("-P", lxcpath, "restore", archive, name, "--force")
    assert start_and_read_marker(lxcpath, name) == "backed up\n"
    assert sorted(os.listdir(lxcpath)) == [name]
