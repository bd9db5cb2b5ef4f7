"""Fixtures for the cluster tests: one reusable two-node cluster (and one with fencing),
reset to health before each test, and a session-end check that no cluster
of this session left anything on the host."""

import warnings

import pytest

from hacontain.errors import HacontainError
from testbed.cluster import Cluster
from testbed.cluster_footprint import leftovers


@pytest.fixture(scope="session")
def footprints():
    """Footprints of every cluster this session made; checked when the session ends."""
    made = []
    yield made
    left = {fp.prefix: leftovers(fp) for fp in made}
    left = {prefix: items for prefix, items in left.items() if items}
    assert not left, f"test clusters left things behind: {left}"


class ReusableCluster:
    """A cluster shared by tests.

    healthy() resets it (links up, nodes running and online, only the seeded
    configuration); a cluster that cannot be reset is torn down and replaced.
    """

    def __init__(self, footprints, **options):
        self.footprints = footprints
        self.options = options
        self.current = None

    def healthy(self):
        if self.current is not None:
            try:
                self.current.reset()
                return self.current
            except HacontainError as exc:
                warnings.warn(f"test cluster {self.current.prefix} could not be reset, "
                              f"replacing it: {exc}")
                broken, self.current = self.current, None
                broken.teardown()
        cluster = Cluster(**self.options)
        self.footprints.append(cluster.footprint)
        cluster.__enter__()
        self.current = cluster
        return cluster

    def close(self):
        if self.current is not None:
            self.current.teardown()
            self.current = None


def _reusable(footprints, **options):
    shared = ReusableCluster(footprints, **options)
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture(scope="session")
def shared_cluster(footprints):
    """The session's two-node cluster with a 64 MiB shared volume, fencing off."""
    yield from _reusable(footprints, nodes=2, token_ms=1000, volume_mb=64)


@pytest.fixture
def cluster(shared_cluster):
    """A healthy two-node cluster with no resources (reused across tests)."""
    return shared_cluster.healthy()


@pytest.fixture(scope="session")
def shared_fenced_cluster(footprints):
    """The session's two-node cluster with the test bed's fence device (stonith on)."""
    yield from _reusable(footprints, nodes=2, token_ms=1000, volume_mb=64, fencing=True,
                         properties={"priority-fencing-delay": "5s"})


@pytest.fixture
def fenced_cluster(shared_fenced_cluster):
    """A healthy fenced cluster: the node running higher-priority resources wins
    a fencing race (priority-fencing-delay)."""
    return shared_fenced_cluster.healthy()
