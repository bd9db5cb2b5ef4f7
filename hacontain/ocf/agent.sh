# ocf:hacontain:container's shell half. `hacontain install-agent` writes the agent
# as a /bin/sh script: a header setting PYTHON, PYTHON_FLAGS, AGENT (the Python code
# that runs hacontain.ocf.entry) and hacontain.paths' defaults, this file, and
# `hc_agent "$@"`.
#
# A monitor runs every few seconds, and starting a Python interpreter alone
# costs about half of heartbeat/lxc's whole depth-0 monitor; dash starts in a
# millisecond. So the two answers a depth-0 monitor can give with certainty are
# given here, by the shell's builtins alone (no process is started): 0 when the
# init the state file records is alive, 7 when there is no state file and no
# cgroup of the container. Anything else, and every other action, is the
# Python agent's. Whenever this file is in doubt it leaves the answer to the
# agent: it never answers what the agent would not.
#
# It reads what hacontain.paths (state_file, lxcpath, cgroup_parent,
# cgroup_dir) and runtime/state.py write and compute; tests/ocf/test_agent_sh.py
# holds it to them.

hc_agent() {
    if [ "$#" -eq 1 ] && [ "$1" = monitor ]; then
        hc_quick_monitor
    fi
    exec "$PYTHON" $PYTHON_FLAGS -c "$AGENT" "$@"
}

# Exit 0 or 7 when certain; return otherwise.
hc_quick_monitor() {
    hc_name=${OCF_RESKEY_name-}
    hc_plain "$hc_name" || return
    case $hc_name in .|..|*/*) return ;; esac
    hc_lxcpath=${OCF_RESKEY_lxcpath:-$DEFAULT_LXCPATH}
    hc_normal_path "$hc_lxcpath" || return
    hc_rundir=${HACONTAIN_RUNDIR:-$DEFAULT_RUNDIR}
    while case $hc_rundir in */) true ;; *) false ;; esac; do hc_rundir=${hc_rundir%/}; done
    hc_state=$hc_rundir/$hc_name/state.json
    if [ -e "$hc_state" ]; then
        hc_running "$hc_state" "$hc_name" "$hc_lxcpath" || return
        hc_level=${OCF_CHECK_LEVEL-0}
        case $hc_level in '' | *[!0-9]*) return ;; esac
        hc_level=${hc_level#"${hc_level%%[!0]*}"}      # leading zeros off
        [ "${#hc_level}" -le 1 ] || return             # depth 10 and deeper: the agent's
        exit 0
    fi
    [ -L "$hc_state" ] && return                        # dangling: the agent says why
    [ "${HA_debug-}" != 1 ] || return                   # the agent also logs the reason
    hc_no_cgroup "$hc_name" "$hc_lxcpath" || return
    printf '%s\n' "${OCF_EXIT_REASON_PREFIX:-ocf-exit-reason:}container $hc_name is not running" >&2
    exit 7
}

# True when $1 needs no escaping in JSON nor quoting anywhere: what is compared
# with the state file's text as it stands.
hc_plain() {
    case $1 in '' | *[!A-Za-z0-9_.+@:=/-]*) return 1 ;; esac
}

# True when $1 is an absolute path in normal form (what paths.lxcpath returns as is).
hc_normal_path() {
    hc_plain "$1" || return 1
    case $1 in /) return 0 ;; /*) ;; *) return 1 ;; esac
    case $1 in *//* | */./* | */../* | */ | */. | */..) return 1 ;; esac
}

# True when the state file $1 is the runtime's record of container $2 of LXCPATH
# $3 (one line, no newline; name, lxcpath and config its first fields, version its
# last) and the init it records is alive and started when recorded.
hc_running() {
    hc_line=
    IFS= read -r hc_line 2>/dev/null <"$1" && return 1  # a newline: not the runtime's
    case $hc_line in "{\"name\": \"$2\", \"lxcpath\": \"$3\", \"config\": \""*) ;; *) return 1 ;; esac
    case ${hc_line##*\"version\": } in "$STATE_VERSION}") ;; *) return 1 ;; esac
    # The first "pid" and "start_time" keys: every quote inside a string is escaped,
    # and the record's nested objects come after them.
    hc_rest=${hc_line#*\"pid\": }
    hc_pid=${hc_rest%%,*}
    hc_rest=${hc_line#*\"start_time\": }
    hc_start=${hc_rest%%,*}
    case $hc_pid in '' | *[!0-9]*) return 1 ;; esac
    case $hc_start in '' | *[!0-9]*) return 1 ;; esac
    hc_stat=
    IFS= read -r hc_stat 2>/dev/null <"/proc/$hc_pid/stat" || return 1
    set -f
    # comm may hold spaces and parentheses: the fields after the last ") "
    set -- ${hc_stat##*") "}
    set +f
    [ "$#" -ge 20 ] || return 1
    case $1 in Z | X) return 1 ;; esac
    [ "${20}" = "$hc_start" ]
}

# True when container $1 of LXCPATH $2 certainly has no cgroup: its config (a
# regular file, or none) has no line setting a cgroup parent of its own nor
# including a file that could, and the directory of paths.cgroup_dir does not
# exist.
hc_no_cgroup() {
    hc_config=${OCF_RESKEY_config:-$2/$1/config}
    case $hc_config in *[[:space:]]*) return 1 ;; esac
    if [ -e "$hc_config" ]; then
        [ -f "$hc_config" ] || return 1
        hc_lines=0
        while IFS= read -r hc_text || [ -n "$hc_text" ]; do
            hc_text=${hc_text#"${hc_text%%[![:space:]]*}"}   # (a comment names them freely)
            case $hc_text in hacontain.cgroup.parent* | lxc.include*) return 1 ;; esac
            hc_lines=$((hc_lines + 1))
            [ "$hc_lines" -le 4096 ] || return 1
        done 2>/dev/null <"$hc_config" || return 1
    fi
    hc_parent=${HACONTAIN_CGROUP_PARENT-}
    if [ -z "$hc_parent" ] && [ -e /etc/hacontain/cgroup-parent ]; then
        [ -f /etc/hacontain/cgroup-parent ] || return 1
        hc_extra=
        { IFS= read -r hc_parent; IFS= read -r hc_extra; } 2>/dev/null </etc/hacontain/cgroup-parent
        [ -z "$hc_extra" ] || return 1
    fi
    [ -z "$hc_parent" ] || hc_plain "$hc_parent" || return 1
    hc_cgroup_dir "$1" "${hc_parent:-$DEFAULT_CGROUP_PARENT}" /proc || return 1
    [ ! -e "$hc_where" ]
}

# Sets hc_where to the directory of container $1's cgroup under parent $2 on one
# hierarchy, as paths.cgroup_dir finds it from $3/self/cgroup and mountinfo: the
# unified hierarchy's when one is mounted below /sys/fs/cgroup, else the first v1
# hierarchy with controllers. False when they cannot tell.
hc_cgroup_dir() {
    hc_where=
    hc_parts=
    hc_of=$1 hc_under=$2 hc_proc=$3         # `set --` below takes the arguments
    set -f
    hc_ifs=$IFS
    IFS=/
    for hc_part in $hc_under; do
        case $hc_part in '') ;; . | ..) IFS=$hc_ifs; set +f; return 1 ;; *) hc_parts=$hc_parts/$hc_part ;; esac
    done
    IFS=$hc_ifs
    # cgroup and cgroup2 mounts below /sys/fs/cgroup: "type super-options root mountpoint"
    hc_mounts=
    while IFS= read -r hc_text; do
        case $hc_text in *" - cgroup "* | *" - cgroup2 "*) ;; *) continue ;; esac
        set -- $hc_text
        [ "$#" -ge 9 ] || continue
        hc_root=$4 hc_point=$5
        case $hc_root$hc_point in *\\*) continue ;; esac
        case $hc_point in /sys/fs/cgroup | /sys/fs/cgroup/*) ;; *) continue ;; esac
        shift 5
        while [ "$#" -gt 0 ] && [ "$1" != - ]; do shift; done
        [ "$#" -ge 4 ] || continue
        hc_mounts="$hc_mounts$2 $4 $hc_root $hc_point
"
    done 2>/dev/null <"$hc_proc/self/mountinfo"
    # memberships ("controllers:path"): the unified one first, then each v1
    # hierarchy with controllers
    hc_unified= hc_v1=
    while IFS= read -r hc_text; do
        hc_rest=${hc_text#*:}
        case $hc_rest in *:*) ;; *) continue ;; esac
        case ${hc_text%%:*}:${hc_rest%%:*} in
        0:) hc_unified="$hc_unified$hc_rest
" ;;
        *:) ;;
        *:name=* | *,name=*) ;;  # no resources to control: not a container's
        *) hc_v1="$hc_v1$hc_rest
" ;;
        esac
    done 2>/dev/null <"$hc_proc/self/cgroup"
    IFS='
'
    for hc_entry in $hc_unified$hc_v1; do
        hc_controllers=${hc_entry%%:*}
        hc_base=${hc_entry#*:}
        case $hc_under in /*) hc_base= ;; esac
        while case $hc_base in */) true ;; *) false ;; esac; do hc_base=${hc_base%/}; done
        hc_cgroup=$hc_base$hc_parts/$hc_of
        if hc_mount_of; then
            IFS=$hc_ifs
            set +f
            return 0
        fi
    done
    IFS=$hc_ifs
    set +f
    return 1
}

# True (hc_where set) when one of hc_mounts mounts the hierarchy of hc_controllers
# (empty: the unified one) with hc_cgroup below its root. Runs with IFS a newline.
hc_mount_of() {
    for hc_mount in $hc_mounts; do
        hc_type=${hc_mount%% *}
        hc_rest=${hc_mount#* }
        hc_options=,${hc_rest%% *},
        hc_rest=${hc_rest#* }
        hc_root=${hc_rest%% *}
        hc_point=${hc_rest#* }
        if [ -z "$hc_controllers" ]; then
            [ "$hc_type" = cgroup2 ] || continue
        else
            [ "$hc_type" = cgroup ] || continue
            hc_has_all "$hc_controllers" "$hc_options" || continue
        fi
        while case $hc_root in */) true ;; *) false ;; esac; do hc_root=${hc_root%/}; done
        case $hc_cgroup in "$hc_root"/*)
            hc_where=$hc_point${hc_cgroup#"$hc_root"}
            return 0 ;;
        esac
    done
    return 1
}

# True when each of the comma-separated controllers $1 is in ",options," $2.
hc_has_all() {
    hc_list=$1,
    while [ -n "$hc_list" ]; do
        hc_one=${hc_list%%,*}
        hc_list=${hc_list#*,}
        case $hc_one in '') continue ;; esac
        case $2 in *",$hc_one,"*) ;; *) return 1 ;; esac
    done
}
