"""Containment: capabilities, seccomp, masked paths, user namespaces, AppArmor."""
