"""Capability and no_new_privs system calls (prctl, capget, capset) through ffi."""

from hacontain.sys import ffi, libc

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_VERSION_3 = 0x20080522


class _Header(ffi.Structure):
    _fields_ = [("version", ffi.c_uint32), ("pid", ffi.c_int)]


class _Data(ffi.Structure):
    _fields_ = [("effective", ffi.c_uint32), ("permitted", ffi.c_uint32),
                ("inheritable", ffi.c_uint32)]


def drop_bounding(cap):
    """Remove capability number `cap` from the bounding set (for good)."""
    libc.prctl(PR_CAPBSET_DROP, cap, what=f"drop bounding capability {cap}")


def clear_ambient():
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, what="clear ambient capabilities")


def set_no_new_privs():
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, what="set no_new_privs")


def clear_inheritable(mask):
    """Clear the capabilities of bit mask `mask` from the inheritable set: one left
    there would come back at exec, whatever the bounding set says."""
    header = _Header(_VERSION_3, 0)
    data = (_Data * 2)()
    libc._check(libc._libc.capget(ffi.byref(header), data), "capget")
    for half in range(2):
        data[half].inheritable &= ~(mask >> (32 * half)) & 0xFFFFFFFF
    libc._check(libc._libc.capset(ffi.byref(header), data), "capset")
