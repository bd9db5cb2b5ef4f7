"""hacontain: high-availability Linux system containers for Pacemaker clusters."""

__version__ = "0.1.0"
