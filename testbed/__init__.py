"""Test bed: a real Corosync + Pacemaker cluster of namespace nodes on one host.

Used by the cluster tests, the failover benchmark and the demo. Needs root.
"""
