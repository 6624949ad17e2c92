#!/usr/bin/env bash
# The test entry point (README, CI): install what is missing, lint (ruff check), check the import contracts, start a
# private PostGIS and a private single-node Slurm, run pytest against them, always stop them, exit with pytest's code.
# Usage: bash deploy/run_tests.sh [pytest args...]
# AUTOCNET_KEEP_RUNDIR=1 keeps the run dir (logs, data) after the run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# System packages the services need; installed only when missing (CI starts on a fresh machine).
APT_PACKAGES=(munge slurmctld slurmd slurm-client postgresql-15 postgresql-15-postgis-3 chromium gdal-bin)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "run_tests.sh: installing ${missing[*]}" >&2
    SUDO=()
    ((EUID == 0)) || SUDO=(sudo)
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

bash deploy/install.sh

# Lint (pyproject.toml, [tool.ruff]) and the import contracts (setup.cfg, [importlinter]) before anything is
# started: either failing fails the run.
.venv/bin/ruff check
.venv/bin/lint-imports

RUNDIR="$(mktemp -d /tmp/autocnet-ci.XXXXXX)"
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    bash deploy/slurm/stop.sh "$RUNDIR" || echo "run_tests.sh: slurm/stop.sh failed" >&2
    bash deploy/postgis/stop.sh "$RUNDIR" || echo "run_tests.sh: postgis/stop.sh failed" >&2
    if [[ "${AUTOCNET_KEEP_RUNDIR:-0}" == 1 ]]; then
        echo "run_tests.sh: kept $RUNDIR" >&2
    else
        rm -rf "$RUNDIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t0=$SECONDS
bash deploy/postgis/start.sh "$RUNDIR"
bash deploy/slurm/start.sh "$RUNDIR"
echo "run_tests.sh: PostGIS and Slurm up in $((SECONDS - t0)) s under $RUNDIR" >&2

# What the tests read (tests/services.py): URLs, the PostgreSQL control script, SLURM_CONF.
# shellcheck disable=SC1091
source "$RUNDIR/postgis.env"
# shellcheck disable=SC1091
source "$RUNDIR/slurm.env"
export AUTOCNET_CI_RUNDIR="$RUNDIR"
export AUTOCNET_REQUIRE_SERVICES=1

rc=0
.venv/bin/python -m pytest -p tests.services "$@" || rc=$?
if ((rc == 5)); then
    echo "run_tests.sh: pytest collected no tests; treating as failure" >&2
    rc=1
fi
exit "$rc"
