"""Builds the console holder's program (hacontain/runtime/console_holder.c) with the
package: into the wheel, or beside its source for an editable install. A C compiler
(cc; gcc and libc6-dev on Debian) is needed where the package is built, not where a
built wheel is installed."""

import os
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join("hacontain", "runtime", "console_holder.c")
PROGRAM = os.path.join("hacontain", "runtime", "console-holder")


def compile_holder(target):
    """Static, so that it runs on any Linux of this architecture whatever its C library
    (tests/unit/test_console_holder_program.py keeps the source free of warnings)."""
    command = [os.environ.get("CC", "cc"), "-O2", "-static", "-s", "-o", target,
               os.path.join(HERE, SOURCE)]
    try:
        subprocess.run(command, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"building the console holder failed ({' '.join(command)}): {exc}; "
                         f"install a C compiler and static C library (Debian: gcc libc6-dev)")


class BuildWithHolder(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            compile_holder(os.path.join(HERE, PROGRAM))
        else:
            os.makedirs(os.path.join(self.build_lib, os.path.dirname(PROGRAM)), exist_ok=True)
            compile_holder(os.path.join(self.build_lib, PROGRAM))


class PlatformDistribution(Distribution):
    """The wheel carries a program for this platform: tag it so."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithHolder}, distclass=PlatformDistribution)
