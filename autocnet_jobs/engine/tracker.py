"""The JobTracker: the shell around the retry policy (:mod:`.policy`), where job state lives.

One thread owns all state. It consumes callback events (from the Pyro5 daemon), task completions (from Dask),
acknowledgements (from the writer process) and its own clock, turns each into a typed policy event, and carries
out what :func:`.policy.decide` answers: hand a record to the writer, queue an attempt, save a row, cancel or stop
a task. Queued images wait here and go to Dask a few tasks per worker slot at a time, several images per task
(:mod:`.dispatch`). Every attempt has its own key, and events for an attempt that is no longer current (a
timed-out image that reports late) are ignored. Counts by state are kept as jobs change, so ``progress()`` and
``wait()`` cost the same for ten images as for a million.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from typing import Callable

from .. import errors
from ..catalogue.schema import JobState
from ..catalogue.writer import WriterProcess
from . import policy
from .dispatch import Dispatcher
from .job import TERMINAL, Job, catalogue_job, job_of
from .watchdog import Watchdog
from .writer_link import WriterLink

log = logging.getLogger(__name__)

MAX_REQUEUES = 10
# Seconds beyond cluster.worker_grace that jobs wait for a worker being stopped to be gone (the kill, and Dask
# noticing it) before their timeouts count anyway (policy.Rules.stop_wait).
STOP_MARGIN = 30.0
_LIVE = (JobState.QUEUED, JobState.RUNNING, JobState.WRITING)


def _state(value: Job | tuple | None) -> JobState | None:
    if value is None:
        return None
    return JobState.QUEUED if isinstance(value, tuple) else value.state


class JobTracker(Dispatcher, WriterLink):
    def __init__(self, cfg: dict, client, backend, writer: WriterProcess, settings: dict, uri: str, token: str,
                 events: "queue.Queue[tuple]", process: Callable | None = None, callback_tls: dict | None = None):
        self.cfg = cfg
        self.client = client
        self.backend = backend
        self.settings = settings
        self.uri, self._token = uri, token
        self.process = process
        self.callback_tls = callback_tls  # the callback channel's TLS settings for the tasks (None: plain TCP)
        self.rules = policy.Rules(cfg["cluster"]["maxfailures"], cfg["cluster"]["job_timeout"], MAX_REQUEUES,
                                  float(cfg["cluster"]["worker_grace"]) + STOP_MARGIN)
        self.events = events
        # path -> its Job, or (size, mtime) for an image queued and never launched (see dispatch)
        self.jobs: dict[str, Job | tuple] = {}
        self._counts = {s: 0 for s in JobState}
        self._unacked: dict[str, dict] = {}
        self._pending_records: list[dict] = []
        # path -> its latest job row not yet sent, or the Job to make it from when it goes: a row superseded before
        # it leaves is never made nor written
        self._pending_rows: dict[str, dict | Job] = {}
        self._known_waiters: dict[str, list] = {}
        self._catalogue: dict[str, dict] | None = None  # what the writer said it holds, kept current from commits
        self._writer_restarts = 0  # deaths since the last commit: the same records killing it again and again
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.db_down: str | None = None
        self.db_error: str | None = None  # the writer cannot ever write (e.g. a schema mismatch): the run is over
        self.writer = writer
        self.watchdog = Watchdog(client, backend, cfg["cluster"]["worker_grace"], self._has_live_jobs,
                                 lambda worker, running: self.events.put(("hung_on", worker, running)))
        self._init_dispatch(cfg["cluster"])
        self._thread = threading.Thread(target=self._run, name="autocnet-tracker", daemon=True)
        self._stopped = threading.Event()
        self._thread.start()

    # ---- called from the caller's thread ----------------------------------------------------------------
    def submit(self, items: list[tuple[str, int | None, float | None]], force: bool = False) -> list[str]:
        """Queue a job per (path, size, mtime) unless one is already live or done (without ``force``)."""
        submitted = []
        with self.lock:
            jobs, counts = self.jobs, self._counts
            for path, size, mtime in items:
                old = jobs.get(path)
                if old is None:  # the common case, kept cheap: a million of these is one add_images call
                    jobs[path] = (size, mtime)
                    counts[JobState.QUEUED] += 1
                else:
                    job = job_of(path, old)
                    # A live job is never started twice (it would race with itself); a terminal one only by force.
                    if job.state not in TERMINAL or not force:
                        continue
                    # A fresh failure budget, but the history of earlier attempts stays readable.
                    self._set(Job(path, size, mtime, errors=list(job.errors)))
                self._fresh.append(path)
                submitted.append(path)
            self.changed.notify_all()
        if submitted:
            self.events.put(("submitted",))
        return submitted

    def mark_known(self, items: list[tuple[str, int | None, float | None, dict]]) -> None:
        """Record images skipped because the catalogue knows them, as (path, size, mtime, what it holds), so
        ``job_status``, ``failed_jobs`` and ``failure`` report them: True, or failed with the stored reason."""
        with self.lock:
            for path, size, mtime, prior in items:
                if path not in self.jobs:
                    self._set(catalogue_job(path, size, mtime, prior))

    def skipped(self) -> dict[str, str]:
        """``{path: "done" | "failed"}`` of the images not run because the catalogue already held them."""
        with self.lock:
            return {p: j.state.value for p, j in self.jobs.items() if not isinstance(j, tuple) and j.from_catalogue}

    def retry_failed(self) -> list[str]:
        """Resubmit every failed job with a fresh failure budget."""
        with self.lock:
            failed = [(p, j.size, j.mtime) for p, j in self.jobs.items()
                      if not isinstance(j, tuple) and j.state is JobState.FAILED]
            return self.submit(failed, force=True)

    def known(self, timeout: float = 600.0) -> dict[str, dict]:
        """What the catalogue holds, ``{path: {"state", "size", "mtime", ...}}``: asked of the writer (the only
        process with a connection) once, then kept current from its commits, so a loop of ``add_image`` does not
        read the whole catalogue each time. The tracker's own dict: look up, do not iterate (see
        :meth:`earlier_failures`)."""
        with self.lock:
            if self._catalogue is not None:
                return self._catalogue
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

    def earlier_failures(self) -> list[str]:
        """Images the catalogue holds as failed that this run has not seen (``retry`` resubmits them)."""
        known = self.known()
        with self.lock:
            return [p for p, v in known.items() if v["state"] == "failed" and p not in self.jobs]

    def wait(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            while True:
                live = sum(self._counts[s] for s in _LIVE)
                if not live:
                    return
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"{live} jobs still running after {timeout} s")
                if not self._thread.is_alive():
                    raise RuntimeError("the job tracker stopped; see the log for the reason")
                if getattr(self.backend, "error", None):
                    raise errors.AutocnetJobsError(f"the cluster cannot run jobs: {self.backend.error}")
                self.changed.wait(0.5 if left is None else min(left, 0.5))

    def status(self) -> dict[str, bool | int]:
        with self.lock:
            return {p: 0 if isinstance(j, tuple) else True if j.state is JobState.DONE else j.failures
                    for p, j in self.jobs.items()}

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {s.value: n for s, n in self._counts.items()}

    def failed(self) -> list[str]:
        with self.lock:
            return sorted(p for p, j in self.jobs.items() if not isinstance(j, tuple) and j.state is JobState.FAILED)

    def failure(self, path: str) -> dict | None:
        with self.lock:
            job = self.jobs.get(path)
            if job is None or isinstance(job, tuple) or not job.errors:
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
            value = self.jobs.get(path)
            if value is None:
                return None
            job = job_of(path, value)
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
                # Let go of the futures of ended tasks before new ones go out, so Dask forgets them first and
                # never holds more than the in-flight limit.
                batch.clear()
                event = None
                self._drain_writer()
                if time.monotonic() >= next_tick:
                    self._tick()
                    next_tick = time.monotonic() + 0.5
                if not self.db_error:
                    try:
                        self._fill()
                    except Exception:  # noqa: BLE001 - e.g. the client closing under us; tried again next round
                        log.exception("tracker could not send tasks to Dask")
                self._flush_to_writer()
                self.changed.notify_all()

    def _handle(self, event: tuple) -> None:
        kind = event[0]
        if kind == "submitted":
            return  # only wakes the loop: _fill sends the new jobs
        if kind == "known_request":
            self.writer.send(("known", event[1]))
            return
        if kind == "done":
            self._task_done(event[1], event[2])
            return
        if kind == "hung_on":
            self._hung_on(event[1], event[2])
            return
        job = self._current(event[1])
        if job is None:
            return
        if kind == "started":
            self._apply(job, policy.Started(event[2], time.monotonic(), *self._stamp(job)))
        elif kind == "succeeded":
            if len(event) > 3:
                self._timed(event[3])
            self._apply(job, policy.Abandoned(self._db_error(), *self._stamp(job)) if self.db_error
                        else policy.Succeeded(event[2]))
        elif kind == "failed":
            if len(event) > 3:
                self._timed(event[3])
            self._apply(job, policy.Failed(event[2], *self._stamp(job)))

    def _stamp(self, job: Job) -> tuple[float, str | None]:
        """When, and where the log of the job's current worker is: what a failure counted now records."""
        return time.time(), (self.backend.worker_log(job.worker) if job.worker else None)

    def _set(self, job: Job) -> None:
        """The one place a job is stored: keeps the counts by state."""
        old = _state(self.jobs.get(job.path))
        if old is not None:
            self._counts[old] -= 1
        self._counts[job.state] += 1
        self.jobs[job.path] = job

    def _apply(self, old: Job, event) -> Job:
        """Feed ``event`` to the policy and carry out its actions; the job as it then is."""
        job, actions = policy.decide(old, event, self.rules)
        future = self._future_of(old.attempt)
        if old.attempt and job.attempt != old.attempt:  # that attempt is over: its late events are ignored
            self._by_attempt.pop(old.attempt, None)
        self._set(job)
        if job.state is JobState.FAILED and self._catalogue is not None and not job.from_catalogue:
            self._catalogue[job.path] = job.row()
        for action in actions:
            if isinstance(action, policy.Launch):
                self._queue(job.path)
            elif isinstance(action, policy.SaveRow):
                self._pending_rows[job.path] = job
            elif isinstance(action, policy.Write):
                self._unacked[job.path] = action.record
                self._pending_records.append(action.record)
                # The record marks the job done when committed (a rejection saves a row again): a "running" row
                # still waiting to go out would only be overwritten, one write per image instead of two.
                self._pending_rows.pop(job.path, None)
            elif isinstance(action, policy.Cancel):
                if future is not None:
                    future.cancel()
            elif isinstance(action, policy.StopHung):
                address, pid = action.worker.get("address"), action.worker.get("pid")
                if address and self._stopped_workers.get(address, (0.0, None))[1] != pid:
                    self._stopped_workers[address] = (time.monotonic(), pid)  # the first stop of this process
                self.watchdog.stop_hung(dict(action.worker), future)
        return job

    def _current(self, attempt: str) -> Job | None:
        path = self._by_attempt.get(attempt)
        job = self.jobs.get(path) if path else None
        if job is None or isinstance(job, tuple) or job.attempt != attempt or job.state in TERMINAL:
            return None
        return job

    def _tick(self) -> None:
        timeout = self.rules.job_timeout
        if timeout:
            now = time.monotonic()
            # Those past the timeout, the earliest started first: of two images frozen on one worker, the one
            # that started first is judged first (the worker is then stopped for it, and the other waits).
            late = sorted((j for p in list(self._by_attempt.values())
                           if not isinstance(j := self.jobs[p], tuple) and j.state is JobState.RUNNING
                           and j.started_at is not None and now - j.started_at > timeout),
                          key=lambda j: j.started_at)
            for job in late:
                job = self.jobs[job.path]  # as the jobs judged before it left it
                if isinstance(job, tuple) or job.state is not JobState.RUNNING:
                    continue
                since, pid = self._stopped_workers.get(job.worker.get("address"), (None, None))
                stopping = since if pid == job.worker.get("pid") else None  # not a later worker at that address
                self._apply(job, policy.Tick(now, *self._stamp(job), later=self._later_unheard(job),
                                             stopping=stopping))
        if not self.writer.alive() and not self.db_error:
            self._restart_writer()

    def _has_live_jobs(self) -> bool:
        # From the watchdog's thread, without the lock: reading three counts is safe under the GIL.
        return any(self._counts[s] for s in (JobState.QUEUED, JobState.RUNNING))

    def _shutdown(self) -> None:
        self._cancel_all()  # the tasks in Dask only: nothing is done per queued image
        self._tasks.clear()
        self.watchdog.close()  # sends a worker exit still in flight: it would race with closing the cluster
        self._flush_to_writer()
        self.writer.stop()
        self._drain_writer()
        self.writer.release()
