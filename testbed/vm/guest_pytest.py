"""Running project test files with pytest inside a VM and reading their results back."""

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

GUEST_JUNIT = "/tmp/hacontain-guest-junit.xml"
RUN_TIMEOUT = 900
DETAIL_LIMIT = 4000


@dataclass(frozen=True)
class GuestCase:
    """One test's result inside the VM."""

    file: str  # relative to the checkout
    name: str
    outcome: str  # passed, failed, error, skipped or xfailed
    detail: str


@dataclass(frozen=True)
class GuestRun:
    """A guest pytest run: its exit status, its output and its per-test results."""

    rc: int
    output: str
    cases: list

    def cases_in(self, file):
        return [c for c in self.cases if c.file == file]

    def problems(self, file):
        """Why ``file`` did not pass inside the VM, or None when every test in it passed.

        A skip counts as a problem: inside the VM every feature the tests need exists.
        """
        cases = self.cases_in(file)
        if not cases:
            return f"guest pytest (exit {self.rc}) reported no test from {file}:\n{self.output[-DETAIL_LIMIT:]}"
        bad = [c for c in cases if c.outcome in ("failed", "error", "skipped")]
        if not bad:
            return None
        return "\n\n".join(f"{c.outcome.upper()} in the VM: {c.name}\n{c.detail[-DETAIL_LIMIT:]}" for c in bad)

    def summary(self, file):
        return "\n".join(f"{c.outcome:8} {c.name}" for c in self.cases_in(file))


def run_files(vm, checkout, files, timeout=RUN_TIMEOUT):
    """Run ``files`` (relative to ``checkout``, which the VM shares at the same path) with the guest's pytest."""
    env = {"PYTHONPATH": str(checkout), "PYTHONDONTWRITEBYTECODE": "1", "HACONTAIN_VM_GUEST": "1"}
    argv = [
        "python3", "-m", "pytest", "-p", "no:cacheprovider", "-o", "junit_family=xunit1", "--continue-on-collection-errors",
        f"--junitxml={GUEST_JUNIT}", "-q", "-rfEs", *files,
    ]
    result = vm.run(argv, timeout=timeout, env=env, cwd=str(checkout))
    junit = vm.run(["cat", GUEST_JUNIT])
    cases = parse_junit(junit.stdout) if junit.rc == 0 else []
    return GuestRun(result.rc, result.stdout + result.stderr, cases)


def parse_junit(text):
    """GuestCases from pytest's junit XML (xunit1 family, which names each test's file)."""
    cases = []
    for case in ElementTree.fromstring(text).iter("testcase"):
        file = case.get("file") or case.get("name").replace(".", "/") + ".py"
        name = "::".join(filter(None, [case.get("classname", "").rpartition(".")[2], case.get("name")]))
        outcome, detail = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                if child.tag == "skipped" and child.get("type") == "pytest.xfail":
                    outcome = "xfailed"
                detail = "\n".join(filter(None, [child.get("message"), child.text]))
                break
        cases.append(GuestCase(file, name, outcome, detail))
    return cases
