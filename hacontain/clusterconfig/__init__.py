"""`hacontain cluster-config`: the Pacemaker configuration of containers on LVM on DRBD.

model.py reads the containers' configs into a stack description, plan.py turns it
into resources and constraints checked against the installed agents' meta-data
(agents.py), crm.py and pcs.py print them as `crm configure` input or pcs commands."""
