"""The tracker's side of Dask: which queued images go out, how many per task, and what a task's end means for
each image it carried.

At most ``cluster.max_in_flight`` tasks are in Dask at once (:mod:`.batching`); the other queued images wait here
as their path in a deque, the job itself being a ``(size, mtime)`` pair until its first launch (no Job, no
future, no closure: a million queued images cost megabytes). Their ``queued`` job rows go to the writer in chunks,
each chunk only once the writer has written the one before (``sync``), so the writer never holds a backlog that
would make closing slow; an image is launched only after its row was sent.

A mixin of :class:`~autocnet_jobs.engine.tracker.JobTracker`: these run on the tracker thread, under its lock.
"""
from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections import deque
from typing import Any, Callable

from ..catalogue.schema import JobState
from . import batching, policy
from .job import Job, queued_row
from .task import TASK_PREFIX, run_batch

log = logging.getLogger("autocnet_jobs.engine.tracker")

ANNOUNCE_CHUNK = 10_000  # queued job rows per message to the writer
ANNOUNCE_AHEAD = 2  # chunks sent and not yet written
RELEASE_HOLD = 0.1  # seconds an ended task's slot stays taken (see _fill)


def _add_done_callbacks(pairs: list[tuple[Any, Callable]]) -> None:
    for fut, fn in pairs:
        fut.add_done_callback(fn)


class Dispatcher:
    def _init_dispatch(self, cluster: dict) -> None:
        self._fresh: deque[str] = deque()  # submitted; job row not yet sent to the writer
        self._ready: deque[str] = deque()  # row sent; waiting for a free task slot
        self._by_attempt: dict[str, str] = {}  # attempt key -> path, for the attempts in Dask
        self._task_of: dict[str, str] = {}  # attempt key -> the Dask key of the task carrying it
        self._tasks: dict[str, tuple[Any, list[str]]] = {}  # task key -> (its future, its attempts in order)
        # Workers the tracker stopped for a timed-out image (address -> monotonic time of the first stop, and the
        # pid of the process stopped): the other images their deaths end are not to blame, and their own timeouts
        # wait for those deaths.
        self._stopped_workers: dict[str, tuple[float, Any]] = {}
        # When each recently ended task was released: its slot frees up RELEASE_HOLD seconds later.
        self._released: deque[float] = deque()
        self._syncs_out = 0  # announcement chunks the writer has not confirmed yet
        self._attempt_ids = itertools.count()
        self._launches = itertools.count()  # each launch's Dask priority: first sent, first run
        self._run_id = uuid.uuid4().hex[:12]
        self.per_task = cluster["images_per_task"]
        self.max_in_flight = cluster["max_in_flight"]
        self._expected_slots = batching.expected_slots(cluster)
        self.seconds_per_image: float | None = None  # the run's running mean, from the workers' timings
        self.peak_in_flight = 0  # most tasks in Dask at once (benchmarks check it against the limit)

    def in_flight_limit(self) -> int:
        slots = max(self._expected_slots, self.watchdog.slots or 0)
        return batching.in_flight_limit(self.max_in_flight, slots)

    def _queue(self, path: str) -> None:
        """Launch action: back in line for a task (a retry, or an image its task did not get to)."""
        self._ready.append(path)

    def _announce(self) -> None:
        """Send the next chunk of queued rows, unless the writer is still behind on earlier ones."""
        if not self._fresh or self._syncs_out >= ANNOUNCE_AHEAD:
            return
        chunk = [self._fresh.popleft() for _ in range(min(ANNOUNCE_CHUNK, len(self._fresh)))]
        rows = self._pending_rows
        for path in chunk:
            job = self.jobs.get(path)
            if isinstance(job, tuple):
                rows[path] = queued_row(path, *job)
            elif job is not None and job.state is JobState.QUEUED:
                rows[path] = job.row()
        self._flush_to_writer()
        self.writer.send(("sync", None))
        self._syncs_out += 1
        self._ready.extend(chunk)

    def _fill(self) -> None:
        """Send queued images to Dask, several per task, until the in-flight limit."""
        self._announce()
        limit = self.in_flight_limit()
        # A task released just now still counts: Dask may not have forgotten it when the next one arrives (one
        # tracker round was not always enough on a loaded machine: 9 tasks seen with a limit of 8). Holding a
        # slot a little longer costs nothing while tasks still wait in the scheduler's queue.
        now = time.monotonic()
        while self._released and now - self._released[0] >= RELEASE_HOLD:
            self._released.popleft()
        busy = len(self._tasks) + len(self._released)
        batches: list[list[Job]] = []
        while busy + len(batches) < limit and (self._ready or self._fresh):
            n = batching.images_per_task(self.per_task, self.seconds_per_image,
                                         len(self._ready) + len(self._fresh), limit)
            batch: list[Job] = []
            while len(batch) < n:
                if not self._ready:
                    self._announce()
                    if not self._ready:
                        break
                path = self._ready.popleft()
                job = self.jobs.get(path)
                if isinstance(job, tuple):
                    job = Job(path, *job)
                if job is None or job.state is not JobState.QUEUED or job.attempt is not None:
                    continue  # failed meanwhile (the writer gave up), or already out
                batch.append(job)
            if not batch:
                break
            batches.append(batch)
        if batches:
            self._launch(batches)

    def _launch(self, batches: list[list[Job]]) -> None:
        """One task per batch, in one ``client.map``: one graph update for the scheduler, and the shared
        arguments serialised once."""
        keys, items = [], []
        for batch in batches:
            key = f"{TASK_PREFIX}-{uuid.uuid4().hex}"
            attempts = []
            for job in batch:
                attempt = f"{self._run_id}-{next(self._attempt_ids)}"
                self._set(policy.launched(job, attempt))
                self._by_attempt[attempt] = job.path
                self._task_of[attempt] = key
                attempts.append(attempt)
            keys.append(key)
            items.append([(job.path, a) for job, a in zip(batch, attempts)])
            self._tasks[key] = (None, attempts)
        n = len(keys)
        # Dask orders tasks by (-priority, generation, place in the graph), and launches less than its
        # fifo_timeout apart share a generation while each graph counts from 0: without a priority, the first
        # tasks of a later launch (e.g. two hanging images) overtake the last of an earlier one, and an innocent
        # image then waits behind them for cluster.job_timeout. A falling priority keeps the tracker's order.
        futures = self.client.map(run_batch, items, [self.settings] * n, [self.uri] * n, [self._token] * n,
                                  [self.process] * n, key=keys, pure=False, callback_tls=self.callback_tls,
                                  priority=-next(self._launches))
        callbacks = []
        for key, fut in zip(keys, futures):
            self._tasks[key] = (fut, self._tasks[key][1])
            callbacks.append((fut, lambda f, k=key: self.events.put(("done", k, f))))
        self.peak_in_flight = max(self.peak_in_flight, len(self._tasks))
        # Registered from the client's event loop in one go: from this thread each add_done_callback wakes the
        # loop (a socket write and a GIL hand-over, ~0.15 ms).
        self.client.loop.add_callback(_add_done_callbacks, callbacks)

    def _future_of(self, attempt: str | None) -> Any:
        task = self._task_of.get(attempt) if attempt else None
        return self._tasks[task][0] if task in self._tasks else None

    def _task_done(self, key: str, future: Any) -> None:
        """A task ended: each image it carried and did not report on learns it, in order. Only the image running
        then is charged; the ones not yet started go back in line without a failure, and so does the one running
        on a worker the tracker itself stopped for another image's timeout (``policy.Stopped``)."""
        entry = self._tasks.pop(key, None)
        if entry is None:
            return
        attempts = entry[1]
        status = future.status
        exc = future.exception() if status == "error" else None
        exc_type = type(exc).__name__ if status == "error" else None
        message = str(exc) if exc is not None else ""
        # Released now, not when the last reference goes (Dask's callback thread may still hold one): Dask then
        # forgets the task before the tasks sent next reach it, and never holds more than the limit.
        future.release()
        self._released.append(time.monotonic())
        for attempt in attempts:
            self._task_of.pop(attempt, None)
            job = self._current(attempt)
            if job is None:
                continue
            self._apply(job, policy.task_end(job, status, exc_type, message, *self._stamp(job),
                                             shared=len(attempts) > 1, stopped_workers=self._stopped_workers))

    def _later_unheard(self, job: Job) -> bool:
        """Whether images after ``job`` in its task have not reported yet: one of them may be the one running."""
        entry = self._tasks.get(self._task_of.get(job.attempt, ""))
        if entry is None:
            return False
        attempts = entry[1]
        later = attempts[attempts.index(job.attempt) + 1:] if job.attempt in attempts else []
        return any((j := self._current(a)) is not None and j.state is JobState.QUEUED for a in later)

    def _hung_on(self, worker: dict, running: list[str] | None) -> None:
        """A worker about to be killed for a hang was running ``running`` (attempt keys; None: not known):
        charge the image of each task that timed out on it that was really running (:func:`.policy.hung_task`)."""
        if not running:
            return
        at, log_at = time.time(), self.backend.worker_log(worker)
        keys = dict.fromkeys(k for a in running if (k := self._task_of.get(a)) is not None)
        for key in keys:
            entry = self._tasks.get(key)
            if entry is None:
                continue
            jobs = [j for a in entry[1] if (j := self._current(a)) is not None]
            for job, event in policy.hung_task(jobs, set(running), worker, at, log_at):
                self._apply(job, event)

    def _timed(self, seconds: Any) -> None:
        if isinstance(seconds, (int, float)) and seconds >= 0:
            self.seconds_per_image = batching.mean_seconds(self.seconds_per_image, float(seconds))

    def _cancel_all(self) -> None:
        """Cancel every task in Dask (bounded by the in-flight limit: nothing per queued image)."""
        futures = [f for f, _ in self._tasks.values() if f is not None]
        if futures:
            try:
                self.client.cancel(futures)
            except Exception:  # noqa: BLE001 - the cluster may already be gone
                log.debug("could not cancel the unfinished tasks", exc_info=True)
