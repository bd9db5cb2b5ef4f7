"""The part of ctypes hacontain uses, on _ctypes (its C module) alone.

`import ctypes` runs ctypes/__init__.py: about 4 ms of every agent start go to
its dozens of types, caches and handles. hacontain needs a few C types, structures,
buffers and libc's functions; _ctypes implements all of them, and these lines only
name them as ctypes does (same classes, same conversions).
"""

import _ctypes
from _ctypes import Structure, addressof, byref, get_errno  # noqa: F401 (as ctypes has them)


class c_int(_ctypes._SimpleCData):
    _type_ = "i"


class c_uint32(_ctypes._SimpleCData):
    _type_ = "I"


class c_ushort(_ctypes._SimpleCData):
    _type_ = "H"


class c_long(_ctypes._SimpleCData):
    _type_ = "l"


class c_ulong(_ctypes._SimpleCData):
    _type_ = "L"


class c_char(_ctypes._SimpleCData):
    _type_ = "c"


class c_char_p(_ctypes._SimpleCData):
    _type_ = "z"


class c_void_p(_ctypes._SimpleCData):
    _type_ = "P"


c_size_t = c_ulong                        # LP64 (x86_64, aarch64)


def create_string_buffer(init, size=None):
    """A mutable char array, as ctypes': `init` bytes (in `size` bytes, by default
    one more for a NUL), or `init` zero bytes."""
    if isinstance(init, int):
        return (c_char * init)()
    buffer = (c_char * (len(init) + 1 if size is None else size))()
    buffer.value = init
    return buffer


class Library:
    """The functions of the program's own libraries (dlopen(NULL)), looked up by
    name, as ctypes.CDLL(None, use_errno=True) (or PyDLL, with `hold_gil`) gives them:
    int result unless `restype` is set, errno kept for get_errno()."""

    def __init__(self, hold_gil=False):
        class Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO | (
                _ctypes.FUNCFLAG_PYTHONAPI if hold_gil else 0)
            _restype_ = c_int

        self._function = Function
        self._handle = _ctypes.dlopen(None, _ctypes.RTLD_LOCAL)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        function = self._function((name, self))
        setattr(self, name, function)
        return function
