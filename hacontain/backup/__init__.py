"""Backups of containers (`hacontain backup`, `restore`), like vzdump: the job
(run.py), consistent views of a rootfs (snapshot.py), the archive format and its
writer (archive.py over the streaming tar reader tarstream.py), verify.py, restore.py,
the dump directory's catalog (catalog.py), retention (prune.py), progress.py, and the
record of a running backup that the agent's stop aborts (registry.py). Nothing is
imported here: the agent's stop imports registry alone."""
