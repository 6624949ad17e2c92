#!/usr/bin/env bash
# Stop the private PostgreSQL started by start.sh RUNDIR (fast mode: rolls back open
# transactions, disconnects clients, checkpoints). Does nothing if it is not running.
set -euo pipefail

RUNDIR="${1:?usage: stop.sh RUNDIR}"
DATA="$RUNDIR/postgis/data"
[[ -f "$DATA/PG_VERSION" ]] || exit 0

PGBIN="${AUTOCNET_PG_BIN:-/usr/lib/postgresql/$(cat "$DATA/PG_VERSION")/bin}"
if runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
fi
