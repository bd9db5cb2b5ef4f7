#!/usr/bin/env bash
# Corosync 3 for a two-node cluster, as root, on both nodes with the same
# arguments: /etc/corosync/corosync.conf (knet, encrypted, two_node quorum) and
# the shared authkey.
#
#   bash deploy/node/corosync.sh --name CLUSTER --node NAME=ADDR[,ADDR2] --node NAME=ADDR[,ADDR2]
#        [--authkey FILE] [--token MS] [--start] [--root DIR]
#
# --node     a node's name (its `uname -n`) and its address on each link (a second
#            address makes a second knet link: give both nodes the same count)
# --authkey  the key to install (copy /etc/corosync/authkey of the first node to
#            the second); without it an existing key stays, else one is made
# --token    the totem token timeout in ms (default 3000)
# --start    enable and start corosync and pacemaker where they are not running
# --root     write below DIR (tests)
#
# A running corosync is never restarted: a changed file is reported with the
# command that reloads it (corosync-cfgtool -R).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

root= cluster= token=3000 authkey= start= nodes=()
while [ $# -gt 0 ]; do
    case "$1" in
        --name) cluster=$2; shift 2 ;;
        --node) nodes+=("$2"); shift 2 ;;
        --authkey) authkey=$2; shift 2 ;;
        --token) token=$2; shift 2 ;;
        --start) start=1; shift ;;
        --root) root=${2%/}; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
need_root
[[ $cluster =~ ^[A-Za-z0-9_-]{1,32}$ ]] || die "give the cluster's name with --name (letters, digits, _ and -)"
[ ${#nodes[@]} = 2 ] || die "give the two nodes with --node NAME=ADDR twice"
[[ $token =~ ^[0-9]+$ ]] || die "--token $token: a number of milliseconds"
[ -z "$authkey" ] || [ -r "$authkey" ] || die "--authkey $authkey: no such readable file"

links=
nodelist=
id=0
for spec in "${nodes[@]}"; do
    name=${spec%%=*} addresses=${spec#*=}
    [[ $spec == *=* && $name =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ && -n $addresses ]] ||
        die "--node $spec: expected NAME=ADDR[,ADDR2]"
    IFS=, read -r -a list <<< "$addresses"
    [ -z "$links" ] || [ "$links" = ${#list[@]} ] || die "--node $spec: both nodes need the same number of addresses"
    links=${#list[@]}
    [ "$links" -le 2 ] || die "--node $spec: at most two links"
    id=$((id + 1))
    nodelist+="    node {
        name: $name
        nodeid: $id"
    for link in "${!list[@]}"; do
        [[ ${list[$link]} =~ ^[0-9a-fA-F.:]+$ ]] || die "--node $spec: ${list[$link]} is not an IP address"
        nodelist+="
        ring${link}_addr: ${list[$link]}"
    done
    nodelist+="
    }
"
done
[ "${nodes[0]%%=*}" != "${nodes[1]%%=*}" ] || die "the two nodes have the same name"

install_file /etc/corosync/corosync.conf 644 <<CONF && changed=1 || changed=
# Written by hacontain's deploy/node/corosync.sh: two nodes, knet, encrypted.
totem {
    version: 2
    cluster_name: $cluster
    transport: knet
    crypto_cipher: aes256
    crypto_hash: sha256
    keyfile: /etc/corosync/authkey
    token: $token
}

nodelist {
$nodelist}

quorum {
    provider: corosync_votequorum
    # Two nodes: the survivor of a node loss keeps quorum; fencing decides who
    # survives a link loss (see deploy/node/fencing.md).
    two_node: 1
}

logging {
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_syslog: yes
    timestamp: on
}
CONF

key=$root/etc/corosync/authkey
if [ -n "$authkey" ]; then
    install_file /etc/corosync/authkey 400 < "$authkey" || true
elif [ ! -s "$key" ]; then
    install -d -m 755 "$(dirname "$key")"
    corosync-keygen -k "$key" >/dev/null
    chmod 400 "$key"
    echo "/etc/corosync/authkey: made (copy it to the other node: --authkey FILE there)"
else
    echo "/etc/corosync/authkey: kept"
fi
install -d -m 700 "$root/var/log/corosync"

if [ -z "$root" ] && service_active corosync; then
    [ -z "$changed" ] || echo "corosync runs: apply the new file on both nodes with: corosync-cfgtool -R"
elif [ -n "$start" ] && [ -z "$root" ]; then
    systemctl enable --now corosync pacemaker
fi
if [ -n "$start" ] && [ -z "$root" ] && ! service_active pacemaker; then
    systemctl enable --now pacemaker
fi
