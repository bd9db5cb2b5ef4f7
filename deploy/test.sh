#!/usr/bin/env bash
# Set up this machine for testing (deploy/testbed.sh) and run
# the whole test suite as root. Extra arguments go to pytest.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/deploy/testbed.sh"
cd "$here"
set +e
/opt/hacontain/venv/bin/python -m pytest -ra "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
    echo "deploy/test.sh: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
