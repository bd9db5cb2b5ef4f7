"""A seccomp BPF program from a list of rules: pure data in, packed bytes out.

    load arch; foreign ABI (not x86_64, or x32 numbers)  -> foreign action
    load nr;   [umount2 with MNT_FORCE                   -> EACCES]
               [mount with MS_REMOUNT, without MS_BIND   -> EPERM]
               [fspick                                   -> EPERM]
               each rule: nr == N                        -> its action
               otherwise                                 -> default action
"""

import struct

from hacontain.runtime.security.syscalls_x86_64 import AUDIT_ARCH, NUMBERS, X32_BIT

RET_KILL_PROCESS = 0x80000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000

_LD_ABS = 0x20     # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15        # BPF_JMP | BPF_JEQ | BPF_K
_JGE = 0x35        # BPF_JMP | BPF_JGE | BPF_K
_JSET = 0x45       # BPF_JMP | BPF_JSET | BPF_K
_RET = 0x06        # BPF_RET | BPF_K
_NR, _ARCH, _ARG1_LOW, _ARG3_LOW = 0, 4, 24, 40   # offsets in struct seccomp_data (little endian)
_MNT_FORCE = 1
_MS_REMOUNT, _MS_BIND = 0x20, 0x1000
_EPERM, _EACCES = 1, 13
MAX_INSTRUCTIONS = 4096


def errno(number):
    """The return value making the syscall fail with `number`."""
    return RET_ERRNO | (number & 0xFFFF)


def _op(code, k=0, jt=0, jf=0):
    return (code, jt, jf, k)


def build(rules, default, force_umount=False, foreign=RET_KILL_PROCESS, superblocks=False):
    """Instructions for `rules` ((syscall number, return value) pairs, the last of a
    number wins), `default` for the rest; `force_umount` refuses umount2(MNT_FORCE);
    `superblocks` refuses to reconfigure a mounted filesystem (mount(2) with MS_REMOUNT
    but not MS_BIND, fspick(2)): in a privileged container "mount -o remount,ro /"
    would make the host's filesystem under the rootfs read-only."""
    program = [
        _op(_LD_ABS, _ARCH),
        _op(_JEQ, AUDIT_ARCH, jt=1),
        _op(_RET, foreign),
        _op(_LD_ABS, _NR),
        _op(_JGE, X32_BIT, jf=1),
        _op(_RET, foreign),
    ]
    if force_umount:
        program += [
            _op(_JEQ, NUMBERS["umount2"], jf=4),
            _op(_LD_ABS, _ARG1_LOW),
            _op(_JSET, _MNT_FORCE, jf=1),
            _op(_RET, errno(_EACCES)),
            _op(_LD_ABS, _NR),
        ]
    if superblocks:
        program += [
            _op(_JEQ, NUMBERS["mount"], jf=5),
            _op(_LD_ABS, _ARG3_LOW),
            _op(_JSET, _MS_REMOUNT, jf=2),
            _op(_JSET, _MS_BIND, jt=1),
            _op(_RET, errno(_EPERM)),
            _op(_LD_ABS, _NR),
            _op(_JEQ, NUMBERS["fspick"], jf=1),
            _op(_RET, errno(_EPERM)),
        ]
    for nr, action in dict(rules).items():
        if action != default:
            program += [_op(_JEQ, nr, jf=1), _op(_RET, action)]
    program.append(_op(_RET, default))
    if len(program) > MAX_INSTRUCTIONS:
        raise ValueError(f"seccomp program of {len(program)} instructions exceeds {MAX_INSTRUCTIONS}")
    return program


def pack(program):
    """struct sock_filter[] bytes for the kernel."""
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)

