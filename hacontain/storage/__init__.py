"""Container volumes: the rootfs backends (dir, overlay, btrfs, loop, lvm, block) behind
one interface (backends.py), the tools they run (command.py), clones (clone.py).

Nothing here is imported on the start path of a plain directory rootfs.
"""
