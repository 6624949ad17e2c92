#!/usr/bin/env bash
# Start a private single-node Slurm (own munged, slurmctld, slurmd) under RUNDIR/slurm.
# Usage: start.sh RUNDIR      Writes RUNDIR/slurm.env (export SLURM_CONF=..., AUTOCNET_SLURM_RUNDIR=...).
# Runs as root (slurmd must); needs the munge, slurmctld, slurmd and slurm-client packages.
set -euo pipefail

RUNDIR="${1:?usage: start.sh RUNDIR}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUNDIR="$(mkdir -p "$RUNDIR" && cd "$RUNDIR" && pwd)"
SDIR="$RUNDIR/slurm"
MDIR="$SDIR/munge"
CONF="$SDIR/slurm.conf"
TIMEOUT="${AUTOCNET_SLURM_START_TIMEOUT:-30}"

for exe in munged slurmctld slurmd sinfo; do
    command -v "$exe" >/dev/null || PATH="$PATH:/usr/sbin:/sbin"
    command -v "$exe" >/dev/null || { echo "slurm/start.sh: $exe not found (apt-get install munge slurmctld slurmd slurm-client)" >&2; exit 1; }
done

# Print the logs and stop whatever came up, so a failed start leaves nothing behind.
fail() {
    echo "slurm/start.sh: $*" >&2
    local f
    for f in "$MDIR/munged.log" "$SDIR/slurmctld.log" "$SDIR/slurmd.log"; do
        [[ -f "$f" ]] && { echo "----- $f (tail)" >&2; tail -n 25 "$f" >&2; }
    done
    bash "$HERE/stop.sh" "$RUNDIR" >&2 || true
    exit 1
}

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# munged runs as user munge, refuses group/other-writable dirs and a readable key, and wants
# its socket dir searchable by all (0755); the run dir itself only needs to be traversable.
chmod a+x "$RUNDIR"
mkdir -p "$SDIR/state" "$SDIR/spool" "$MDIR"
chmod 755 "$SDIR"
chown munge: "$MDIR"
chmod 755 "$MDIR"   # clients need to reach the socket; key stays 0400
export SLURM_CONF="$CONF"

if ! alive "$MDIR/munged.pid"; then
    if [[ ! -f "$MDIR/munge.key" ]]; then
        head -c 1024 /dev/urandom > "$MDIR/munge.key"
        chown munge: "$MDIR/munge.key"
        chmod 400 "$MDIR/munge.key"
    fi
    # munged forks once it listens, so the socket exists when this returns.
    runuser -u munge -- munged --socket="$MDIR/munge.socket" --key-file="$MDIR/munge.key" \
        --pid-file="$MDIR/munged.pid" --log-file="$MDIR/munged.log" --seed-file="$MDIR/munged.seed" \
        || fail "munged did not start"
fi

if [[ ! -f "$CONF" ]]; then
    mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)
    ctld_port=$(free_port)
    slurmd_port=$(free_port)
    while [[ "$slurmd_port" == "$ctld_port" ]]; do slurmd_port=$(free_port); done
    sed -e "s|@RUNDIR@|$SDIR|g" -e "s|@CTLD_PORT@|$ctld_port|" -e "s|@SLURMD_PORT@|$slurmd_port|" \
        -e "s|@MUNGE_SOCKET@|$MDIR/munge.socket|" -e "s|@CPUS@|$(nproc)|" -e "s|@REAL_MEMORY@|$mem_mb|" \
        "$HERE/slurm.conf.in" > "$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
fi

# Both daemonise and write their pid files; -N: the machine's hostname is not "localhost".
if ! alive "$SDIR/slurmctld.pid"; then
    slurmctld -f "$CONF" || fail "slurmctld did not start"
fi
if ! alive "$SDIR/slurmd.pid"; then
    slurmd -N localhost -f "$CONF" || fail "slurmd did not start"
fi

# Ready when the node registered and is idle (or already running jobs, on a restart).
deadline=$((SECONDS + TIMEOUT))
state=""
until [[ "$state" =~ ^(idle|mix|alloc)$ ]]; do
    ((SECONDS < deadline)) || fail "node not idle after ${TIMEOUT}s (sinfo state: '${state}')"
    sleep 0.2
    state="$(sinfo -h -o %t 2>/dev/null | head -n 1 || true)"
done

cat > "$RUNDIR/slurm.env" <<ENV
export SLURM_CONF='$CONF'
export AUTOCNET_SLURM_RUNDIR='$SDIR'
ENV
