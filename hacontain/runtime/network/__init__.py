"""Container networking: `lxc.net.N.*` interfaces made with rtnetlink.

    spec      the config's interfaces with names and MACs filled in (no host access)
    validate  the interfaces checked against this host's netns, before any is made
    ip        IP addresses and prefixes (inet_pton; for the config checks and setup)
    setup     create / move the interfaces and configure them inside the container's netns
    teardown  undo setup: host-side veth ends deleted, phys interfaces given back
    hold      keep a container's netns alive with a bind mount (RUNDIR/NAME/netns)
    view      interfaces and addresses inside a running container, for `hacontain info`
    netlink   requests over hacontain's own netlink socket
    messages  the rtnetlink message classes: the only module importing pyroute2

pyroute2 is loaded only for containers with interfaces beyond loopback.
"""
