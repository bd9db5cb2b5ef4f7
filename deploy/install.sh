#!/usr/bin/env bash
# Install hacontain on a cluster node, as root: a virtualenv with hacontain and
# its Python dependencies, the `hacontain` command and the OCF agent, plus the
# few Debian packages they need. Safe on a node in a running cluster: it never
# stops, starts or restarts a service, and installs nothing but that.
#
#   bash deploy/install.sh [--editable] [--root DIR] [SOURCE]
#
# SOURCE      what to install: this checkout (default), or a built wheel
#             (a checkout is built here, which needs a C compiler for the console
#             holder: gcc and libc6-dev; a wheel, made once with
#             `pip wheel --no-deps CHECKOUT` on a machine that has them, needs none)
# --editable  install SOURCE in development mode with the test extras
#             (deploy/testbed.sh does, for a test machine)
# --root DIR  install below DIR instead of / (Debian packages are left alone)
#
# HACONTAIN_VENV moves the virtualenv (default ROOT/opt/hacontain/venv).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source=$here
editable=
root=/
while [ $# -gt 0 ]; do
    case "$1" in
        --editable) editable=1; shift ;;
        --root) root=$2; shift 2 ;;
        -*) echo "deploy/install.sh: unknown option $1" >&2; exit 2 ;;
        *) source=$1; shift ;;
    esac
done
root=${root%/}
venv=${HACONTAIN_VENV:-$root/opt/hacontain/venv}

if [ "$(id -u)" != 0 ]; then
    echo "deploy/install.sh: must run as root" >&2
    exit 1
fi

if [ -d "$source" ] && ! command -v "${CC:-cc}" >/dev/null; then
    echo "deploy/install.sh: building $source needs a C compiler, cc, and libc6-dev," \
         "or install a wheel built elsewhere: pip wheel --no-deps $source" >&2
    exit 1
fi

# The interpreter, venv, the templates' tools (hacontain create -t busybox|debian) and
# zstd and rsync for backups (rsync: suspend mode).
# None of them runs a daemon.
packages=(python3 python3-venv busybox-static debootstrap zstd rsync)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ -n "$root" ]; then
        echo "deploy/install.sh: install these Debian packages first: ${missing[*]}" >&2
        exit 1
    fi
    # needrestart, where installed, would restart services after apt: not here.
    export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Where containers and their node-local settings live.
install -d -m 755 "$root/etc/hacontain" "$root/var/lib/hacontain" "$root/usr/local/bin"

if [ ! -x "$venv/bin/python3" ]; then
    /usr/bin/python3 -m venv "$venv"
fi
if [ -n "$editable" ]; then
    "$venv/bin/pip" install -q --disable-pip-version-check -e "$source[test]"
else
    "$venv/bin/pip" install -q --disable-pip-version-check "$source"
fi
ln -sf "$venv/bin/hacontain" "$root/usr/local/bin/hacontain"
"$venv/bin/hacontain" install-agent --root "${root:-/}"
# The fast `hacontain` command (over the venv's, which /usr/local/bin/hacontain links
# to), bash completion and the man pages.
"$venv/bin/hacontain" install-cli --root "${root:-/}" >/dev/null
