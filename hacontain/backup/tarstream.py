"""A streaming reader of POSIX (pax) tar archives, as GNU tar writes them: walks the
members of a stream once, hashing each file's content when asked (sparse files with
their holes as zeros, so the sum is `sha256sum` of the file), and hands every raw byte
it reads to a sink chosen per member, or all of them to one writer. Archives one after
the other in a stream read as one (as GNU tar's --ignore-zeros reads them: a backup's
manifest follows the end of tar's own archive). The one reader behind backup writing
with checksums or a bandwidth limit (tar -> here -> compressor), verify and restore
(decompressor -> here -> tar -x)."""

import hashlib

BLOCK = 512
CHUNK = 1 << 20                 # the buffer: a header and its pax records fit in it
READ = 64 << 10                 # at most per read: larger contents stay in the pipe (splice)
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
    """Reads a tar stream from binary file `source` (anything with readinto) through a
    reused buffer of CHUNK bytes.

    `members(choose, keep, trusted)` yields each Member after its data is read;
    choose(path) is called once a member's name is known (before its data) and returns
    the callable that gets that member's raw bytes (headers included), or None to drop
    them: it gets views of the reused buffer, to write or copy before it returns. The
    content of files whose path is in `keep` is kept in Member.content; `trusted`: the
    stream comes straight from tar (header checksums not checked).

    `copy_to`, when given, is a writer (write(view), splice(fd, size)) that gets every
    raw byte of the stream's members (not the end-of-archive blocks), in order, a read
    (at most READ bytes) at a time (backup's way to the compressor: no call, no copy per
    member). `digests`: Member.sha256 of each file's content; without them, with
    copy_to, the part of a file's content not read yet goes from `source` (then an
    unbuffered pipe) to copy_to by splice(2), never through this process's memory.
    `offset` counts the bytes parsed; on_read(n) is told of every n bytes read
    (progress, limits)."""

    def __init__(self, source, on_read=None, copy_to=None, digests=True):
        self.source = source
        self._readinto = getattr(source, "readinto1", None) or source.readinto
        self.buffer = memoryview(bytearray(CHUNK))
        self.start = self.end = 0      # buffer[start:end]: read from source, not parsed
        self.copied = 0                # buffer[copied:start]: parsed, not given to copy_to
        self.offset = 0
        self.on_read, self.copy_to, self.digests = on_read, copy_to, digests

    def _flush(self):
        """The parsed bytes still in the buffer to copy_to."""
        if self.copy_to is not None and self.start > self.copied:
            self.copy_to.write(self.buffer[self.copied:self.start])
        self.copied = self.start

    def _refill(self, need=1, end_ok=False):
        """Parsed bytes out, the rest to the buffer's start, then read until `need`
        bytes are there; False if the stream ends first and `end_ok`."""
        self._flush()
        left = self.end - self.start
        if left:
            self.buffer[:left] = self.buffer[self.start:self.end]
        self.start, self.end, self.copied = 0, left, 0
        while self.end < need:
            count = self._readinto(self.buffer[self.end:self.end + READ])
            if not count and end_ok:
                return False
            if not count:
                raise TarFormatError(f"truncated at byte {self.offset + self.end} "
                                     f"(the stream ended inside a member)")
            self.end += count
            if self.on_read is not None:
                self.on_read(count)
        return True

    def _next_archive(self):
        """After an end-of-archive block: past the zero blocks that follow (its padding),
        whether another archive follows (as GNU tar's --ignore-zeros reads on)."""
        while True:
            self.copied = self.start                 # zeros never go to copy_to
            if self.end - self.start < BLOCK and not self._refill(BLOCK, end_ok=True):
                return False
            if self.buffer[self.start:self.start + BLOCK] != _EMPTY:
                return True
            self.start += BLOCK
            self.offset += BLOCK

    def _take(self, size):
        """The next `size` bytes (a copy)."""
        if self.end - self.start < size:
            if size > CHUNK:
                parts = []
                self._pass(size, lambda piece: parts.append(piece.tobytes()))
                return b"".join(parts)
            self._refill(size)
        start = self.start
        self.start += size
        self.offset += size
        return self.buffer[start:self.start].tobytes()

    def _pass(self, size, sink, hasher=None, content=0):
        """The next `size` bytes, piece by piece as the buffer holds them, to sink; the
        first `content` of them to hasher."""
        while size:
            if self.start == self.end:
                self._refill()
            step = min(size, self.end - self.start)
            piece = self.buffer[self.start:self.start + step]
            self.start += step
            self.offset += step
            size -= step
            if sink is not None:
                sink(piece)
            if hasher is not None and content > 0:
                hasher.update(piece[:content] if content < step else piece)
                content -= step

    def _splice(self, size):
        """The next `size` bytes to copy_to, those not in the buffer yet by splice."""
        step = min(size, self.end - self.start)
        self.start += step
        self.offset += step
        size -= step
        self._flush()
        while size:
            count = self.copy_to.splice(self.source.fileno(), min(size, CHUNK))
            if not count:
                raise TarFormatError(f"truncated at byte {self.offset} "
                                     f"(the stream ended inside a member)")
            self.offset += count
            size -= count
            if self.on_read is not None:
                self.on_read(count)

    def members(self, choose, keep=(), trusted=False):
        take = self._take
        pending, pax, longname, longlink = [], {}, None, None
        while True:
            header = take(BLOCK)
            if header == _EMPTY:               # end of an archive: padding, maybe another
                self.start -= BLOCK
                self._flush()
                self.start += BLOCK
                if not self._next_archive():
                    return
                continue
            if not trusted:
                _check_header(header, self.offset - BLOCK)
            kind = header[156:157]
            size = int(pax["size"]) if "size" in pax else _number(header[124:136])
            if kind in _META:
                body = take(_padded(size))
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
                digest = self._content(size, lambda piece: (kept.append(piece.tobytes()),
                                                            sink and sink(piece)), True)
                yield Member(path, word, size, "", digest, b"".join(kept)[:size])
            elif word == "file":
                yield Member(path, word, size, "", self._content(size, sink, self.digests))
            else:
                if size:
                    self._pass(_padded(size), sink)
                linkname = pax.get("linkpath") or longlink or _text(header[157:257])
                yield Member(path, word, 0 if word == "hardlink" else size, linkname)
            if pending:
                pending, pax, longname, longlink = [], {}, None, None

    def _content(self, size, sink, digest):
        """Pass a file's `size` bytes of content and its padding to sink; their sha256
        (hex) if `digest`."""
        padded = _padded(size)
        start = self.start
        if padded <= self.end - start:         # most files: in the buffer already
            self.start += padded
            self.offset += padded
            if sink is not None:
                sink(self.buffer[start:self.start])
            return hashlib.sha256(self.buffer[start:start + size]).hexdigest() if digest \
                else None
        if not digest and sink is None and self.copy_to is not None:
            self._splice(padded)
            return None
        hasher = hashlib.sha256() if digest else None
        self._pass(padded, sink, hasher, size)
        return hasher.hexdigest() if digest else None

    def _sparse(self, stored, realsize, sink):
        """A PAX 1.0 sparse member: its map, then the data of each segment. The sha256
        of the whole file (holes read as zeros; None without digests) and the file's
        size."""
        raw = b""
        numbers = []
        while True:
            raw += self._take(BLOCK)
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
        hasher = hashlib.sha256() if self.digests else None
        position, used = 0, len(raw)
        for index in range(numbers[0]):
            offset, length = numbers[1 + 2 * index], numbers[2 + 2 * index]
            if offset < position:
                raise TarFormatError("corrupted sparse map (segments out of order)")
            if hasher is not None:
                _hash_zeros(hasher, offset - position)
            self._pass(length, sink, hasher, length)
            used += length
            position = offset + length
        if realsize < position:
            raise TarFormatError("corrupted sparse map (segments out of order)")
        if hasher is not None:
            _hash_zeros(hasher, realsize - position)
        tail = _padded(stored) - used
        if tail < 0:
            raise TarFormatError(f"corrupted sparse member before byte {self.offset}")
        self._pass(tail, sink)
        return hasher.hexdigest() if hasher else None, realsize


def _hash_zeros(hasher, count):
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
