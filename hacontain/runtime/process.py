"""Describing a container's processes (the only psutil user)."""


def describe(pids):
    """[{'pid', 'ppid', 'user', 'state', 'command'}] for `pids`, skipping the ones gone."""
    import psutil
    rows = []
    for pid in sorted(pids):
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                rows.append({"pid": pid, "ppid": process.ppid(), "user": process.username(),
                             "state": process.status(),
                             "command": " ".join(process.cmdline()) or f"[{process.name()}]"})
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return rows
