"""Debian packages through the host's apt sources, with nothing installed on the host."""

import functools
import re
from pathlib import Path

from hacontain.errors import CommandError, NotInstalled

from . import commands
from .recipe import KERNEL_METAPACKAGE, SUITE

APT_DIR = Path("/etc/apt")


def debian_mirror(apt_dir=APT_DIR, suite=SUITE):
    """The first source URI serving ``suite`` main in apt's sources (one-line or deb822 format)."""
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*"))]:
        if not path.is_file():
            continue
        text = path.read_text()
        if path.suffix == ".sources":
            entries = deb822_entries(text)
        else:
            entries = one_line_entries(text)
        for uris, suites, components in entries:
            if suite in suites and "main" in components:
                return uris[0]
    raise NotInstalled(f"no apt source for Debian {suite} main in {apt_dir}/sources.list*")


def one_line_entries(text):
    """(uris, suites, components) of each ``deb [options] URI SUITE COMPONENT...`` line."""
    for line in text.splitlines():
        line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0])
        words = line.split()
        if len(words) >= 4 and words[0] == "deb":
            yield [words[1]], [words[2]], words[3:]


def deb822_entries(text):
    """(uris, suites, components) of each deb822 stanza of Types deb."""
    for stanza in re.split(r"\n\s*\n", text):
        fields = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith(("#", " ")):
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.split()
        if "deb" in fields.get("types", []) and fields.get("uris"):
            yield fields["uris"], fields.get("suites", []), fields.get("components", [])


def kernel_package():
    """Name of the kernel image package that Debian's linux-image-amd64 currently pulls in."""
    out = apt_query(["apt-cache", "depends", KERNEL_METAPACKAGE])
    match = re.search(r"Depends: (linux-image-[0-9][^\s]*-amd64)\n", out)
    if not match:
        raise NotInstalled(f"apt knows no kernel behind {KERNEL_METAPACKAGE} (apt-cache depends)")
    return match.group(1)


def candidate_versions(packages):
    """{package: version apt would install} for each of ``packages``."""
    out = apt_query(["apt-cache", "policy", *packages])
    versions = dict(re.findall(r"^(\S+):\n(?:  .*\n)*?  Candidate: (\S+)", out, re.M))
    missing = [p for p in packages if versions.get(p, "(none)") == "(none)"]
    if missing:
        raise NotInstalled(f"apt has no candidate for {', '.join(missing)}")
    return versions


def download(package, dest_dir):
    """Download ``package``'s .deb into ``dest_dir`` and return its path."""
    try:
        apt_query(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", package], cwd=dest_dir)
    except CommandError as e:
        raise NotInstalled(f"cannot download Debian package {package}: {e}") from e
    debs = sorted(Path(dest_dir).glob(f"{package}_*.deb"))
    if len(debs) != 1:
        raise NotInstalled(f"apt-get download {package} left {len(debs)} .deb files in {dest_dir}")
    return debs[0]


def apt_query(argv, cwd=None):
    """Run an apt command; if it fails, refresh apt's package lists (missing or stale) and retry once."""
    try:
        return commands.run(argv, cwd=cwd, timeout=300)
    except CommandError:
        refresh_lists()
    return commands.run(argv, cwd=cwd, timeout=300)


@functools.cache
def refresh_lists():
    """apt-get update, at most once per process."""
    commands.run(["apt-get", "update", "-qq"], timeout=300)
