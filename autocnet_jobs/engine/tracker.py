"""The JobTracker: the shell around the retry policy (:mod:`.policy`), where job state lives.

One thread owns all state. It consumes callback events (from the Pyro5 daemon), future completions (from
Dask), acknowledgements (from the writer process) and its own clock, turns each into a typed policy event, and
carries out what :func:`.policy.decide` answers: hand a record to the writer, launch an attempt, save a row,
cancel or stop a task. Every attempt has its own Dask key, and events for an attempt that is no longer current
(a timed-out task that reports late) are ignored.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from typing import Any, Callable

from .. import errors
from ..catalogue.schema import JobState
from ..catalogue.writer import WriterProcess
from . import policy
from .job import TERMINAL, Job, catalogue_job
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
                 events: "queue.Queue[tuple]", process: Callable | None = None, callback_tls: dict | None = None):
        self.cfg = cfg
        self.client = client
        self.backend = backend
        self.settings = settings
        self.uri, self._token = uri, token
        self.process = process
        self.callback_tls = callback_tls  # the callback channel's TLS settings for the tasks (None: plain TCP)
        self.rules = policy.Rules(cfg["cluster"]["maxfailures"], cfg["cluster"]["job_timeout"], MAX_REQUEUES)
        self.events = events
        self.jobs: dict[str, Job] = {}
        self._by_attempt: dict[str, str] = {}  # attempt key -> path, for the attempts still current
        self._futures: dict[str, Any] = {}  # attempt key -> its Dask future
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
                history = list(job.errors) if job is not None else []
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
            return {p: j.state.value for p, j in self.jobs.items() if j.from_catalogue}

    def retry_failed(self) -> list[str]:
        """Resubmit every failed job with a fresh failure budget."""
        with self.lock:
            failed = [(j.path, j.size, j.mtime) for j in self.jobs.values() if j.state is JobState.FAILED]
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
            return {p: True if j.state is JobState.DONE else j.failures for p, j in self.jobs.items()}

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in JobState}
        with self.lock:
            for j in self.jobs.values():
                out[j.state.value] += 1
        return out

    def failed(self) -> list[str]:
        with self.lock:
            return sorted(p for p, j in self.jobs.items() if j.state is JobState.FAILED)

    def failure(self, path: str) -> dict | None:
        with self.lock:
            job = self.jobs.get(path)
            if job is None or not job.errors:
                return None
            last = job.errors[-1]
            # "failures": the failure count, as job_status and info() call it; "attempts" its older name here
            return {"path": path, "state": job.state.value, "failures": job.failures, "attempts": job.failures,
                    "kind": last["kind"],
                    "type": last.get("type"), "message": last.get("message"), "traceback": last.get("traceback"),
                    "worker": last.get("worker", {}), "log": last.get("log"), "history": list(job.errors)}

    def info(self, path: str) -> dict | None:
        """One job: state, failures so far, the worker of its latest attempt and that worker's log location."""
        with self.lock:
            job = self.jobs.get(path)
            if job is None:
                return None
            return {"path": path, "state": job.state.value, "failures": job.failures, "worker": dict(job.worker),
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
            self._apply(job, policy.Started(event[2], time.monotonic(), *self._stamp(job)))
        elif kind == "succeeded":
            self._apply(job, policy.Abandoned(self._db_error(), *self._stamp(job)) if self.db_error
                        else policy.Succeeded(event[2]))
        elif kind == "failed":
            self._apply(job, policy.Failed(event[2], *self._stamp(job)))
        elif kind == "done":
            future = event[2]
            exc = future.exception() if future.status == "error" else None
            self._apply(job, policy.FutureDone(future.status, type(exc).__name__ if future.status == "error" else None,
                                               str(exc) if exc is not None else "", *self._stamp(job)))

    def _stamp(self, job: Job) -> tuple[float, str | None]:
        """When, and where the log of the job's current worker is: what a failure counted now records."""
        return time.time(), (self.backend.worker_log(job.worker) if job.worker else None)

    def _apply(self, old: Job, event) -> Job:
        """Feed ``event`` to the policy and carry out its actions; the job as it then is."""
        job, actions = policy.decide(old, event, self.rules)
        future = self._futures.get(old.attempt) if old.attempt else None
        if old.attempt and job.attempt != old.attempt:  # that attempt is over: its late events are ignored
            self._by_attempt.pop(old.attempt, None)
            self._futures.pop(old.attempt, None)
        self.jobs[job.path] = job
        for action in actions:
            if isinstance(action, policy.Launch):
                job = self._launch(job)
            elif isinstance(action, policy.SaveRow):
                self._pending_rows.append(job.row())
            elif isinstance(action, policy.Write):
                self._unacked[job.path] = action.record
                self._pending_records.append(action.record)
            elif isinstance(action, policy.Cancel):
                if future is not None:
                    future.cancel()
            elif isinstance(action, policy.StopHung):
                self.watchdog.stop_hung(dict(action.worker), future)
        return job

    def _current(self, attempt: str) -> Job | None:
        path = self._by_attempt.get(attempt)
        job = self.jobs.get(path) if path else None
        if job is None or job.attempt != attempt or job.state in TERMINAL:
            return None
        return job

    def _launch_many(self, jobs: list[Job]) -> None:
        """Like :meth:`_launch` for each job, in one ``client.map``: one graph update for the scheduler, and the
        shared arguments serialised once, instead of one of each per job."""
        if len(jobs) < 2:
            for job in jobs:
                self._launch(job)
            return
        keys = [f"{TASK_PREFIX}-{uuid.uuid4().hex}" for _ in jobs]
        for job, key in zip(jobs, keys):
            self.jobs[job.path] = policy.launched(job, key)
            self._by_attempt[key] = job.path
        n = len(jobs)
        futures = self.client.map(run_job, [j.path for j in jobs], [self.settings] * n, keys, [self.uri] * n,
                                  [self._token] * n, [self.process] * n, key=keys, pure=False,
                                  callback_tls=self.callback_tls)
        callbacks = []
        for key, fut in zip(keys, futures):
            self._futures[key] = fut
            callbacks.append((fut, lambda f, k=key: self.events.put(("done", k, f))))
        # Registered from the client's event loop in one go: from this thread each add_done_callback wakes the
        # loop (a socket write and a GIL hand-over, ~0.15 ms: most of add_images' time for 10k images).
        self.client.loop.add_callback(_add_done_callbacks, callbacks)

    def _launch(self, job: Job) -> Job:
        key = f"{TASK_PREFIX}-{uuid.uuid4().hex}"
        self.jobs[job.path] = job = policy.launched(job, key)
        self._by_attempt[key] = job.path
        fut = self.client.submit(run_job, job.path, self.settings, key, self.uri, self._token, self.process,
                                 key=key, pure=False, callback_tls=self.callback_tls)
        self._futures[key] = fut
        fut.add_done_callback(lambda f, k=key: self.events.put(("done", k, f)))
        return job

    def _tick(self) -> None:
        if self.rules.job_timeout:
            now = time.monotonic()
            for job in [j for j in self.jobs.values() if j.state is JobState.RUNNING]:
                self._apply(job, policy.Tick(now, *self._stamp(job)))
        if not self.writer.alive() and not self.db_error:
            self._restart_writer()

    def _has_live_jobs(self) -> bool:
        # From the watchdog's thread, without the lock: list() copies the values in one step under the GIL.
        return any(j.state in (JobState.QUEUED, JobState.RUNNING) for j in list(self.jobs.values()))

    def _shutdown(self) -> None:
        live = [j for j in self.jobs.values() if j.state in (JobState.QUEUED, JobState.RUNNING)]
        futures = [self._futures[j.attempt] for j in live if j.attempt in self._futures]
        if futures:
            try:
                self.client.cancel(futures)
            except Exception:  # noqa: BLE001 - the cluster may already be gone
                pass
        self._futures.clear()
        self.watchdog.close()  # sends a worker exit still in flight: it would race with closing the cluster
        self._flush_to_writer()
        self.writer.stop()
        self._drain_writer()
        self.writer.release()
