"""What the v1 and v2 drivers share: the container's directories on their
hierarchies (make, remove, membership) and writing limits through a key.
"""

import errno
import os

from hacontain.errors import AlreadyExists, KernelError, StateError


class CgroupDirs:
    """The container's cgroup directories on the hierarchies of one cgroup version.

    Subclasses set `version`, say which directory holds a control file
    (path), and may prepare each directory they make (_prepare).
    """

    version = None

    def __init__(self, places, fs):
        self.places, self.fs = list(places), fs

    def path(self, file):
        raise NotImplementedError

    def _prepare(self, place, path, leaf):
        """Set up a directory just made or reused: a parent (leaf=False) or the container's."""

    # -- files ---------------------------------------------------------------

    def read(self, file):
        return self.fs.read(self.path(file))

    def write(self, file, value, detail=None):
        self.fs.write(self.path(file), value, detail)

    def exists(self, file):
        """True when the control file is there (the Limit translators' files.exists)."""
        return self.fs.exists(self.path(file))

    def apply(self, key, value):
        """Write a parsed key's value: a raw file as given, a limit translated."""
        if key.limit is None:
            writes = [(key.file, value)]
        else:
            translate = key.limit.to_v1 if self.version == 1 else key.limit.to_v2
            try:
                writes = translate(value, self)
            except ValueError as exc:
                raise key.error(str(exc)) from None
        for file, text in writes:
            self._check_file(key, file)
            self.write(file, text, detail=key.text)

    def get(self, key):
        """The current value of a key, in the key's own syntax."""
        if key.limit is None:
            self._check_file(key, key.file)
            return self.read(key.file)
        read_back = key.limit.from_v1 if self.version == 1 else key.limit.from_v2
        try:
            return read_back(self)
        except ValueError as exc:
            raise key.error(str(exc)) from None

    def _check_file(self, key, file):
        if not self.exists(file):
            raise key.error(f"this host has no {file} in {os.path.dirname(self.path(file))}")

    # -- directories -----------------------------------------------------------

    def make(self):
        """Make the owned parents (as needed) and the container's directory everywhere."""
        for place in self.places:
            for attempt in range(3):          # an emptied parent may vanish under us: retry
                try:
                    self._make(place)
                    break
                except KernelError as exc:
                    if exc.errno != errno.ENOENT or attempt == 2:
                        raise

    def _make(self, place):
        for path in place.owned_dirs:
            self.fs.mkdir(path)
            self._prepare(place, path, leaf=False)
        if not self.fs.mkdir(place.dir):
            raise AlreadyExists(f"cgroup {place.dir} was made by someone else meanwhile")
        self._prepare(place, place.dir, leaf=True)

    def remove(self):
        """rmdir the container's cgroups (deepest first), then its owned parents when empty."""
        for place in self.places:
            for path in reversed(self.fs.tree(place.dir)):
                try:
                    self.fs.rmdir(path)
                except KernelError as exc:
                    if exc.errno != errno.EBUSY:
                        raise
                    raise StateError(f"cannot remove cgroup {path}: it still has processes") \
                        from None
            for path in reversed(place.owned_dirs):
                try:
                    self.fs.rmdir(path)
                except KernelError as exc:
                    if exc.errno in (errno.EBUSY, errno.ENOTEMPTY):
                        break                 # another container still uses it
                    raise

    def present(self):
        return any(self.fs.exists(place.dir) for place in self.places)

    def pids(self):
        return {pid for place in self.places for path in self.fs.tree(place.dir)
                for pid in self.fs.procs(path)}

    def add_process(self, pid):
        for place in self.places:
            self.fs.write(os.path.join(place.dir, "cgroup.procs"), str(pid))

