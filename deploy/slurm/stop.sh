#!/usr/bin/env bash
# Stop the private Slurm started by start.sh RUNDIR: cancel every job, then slurmd, slurmctld
# and munged by their pid files, and wait until they are gone. Safe to run twice.
set -euo pipefail

RUNDIR="${1:?usage: stop.sh RUNDIR}"
SDIR="$RUNDIR/slurm"
[[ -d "$SDIR" ]] || exit 0
export SLURM_CONF="$SDIR/slurm.conf"
PATH="$PATH:/usr/sbin:/sbin"

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Cancel jobs while slurmd is still up, so their processes (and slurmstepd) are killed cleanly.
if alive "$SDIR/slurmctld.pid" && [[ -f "$SLURM_CONF" ]]; then
    jobs="$(timeout 10 squeue -h -o %A 2>/dev/null || true)"
    if [[ -n "$jobs" ]]; then
        # shellcheck disable=SC2086  # one job id per word
        timeout 10 scancel $jobs 2>/dev/null || true
        for _ in $(seq 1 75); do   # KillWait=5 s, so jobs end well within 15 s
            [[ -z "$(timeout 5 squeue -h -o %A 2>/dev/null || true)" ]] && break
            sleep 0.2
        done
    fi
fi

# TERM the given daemons (PIDFILE:NAME) at once, wait up to 10 s for them to exit, then KILL the
# rest. The name check keeps a stale pid file from hitting an unrelated process that reused the pid.
stop_pidfiles() {
    local arg pidfile name pid pids=() left
    for arg in "$@"; do
        pidfile="${arg%:*}" name="${arg##*:}"
        [[ -f "$pidfile" ]] || continue
        pid="$(cat "$pidfile")"
        if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$name" ]] && kill -TERM "$pid" 2>/dev/null; then
            pids+=("$pid")
        fi
        rm -f "$pidfile"
    done
    for _ in $(seq 1 100); do
        left=()
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2>/dev/null && left+=("$pid")
        done
        ((${#left[@]})) || return 0
        pids=("${left[@]}")
        sleep 0.1
    done
    echo "slurm/stop.sh: ${pids[*]} ignored SIGTERM; killing" >&2
    kill -KILL "${pids[@]}" 2>/dev/null || true
}

# slurmd and slurmctld do not need each other to shut down; munged goes last (they use it).
stop_pidfiles "$SDIR/slurmd.pid:slurmd" "$SDIR/slurmctld.pid:slurmctld"
stop_pidfiles "$SDIR/munge/munged.pid:munged"
