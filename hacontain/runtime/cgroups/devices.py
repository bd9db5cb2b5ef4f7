"""Device access policy: parse rules, fold them as cgroup v1 does, render for v1.

A policy is a default (deny or allow) plus exceptions, exactly the state the
v1 devices controller keeps. Rules are folded in order with the kernel's v1
semantics: "a" resets the default and clears the exceptions; a rule agreeing
with the default removes access bits from the exception with the *same*
type and major:minor; a rule against the default adds an exception (merging
access bits). A rule that overlaps an exception without matching it exactly
is refused: v1 would silently leave it without effect, and v2's BPF program
(built from the same folded policy) must behave identically.
"""

from hacontain import chars
from hacontain.errors import ConfigError
from hacontain.record import Record

DEFAULT_ALLOW = (
    "c 1:3 rwm",     # null
    "c 1:5 rwm",     # zero
    "c 1:7 rwm",     # full
    "c 1:8 rwm",     # random
    "c 1:9 rwm",     # urandom
    "c 5:0 rwm",     # tty
    "c 5:1 rwm",     # console
    "c 5:2 rwm",     # ptmx
    "c 136:* rwm",   # pts
)
_ACCESS_ORDER = "rwm"


class DeviceRule(Record):
    """One exception: type "b" or "c", major/minor (None = any), access letters."""

    type: str
    major: int | None
    minor: int | None
    access: str

    def __str__(self):
        star = lambda n: "*" if n is None else str(n)  # noqa: E731
        return f"{self.type} {star(self.major)}:{star(self.minor)} {self.access}"

    def same_devices(self, other):
        return (self.type, self.major, self.minor) == (other.type, other.major, other.minor)

    def overlaps(self, other):
        return (self.type == other.type and _meets(self.major, other.major)
                and _meets(self.minor, other.minor) and bool(set(self.access) & set(other.access)))


class DevicePolicy(Record):
    """default_allow=False: only the exceptions are allowed; True: they are denied."""

    default_allow: bool
    exceptions: tuple


def build_policy(devices):
    """The policy for ("allow"|"deny", rule) pairs in order; None = the default allow-list."""
    if devices is None:
        devices = [("allow", rule) for rule in DEFAULT_ALLOW]
    default_allow, exceptions = False, []
    for action, text in devices:
        key = f"devices.{action}"
        if action not in ("allow", "deny"):
            raise ConfigError(f"unknown device action {action!r} (allow or deny)", key=key)
        rule = parse_rule(text, key)
        allow = action == "allow"
        if rule is None:
            default_allow, exceptions = allow, []
        elif allow == default_allow:
            exceptions = _remove(exceptions, rule, key)
        else:
            exceptions = _add(exceptions, rule)
    return DevicePolicy(default_allow, tuple(exceptions))


def parse_rule(text, key):
    """A DeviceRule from "c 1:3 rwm"; None for "a" (all devices)."""
    words = " ".join(str(text).split())
    if words in ("a", "a *:* rwm"):
        return None
    fields = _rule_fields(words)
    if not fields or len(set(fields[3])) != len(fields[3]):
        raise ConfigError(f"bad device rule {text!r}: expected 'a' or 'TYPE MAJOR:MINOR ACCESS' "
                          "with TYPE b or c, MAJOR/MINOR a number or *, ACCESS from rwm", key=key)
    kind, major, minor, access = fields
    return DeviceRule(kind, _number(major), _number(minor), _canonical(access))


def v1_writes(policy):
    """The (file, value) writes that give a new v1 devices cgroup this policy."""
    first = ("devices.allow", "a") if policy.default_allow else ("devices.deny", "a")
    target = "devices.deny" if policy.default_allow else "devices.allow"
    return [first] + [(target, str(rule)) for rule in policy.exceptions]


def _add(exceptions, rule):
    for index, existing in enumerate(exceptions):
        if existing.same_devices(rule):
            merged = _canonical(existing.access + rule.access)
            return exceptions[:index] + [DeviceRule(rule.type, rule.major, rule.minor, merged)] \
                + exceptions[index + 1:]
    return exceptions + [rule]


def _remove(exceptions, rule, key):
    kept = []
    for existing in exceptions:
        if existing.same_devices(rule):
            access = "".join(a for a in existing.access if a not in rule.access)
            if access:
                kept.append(DeviceRule(rule.type, rule.major, rule.minor, access))
        elif existing.overlaps(rule):
            raise ConfigError(f"rule {str(rule)!r} overlaps the earlier exception {str(existing)!r} "
                              "without matching it exactly; cgroup v1 would not apply it. Change "
                              "the earlier rule instead", key=key)
        else:
            kept.append(existing)
    return kept


def _meets(a, b):
    return a is None or b is None or a == b


def _rule_fields(words):
    """(type, major, minor, access) of a rule "c 1:3 rwm" (single spaces), or None."""
    parts = words.split(" ")
    if len(parts) != 3 or parts[0] not in ("b", "c"):
        return None
    major, colon, minor = parts[1].partition(":")
    if not colon or not all(n == "*" or chars.is_number(n) for n in (major, minor)):
        return None
    if not chars.made_of(parts[2], _ACCESS_ORDER, most=3):
        return None
    return parts[0], major, minor, parts[2]


def _number(text):
    return None if text == "*" else int(text)


def _canonical(access):
    return "".join(a for a in _ACCESS_ORDER if a in access)
