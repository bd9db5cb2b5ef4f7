"""The container runtime: namespaces, rootfs, cgroups, network, state."""
