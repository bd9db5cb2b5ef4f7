"""A minimal writer of cpio "newc" archives, the format the kernel unpacks as an initramfs."""

import stat

TRAILER = "TRAILER!!!"


class NewcWriter:
    """Writes entries to a binary file object; call close() to end the archive."""

    def __init__(self, out):
        self.out = out
        self.inode = 0

    def directory(self, name, mode=0o755):
        self._entry(name, stat.S_IFDIR | mode, b"")

    def file(self, name, data, mode=0o644):
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, name, major, minor, mode=0o600):
        self._entry(name, stat.S_IFCHR | mode, b"", rdev=(major, minor))

    def close(self):
        self._entry(TRAILER, 0, b"")

    def _entry(self, name, mode, data, rdev=(0, 0)):
        self.inode += 1
        encoded = name.encode() + b"\0"
        fields = (self.inode, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        self._write(header + encoded)
        self._write(data)

    def _write(self, data):
        """Write ``data`` padded to the 4-byte alignment newc requires."""
        self.out.write(data + b"\0" * (-len(data) % 4))
