"""The only place that talks to libc (ctypes) and parses /proc text."""
