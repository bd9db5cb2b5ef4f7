"""Reading a guest pytest run back: junit XML to per-file verdicts (no VM needed)."""

from testbed.vm.guest_pytest import GuestRun, parse_junit

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="2" tests="6">
<testcase classname="tests.vm.guest.test_a" name="test_ok" file="tests/vm/guest/test_a.py" line="3" time="0.1"/>
<testcase classname="tests.vm.guest.test_a.TestGroup" name="test_fails" file="tests/vm/guest/test_a.py" line="9">
  <failure message="AssertionError: 1 != 2">def test_fails(): assert 1 == 2</failure></testcase>
<testcase classname="tests.integration.test_b" name="test_skipped" file="tests/integration/test_b.py" line="5">
  <skipped type="pytest.skip" message="no BPF here">tests/integration/test_b.py:5: no BPF here</skipped></testcase>
<testcase classname="tests.integration.test_b" name="test_xfail" file="tests/integration/test_b.py" line="8">
  <skipped type="pytest.xfail" message="known bug"/></testcase>
<testcase classname="tests.integration.test_b" name="test_ok" file="tests/integration/test_b.py" line="12"/>
<testcase classname="" name="tests.vm.guest.test_c" time="0.0">
  <error message="collection failure">ImportError: no module named hacontain.nothing</error></testcase>
</testsuite></testsuites>
"""


def test_cases_are_read_per_file_with_outcomes():
    cases = parse_junit(JUNIT)
    assert [(c.file, c.name, c.outcome) for c in cases] == [
        ("tests/vm/guest/test_a.py", "test_a::test_ok", "passed"),
        ("tests/vm/guest/test_a.py", "TestGroup::test_fails", "failed"),
        ("tests/integration/test_b.py", "test_b::test_skipped", "skipped"),
        ("tests/integration/test_b.py", "test_b::test_xfail", "xfailed"),
        ("tests/integration/test_b.py", "test_b::test_ok", "passed"),
        ("tests/vm/guest/test_c.py", "tests.vm.guest.test_c", "error"),
    ]


def test_failures_skips_and_collection_errors_are_problems_xfail_is_not():
    run = GuestRun(1, "guest output", parse_junit(JUNIT))
    assert "FAILED in the VM: TestGroup::test_fails\nAssertionError: 1 != 2" in run.problems("tests/vm/guest/test_a.py")
    problems_b = run.problems("tests/integration/test_b.py")
    assert "SKIPPED in the VM: test_b::test_skipped\nno BPF here" in problems_b and "xfail" not in problems_b
    assert "collection failure" in run.problems("tests/vm/guest/test_c.py")
    assert "reported no test from tests/vm/guest/test_d.py:\nguest output" in run.problems("tests/vm/guest/test_d.py")
    assert GuestRun(0, "", parse_junit(JUNIT)[:1]).problems("tests/vm/guest/test_a.py") is None
