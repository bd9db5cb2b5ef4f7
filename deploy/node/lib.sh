# Shared by the deploy/node scripts (sourced, not run): root check, the root
# directory files are written below (--root, for tests and image builds), and a
# writer that leaves a file alone when its content is already right.

node_script=$(basename "$0")

die() {
    echo "deploy/node/$node_script: $*" >&2
    exit 1
}

need_root() {
    [ "$(id -u)" = 0 ] || die "must run as root"
}

# install_file PATH MODE: write stdin to ROOT/PATH (mode MODE) unless it holds that
# already; prints "PATH: written" or "PATH: unchanged"; returns 0 when written.
install_file() {
    local path=$root$1 mode=$2 new
    new=$(mktemp)
    cat > "$new"
    if [ -f "$path" ] && cmp -s "$new" "$path"; then
        rm -f "$new"
        echo "$1: unchanged"
        return 1
    fi
    install -d -m 755 "$(dirname "$path")"
    chmod "$mode" "$new"
    mv -f "$new" "$path"
    echo "$1: written"
    return 0
}

# service_active NAME: whether systemd runs NAME (false without systemd).
service_active() {
    command -v systemctl >/dev/null 2>&1 && systemctl is-active -q "$1" 2>/dev/null
}

# find_python: sets $python to an interpreter that imports hacontain: $HACONTAIN_PYTHON,
# the node install's virtualenv, else python3 with this checkout on its path.
find_python() {
    if [ -n "${HACONTAIN_PYTHON:-}" ]; then
        python=$HACONTAIN_PYTHON
    elif [ -x /opt/hacontain/venv/bin/python3 ]; then
        python=/opt/hacontain/venv/bin/python3
    else
        python=python3
        PYTHONPATH=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)${PYTHONPATH:+:$PYTHONPATH}
        export PYTHONPATH
    fi
}
