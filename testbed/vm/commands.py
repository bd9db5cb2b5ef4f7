"""Host commands of the VM tier: looked up, run, and failures reported by name."""

import os
import shutil
import subprocess

from hacontain.errors import CommandError, NotInstalled, Timeout

# Root's tools (debootstrap, mkfs.ext4, depmod) live in sbin, which a CI
# environment's PATH may lack.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
TAIL_LINES = 20


class HostCommandError(CommandError):
    """A host command of the VM tier failed; the message ends with its last output lines."""

    def __init__(self, argv, returncode, output):
        super().__init__(argv, returncode, output)
        tail = "\n".join(output.strip().splitlines()[-TAIL_LINES:])
        self.args = (f"{' '.join(self.argv)} exited with {returncode}:\n{tail}",)


def tool(name, package):
    """Return the full path of host command ``name``, or raise NotInstalled naming its package."""
    path = shutil.which(name, path=SEARCH_PATH)
    if path is None:
        raise NotInstalled(f"the VM tier needs {name} (Debian package {package})")
    return path


def run(argv, *, timeout=600, cwd=None):
    """Run ``argv`` on the host and return its stdout; raise HostCommandError or Timeout on failure."""
    env = dict(os.environ, PATH=SEARCH_PATH)
    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise Timeout(f"{' '.join(map(str, argv))} did not finish within {timeout} s") from None
    if proc.returncode != 0:
        raise HostCommandError([str(a) for a in argv], proc.returncode, proc.stderr or proc.stdout)
    return proc.stdout
