"""The console holder's program (runtime/console_holder.c) refuses bad arguments
with a message and exit code 2 instead of running without its descriptors. What it
does for a container is tested on the real kernel in tests/integration/test_console.py."""

import os
import struct
import subprocess

from hacontain.runtime import console


def run(*args):
    return subprocess.run([console.PROGRAM, *args], capture_output=True, text=True, timeout=10)


PT_INTERP = 3


def test_the_program_is_a_static_executable():
    """No program interpreter (PT_INTERP): it runs whatever C library the host has."""
    with open(console.PROGRAM, "rb") as handle:
        image = handle.read()
    assert image[:4] == b"\x7fELF" and image[4] == 2     # 64-bit
    phoff, = struct.unpack_from("<Q", image, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", image, 0x36)
    types = [struct.unpack_from("<I", image, phoff + i * phentsize)[0] for i in range(phnum)]
    assert types and PT_INTERP not in types


def test_the_source_compiles_without_warnings(tmp_path):
    """cc is there wherever the package is built from source (deploy/testbed.sh)."""
    source = os.path.join(os.path.dirname(console.PROGRAM), "console_holder.c")
    result = subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o",
                             str(tmp_path / "holder"), source], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_wrong_argument_count_prints_the_usage():
    result = run("ct")
    assert result.returncode == 2 and result.stderr.startswith("usage: console-holder NAME")


def test_a_descriptor_that_is_not_open_is_refused():
    result = run("ct", "999", "998", "997", "/tmp/log", "0", "1", "/tmp/exit", "/tmp/sock")
    assert result.returncode == 2
    assert "LOG_FD 999 is not an open file descriptor" in result.stderr


def test_a_log_size_that_is_not_a_number_is_refused():
    result = run("ct", "0", "1", "2", "/tmp/log", "lots", "1", "/tmp/exit", "/tmp/sock")
    assert result.returncode == 2 and "LOG_SIZE lots is not a number" in result.stderr
