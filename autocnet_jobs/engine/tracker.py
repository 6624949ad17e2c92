"""The JobTracker: the one place where job state and the retry policy live.

One thread owns all state. It consumes callback events (from the Pyro5 daemon), future completions (from
Dask) and acknowledgements (from the writer process), and decides: hand a record to the writer, resubmit a
failed attempt, or give a job up after ``cluster.maxfailures`` failures. Exceptions, worker deaths and
timeouts each count once; the count never resets within a run. Every attempt has its own Dask key, and
events for an attempt that is no longer current (a timed-out task that reports late) are ignored.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from typing import Any, Callable

from .. import errors
from ..catalogue.writer import WriterProcess
from .job import PERMANENT_KINDS, TERMINAL, Job, catalogue_job, worker_label
from .task import TASK_PREFIX, run_job
from .watchdog import Watchdog
from .writer_link import WriterLink

log = logging.getLogger(__name__)

MAX_REQUEUES = 10


def _add_done_callbacks(pairs: list[tuple[Any, Callable]]) -> None:
    for fut, fn in pairs:
        fut.add_done_callback(fn)


class JobTracker(WriterLink):
    def __init__(self, cfg: dict, client, backend, writer: WriterProcess, settings: dict, uri: str, token: str,
                 events: "queue.Queue[tuple]", process: Callable | None = None):
        self.cfg = cfg
        self.client = client
        self.backend = backend
        self.settings = settings
        self.uri, self._token = uri, token
        self.process = process
        self.maxfailures: int = cfg["cluster"]["maxfailures"]
        self.job_timeout: float | None = cfg["cluster"]["job_timeout"]
        self.events = events
        self.jobs: dict[str, Job] = {}
        self._by_attempt: dict[str, str] = {}
        self._unacked: dict[str, dict] = {}
        self._pending_records: list[dict] = []
        self._pending_rows: list[dict] = []
        self._known_waiters: dict[str, list] = {}
        self._writer_restarts = 0  # deaths since the last commit: the same records killing it again and again
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.db_down: str | None = None
        self.db_error: str | None = None  # the writer cannot ever write (e.g. a schema mismatch): the run is over
        self.writer = writer
        self.watchdog = Watchdog(client, backend, cfg["cluster"]["worker_grace"], self._has_live_jobs)
        self._thread = threading.Thread(target=self._run, name="autocnet-tracker", daemon=True)
        self._stopped = threading.Event()
        self._thread.start()

    # ---- called from the caller's thread ----------------------------------------------------------------
    def submit(self, items: list[tuple[str, int | None, float | None]], force: bool = False) -> list[str]:
        """Start a job per (path, size, mtime) unless one is already live or done (without ``force``)."""
        submitted, launch = [], []
        with self.lock:
            for path, size, mtime in items:
                job = self.jobs.get(path)
                # A live job is never started twice (it would race with itself); a terminal one only by force.
                if job is not None and (job.state not in TERMINAL or not force):
                    continue
                # A fresh failure budget, but the history of earlier attempts stays readable.
                history = job.errors if job is not None else []
                self.jobs[path] = job = Job(path, size, mtime, errors=history)
                self._pending_rows.append(job.row())
                launch.append(job)
                submitted.append(path)
            self._launch_many(launch)
            self.changed.notify_all()
        return submitted

    def mark_known(self, items: list[tuple[str, int | None, float | None, dict]]) -> None:
        """Record images skipped because the catalogue knows them, as (path, size, mtime, what it holds), so
        ``job_status``, ``failed_jobs`` and ``failure`` report them: True, or failed with the stored reason."""
        with self.lock:
            for path, size, mtime, prior in items:
                if path not in self.jobs:
                    self.jobs[path] = catalogue_job(path, size, mtime, prior)

    def skipped(self) -> dict[str, str]:
        """``{path: "done" | "failed"}`` of the images not run because the catalogue already held them."""
        with self.lock:
            return {p: j.state for p, j in self.jobs.items() if j.from_catalogue}

    def retry_failed(self) -> list[str]:
        """Resubmit every failed job with a fresh failure budget."""
        with self.lock:
            failed = [(j.path, j.size, j.mtime) for j in self.jobs.values() if j.state == "failed"]
            return self.submit(failed, force=True)

    def known(self, timeout: float = 600.0) -> dict[str, dict]:
        """What the catalogue already holds, asked of the writer (the only process with a connection)."""
        req = uuid.uuid4().hex
        box: list = []
        done = threading.Event()
        with self.lock:
            if self.db_error:
                raise errors.DatabaseUnavailable(self.db_error)
            self._known_waiters[req] = [box, done]
        self.events.put(("known_request", req))
        if not done.wait(timeout):
            raise errors.DatabaseUnavailable("the database writer did not answer within %.0f s" % timeout)
        if not box:  # released unanswered: the writer cannot continue
            raise errors.DatabaseUnavailable(self.db_error or "the database writer stopped")
        return box[0]

    def wait(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            # Woken after every batch of events: look from the first job not yet seen terminal (jobs end roughly
            # in submission order) instead of scanning every job each time; rescan all once that list is through.
            pending, i = [p for p, j in self.jobs.items() if j.state not in TERMINAL], 0
            while True:
                while i < len(pending) and self.jobs[pending[i]].state in TERMINAL:
                    i += 1
                if i == len(pending):
                    pending, i = [p for p, j in self.jobs.items() if j.state not in TERMINAL], 0
                    if not pending:
                        return
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    n = sum(j.state not in TERMINAL for j in self.jobs.values())
                    raise TimeoutError(f"{n} jobs still running after {timeout} s")
                if not self._thread.is_alive():
                    raise RuntimeError("the job tracker stopped; see the log for the reason")
                if getattr(self.backend, "error", None):
                    raise errors.AutocnetJobsError(f"the cluster cannot run jobs: {self.backend.error}")
                self.changed.wait(0.5 if left is None else min(left, 0.5))

    def status(self) -> dict[str, bool | int]:
        with self.lock:
            return {p: True if j.state == "done" else j.failures for p, j in self.jobs.items()}

    def counts(self) -> dict[str, int]:
        out = {"queued": 0, "running": 0, "writing": 0, "done": 0, "failed": 0}
        with self.lock:
            for j in self.jobs.values():
                out[j.state] += 1
        return out

    def failed(self) -> list[str]:
        with self.lock:
            return sorted(p for p, j in self.jobs.items() if j.state == "failed")

    def failure(self, path: str) -> dict | None:
        with self.lock:
            job = self.jobs.get(path)
            if job is None or not job.errors:
                return None
            last = job.errors[-1]
            # "failures": the failure count, as job_status and info() call it; "attempts" its older name here
            return {"path": path, "state": job.state, "failures": job.failures, "attempts": job.failures,
                    "kind": last["kind"],
                    "type": last.get("type"), "message": last.get("message"), "traceback": last.get("traceback"),
                    "worker": last.get("worker", {}), "log": last.get("log"), "history": list(job.errors)}

    def info(self, path: str) -> dict | None:
        """One job: state, failures so far, the worker of its latest attempt and that worker's log location."""
        with self.lock:
            job = self.jobs.get(path)
            if job is None:
                return None
            return {"path": path, "state": job.state, "failures": job.failures, "worker": dict(job.worker),
                    "log": self.backend.worker_log(job.worker) if job.worker else None,
                    "history": list(job.errors), "requeues": job.requeues}

    def close(self) -> None:
        if self._thread.is_alive():
            self.events.put(("stop",))
            self._thread.join(120)
        self._stopped.set()

    # ---- the tracker thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        next_tick = 0.0
        while True:
            try:
                batch = [self.events.get(timeout=0.05)]
            except queue.Empty:
                batch = []
            while True:
                try:
                    batch.append(self.events.get_nowait())
                except queue.Empty:
                    break
            with self.lock:
                for event in batch:
                    if event[0] == "stop":
                        self._shutdown()
                        return
                    try:
                        self._handle(event)
                    except Exception:  # noqa: BLE001 - one bad event must not stop the tracker
                        log.exception("tracker could not handle %s", event[0])
                self._drain_writer()
                if time.monotonic() >= next_tick:
                    self._tick()
                    next_tick = time.monotonic() + 0.5
                self._flush_to_writer()
                self.changed.notify_all()

    def _handle(self, event: tuple) -> None:
        kind = event[0]
        if kind == "known_request":
            self.writer.send(("known", event[1]))
            return
        job = self._current(event[1])
        if job is None:
            return
        if kind == "started":
            # A start from another worker for an attempt already running (the same worker re-sending after a
            # dropped connection is not one).
            moved = (job.worker.get("address"), job.worker.get("pid")) != (event[2].get("address"), event[2].get("pid"))
            if job.state == "running" and moved and self._rerun_by_dask(job):
                return
            job.state, job.started_at, job.worker = "running", time.monotonic(), event[2]
            self._pending_rows.append(job.row())
        elif kind == "succeeded":
            if self.db_error:
                self._count(job, self._db_error())
                self._give_up(job)
                return
            record = dict(event[2], path=job.path, _attempts=job.failures + 1, _worker=worker_label(job.worker))
            job.state = "writing"
            self._unacked[job.path] = record
            self._pending_records.append(record)
        elif kind == "failed":
            self._fail(job, event[2])
        elif kind == "done":
            self._future_done(job, event[2])

    def _rerun_by_dask(self, job: Job) -> bool:
        """A second start of the same attempt: its worker left the cluster in a way Dask does not count (a
        graceful close) and Dask started it again elsewhere. Our policy counts it as the worker death it was.
        True when that used up the job's budget (the job is then failed and the re-run ignored)."""
        self._count(job, {"kind": errors.WORKER_DIED, "type": "WorkerLeft",
                          "message": "the worker running this job left the cluster; Dask started it again"})
        if job.failures < self.maxfailures:
            return False
        fut = job.future
        self._give_up(job)
        if fut is not None:
            fut.cancel()
        return True

    def _current(self, attempt: str) -> Job | None:
        path = self._by_attempt.get(attempt)
        job = self.jobs.get(path) if path else None
        if job is None or job.attempt != attempt or job.state in TERMINAL:
            return None
        return job

    def _future_done(self, job: Job, future) -> None:
        self._by_attempt.pop(job.attempt, None)
        job.future = None
        if job.state not in ("queued", "running"):
            return  # its callback already decided the outcome
        if future.status == "error":
            exc = future.exception()
            if type(exc).__name__ == "KilledWorker" and job.state == "queued" and job.requeues < MAX_REQUEUES:
                # It died with a worker before it started (e.g. sent to a worker being restarted): the image
                # is not to blame, so it goes back in the queue without a failure (bounded, in case it is).
                job.requeues += 1
                self._launch(job)
                return
            if type(exc).__name__ == "KilledWorker":
                error = {"kind": errors.WORKER_DIED, "type": "KilledWorker",
                         "message": f"the worker running this job died ({exc})"}
            else:
                error = {"kind": errors.CALLBACK_ERROR, "type": type(exc).__name__,
                         "message": f"the job could not report back: {exc}"}
        elif future.status == "cancelled":
            error = {"kind": errors.WORKER_DIED, "type": "CancelledError", "message": "the task was cancelled"}
        else:
            error = {"kind": errors.UNEXPECTED, "type": "NoCallback", "message": "the task ended without reporting"}
        self._fail(job, error)

    def _count(self, job: Job, error: dict) -> None:
        job.failures += 1
        job.errors.append(dict(error, attempt=job.failures, worker=dict(job.worker), time=time.time(),
                               log=self.backend.worker_log(job.worker) if job.worker else None))

    def _fail(self, job: Job, error: dict) -> None:
        self._count(job, error)
        if job.attempt:
            self._by_attempt.pop(job.attempt, None)
        if error.get("kind") in PERMANENT_KINDS or job.failures >= self.maxfailures:
            self._give_up(job)
        else:
            self._launch(job)
            self._pending_rows.append(job.row())

    def _give_up(self, job: Job) -> None:
        self._by_attempt.pop(job.attempt, None)
        job.state, job.attempt, job.future = "failed", None, None
        self._pending_rows.append(job.row())

    def _launch_many(self, jobs: list[Job]) -> None:
        """Like :meth:`_launch` for each job, in one ``client.map``: one graph update for the scheduler, and the
        shared arguments serialised once, instead of one of each per job."""
        if len(jobs) < 2:
            for job in jobs:
                self._launch(job)
            return
        keys = [f"{TASK_PREFIX}-{uuid.uuid4().hex}" for _ in jobs]
        for job, key in zip(jobs, keys):
            job.attempt, job.state, job.started_at, job.worker = key, "queued", None, {}
            self._by_attempt[key] = job.path
        n = len(jobs)
        futures = self.client.map(run_job, [j.path for j in jobs], [self.settings] * n, keys, [self.uri] * n,
                                  [self._token] * n, [self.process] * n, key=keys, pure=False)
        callbacks = []
        for job, key, fut in zip(jobs, keys, futures):
            job.future = fut
            callbacks.append((fut, lambda f, k=key: self.events.put(("done", k, f))))
        # Registered from the client's event loop in one go: from this thread each add_done_callback wakes the
        # loop (a socket write and a GIL hand-over, ~0.15 ms: most of add_images' time for 10k images).
        self.client.loop.add_callback(_add_done_callbacks, callbacks)

    def _launch(self, job: Job) -> None:
        key = f"{TASK_PREFIX}-{uuid.uuid4().hex}"
        job.attempt, job.state, job.started_at, job.worker = key, "queued", None, {}
        self._by_attempt[key] = job.path
        fut = self.client.submit(run_job, job.path, self.settings, key, self.uri, self._token, self.process,
                                 key=key, pure=False)
        job.future = fut
        fut.add_done_callback(lambda f, k=key: self.events.put(("done", k, f)))

    def _tick(self) -> None:
        now = time.monotonic()
        if self.job_timeout:
            for job in list(self.jobs.values()):
                if job.state == "running" and job.started_at and now - job.started_at > self.job_timeout:
                    self._stop_hung(job)
                    self._fail(job, {"kind": errors.TIMEOUT, "type": "JobTimeout",
                                     "message": f"no result within cluster.job_timeout={self.job_timeout} s"})
        if not self.writer.alive() and not self.db_error:
            self._restart_writer()

    def _stop_hung(self, job: Job) -> None:
        fut, job.future = job.future, None
        self.watchdog.stop_hung(job.worker, fut)

    def _has_live_jobs(self) -> bool:
        # From the watchdog's thread, without the lock: list() copies the values in one step under the GIL.
        return any(j.state in ("queued", "running") for j in list(self.jobs.values()))

    def _shutdown(self) -> None:
        live = [j for j in self.jobs.values() if j.state in ("queued", "running")]
        futures = [j.future for j in live if j.future is not None]
        if futures:
            try:
                self.client.cancel(futures)
            except Exception:  # noqa: BLE001 - the cluster may already be gone
                pass
        for job in live:
            job.future = None
        self.watchdog.close()  # sends a worker exit still in flight: it would race with closing the cluster
        self._flush_to_writer()
        self.writer.stop()
        self._drain_writer()
        self.writer.release()
