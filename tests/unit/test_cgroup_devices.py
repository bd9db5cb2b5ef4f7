"""Device rules: parsing, folding as cgroup v1 does, the v1 writes, and the
BPF program built from the policy (its exact instructions and encoding, and
its verdicts run through a small interpreter of the instructions it uses).
"""

import struct

import pytest

from hacontain.errors import ConfigError
from hacontain.runtime.cgroups import bpf_devices as bpf
from hacontain.runtime.cgroups.devices import (DEFAULT_ALLOW, DevicePolicy, DeviceRule,
                                               build_policy, parse_rule, v1_writes)
from hacontain.runtime.cgroups.bpf_devices import Insn


def rules(*texts):
    return tuple(parse_rule(text, "k") for text in texts)


def test_parse_rule():
    assert parse_rule("c 1:3 rwm", "k") == DeviceRule("c", 1, 3, "rwm")
    assert parse_rule("b  8:*   wr", "k") == DeviceRule("b", 8, None, "rw")
    assert parse_rule("a", "k") is None and parse_rule("a *:* rwm", "k") is None
    assert str(DeviceRule("c", 136, None, "rwm")) == "c 136:* rwm"


@pytest.mark.parametrize("text", ["c 1:3", "x 1:3 r", "c 1 r", "c 1:3 rwx", "c 1:3 rr", "a 1:3 r", ""])
def test_bad_rules_name_the_key(text):
    with pytest.raises(ConfigError, match="bad device rule") as caught:
        build_policy([("deny", text)])
    assert caught.value.key == "devices.deny"


def test_the_default_is_the_allow_list():
    policy = build_policy(None)
    assert policy == DevicePolicy(False, rules(*DEFAULT_ALLOW))
    assert [str(rule) for rule in policy.exceptions] == [
        "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
        "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"]


def test_folding_follows_v1():
    devices = [("allow", rule) for rule in DEFAULT_ALLOW] + [
        ("deny", "c 1:7 rwm"),          # removes the exact exception
        ("deny", "c 1:9 w"),            # removes one access bit
        ("allow", "c 1:3 r"),           # merges into the existing one
        ("allow", "b 8:* r"),
        ("allow", "b 8:* m")]
    policy = build_policy(devices)
    assert not policy.default_allow
    assert [str(r) for r in policy.exceptions] == [
        "c 1:3 rwm", "c 1:5 rwm", "c 1:8 rwm", "c 1:9 rm", "c 5:0 rwm", "c 5:1 rwm",
        "c 5:2 rwm", "c 136:* rwm", "b 8:* rm"]


def test_a_resets_the_default():
    policy = build_policy([("allow", "c 1:3 rwm"), ("allow", "a"), ("deny", "b 8:0 rwm")])
    assert policy == DevicePolicy(True, rules("b 8:0 rwm"))
    assert build_policy([("allow", "a"), ("deny", "a")]) == DevicePolicy(False, ())


def test_a_rule_v1_would_not_apply_is_refused():
    with pytest.raises(ConfigError, match="overlaps the earlier exception 'c 136:\\* rwm'"):
        build_policy([("allow", "c 136:* rwm"), ("deny", "c 136:0 rwm")])
    with pytest.raises(ConfigError, match="overlaps"):
        build_policy([("allow", "a"), ("deny", "c 1:3 rwm"), ("allow", "c *:* r")])


def test_unknown_action():
    with pytest.raises(ConfigError, match="unknown device action"):
        build_policy([("permit", "c 1:3 r")])


def test_v1_writes():
    assert v1_writes(build_policy([("allow", "c 1:3 rwm"), ("allow", "c 136:* rw")])) == [
        ("devices.deny", "a"), ("devices.allow", "c 1:3 rwm"), ("devices.allow", "c 136:* rw")]
    assert v1_writes(build_policy([("allow", "a"), ("deny", "b 8:0 w")])) == [
        ("devices.allow", "a"), ("devices.deny", "b 8:0 w")]


# -- BPF ---------------------------------------------------------------------

PROLOGUE = [Insn(0x61, 2, 1, 0, 0), Insn(0x54, 2, 0, 0, 0xFFFF), Insn(0x61, 3, 1, 0, 0),
            Insn(0x74, 3, 0, 0, 16), Insn(0x61, 4, 1, 4, 0), Insn(0x61, 5, 1, 8, 0)]


def test_program_instructions_for_an_allow_list():
    program = bpf.assemble(build_policy([("allow", "c 1:3 rwm"), ("allow", "b 8:* r"),
                                         ("allow", "c 136:* rwm")]))
    assert program == PROLOGUE + [
        # c 1:3 rwm: type, major, minor, then allow
        Insn(0x55, 2, 0, 4, 2), Insn(0x55, 4, 0, 3, 1), Insn(0x55, 5, 0, 2, 3),
        Insn(0xB7, 0, 0, 0, 1), Insn(0x95),
        # b 8:* r: type, (requested & r) == requested, major
        Insn(0x55, 2, 0, 6, 1), Insn(0xBC, 1, 3, 0, 0), Insn(0x54, 1, 0, 0, 2),
        Insn(0x5D, 1, 3, 3, 0), Insn(0x55, 4, 0, 2, 8), Insn(0xB7, 0, 0, 0, 1), Insn(0x95),
        # c 136:* rwm
        Insn(0x55, 2, 0, 3, 2), Insn(0x55, 4, 0, 2, 136), Insn(0xB7, 0, 0, 0, 1), Insn(0x95),
        # no match: deny
        Insn(0xB7, 0, 0, 0, 0), Insn(0x95)]


def test_a_deny_list_program_returns_0_on_match_and_1_otherwise():
    program = bpf.assemble(build_policy([("allow", "a"), ("deny", "b 8:0 rwm")]))
    assert program == PROLOGUE + [
        Insn(0x55, 2, 0, 4, 1), Insn(0x55, 4, 0, 3, 8), Insn(0x55, 5, 0, 2, 0),
        Insn(0xB7, 0, 0, 0, 0), Insn(0x95), Insn(0xB7, 0, 0, 0, 1), Insn(0x95)]


def test_encoding_is_struct_bpf_insn():
    code = bpf.encode([Insn(0x61, 2, 1, 4, 0), Insn(0x55, 5, 0, -2, 136)])
    assert code == struct.pack("<BBhi", 0x61, 0x12, 4, 0) + struct.pack("<BBhi", 0x55, 0x05, -2, 136)
    assert len(bpf.encode(bpf.assemble(build_policy(None)))) == 8 * (6 + 8 * 5 + 4 + 2)


def run(program, kind, major, minor, access):
    """Interpret the instructions assemble() emits, on one request."""
    ctx = {0: bpf.ACCESS_BIT[access] << 16 | bpf.DEV_TYPE[kind], 4: major, 8: minor}
    regs, pc = [0] * 11, 0
    while True:
        insn = program[pc]
        pc += 1
        if insn.code == 0x61:
            regs[insn.dst] = ctx[insn.off]
        elif insn.code == 0x54:
            regs[insn.dst] &= insn.imm
        elif insn.code == 0x74:
            regs[insn.dst] >>= insn.imm
        elif insn.code in (0xBC,):
            regs[insn.dst] = regs[insn.src]
        elif insn.code == 0xB7:
            regs[insn.dst] = insn.imm
        elif insn.code == 0x55:
            pc += insn.off if regs[insn.dst] != insn.imm else 0
        elif insn.code == 0x5D:
            pc += insn.off if regs[insn.dst] != regs[insn.src] else 0
        elif insn.code == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {insn.code:#x}")


@pytest.mark.parametrize("request_,allowed", [
    (("c", 1, 3, "r"), 1), (("c", 1, 3, "m"), 1), (("c", 1, 7, "w"), 1), (("c", 136, 42, "w"), 1),
    (("c", 1, 1, "r"), 0), (("b", 1, 3, "r"), 0), (("c", 4, 1, "w"), 0), (("b", 254, 0, "r"), 0)])
def test_default_program_verdicts(request_, allowed):
    assert run(bpf.assemble(build_policy(None)), *request_) == allowed


def test_access_subset_verdicts():
    program = bpf.assemble(build_policy([("allow", "b 8:* rm")]))
    assert run(program, "b", 8, 16, "r") == 1 and run(program, "b", 8, 16, "m") == 1
    assert run(program, "b", 8, 16, "w") == 0 and run(program, "c", 8, 16, "r") == 0
