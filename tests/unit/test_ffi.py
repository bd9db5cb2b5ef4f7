"""sys/ffi, the ctypes pieces on _ctypes alone, against ctypes itself: the same sizes,
buffers, structure layouts and calls into libc (errno kept)."""

import ctypes
import errno
import os

import pytest

from hacontain.sys import ffi

TYPES = ("c_int", "c_uint32", "c_ushort", "c_long", "c_ulong", "c_char", "c_char_p",
         "c_void_p", "c_size_t")


@pytest.mark.parametrize("name", TYPES)
def test_each_type_has_the_size_ctypes_gives_it(name):
    assert ctypes.sizeof(getattr(ffi, name)) == ctypes.sizeof(getattr(ctypes, name))


def test_string_buffers_are_as_ctypes_makes_them():
    for args in ((b"abc",), (b"abc", 3), (b"abc", 8), (16,)):
        assert ffi.create_string_buffer(*args).raw == ctypes.create_string_buffer(*args).raw
    with pytest.raises(ValueError):
        ffi.create_string_buffer(b"abcd", 3)


def test_structures_lay_out_as_with_ctypes():
    class Ours(ffi.Structure):
        _fields_ = [("length", ffi.c_ushort), ("pointer", ffi.c_void_p)]

    class Theirs(ctypes.Structure):
        _fields_ = [("length", ctypes.c_ushort), ("pointer", ctypes.c_void_p)]

    assert ctypes.sizeof(Ours) == ctypes.sizeof(Theirs) == 16
    assert bytes(Ours(3, 0x1234)) == bytes(Theirs(3, 0x1234))


@pytest.mark.parametrize("hold_gil", [False, True])
def test_library_calls_libc_and_keeps_errno(hold_gil, tmp_path):
    libc = ffi.Library(hold_gil=hold_gil)
    assert libc.getpid() == os.getpid()
    assert libc.mkdir(str(tmp_path / "no" / "such").encode(), 0o700) == -1
    assert ffi.get_errno() == errno.ENOENT
    libc.labs.restype = ffi.c_long
    assert libc.labs(ffi.c_long(-5_000_000_000)) == 5_000_000_000     # a 64-bit result
    assert libc.getpid is libc.getpid, "looked up once"
    with pytest.raises(AttributeError):
        libc._private
