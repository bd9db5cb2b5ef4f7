"""Where a container's cgroup lives on each hierarchy, and which parents are hacontain's.

A relative parent (default "hacontain") is below the caller's own cgroup in
each hierarchy, and all of it is hacontain's: made when missing, removed when
empty. An absolute parent ("/hacontain.slice") is taken from the hierarchy
root; only the parts missing at open time become hacontain's.
"""

import posixpath

from hacontain import chars
from hacontain.errors import ConfigError, StateError
from hacontain.record import Record

DEFAULT_PARENT = "hacontain"
_NAME_FIRST = chars.ALNUM | frozenset("_@:+-")
_NAME_CHARS = _NAME_FIRST | frozenset(".")


class Place(Record):
    """The container's cgroup on one hierarchy."""

    hierarchy: object        # layout.Hierarchy
    cgroup: str              # path inside the hierarchy
    owned: tuple             # parent cgroups hacontain owns, outermost first

    @property
    def dir(self):
        return self.hierarchy.dir_of(self.cgroup)

    @property
    def owned_dirs(self):
        return [self.hierarchy.dir_of(cgroup) for cgroup in self.owned]

    def record(self):
        return {"cgroup": self.cgroup, "owned": list(self.owned)}


def plan_places(layout, name, parent, exists):
    """A Place per hierarchy for container `name` under `parent`; `exists(dir)` tests a directory."""
    if not chars.made_of(name or "", _NAME_CHARS, first=_NAME_FIRST, most=200):
        raise ConfigError(f"{name!r} cannot name a cgroup (letters, digits, _.@:+- ; "
                          "not starting with a dot)")
    parent = DEFAULT_PARENT if parent is None else parent
    parts = [part for part in parent.split("/") if part]
    bad = [part for part in parts if not chars.made_of(part, _NAME_CHARS, first=_NAME_FIRST)]
    if bad:
        raise ConfigError(f"cgroup parent {parent!r}: {bad[0]!r} is not a valid cgroup name")
    places = []
    for hierarchy in layout.hierarchies:
        base = "/" if parent.startswith("/") else hierarchy.caller
        chain = [posixpath.join(base, *parts[:depth]) for depth in range(1, len(parts) + 1)]
        if parent.startswith("/"):
            chain = [cgroup for cgroup in chain if not exists(hierarchy.dir_of(cgroup))]
        places.append(Place(hierarchy, posixpath.join(base, *parts, name), tuple(chain)))
    return places


def places_from_record(layout, record):
    """The Places written down by ContainerCgroup.paths, on the hierarchies mounted now."""
    try:
        entries = record["hierarchies"]
        places = [Place(h, str(entries[h.key]["cgroup"]), tuple(map(str, entries[h.key]["owned"])))
                  for h in layout.hierarchies if h.key in entries]
    except (KeyError, TypeError, AttributeError) as exc:
        raise StateError(f"recorded cgroup paths {record!r} are not understood ({exc!r})") from None
    if not places:
        raise StateError(f"none of the recorded cgroup hierarchies {sorted(entries)} "
                         "is mounted on this host now")
    return places
