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
    members, manifest, kept, info = [], None, {}, {}
    reader = Reader(stream)
    for member in reader.members(choose, keep=(archive.MANIFEST, archive.CONFIG, archive.INFO)):
        if manifest is not None:
            raise archive.ArchiveError(f"{path}: {member.path} follows the manifest")
        if member.path == archive.MANIFEST:
            manifest = member.content
            continue
        if member.path == archive.INFO:
            info = _info(path, member.content)
            reader.digests = info.get("file_sha256", True)    # else none in the manifest
        if member.content is not None:
            kept[member.path] = member.content
        members.append(member)
    archive.check_manifest(path, members, manifest)
    files = [member for member in members if member.type == "file"]
    return Checked(len(members), len(files), sum(m.size for m in files), info), \
        kept.get(archive.CONFIG)


def _info(path, content):
    try:
        info = json.loads(content)
    except ValueError:
        info = None
    if not isinstance(info, dict):
        raise archive.ArchiveError(f"{path}: {archive.INFO} is not a JSON object")
    return info


def verify(path):
    """Checked of archive `path`; ArchiveError naming what is wrong."""
    with archive.reading(path) as stream:
        checked, config = read_checked(path, stream)
    if config is None:
        raise archive.ArchiveError(f"{path}: no {archive.CONFIG}: not a hacontain backup")
    return checked
