"""The agent's modules in one file: an action reads one file, not one per module.

A start imports about 55 modules. Through the usual path-based import each
costs about 0.1 ms on this kind of machine before its code runs (find the
file, open and check its .pyc), and together about 8 ms of a 50 ms start.
`build` writes the compiled code of every module of the hacontain package,
and of the pure-Python standard modules the start imports that are not
frozen into the interpreter (STANDARD), into one file; `use` puts a finder
for them first on sys.meta_path.

A module is served from the pack only while its source file has the size and
modification time (in ns) it had when the pack was built, the check Python
makes of a .pyc; a changed module, one not in the pack, or a pack of another
bytecode version is imported the usual way. Packed modules are the same
modules with the same __file__, __path__ and loader class (SourceFileLoader),
so their resources and tracebacks are as usual.
"""

import marshal
import sys

# What importlib.machinery exports, taken from where it takes them: importing
# importlib.machinery or importlib.util costs more than the pack saves.
from _frozen_importlib import ModuleSpec
from _frozen_importlib_external import MAGIC_NUMBER, SourceFileLoader

STANDARD = ("struct", "encodings.ascii")
FORMAT = b"hacontain pack 2"     # 2: the index holds each module's spec (see build)
HEAD = len(MAGIC_NUMBER) + len(FORMAT) + 16   # those two, the index's offset and length


def use(path):
    """Serve the modules packed in `path` from now on; False (nothing changes) when
    it is missing, unreadable or of another bytecode version."""
    from posix import O_CLOEXEC, O_RDONLY, open as open_fd, pread
    try:
        fd = open_fd(path, O_RDONLY | O_CLOEXEC)
    except OSError:
        return False
    try:
        head = pread(fd, HEAD, 0)
        if len(head) != HEAD or head[:-16] != MAGIC_NUMBER + FORMAT:
            raise ValueError(f"{path}: not a pack of this format and Python's bytecode")
        offset = int.from_bytes(head[-16:-8], "little")
        length = int.from_bytes(head[-8:], "little")
        index = marshal.loads(pread(fd, length, offset))
        if not isinstance(index, dict):
            raise ValueError(f"{path}: no index")
    except (OSError, ValueError, EOFError, TypeError):
        from posix import close
        close(fd)
        return False
    sys.meta_path.insert(0, PackFinder(fd, index))     # fd: held, read at each import
    return True


class PackFinder:
    """A meta path finder for the modules of a pack open at `fd`, with `index`:
    {name: (origin, mtime_ns, size, offset, length, cached, package directory)}."""

    def __init__(self, fd, index):
        self.fd, self.index = fd, index

    def find_spec(self, name, path=None, target=None):
        entry = self.index.get(name)
        if entry is None:
            return None
        # The spec spec_from_file_location makes, from what build() worked out: that
        # and the module's __cached__ cost about 10 us a module at each start.
        origin, cached, directory = entry[0], entry[5], entry[6]
        spec = ModuleSpec(name, PackedLoader(name, self.fd, entry), origin=origin,
                          is_package=directory is not None)
        spec.has_location = True
        spec.cached = cached
        if directory is not None:
            spec.submodule_search_locations = [directory]
        return spec

    def invalidate_caches(self):
        """importlib.invalidate_caches(): the pack checks each source when it loads it."""


class PackedLoader(SourceFileLoader):
    """A SourceFileLoader whose code comes from the pack while the source is unchanged."""

    def __init__(self, name, fd, entry):
        super().__init__(name, entry[0])
        self.fd, self.entry = fd, entry

    def get_code(self, fullname):
        from posix import pread, stat
        _, mtime_ns, size, offset, length = self.entry[:5]
        try:
            source = stat(self.path)
            if (source.st_mtime_ns, source.st_size) == (mtime_ns, size):
                code = pread(self.fd, length, offset)
                if len(code) == length:
                    return marshal.loads(code)
        except (OSError, ValueError, EOFError, TypeError):
            pass                      # gone, or the pack's fd closed: the usual way
        return super().get_code(fullname)


def build(path, package_dir):
    """Write the pack of the modules of the hacontain package in `package_dir` and of
    STANDARD to `path` (atomically: a temporary file renamed); how many it holds.

    The pack: MAGIC_NUMBER, FORMAT, the index's offset and length (8 bytes each,
    little-endian), each module's marshalled code object, then the index
    (marshal: {name: (source path, its mtime_ns, its size, offset, length, its
    __cached__, its __path__'s directory or None when not a package)})."""
    import os
    from importlib.util import spec_from_file_location
    index, blobs, offset = {}, [], HEAD
    for name, origin in _package_sources(package_dir) + _standard_sources():
        status = os.stat(origin)              # before the read: a later change is seen
        with open(origin, "rb") as handle:
            code = _compiled(handle.read(), origin)
        blobs.append(marshal.dumps(code))
        spec = spec_from_file_location(name, origin)
        directory = spec.submodule_search_locations[0] if spec.submodule_search_locations \
            else None
        index[name] = (origin, status.st_mtime_ns, status.st_size, offset, len(blobs[-1]),
                       spec.cached, directory)
        offset += len(blobs[-1])
    table = marshal.dumps(index)
    head = MAGIC_NUMBER + FORMAT + offset.to_bytes(8, "little") + len(table).to_bytes(8, "little")
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    temp = f"{path}.{os.getpid()}.tmp"
    with open(temp, "wb") as handle:
        handle.write(head + b"".join(blobs) + table)
    os.chmod(temp, 0o644)
    os.rename(temp, path)
    return len(index)


def _compiled(source, origin):
    """The code of module `source` read from `origin`; a HacontainError naming the
    file when it does not compile (a damaged install: the pack is not written)."""
    try:
        return compile(source, origin, "exec", dont_inherit=True, optimize=0)
    except (SyntaxError, ValueError) as exc:
        from hacontain.errors import HacontainError
        raise HacontainError(f"cannot pack the agent's modules: {origin} does not compile: "
                             f"{exc}") from None


def _package_sources(package_dir):
    """(module name, source path) of every module of the package in `package_dir`."""
    import os
    package = os.path.basename(os.path.normpath(package_dir))
    sources = []
    for directory, subdirectories, files in os.walk(package_dir):
        subdirectories[:] = sorted(name for name in subdirectories if name != "__pycache__"
                                   and os.path.isfile(os.path.join(directory, name,
                                                                   "__init__.py")))
        parts = [package] + os.path.relpath(directory, package_dir).split(os.sep)
        parts = [part for part in parts if part != "."]
        for name in sorted(files):
            if name.endswith(".py"):
                module = parts if name == "__init__.py" else parts + [name[:-3]]
                sources.append((".".join(module), os.path.join(directory, name)))
    return sources


def _standard_sources():
    """(module name, source path) of the STANDARD modules of this interpreter."""
    from importlib.util import find_spec
    sources = []
    for name in STANDARD:
        spec = find_spec(name)
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            sources.append((name, spec.origin))
    return sources
