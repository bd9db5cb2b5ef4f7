"""A streaming reader of POSIX (pax) tar archives, as GNU tar writes them: walks the
members of a stream once, hashing each file's content (sparse files with their holes
as zeros, so the sum is `sha256sum` of the file), and hands every raw byte it reads to
a sink chosen per member. The one reader behind backup writing (tar -> here ->
compressor), verify and restore (decompressor -> here -> tar -x)."""

import hashlib
import io

BLOCK = 512
CHUNK = 1 << 20
_ZEROS = bytes(CHUNK)
_EMPTY = bytes(BLOCK)
TYPES = {b"0": "file", b"\0": "file", b"7": "file", b"1": "hardlink", b"2": "symlink",
         b"3": "char", b"4": "block", b"5": "dir", b"6": "fifo"}
_META = (b"x", b"g", b"L", b"K")    # pax and GNU long-name headers: belong to the next member


class TarFormatError(Exception):
    """The stream is not a whole, well-formed tar archive (truncated or corrupted)."""


class Member:
    """One member: `path`, `type` (TYPES' words), `size` (bytes of content),
    `linkname`, `sha256` (hex, files only), `content` (bytes, for members kept)."""

    __slots__ = ("path", "type", "size", "linkname", "sha256", "content")

    def __init__(self, path, kind, size, linkname, sha256=None, content=None):
        self.path, self.type, self.size, self.linkname, self.sha256 = \
            path, kind, size, linkname, sha256
        self.content = content

    def record(self):
        """The manifest's entry for this member."""
        entry = {"path": self.path, "type": self.type, "size": self.size}
        if self.linkname:
            entry["link"] = self.linkname
        if self.sha256 is not None:
            entry["sha256"] = self.sha256
        return entry


class Reader:
    """Reads a tar stream from binary file `source` (anything with readinto).

    `members(choose, keep, trusted)` yields each Member after its data is read;
    choose(path) is called once a member's name is known (before its data) and returns
    the callable that gets that member's raw bytes (headers included), or None to drop
    them; the content of files whose path is in `keep` is kept in Member.content;
    `trusted`: the stream comes straight from tar (header checksums not checked).
    `offset` counts the bytes read; on_read(n) is told of them after each member and
    each chunk of a large one (progress, limits)."""

    def __init__(self, source, on_read=None):
        self.source = io.BufferedReader(source, CHUNK) if not hasattr(source, "peek") else source
        self.offset = self._reported = 0
        self.on_read = on_read

    def _read(self, size):
        data = self.source.read(size)
        if len(data) != size:
            raise TarFormatError(f"truncated at byte {self.offset + len(data)} "
                                 f"(the stream ended inside a member)")
        self.offset += size
        return data

    def _report(self):
        if self.on_read is not None and self.offset > self._reported:
            self.on_read(self.offset - self._reported)
            self._reported = self.offset

    def members(self, choose, keep=(), trusted=False):
        read = self._read
        pending, pax, longname, longlink = [], {}, None, None
        while True:
            self._report()
            header = read(BLOCK)
            if header == _EMPTY:
                return                         # end of archive (the rest is padding)
            if not trusted:
                _check_header(header, self.offset - BLOCK)
            kind = header[156:157]
            size = int(pax["size"]) if "size" in pax else _number(header[124:136])
            if kind in _META:
                body = read(_padded(size))
                pending.append(header + body)
                text = body[:size]
                if kind == b"x":
                    pax.update(_pax_records(text, self.offset))
                elif kind == b"L":
                    longname = text.rstrip(b"\0").decode("utf-8", "surrogateescape")
                elif kind == b"K":
                    longlink = text.rstrip(b"\0").decode("utf-8", "surrogateescape")
                continue
            path = ((pax.get("GNU.sparse.name") or pax.get("path")) if pax else None) \
                or longname or _ustar_name(header)
            sink = choose(path)
            if sink is not None:
                for block in pending:
                    sink(block)
                sink(header)
            word = TYPES.get(kind, "other")
            if word == "file" and pax.get("GNU.sparse.major") == "1":
                digest, content = self._sparse(size, int(pax["GNU.sparse.realsize"]), sink)
                yield Member(path, word, content, "", digest)
            elif word == "file" and path in keep:
                kept = []
                digest = self._data(size, lambda chunk: (kept.append(chunk), sink and sink(chunk)))
                yield Member(path, word, size, "", digest, b"".join(kept)[:size])
            elif word == "file":
                yield Member(path, word, size, "", self._data(size, sink))
            else:
                if size:
                    self._data(size, sink, digest=False)
                linkname = pax.get("linkpath") or longlink or _text(header[157:257])
                yield Member(path, word, 0 if word == "hardlink" else size, linkname)
            if pending:
                pending, pax, longname, longlink = [], {}, None, None

    def _data(self, size, sink, digest=True):
        """Read `size` bytes of content and its padding; its sha256 (hex)."""
        padded = _padded(size)
        if padded <= CHUNK:                    # most files: one read
            chunk = self._read(padded)
            if sink is not None:
                sink(chunk)
            if not digest:
                return None
            return hashlib.sha256(memoryview(chunk)[:size] if padded != size
                                  else chunk).hexdigest()
        hasher = hashlib.sha256() if digest else None
        left, content = padded, size
        while left:
            chunk = self._read(min(left, CHUNK))
            left -= len(chunk)
            if sink is not None:
                sink(chunk)
            if hasher is not None:
                hasher.update(chunk if content >= len(chunk) else memoryview(chunk)[:content])
            content = max(content - len(chunk), 0)
            self._report()
        return hasher.hexdigest() if hasher else None

    def _sparse(self, stored, realsize, sink):
        """A PAX 1.0 sparse member: its map, then the data of each segment. The sha256
        of the whole file (holes read as zeros) and the file's size."""
        raw = b""
        numbers = []
        while True:
            block = self._read(BLOCK)
            raw += block
            lines = raw.split(b"\n")
            try:
                numbers = [int(line) for line in lines[:-1]]
            except ValueError:
                raise TarFormatError(f"corrupted sparse map before byte {self.offset}") from None
            if numbers and len(numbers) >= 1 + 2 * numbers[0]:
                break
            if len(raw) > stored:
                raise TarFormatError(f"corrupted sparse map before byte {self.offset}")
        if sink is not None:
            sink(raw)
        hasher, position, used = hashlib.sha256(), 0, len(raw)
        for index in range(numbers[0]):
            offset, length = numbers[1 + 2 * index], numbers[2 + 2 * index]
            _hash_zeros(hasher, offset - position)
            while length:
                chunk = self._read(min(length, CHUNK))
                length -= len(chunk)
                used += len(chunk)
                hasher.update(chunk)
                if sink is not None:
                    sink(chunk)
            position = offset + numbers[2 + 2 * index]
        _hash_zeros(hasher, realsize - position)
        tail = _padded(stored) - used
        if tail < 0:
            raise TarFormatError(f"corrupted sparse member before byte {self.offset}")
        if tail:
            chunk = self._read(tail)
            if sink is not None:
                sink(chunk)
        return hasher.hexdigest(), realsize


def _hash_zeros(hasher, count):
    if count < 0:
        raise TarFormatError("corrupted sparse map (segments out of order)")
    while count:
        step = min(count, CHUNK)
        hasher.update(_ZEROS[:step])
        count -= step


def _padded(size):
    return (size + BLOCK - 1) // BLOCK * BLOCK


def _number(field):
    """A tar numeric field: octal text, or base-256 (first byte 0x80) for big values."""
    if field[0] & 0x80:
        return int.from_bytes(field[1:], "big")
    text = field.rstrip(b"\0 ")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarFormatError(f"corrupted tar header (size field {field!r})") from None


def _check_header(header, offset):
    stored = header[148:156].rstrip(b"\0 ").lstrip(b" ")
    computed = sum(header[:148]) + sum(header[156:]) + 8 * 32
    try:
        ok = int(stored, 8) == computed
    except ValueError:
        ok = False
    if not ok:
        raise TarFormatError(f"corrupted at byte {offset} (a tar header's checksum is wrong)")


def _text(field):
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _ustar_name(header):
    name = header[0:100].split(b"\0", 1)[0]
    if header[345] and header[257:262] == b"ustar":
        name = header[345:500].split(b"\0", 1)[0] + b"/" + name
    return name.decode("utf-8", "surrogateescape")


def _pax_records(text, offset):
    """{key: value} of a pax extended header's records ('LEN key=value\\n')."""
    records, position = {}, 0
    while position < len(text):
        space = text.find(b" ", position)
        try:
            length = int(text[position:space])
        except ValueError:
            raise TarFormatError(f"corrupted pax header before byte {offset}") from None
        if length <= 0 or position + length > len(text):
            raise TarFormatError(f"corrupted pax header before byte {offset}")
        key, _, value = text[space + 1:position + length - 1].partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = \
            value.decode("utf-8", "surrogateescape")
        position += length
    return records
