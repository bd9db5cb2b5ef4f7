"""`hacontain backup verify ARCHIVE`: read the whole archive, check it against its manifest."""

import dataclasses
import json

from hacontain.backup import archive
from hacontain.backup.tarstream import Reader


@dataclasses.dataclass
class Checked:
    members: int
    files: int
    content: int       # bytes of file content checked
    info: dict


def read_checked(path, stream, choose=lambda name: None):
    """Read the tar `stream` of archive `path` whole, passing members to choose(name)'s
    sink (restore's tar -x); ArchiveError unless it matches its manifest. Returns
    (Checked, the content of hacontain/config)."""
    members, manifest, kept = [], None, {}
    reader = Reader(stream)
    for member in reader.members(choose, keep=(archive.MANIFEST, archive.CONFIG, archive.INFO)):
        if manifest is not None:
            raise archive.ArchiveError(f"{path}: {member.path} follows the manifest")
        if member.path == archive.MANIFEST:
            manifest = member.content
            continue
        if member.content is not None:
            kept[member.path] = member.content
        members.append(member)
    archive.check_manifest(path, members, manifest)
    try:
        info = json.loads(kept.get(archive.INFO, b"{}"))
    except ValueError:
        raise archive.ArchiveError(f"{path}: {archive.INFO} is not JSON") from None
    files = [member for member in members if member.type == "file"]
    return Checked(len(members), len(files), sum(m.size for m in files), info), \
        kept.get(archive.CONFIG)


def verify(path):
    """Checked of archive `path`; ArchiveError naming what is wrong."""
    with archive.reading(path) as stream:
        checked, config = read_checked(path, stream)
    if config is None:
        raise archive.ArchiveError(f"{path}: no {archive.CONFIG}: not a hacontain backup")
    return checked
