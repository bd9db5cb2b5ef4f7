"""Where a filesystem is mounted on this node, by device number (/proc/self/mountinfo)."""

import os


def mount_points(device_number):
    """Mount points in this mount namespace of the filesystem on device `device_number`."""
    wanted = f"{os.major(device_number)}:{os.minor(device_number)}"
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if fields[2] == wanted:
                points.append(fields[4].replace("\\040", " "))
    return points
