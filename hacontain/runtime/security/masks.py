"""Masked and read-only paths of the container's /proc and /sys.

With proc:mixed (the default) /proc/sys, sysrq-trigger, irq and bus are
read-only and the files that show or change the host's kernel state are
masked: a file by /dev/null bound over it, a directory by an empty read-only
tmpfs. With sys:ro or sys:mixed /sys/firmware is masked the same way. As in
LXC, proc:rw and sys:rw leave everything as the kernel shows it: they are the
switches to turn these protections off.
"""

import os

from hacontain.sys import libc

PROC_READONLY = ("sys", "sysrq-trigger", "irq", "bus")
PROC_MASKED = ("kcore", "keys", "key-users", "timer_list", "sched_debug", "latency_stats",
               "timer_stats", "kmsg", "kallsyms", "kpagecount", "kpageflags", "kpagecgroup",
               "scsi", "acpi")
SYS_MASKED = ("firmware",)


def mask(path):
    """Hide what `path` shows: /dev/null over a file, an empty read-only tmpfs over a directory."""
    if os.path.isdir(path):
        libc.mount("none", path, "tmpfs", libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NODEV
                   | libc.MS_NOEXEC, "size=0,mode=555")
    else:
        libc.mount("/dev/null", path, None, libc.MS_BIND)

