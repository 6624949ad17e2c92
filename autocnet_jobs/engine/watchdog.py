"""Keeps the cluster able to run jobs: ends hung workers, and brings back workers nothing else restores.

Two faults Dask does not repair by itself:

- A task past ``cluster.job_timeout`` is stopped by asking its worker to exit (``exit_worker`` runs on the
  worker's event loop; the nanny starts a fresh process). A worker whose event loop is stuck too (a C call
  holding the GIL, a stopped or swapped-out process) never runs it: after ``cluster.worker_grace`` seconds the
  backend ends it from outside (SIGKILL of the local process, ``scancel`` of its Slurm job). Just before, its
  nanny reads which image each of its task threads is on (:func:`.task.running_attempts`) and the tracker hears
  it (``hung_on``): the events of the last images before the hang are still inside the stuck worker. Its tasks
  end as Dask sees it die; a task is cancelled here only when its worker left by itself or could not be ended.
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

from .task import exit_worker, running_attempts

log = logging.getLogger(__name__)

# Worker states that still count as a worker able to take jobs.
_LIVE = ("running", "paused")


class Watchdog:
    interval = 1.0  # seconds between checks while jobs are pending
    probe_timeout = 10.0  # seconds the nanny of a worker about to be killed gets to say what it runs

    def __init__(self, client, backend, grace: float, pending: Callable[[], bool],
                 hung_on: Callable[[dict, list[str] | None], None] | None = None):
        self.client = client
        self.backend = backend
        self.grace = grace
        self.pending = pending
        # Told, before a hung worker is killed, the attempts its task threads were running (None: not known).
        self.hung_on = hung_on
        self._lock = threading.Lock()
        self._exits: list[threading.Thread] = []
        # address -> (worker info, when to kill it, the futures of the timed-out tasks on it)
        self._hung: dict[str, tuple[dict, float, list]] = {}
        self._missing_since: dict[Any, float] = {}  # worker slot name -> when it was first seen without a worker
        self.slots: int | None = None  # worker threads of the live workers, as last seen (the in-flight limit)
        self.kills = 0  # workers ended from outside
        self.heals = 0  # times the backend was asked to restore its workers
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="autocnet-watchdog", daemon=True)
        self._thread.start()

    def stop_hung(self, worker: dict, future: Any) -> None:
        """Stop a timed-out task by restarting its worker. Called from the tracker; never blocks."""
        address = worker.get("address")
        if not address:  # no worker to stop: only the task can be
            _cancel([future])
            return
        with self._lock:
            old = self._hung.get(address)
            if old is not None and old[0].get("pid") == worker.get("pid"):  # a second timeout keeps the first's
                self._hung[address] = (old[0], old[1], [*old[2], future])
            else:
                self._hung[address] = (dict(worker), time.monotonic() + self.grace, [future])
        # Its own thread: the request does not return while the worker's event loop is stuck.
        t = threading.Thread(target=self._exit, args=(address,), daemon=True)
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

    def _exit(self, address: str) -> None:
        # The task is not cancelled: that would free the worker's slot in the scheduler, which at once sends it
        # the next task (often this job's own retry), and end the task before the worker does, while it may still
        # have to say which image hung. Its end comes when the worker dies (KilledWorker).
        try:
            self.client.run(exit_worker, workers=[address], wait=False)
        except Exception as e:  # noqa: BLE001 - the worker is gone (it may have been killed meanwhile)
            log.info("worker %s did not take the exit request: %s", address, e)

    def _probe(self, worker: dict) -> list[str] | None:
        """What the task threads of a stuck worker are running, asked of its nanny (the worker itself cannot
        answer); None when that cannot be known (no nanny, no answer within :attr:`probe_timeout`)."""
        address = worker.get("address")
        try:
            pid = int(worker.get("pid") or 0)
        except ValueError:
            return None
        if not pid:
            return None
        box: list = []

        def ask() -> None:
            try:
                box.append(self.client.run(running_attempts, pid, workers=[address], nanny=True))
            except Exception as e:  # noqa: BLE001 - no nanny, or it is gone too
                log.info("could not ask the nanny of worker %s what it runs: %s", address, e)

        t = threading.Thread(target=ask, name="autocnet-probe", daemon=True)
        t.start()
        t.join(self.probe_timeout)
        answers = list(box[0].values()) if box else []
        return answers[0] if len(answers) == 1 and isinstance(answers[0], list) else None

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
        for address, (worker, deadline, futures) in hung:
            if address not in workers:
                with self._lock:
                    self._hung.pop(address, None)  # it exited; its nanny (or adapt) replaces it
                _cancel(futures)  # ended with it (KilledWorker) unless Dask started it elsewhere
            elif now >= deadline:
                with self._lock:
                    self._hung.pop(address, None)
                log.warning("worker %s did not exit %.0f s after its task timed out; ending it", address,
                            self.grace)
                if self.hung_on is not None:
                    self.hung_on(worker, self._probe(worker))
                if self.backend.kill_worker(worker):
                    self.kills += 1
                else:  # it stays stuck: at least its timed-out tasks end, so their slots free up
                    _cancel(futures)
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


def _cancel(futures: list) -> None:
    for fut in futures:
        if fut is not None:
            try:
                fut.cancel()
            except Exception:  # noqa: BLE001 - the client is closing
                pass
