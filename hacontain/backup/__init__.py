"""Backups of containers (`hacontain backup`): consistent views of a rootfs
(snapshot.py), the record of a running backup that the agent's stop aborts
(registry.py). Nothing is imported here: the agent's stop imports registry alone."""
