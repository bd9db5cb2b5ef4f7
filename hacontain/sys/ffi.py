"""The part of ctypes hacontain uses, on _ctypes (its C module) alone.

`import ctypes` runs ctypes/__init__.py: about 2 ms of every agent start go to
its dozens of types, caches and handles. hacontain needs a few C types, structures,
buffers and libc's functions; _ctypes implements all of them, and these lines only
name them as ctypes does (same classes, same conversions).
"""

import _ctypes
from _ctypes import Structure, addressof, byref, get_errno  # noqa: F401 (as ctypes has them)


def _simple(name, code):
    """A C scalar type, as ctypes defines each: `code` is its struct-module letter."""
    return type(name, (_ctypes._SimpleCData,), {"_type_": code})


c_int, c_uint32, c_ushort = _simple("c_int", "i"), _simple("c_uint32", "I"), _simple("c_ushort", "H")
c_long, c_ulong = _simple("c_long", "l"), _simple("c_ulong", "L")
c_char, c_char_p, c_void_p = _simple("c_char", "c"), _simple("c_char_p", "z"), _simple("c_void_p", "P")
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
