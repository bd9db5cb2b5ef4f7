#!/usr/bin/python3
"""Guest agent of a hacontain test VM: runs commands sent as JSON lines.

Runs inside the VM (standard library only), started and restarted by init.
It talks over the virtio-serial port named ``hacontain.agent``; qemu joins
that port to a unix socket on the host.

On start it says ``{"ready": true}``. Each request is one line:
``{"id": 1, "argv": ["ls", "/"], "timeout": 60, "input": null, "env": {}, "cwd": "/"}``
and gets one answer line:
``{"id": 1, "rc": 0, "stdout": "...", "stderr": "...", "timed_out": false}``.
A command runs in its own session; one that outlives its timeout is killed
with its whole process group and answered with ``timed_out: true`` once
no process of that group is left (reaped, not only signalled).
"""

import glob
import json
import os
import signal
import subprocess
import sys
import time

PORT_NAME = "hacontain.agent"
# How long to keep reading a killed command's pipes: a daemon it started in
# another session may hold them open forever.
DRAIN_SECONDS = 5


def find_port(name=PORT_NAME):
    """Return the /dev path of the virtio-serial port called ``name`` (no udev here)."""
    for entry in sorted(glob.glob("/sys/class/virtio-ports/*")):
        with open(os.path.join(entry, "name")) as f:
            if f.read().strip() == name:
                return "/dev/" + os.path.basename(entry)
    raise SystemExit(f"agent: no virtio-serial port named {name}")


def run_command(request):
    """Run one request's command and return the answer as a dict."""
    argv = request["argv"]
    data = request.get("input")
    env = dict(os.environ, **(request.get("env") or {}))
    answer = {"id": request.get("id"), "rc": None, "stdout": "", "stderr": "", "timed_out": False}
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=request.get("cwd") or "/",
            env=env,
            start_new_session=True,
        )
    except OSError as e:
        answer.update(rc=127, stderr=f"agent: cannot run {argv[0]}: {e.strerror}\n")
        return answer
    try:
        out, err = proc.communicate(data.encode() if data is not None else None, timeout=request["timeout"])
    except subprocess.TimeoutExpired:
        answer["timed_out"] = True
        out, err = kill_group(proc)
    answer.update(rc=proc.returncode, stdout=out.decode(errors="replace"), stderr=err.decode(errors="replace"))
    return answer


def kill_group(proc):
    """SIGKILL the command's process group, wait until none of it is left; return
    what it wrote before."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        output = proc.communicate(timeout=DRAIN_SECONDS)
    except subprocess.TimeoutExpired:
        proc.stdout.close()
        proc.stderr.close()
        proc.wait()
        output = b"", b"agent: output lost: a process outside the command's group kept its pipes open\n"
    if not wait_group_gone(proc.pid):
        output = output[0], output[1] + f"agent: process group {proc.pid} outlived SIGKILL\n".encode()
    return output


def wait_group_gone(pgid, timeout=DRAIN_SECONDS):
    """Whether group `pgid` was gone within `timeout`: killed orphans stay visible
    (to kill(2), pgrep, /proc) until init has reaped them."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def serve(read_fd, write_fd):
    """Answer requests from ``read_fd`` until end of file (the host went away)."""
    send(write_fd, {"ready": True})
    buffer = b""
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                send(write_fd, answer(line))


def answer(line):
    """Decode one request line and run it; a malformed request gets an error answer."""
    try:
        request = json.loads(line)
    except ValueError as e:
        return {"id": None, "error": f"agent: bad request {line[:200]!r}: {e}"}
    try:
        return run_command(request)
    except (KeyError, TypeError, IndexError, AttributeError) as e:
        request_id = request.get("id") if isinstance(request, dict) else None
        return {"id": request_id, "error": f"agent: bad request {line[:200]!r}: {e!r}"}


def send(fd, message):
    """Write one JSON line, all of it."""
    data = json.dumps(message).encode() + b"\n"
    while data:
        data = data[os.write(fd, data):]


def main():
    """Serve the host over the virtio-serial port, reopening it whenever the host leaves."""
    port = find_port()
    while True:
        fd = os.open(port, os.O_RDWR)
        try:
            serve(fd, fd)
        except OSError as e:
            print(f"agent: {port}: {e}", file=sys.stderr)
        finally:
            os.close(fd)
        time.sleep(0.5)


if __name__ == "__main__":
    main()
