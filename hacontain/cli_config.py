"""`hacontain config NAME [KEY [VALUE]]`: a container's config entries read, and one
key set persistently: the file rewritten atomically with its comments and other
lines as they were, validated by the config parser first (a bad value is refused
at its file:line and the file left unchanged)."""

import os

from hacontain import config as configfile
from hacontain.errors import ConfigError, HacontainError


def entries(path, key=None):
    """[{key, value, path, line}] of the config at `path` and its includes (only `key`'s)."""
    if not os.path.exists(path):
        raise ConfigError("config file not found", path)
    return [{"key": entry.key, "value": entry.value, "path": entry.path, "line": entry.line}
            for entry in configfile.read_entries(path) if key is None or entry.key == key]


def set_value(path, key, value):
    """Set `key` to `value` in the config at `path`: the line that sets it is rewritten
    (a legacy key's line becomes the current key's), or one is appended. Refused when
    the key is set on several lines or in an included file, or when the result does
    not parse. Returns the line number written."""
    if "\n" in value or "\r" in value:
        raise ConfigError("a value is one line", path, key=key)
    found = [entry for entry in configfile.read_entries(path) if entry.key == key]
    if len(found) > 1:
        where = ", ".join(f"{entry.path}:{entry.line}" for entry in found)
        raise ConfigError(f"set on {len(found)} lines ({where}): edit the file", path, key=key)
    if found and os.path.realpath(found[0].path) != os.path.realpath(path):
        raise ConfigError("set in an included file: edit it there", found[0].path,
                          found[0].line, key)
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    text = f"{key} = {value}"
    if found:
        number = found[0].line
        old = lines[number - 1]
        lines[number - 1] = old[:len(old) - len(old.lstrip())] + text
    else:
        lines.append(text)
        number = len(lines)
    _replace_checked(path, "\n".join(lines) + "\n")
    return number


def _replace_checked(path, text):
    """Write `text` beside `path`, parse it there, then rename it over `path` (same
    mode and owner); a parse error is reported at `path`'s line and nothing changes."""
    info = os.stat(path)
    temp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.new")
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, info.st_mode & 0o7777)
        os.chown(temp, info.st_uid, info.st_gid)
        try:
            configfile.load(temp)
        except ConfigError as error:
            raise ConfigError(error.message, path if error.path == temp else error.path,
                              error.line, error.key) from None
        os.rename(temp, path)
    except (HacontainError, OSError):
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def id_ranges(spec=None):
    """((uid first, count), (gid first, count)) on the host for a user namespace:
    `spec` "HOSTID:COUNT" for both, else root's ranges in /etc/subuid and
    /etc/subgid, else 100000:65536."""
    if spec is not None:
        first, _, count = spec.partition(":")
        if not (first.isascii() and first.isdigit() and count.isascii() and count.isdigit()) \
                or int(count) < 1 or int(first) < 1:
            raise ConfigError(f"--idmap {spec!r}: expected HOSTID:COUNT, e.g. 100000:65536, "
                              "HOSTID and COUNT at least 1")
        return ((int(first), int(count)),) * 2
    return tuple(_subordinate(path) for path in ("/etc/subuid", "/etc/subgid"))


def _subordinate(path, user="root", default=(100000, 65536)):
    """`user`'s first range in `path` (/etc/subuid form: USER:FIRST:COUNT), else `default`."""
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                fields = line.strip().split(":")
                if len(fields) == 3 and fields[0] == user and fields[1].isdigit() \
                        and fields[2].isdigit():
                    return int(fields[1]), int(fields[2])
    except OSError:
        pass
    return default


def make_unprivileged(container, ranges):
    """Give a new `container` a user namespace: lxc.idmap lines for `ranges` (see
    id_ranges), validated, and its rootfs shifted to them. On failure the container
    is destroyed (it was just made)."""
    from hacontain.runtime.destroy import destroy
    from hacontain.runtime.security.shift import shift_container
    (uid, uids), (gid, gids) = ranges
    try:
        with open(container.config_path, encoding="utf-8") as handle:
            text = handle.read()
        _replace_checked(container.config_path, text.rstrip("\n") + "\n"
                         f"lxc.idmap = u 0 {uid} {uids}\nlxc.idmap = g 0 {gid} {gids}\n")
        shift_container(container)
    except BaseException:
        destroy(container, True)
        raise
