"""Fixtures of the VM cluster tier: one two-node cluster for the module's scenarios, and
the times the scenarios measured, printed at the end of the run."""

import pytest

from testbed.vmcluster import VmCluster

MEASURED = []


@pytest.fixture(scope="module")
def cluster(vm_image):
    """Two VMs running Corosync + Pacemaker with fencing, container ct on an LV of the
    VG on DRBD, the configuration `hacontain cluster-config` prints loaded."""
    with VmCluster(vm_image) as made:
        made.make_volume_group()
        made.create_container("ct")
        made.release_storage()
        made.configure(made.generated_configuration("ct"))
        yield made


@pytest.fixture
def measured():
    """Call with (what, seconds) to report a measured time at the end of the run."""
    return lambda what, seconds: MEASURED.append((what, seconds))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed scenario's report carries the cluster's state."""
    outcome = yield
    report = outcome.get_result()
    made = item.funcargs.get("cluster") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(made, VmCluster):
        report.sections.append(("VM cluster", made.diagnostics()))


def pytest_terminal_summary(terminalreporter):
    if MEASURED:
        terminalreporter.section("VM cluster: measured")
        for what, seconds in MEASURED:
            terminalreporter.write_line(f"{what}: {seconds:.1f} s")
