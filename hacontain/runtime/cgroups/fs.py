"""cgroupfs I/O: read and write control files, make and remove directories.

Every failure becomes a KernelError naming the operation and the path. The
one CgroupFs object is the seam unit tests replace to emulate the kernel
populating new directories with control files.
"""

import errno
import os
import time

from hacontain.errors import KernelError, Timeout


class CgroupFs:
    """Operations on cgroupfs paths (absolute filesystem paths)."""

    def read(self, path):
        """The file's text without the trailing newline."""
        try:
            with open(path, encoding="ascii") as handle:
                return handle.read().rstrip("\n")
        except OSError as exc:
            raise KernelError("read", exc.errno, path) from None

    def write(self, path, value, detail=None):
        """Write `value` with one write(2), as the kernel expects."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
        except OSError as exc:
            raise KernelError("open", exc.errno, path, detail) from None
        try:
            os.write(fd, value.encode("ascii"))
        except OSError as exc:
            raise KernelError(f"write {value!r} to", exc.errno, path, detail) from None
        finally:
            os.close(fd)

    def exists(self, path):
        return os.path.exists(path)

    def mkdir(self, path):
        """Make a cgroup directory; False when it was there already."""
        try:
            os.mkdir(path, 0o755)
            return True
        except FileExistsError:
            if not os.path.isdir(path):
                raise KernelError("mkdir", errno.ENOTDIR, path) from None
            return False
        except OSError as exc:
            raise KernelError("mkdir", exc.errno, path) from None

    def rmdir(self, path):
        """Remove an empty cgroup directory; False when it was already gone."""
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise KernelError("rmdir", exc.errno, path) from None

    def children(self, path):
        """The child cgroup directories of `path` (absolute), [] when it is gone."""
        try:
            with os.scandir(path) as entries:
                return [entry.path for entry in entries if entry.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise KernelError("list", exc.errno, path) from None

    def tree(self, path):
        """`path` and every cgroup below it, deepest last."""
        found, pending = [], [path] if os.path.isdir(path) else []
        while pending:
            current = pending.pop(0)
            found.append(current)
            pending.extend(self.children(current))
        return found

    def procs(self, path):
        """The PIDs in `path`'s cgroup.procs ([] when the cgroup is gone)."""
        try:
            text = self.read(os.path.join(path, "cgroup.procs"))
        except KernelError as exc:
            if exc.errno in (errno.ENOENT, errno.ENODEV):
                return []
            raise
        return [int(word) for word in text.split()]


CGROUPFS = CgroupFs()


def wait_until(done, timeout, what, interval=0.001):
    """Poll `done()` until it is true; Timeout naming `what` after `timeout` seconds.
    The first polls are 1, 2, 4... ms apart: a freeze usually completes within a
    millisecond, and a backup's freeze window should not wait longer."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() >= deadline:
            raise Timeout(f"{what} did not happen within {timeout:g} s")
        time.sleep(interval)
        interval = min(interval * 2, 0.1)
