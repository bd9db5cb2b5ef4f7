#!/usr/bin/env bash
# The stack on the Vagrant nodes, from the host (after `vagrant up`): a busybox
# container on an LV of the VG on DRBD, its configuration from `hacontain
# cluster-config` loaded with crmsh, data written into it, then the node that
# runs it powered off (vagrant halt --force: a crash) and the container found on
# the survivor with the data; then a graceful move back (crm resource move).
#
#   cd vagrant && bash scenario.sh [NAME]
#
# Fencing is off here (a lab: no fence device reaches these VMs; see
# deploy/node/fencing.md for a production cluster).
set -euo pipefail
cd "$(dirname "$0")"
name=${1:-web}
ip=192.0.2.50/24

on() {                       # on NODE CMD...: run CMD as root on NODE
    local node=$1
    shift
    vagrant ssh "$node" -c "sudo bash -c $(printf '%q' "$*")" -- -q
}

# wait_for TIMEOUT DESCRIPTION CMD...: poll CMD until it succeeds
wait_for() {
    local timeout=$1 what=$2 start=$SECONDS
    shift 2
    until "$@" >/dev/null 2>&1; do
        if [ $((SECONDS - start)) -ge "$timeout" ]; then
            echo "scenario: no $what after ${timeout}s" >&2
            exit 1
        fi
        sleep 1
    done
}

where() {                    # the node running the container, from node $1's view
    on "$1" "crm_resource --locate -r ct_$name 2>/dev/null" | sed -n 's/.*running on: //p' | tr -d '\r'
}

runs_on() { [ "$(where "$1")" = "$2" ]; }

runs_somewhere() { [ -n "$(where a)" ]; }

# 1. The container, made once on the node holding DRBD's Primary, its config on both.
if ! on a "test -f /var/lib/hacontain/$name/config"; then
    on b "drbdadm primary r0 && vgchange -q -ay ha &&
          hacontain create $name -t busybox -B lvm --vgname ha --fssize 256M &&
          vgchange -q -an ha && drbdadm secondary r0"
    on b "cat /var/lib/hacontain/$name/config" |
        on a "mkdir -p /var/lib/hacontain/$name && cat > /var/lib/hacontain/$name/config"
fi

# 2. The generated configuration, loaded in one commit.
on a "crm configure property stonith-enabled=false"
on a "hacontain cluster-config $name --drbd r0 --vg ha --ip $ip | crm configure load update -"
wait_for 300 "running container" runs_somewhere
first=$(where a)
other=$([ "$first" = a ] && echo b || echo a)
echo "scenario: ct_$name runs on $first"
stamp=$(date +%s%N)
on "$first" "hacontain attach $name -- sh -c 'echo $stamp > /stamp && sync'"

# 3. The node running it crashes: the survivor promotes DRBD, activates the VG, starts it.
began=$SECONDS
vagrant halt --force "$first"
wait_for 300 "failover to $other" runs_on "$other" "$other"
echo "scenario: failover to $other in $((SECONDS - began)) s"
[ "$(on "$other" "hacontain attach $name -- cat /stamp" | tr -d '\r')" = "$stamp" ]
echo "scenario: data written before the crash read on $other"

# 4. The crashed node back, then a graceful move to it.
vagrant up "$first" --no-provision
wait_for 300 "$first back in the cluster" on "$other" "crm_mon -1 | grep -q 'Online:.*$first'"
began=$SECONDS
on "$other" "crm resource move svc_$name $first"      # the container's group (with its IP)
wait_for 300 "move to $first" runs_on "$other" "$first"
echo "scenario: moved to $first in $((SECONDS - began)) s"
[ "$(on "$first" "hacontain attach $name -- cat /stamp" | tr -d '\r')" = "$stamp" ]
on "$first" "crm resource clear svc_$name"
echo "scenario: passed"
