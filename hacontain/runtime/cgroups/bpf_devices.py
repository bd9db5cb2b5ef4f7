"""Device policy for cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program.

Assembled here from a DevicePolicy (see devices.py), loaded with bpf(2)
BPF_PROG_LOAD (license "GPL") and attached to the cgroup directory with
BPF_PROG_ATTACH / BPF_CGROUP_DEVICE. No compiler involved.

The program, as runc and crun build theirs: load the request from the
context (struct bpf_cgroup_dev_ctx {u32 access_type; u32 major; u32 minor}),
access_type = access << 16 | type), then one block per exception that jumps
to the next block on the first mismatch and otherwise returns the
exception's verdict (first match wins); after the last block, the default.
"""

import os
import struct
import sys
from collections import namedtuple

from hacontain.errors import KernelError
from hacontain.sys import ffi, libc

# instruction classes and operations (linux/bpf_common.h, linux/bpf.h)
LDX_MEM_W = 0x61        # BPF_LDX | BPF_MEM | BPF_W
ALU32_AND_K = 0x54      # BPF_ALU | BPF_AND | BPF_K
ALU32_RSH_K = 0x74      # BPF_ALU | BPF_RSH | BPF_K
ALU32_MOV_X = 0xBC      # BPF_ALU | BPF_MOV | BPF_X
ALU64_MOV_K = 0xB7      # BPF_ALU64 | BPF_MOV | BPF_K
JNE_K = 0x55            # BPF_JMP | BPF_JNE | BPF_K
JNE_X = 0x5D            # BPF_JMP | BPF_JNE | BPF_X
EXIT = 0x95             # BPF_JMP | BPF_EXIT

DEV_TYPE = {"b": 1, "c": 2}                 # BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
ACCESS_BIT = {"m": 1, "r": 2, "w": 4}       # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2      # stack with the programs of the ancestors (systemd's, a parent's)
_ATTR_SIZE = 128
_LOG_SIZE = 65536


Insn = namedtuple("Insn", "code dst src off imm", defaults=(0, 0, 0, 0))


def assemble(policy):
    """The instructions enforcing `policy`."""
    verdict, default = (0, 1) if policy.default_allow else (1, 0)
    program = [
        Insn(LDX_MEM_W, dst=2, src=1, off=0),     # r2 = ctx->access_type
        Insn(ALU32_AND_K, dst=2, imm=0xFFFF),     # r2 = device type
        Insn(LDX_MEM_W, dst=3, src=1, off=0),
        Insn(ALU32_RSH_K, dst=3, imm=16),         # r3 = requested access bits
        Insn(LDX_MEM_W, dst=4, src=1, off=4),     # r4 = major
        Insn(LDX_MEM_W, dst=5, src=1, off=8),     # r5 = minor
    ]
    for rule in policy.exceptions:
        program += _block(rule, verdict)
    return program + [Insn(ALU64_MOV_K, dst=0, imm=default), Insn(EXIT)]


def _block(rule, verdict):
    """Tests for one exception; each jumps past the block when it fails."""
    tests = [[(JNE_K, 2, 0, DEV_TYPE[rule.type])]]
    if rule.access != "rwm":
        bits = sum(ACCESS_BIT[a] for a in rule.access)
        tests.append([(ALU32_MOV_X, 1, 3, 0), (ALU32_AND_K, 1, 0, bits), (JNE_X, 1, 3, None)])
    if rule.major is not None:
        tests.append([(JNE_K, 4, 0, rule.major)])
    if rule.minor is not None:
        tests.append([(JNE_K, 5, 0, rule.minor)])
    flat = [step for test in tests for step in test]
    block = []
    for index, (code, dst, src, imm) in enumerate(flat):
        if code in (JNE_K, JNE_X):
            skip = len(flat) - index - 1 + 2          # the rest of the tests, mov, exit
            block.append(Insn(code, dst, src, skip, imm or 0))
        else:
            block.append(Insn(code, dst, src, 0, imm))
    return block + [Insn(ALU64_MOV_K, dst=0, imm=verdict), Insn(EXIT)]


def encode(program):
    """struct bpf_insn[] bytes in the host's byte order."""
    little = sys.byteorder == "little"
    return b"".join(
        struct.pack("=BBhi", i.code, (i.src << 4 | i.dst) if little else (i.dst << 4 | i.src),
                    i.off, i.imm)
        for i in program)


def attach(policy, cgroup_dir):
    """Load the program for `policy` and attach it to `cgroup_dir`."""
    prog_fd = load(assemble(policy))
    try:
        try:
            dir_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise KernelError("open", exc.errno, cgroup_dir) from None
        try:
            attr = struct.pack("=IIII", dir_fd, prog_fd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)
            _bpf(BPF_PROG_ATTACH, attr, "bpf(BPF_PROG_ATTACH)", cgroup_dir)
        finally:
            os.close(dir_fd)
    finally:
        os.close(prog_fd)


def load(program):
    """A file descriptor for the loaded program; the verifier's log on failure."""
    code = ffi.create_string_buffer(encode(program))
    license_ = ffi.create_string_buffer(b"GPL")
    log = ffi.create_string_buffer(_LOG_SIZE)

    def attr(log_level):
        return struct.pack("=IIQQIIQII16sII", BPF_PROG_TYPE_CGROUP_DEVICE, len(program),
                           ffi.addressof(code), ffi.addressof(license_),
                           log_level, _LOG_SIZE if log_level else 0,
                           ffi.addressof(log) if log_level else 0,
                           0, 0, b"hacontain_dev", 0, 0)
    try:
        return _bpf(BPF_PROG_LOAD, attr(0), "bpf(BPF_PROG_LOAD)")
    except KernelError:
        try:
            _bpf(BPF_PROG_LOAD, attr(1), "bpf(BPF_PROG_LOAD)")
        except KernelError as exc:
            verifier = log.value.decode("ascii", "replace").strip().splitlines()
            raise KernelError(exc.op, exc.errno, None,
                              "verifier: " + " | ".join(verifier[-3:])) from None
        raise


def _bpf(command, attr, op, path=None):
    return libc.bpf(command, attr.ljust(_ATTR_SIZE, b"\0"), op, path)
