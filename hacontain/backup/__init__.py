"""Backups of containers (`hacontain backup`, `restore`), like vzdump: the job
(run.py), consistent views of a rootfs (snapshot.py), the archive format and its
writer (archive.py: tar's own listing read by tarlisting.py, or the streaming tar
reader tarstream.py when it hashes or holds back), verify.py, restore.py,
the dump directory's catalog (catalog.py), retention (prune.py), progress.py, and the
record of a running backup that the agent's stop aborts (registry.py). Nothing is
imported here: the agent's stop imports registry alone."""
