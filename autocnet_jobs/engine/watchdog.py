"""Keeps the cluster able to run jobs: ends hung workers, and brings back workers nothing else restores.

Two faults Dask does not repair by itself:

- A task past ``cluster.job_timeout`` is stopped by asking its worker to exit (``exit_worker`` runs on the
  worker's event loop; the nanny starts a fresh process). A worker whose event loop is stuck too (a C call
  holding the GIL, a stopped or swapped-out process) never runs it: after ``cluster.worker_grace`` seconds the
  backend ends it from outside (SIGKILL of the local process, ``scancel`` of its Slurm job).
- A worker that is gone and not coming back (a nanny whose restart failed, a worker that retired): while jobs
  wait, a worker slot the backend reports lost (no worker, and none starting) for ``cluster.worker_grace``
  seconds on end is refilled. Without this a LocalCluster that lost its workers waits forever. A worker that
  is merely slow to restart is never replaced: that would kill its start.

While jobs wait it also counts the live workers' threads (:attr:`Watchdog.slots`), which the tracker's in-flight
limit follows as workers come and go. Its own thread, so a slow scheduler round trip never holds up the tracker.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from .task import exit_worker

log = logging.getLogger(__name__)

# Worker states that still count as a worker able to take jobs.
_LIVE = ("running", "paused")


class Watchdog:
    interval = 1.0  # seconds between checks while jobs are pending

    def __init__(self, client, backend, grace: float, pending: Callable[[], bool]):
        self.client = client
        self.backend = backend
        self.grace = grace
        self.pending = pending
        self._lock = threading.Lock()
        self._exits: list[threading.Thread] = []
        self._hung: dict[str, tuple[dict, float]] = {}  # address -> (worker info, when to kill it)
        self._missing_since: dict[Any, float] = {}  # worker slot name -> when it was first seen without a worker
        self.slots: int | None = None  # worker threads of the live workers, as last seen (the in-flight limit)
        self.kills = 0  # workers ended from outside
        self.heals = 0  # times the backend was asked to restore its workers
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="autocnet-watchdog", daemon=True)
        self._thread.start()

    def stop_hung(self, worker: dict, future: Any) -> None:
        """Stop a timed-out task: restart its worker, then cancel it. Called from the tracker; never blocks."""
        address = worker.get("address")
        if address:
            with self._lock:
                self._hung[address] = (dict(worker), time.monotonic() + self.grace)
        # Its own thread: the request does not return while the worker's event loop is stuck.
        t = threading.Thread(target=self._exit_then_cancel, args=(address, future), daemon=True)
        t.start()
        self._exits = [x for x in self._exits if x.is_alive()] + [t]
        self._wake.set()

    def close(self) -> None:
        """Stop checking, and let exit requests in flight finish (closing the cluster would race them)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(60)
        for t in self._exits:
            t.join(60)

    def _exit_then_cancel(self, address: str | None, fut: Any) -> None:
        # Not the other way round: cancelling first frees the worker's slot in the scheduler, which at once
        # sends it the next task (often this job's own retry), and the exit then kills that one as well.
        if address:
            try:
                self.client.run(exit_worker, workers=[address], wait=False)
            except Exception as e:  # noqa: BLE001 - the worker is gone (it may have been killed meanwhile)
                log.info("worker %s did not take the exit request: %s", address, e)
        if fut is not None:  # a stale attempt: its outcome (KilledWorker by now) is ignored
            try:
                fut.cancel()
            except Exception:  # noqa: BLE001 - the client is closing
                pass

    # ---- the watchdog thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._check()
            except Exception:  # noqa: BLE001 - a failed check must not end the watchdog
                log.warning("worker watchdog check failed", exc_info=True)

    def _check(self) -> None:
        pending = self.pending()
        if not self._hung and not pending:
            # Nothing to look at: skip the scheduler round trip (its answer grows with the number of workers).
            self._missing_since.clear()
            return
        workers = self.client.scheduler_info()["workers"]
        self.slots = sum(int(info.get("nthreads") or 1) for info in workers.values()
                         if info.get("status", "running") in _LIVE)
        now = time.monotonic()
        with self._lock:
            hung = list(self._hung.items())
        for address, (worker, deadline) in hung:
            if address not in workers:
                with self._lock:
                    self._hung.pop(address, None)  # it exited; its nanny (or adapt) replaces it
            elif now >= deadline:
                with self._lock:
                    self._hung.pop(address, None)
                log.warning("worker %s did not exit %.0f s after its task timed out; ending it", address,
                            self.grace)
                if self.backend.kill_worker(worker):
                    self.kills += 1
        if not pending or not self.backend.refills_slots:
            self._missing_since.clear()
            return
        connected = {info.get("name") for info in workers.values() if info.get("status", "running") in _LIVE}
        missing = self.backend.lost_slots(connected)
        self._missing_since = {n: self._missing_since.get(n, now) for n in missing}
        lost = {n for n, since in self._missing_since.items() if now - since >= self.grace}
        if lost:
            log.warning("jobs are waiting and worker slot(s) %s have been lost for %.0f s; replacing them",
                        sorted(map(str, lost)), self.grace)
            self.backend.heal(lost)
            self.heals += 1
            for n in lost:
                del self._missing_since[n]
