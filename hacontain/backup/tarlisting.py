"""GNU tar's verbose listing of the members it writes (`tar -c -vv --quoting-style=c`
in the C locale, one line per member), read into the manifest's Members: the way to
the manifest when tar writes straight into the compressor. Names and link targets are
C strings there ("..." with \\n, \\\\, \\", \\ooo for every byte outside printable
ASCII), so any name (spaces, newlines, backslashes, quotes, ` -> `, bytes that are not
UTF-8) reads back exactly as tarstream.Reader reads it from the archive."""

import re

from hacontain.backup.tarstream import Member

OPTIONS = ("-vv", "--quoting-style=c", "--utc")   # with --index-file and LC_ALL=C;
# --utc: no look at /etc/localtime per member
ENVIRONMENT = {"LC_ALL": "C"}             # " link to " untranslated, every non-ASCII byte \ooo
KINDS = {b"-": "file", b"h": "hardlink", b"l": "symlink", b"d": "dir", b"c": "char",
         b"b": "block", b"p": "fifo"}
ARROWS = {"hardlink": b"link to", "symlink": b"->"}
_STRING = rb'"([^"\\\n]*(?:\\.[^"\\\n]*)*)"'
# mode (with tar's attribute mark), uid/gid, size (major,minor for devices), date time,
# name, and for links the arrow and the target
_LINE = re.compile(rb"(.)\S* +\S+ +(\S+) [^\"\n]*" + _STRING +
                   rb"(?: (->|link to) " + _STRING + rb")?\n")
_ESCAPE = re.compile(rb"\\([0-7]{3}|.)")
_SIMPLE = {b"a": b"\a", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t",
           b"v": b"\v", b"\\": b"\\", b'"': b'"', b"?": b"?", b"'": b"'"}


class ListingError(Exception):
    """A line of tar's listing this reader does not know (the manifest would be wrong)."""


class Listing:
    """feed(bytes) the listing as it comes; `members`: a Member (no sha256) per line
    read, its path given to rename(path) (tar lists names before --transform)."""

    def __init__(self, rename):
        self.rename, self.members, self._rest = rename, [], b""

    def feed(self, data):
        data = self._rest + data
        cut = data.rfind(b"\n") + 1
        self._rest, position, add = data[cut:], 0, self.members.append
        for found in _LINE.finditer(data, 0, cut):
            if found.start() != position:
                break
            add(_member(found, self.rename))
            position = found.end()
        if position != cut:
            line = data[position:data.find(b"\n", position)]
            raise ListingError(f"unexpected line in tar's listing: {line[:300]!r}")

    def close(self):
        if self._rest:
            raise ListingError(f"tar's listing ends inside a line: {self._rest[:200]!r}")


def member(line, rename=lambda path: path):
    """The Member of one listing line (without its newline)."""
    found = _LINE.fullmatch(line + b"\n")
    if not found:
        raise ListingError(f"unexpected line in tar's listing: {line[:300]!r}")
    return _member(found, rename)


def _member(found, rename):
    kind = KINDS.get(found[1])
    if not kind or found[4] != ARROWS.get(kind):
        raise ListingError(f"unexpected line in tar's listing: {found[0][:300]!r}")
    return Member(rename(_text(found[3])), kind, int(found[2]) if kind == "file" else 0,
                  _text(found[5]) if found[5] else "")


def _text(quoted):
    if b"\\" in quoted:
        quoted = _ESCAPE.sub(_unescape, quoted)
    return quoted.decode("utf-8", "surrogateescape")


def _unescape(found):
    escaped = found[1]
    if len(escaped) == 3:
        return bytes([int(escaped, 8) & 0xFF])
    if escaped not in _SIMPLE:
        raise ListingError(f"unknown escape \\{escaped.decode(errors='replace')} in tar's listing")
    return _SIMPLE[escaped]
