#!/usr/bin/env bash
# Install autocnet_jobs into the repository's own virtualenv (.venv), idempotently.
# pip only: the embedded SQLite default needs nothing from apt. Services for the tests
# (PostGIS, Slurm) are installed and started by deploy/run_tests.sh.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PYTHON="${PYTHON:-python3}"

# Create the venv only once; a half-made one (no python inside) is rebuilt.
if [[ ! -x .venv/bin/python ]]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || { echo "install.sh: $PYTHON is older than 3.10" >&2; exit 1; }
    "$PYTHON" -m venv --clear .venv \
        || { echo "install.sh: '$PYTHON -m venv' failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }
fi

# Editable install with the test extra; pip skips what is already satisfied, so re-runs are quick.
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
