"""The project test files that run inside a VM: the one list to edit.

Paths are relative to the checkout. A listed file joins the VM tier as soon as
it exists in the checkout; until then it is simply not collected.
"""

GUEST_TEST_FILES = (
    "tests/vm/guest/test_cgroup_v2_basics.py",
    "tests/integration/test_cgroup_v2.py",
    "tests/integration/test_containment.py",
    "tests/integration/test_systemd_guest.py",
)
# Guest files of the opt-in extended tier (-m vmextended): slower, kept out of the default run.
EXTENDED_GUEST_TEST_FILES = (
    "tests/vm/guest/test_checkpoint.py",
)

# Host files guest tests need but cannot make without a network, linked into the
# shared checkout for the run (ignored by git): the debian-systemd rootfs tarball.
GUEST_CACHE = "tests/vm/guest-cache"


def present(checkout, files=GUEST_TEST_FILES):
    """The files of `files` that exist in ``checkout``."""
    return [path for path in files if (checkout / path).is_file()]
