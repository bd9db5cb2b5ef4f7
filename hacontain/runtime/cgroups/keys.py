"""The cgroup keys of a container: lxc.cgroup.<v1 file>, lxc.cgroup2.<v2 file>
and hacontain.limit.<name> (see limits.py), parsed and checked for syntax.
"""

import re

from hacontain.errors import ConfigError
from hacontain.record import Record
from hacontain.runtime.cgroups.limits import LIMITS, Limit

V1_PREFIX, V2_PREFIX, LIMIT_PREFIX = "lxc.cgroup.", "lxc.cgroup2.", "hacontain.limit."
_FILE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
# files hacontain manages itself: writable through its own API only
MANAGED = frozenset({
    "cgroup.procs", "cgroup.threads", "cgroup.kill", "cgroup.freeze", "cgroup.subtree_control",
    "cgroup.type", "cgroup.clone_children", "freezer.state"})


class Key(Record):
    """A parsed key: a raw file of one version, or a version-independent limit."""

    text: str
    version: int | None      # 1 or 2 for a raw file; None for a hacontain.limit key
    file: str | None
    limit: Limit | None

    @property
    def controller(self):
        """The controller the key needs (v1 name for a v1 file, else the v2 name)."""
        return self.limit.controller if self.limit else self.file.split(".", 1)[0]

    def error(self, message):
        return ConfigError(message, key=self.text)

    def value(self, text):
        """The parsed value of `text` for this key (raw files: the text itself)."""
        if not isinstance(text, str) or any(ord(c) < 32 for c in text.strip()):
            raise self.error(f"bad value {text!r}: a single line of text is expected")
        if self.limit is None:
            return text.strip()
        try:
            return self.limit.parse(text)
        except ValueError as exc:
            raise self.error(str(exc)) from None


def parse_key(text, writing=True):
    """The Key for `text`; ConfigError naming it when it is not one hacontain knows."""
    if text.startswith(LIMIT_PREFIX):
        limit = LIMITS.get(text[len(LIMIT_PREFIX):])
        if limit is None:
            raise ConfigError(f"unknown limit; known: {', '.join(LIMITS)}", key=text)
        return Key(text, None, None, limit)
    for prefix, version in ((V2_PREFIX, 2), (V1_PREFIX, 1)):
        if text.startswith(prefix):
            file = text[len(prefix):]
            break
    else:
        raise ConfigError(f"not a cgroup key (expected {V1_PREFIX}FILE, {V2_PREFIX}FILE "
                          f"or {LIMIT_PREFIX}NAME)", key=text)
    if not _FILE.match(file):
        raise ConfigError(f"{file!r} is not a cgroup control file name", key=text)
    if writing and file.startswith("devices."):
        raise ConfigError("device rules are a policy of their own, not a limit: pass them as "
                          "the device rules of the container", key=text)
    if writing and file in MANAGED:
        raise ConfigError(f"{file} is managed by hacontain (start, freeze, stop) and cannot "
                          "be set", key=text)
    return Key(text, version, file, None)
