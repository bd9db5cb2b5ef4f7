"""Loading a seccomp BPF filter (prctl PR_SET_SECCOMP, SECCOMP_MODE_FILTER) through ffi."""

from hacontain.sys import ffi, libc

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class _Program(ffi.Structure):
    _fields_ = [("len", ffi.c_ushort), ("filter", ffi.c_void_p)]


def load_filter(program):
    """Install `program` (packed struct sock_filter bytes) for this thread and its children.

    Needs no_new_privs or CAP_SYS_ADMIN; the filter stays for good.
    """
    buffer = ffi.create_string_buffer(program, len(program))
    fprog = _Program(len(program) // 8, ffi.addressof(buffer))
    libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ffi.addressof(fprog),
               what="load seccomp filter", detail=f"{len(program) // 8} instructions")
