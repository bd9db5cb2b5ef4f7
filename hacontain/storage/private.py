"""Work on volumes mounted in a private mount namespace of a forked child: what it
mounts the host never sees, and a crash leaves nothing mounted."""

import os
import pickle
import shutil
import tempfile

from hacontain.errors import HacontainError, rebuild


def with_mounted(volumes, work, scratch):
    """Call work(*paths) in a child in its own mount namespace, each of `volumes`
    mounted on a fresh directory below `scratch` (a volume with a host_path is used in
    place); re-raise the child's error here."""
    from hacontain.sys import libc
    places = tempfile.mkdtemp(prefix=".mnt-", dir=scratch)
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            libc.unshare(libc.CLONE_NEWNS)
            libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
            paths = []
            for index, volume in enumerate(volumes):
                if volume.host_path is not None:
                    paths.append(volume.host_path)
                    continue
                target = os.path.join(places, str(index))
                os.mkdir(target)
                volume.mount(target)
                paths.append(target)
            work(*paths)
            os._exit(0)
        except BaseException as exc:  # report everything: nothing may escape a forked child
            kind = type(exc).__name__ if isinstance(exc, HacontainError) else "HacontainError"
            os.write(write_end, pickle.dumps((kind, str(exc) or repr(exc))))
            os._exit(1)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as handle:
            report = handle.read()
        _, status = os.waitpid(pid, 0)
    finally:
        shutil.rmtree(places, ignore_errors=True)
    if report:
        raise rebuild(*pickle.loads(report))
    if status != 0:
        raise HacontainError(f"the process working on {', '.join(v.spec for v in volumes)} "
                             f"died (wait status {status})")
