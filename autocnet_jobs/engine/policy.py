"""The retry policy, as a pure function: ``decide(job, event, rules) -> (job, actions)``.

A job changes only here. The tracker (:mod:`.tracker`) turns what it hears (callbacks, Dask futures, the writer,
its clock) into the typed events below, feeds them in, and carries the actions out: launch an attempt, save the
job's row, hand a record to the writer, cancel or stop the attempt's task. Nothing here touches a thread, a
queue, Dask or the database, so every rule is tested in milliseconds (tests/test_policy.py).

The rules: exceptions, worker deaths and timeouts each count one failure, and the count never resets within a
run; a job is relaunched until ``rules.maxfailures`` failures or a failure no retry can fix, then it is failed. A
task that died with its worker before it started is requeued without a failure (up to ``rules.max_requeues``
times). Several images may share one task; each is still its own job here: the task's end (a worker death, a
hung image stopped) counts only against the image running then, and the images of that task not yet started go
back in the queue without a failure (:class:`Unstarted`); so does every image of a task whose worker the tracker
stopped for another image's timeout (:class:`Stopped`). A job is done only when the writer committed its record.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from .. import errors
from ..catalogue.schema import JobState
from .job import NO_WORKER, Job, worker_label

QUEUED, RUNNING, WRITING, DONE, FAILED = (JobState.QUEUED, JobState.RUNNING, JobState.WRITING, JobState.DONE,
                                          JobState.FAILED)


@dataclass(frozen=True)
class Rules:
    maxfailures: int
    job_timeout: float | None = None  # seconds a started attempt may run; None: no limit
    max_requeues: int = 10


# ---- events: what happened (``at``: wall-clock time, ``log``: the log of the job's current worker) ------------
@dataclass(frozen=True)
class Started:
    worker: Mapping[str, Any]
    now: float  # monotonic
    at: float = 0.0
    log: str | None = None


@dataclass(frozen=True)
class Succeeded:
    record: Mapping[str, Any]


@dataclass(frozen=True)
class Failed:
    error: Mapping[str, Any]  # kind, type, message, traceback
    at: float = 0.0
    log: str | None = None


@dataclass(frozen=True)
class FutureDone:
    status: str  # Dask's future status: "error", "cancelled", "finished"
    exc_type: str | None = None
    exc_message: str = ""
    at: float = 0.0
    log: str | None = None


@dataclass(frozen=True)
class Committed:
    pass


@dataclass(frozen=True)
class Rejected:
    message: str
    at: float = 0.0
    log: str | None = None


@dataclass(frozen=True)
class Tick:
    now: float  # monotonic
    at: float = 0.0
    log: str | None = None


@dataclass(frozen=True)
class Abandoned:
    """The job can never be committed (the writer cannot write, or died on it again and again)."""
    error: Mapping[str, Any]
    at: float = 0.0
    log: str | None = None


@dataclass(frozen=True)
class Unstarted:
    """The task that held this job among other images ended (as :class:`FutureDone` says) before the job started:
    another image's worker died or was stopped. Not this image's fault."""
    status: str
    exc_type: str | None = None
    exc_message: str = ""
    at: float = 0.0
    log: str | None = None


@dataclass(frozen=True)
class Stopped:
    """The task that held this job ended because the tracker stopped its worker for *another* image's timeout.
    That image was charged already; one the task went on to (its start reached us: the timed-out image was not
    hung after all, only its events late) or had not reached yet did nothing, so it goes back without a failure."""
    status: str
    exc_type: str | None = None
    exc_message: str = ""
    at: float = 0.0
    log: str | None = None


Event = Started | Succeeded | Failed | FutureDone | Committed | Rejected | Tick | Abandoned | Unstarted | Stopped


# ---- actions: what the tracker is to do ------------------------------------------------------------------------
@dataclass(frozen=True)
class Launch:
    """Queue a new attempt: the tracker sends it to Dask when a slot is free and gives its attempt a key then
    (:func:`launched`)."""


@dataclass(frozen=True)
class SaveRow:
    """Send the job's row to the writer."""


@dataclass(frozen=True)
class Write:
    record: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Cancel:
    """Cancel the task of the attempt the job had."""


@dataclass(frozen=True)
class StopHung:
    """Stop the task of the attempt the job had, by restarting its worker (the watchdog)."""
    worker: Mapping[str, Any] = field(default_factory=dict)


Action = Launch | SaveRow | Write | Cancel | StopHung


def task_end(job: Job, status: str, exc_type: str | None, message: str, at: float, log: str | None, *,
             shared: bool, stopped_workers: set[str]) -> FutureDone | Unstarted | Stopped:
    """The event a task's end is for ``job``, one of the images it carried that had not reported its outcome.
    ``shared``: the task carried other images too. ``stopped_workers``: the addresses of the workers the tracker
    stopped for a timed-out image."""
    if status == "error" and job.worker.get("address") in stopped_workers:
        return Stopped(status, exc_type, message, at, log)
    if shared and job.state is QUEUED:
        return Unstarted(status, exc_type, message, at, log)
    return FutureDone(status, exc_type, message, at, log)


def launched(job: Job, attempt: str) -> Job:
    """The job once the tracker gave its new attempt a key."""
    return dataclasses.replace(job, attempt=attempt, state=QUEUED, started_at=None, worker=NO_WORKER)


def decide(job: Job, event: Event, rules: Rules) -> tuple[Job, list[Action]]:
    """What ``event`` makes of ``job`` (an event of its current attempt), and what is to be done about it."""
    if job.state.terminal:
        return job, []
    if isinstance(event, Started):
        moved = (job.worker.get("address"), job.worker.get("pid")) != (event.worker.get("address"),
                                                                       event.worker.get("pid"))
        if job.state is RUNNING and moved:
            # A second start of a running attempt from another worker: its worker left the cluster in a way Dask
            # does not count (a graceful close) and Dask started it again. It counts as the worker death it was.
            job = _count(job, {"kind": errors.WORKER_DIED, "type": "WorkerLeft", "message": "the worker running "
                               "this job left the cluster; Dask started it again"}, event)
            if job.failures >= rules.maxfailures:
                return _given_up(job), [Cancel(), SaveRow()]
        return dataclasses.replace(job, state=RUNNING, started_at=event.now, worker=dict(event.worker)), [SaveRow()]
    if isinstance(event, Succeeded):
        record = dict(event.record, path=job.path, _attempts=job.failures + 1, _worker=worker_label(job.worker))
        return dataclasses.replace(job, state=WRITING), [Write(record)]
    if isinstance(event, Failed):
        return _fail(job, dict(event.error), event, rules)
    if isinstance(event, FutureDone):
        return _future_done(job, event, rules)
    if isinstance(event, Unstarted):
        if job.state is QUEUED and job.requeues < rules.max_requeues:
            return _relaunch(dataclasses.replace(job, requeues=job.requeues + 1)), [Launch()]
        # Running after all (its start reached us), or requeued too often: judged as its own task's end.
        return _future_done(job, FutureDone(event.status, event.exc_type, event.exc_message, event.at, event.log),
                            rules)
    if isinstance(event, Stopped):
        if job.state in (QUEUED, RUNNING) and job.requeues < rules.max_requeues:
            # A running job's row said so: it is queued again (a queued one's row already says queued).
            return (_relaunch(dataclasses.replace(job, requeues=job.requeues + 1)),
                    [Launch(), SaveRow()] if job.state is RUNNING else [Launch()])
        return _future_done(job, FutureDone(event.status, event.exc_type, event.exc_message, event.at, event.log),
                            rules)
    if isinstance(event, Committed):
        if job.state is not WRITING:
            return job, []
        return dataclasses.replace(job, state=DONE, attempt=None), []
    if isinstance(event, Rejected):
        if job.state is not WRITING:
            return job, []
        return _fail(job, {"kind": errors.DB_WRITE, "type": "DatabaseError", "message": event.message}, event, rules)
    if isinstance(event, Tick):
        if (job.state is RUNNING and rules.job_timeout and job.started_at is not None
                and event.now - job.started_at > rules.job_timeout):
            job2, actions = _fail(job, {"kind": errors.TIMEOUT, "type": "JobTimeout", "message": "no result within "
                                        f"cluster.job_timeout={rules.job_timeout} s"}, event, rules)
            return job2, [StopHung(dict(job.worker)), *actions]
        return job, []
    if isinstance(event, Abandoned):
        return _given_up(_count(job, dict(event.error), event)), [SaveRow()]
    raise TypeError(f"not a policy event: {event!r}")


def _future_done(job: Job, event: FutureDone, rules: Rules) -> tuple[Job, list[Action]]:
    if job.state not in (QUEUED, RUNNING):
        # Its callback already decided the outcome; the attempt is over (later events of it are stale).
        return dataclasses.replace(job, attempt=None), []
    if event.status == "error":
        killed = event.exc_type == "KilledWorker"
        if killed and job.state is QUEUED and job.requeues < rules.max_requeues:
            # It died with a worker before it started (e.g. sent to a worker being restarted): the image is not to
            # blame, so it goes back in the queue without a failure (bounded, in case it is).
            return _relaunch(dataclasses.replace(job, requeues=job.requeues + 1)), [Launch()]
        if killed:
            error = {"kind": errors.WORKER_DIED, "type": "KilledWorker",
                     "message": f"the worker running this job died ({event.exc_message})"}
        else:
            error = {"kind": errors.CALLBACK_ERROR, "type": event.exc_type,
                     "message": f"the job could not report back: {event.exc_message}"}
    elif event.status == "cancelled":
        error = {"kind": errors.WORKER_DIED, "type": "CancelledError", "message": "the task was cancelled"}
    else:
        error = {"kind": errors.UNEXPECTED, "type": "NoCallback", "message": "the task ended without reporting"}
    return _fail(job, error, event, rules)


def _count(job: Job, error: dict, event) -> Job:
    failures = job.failures + 1
    entry = dict(error, attempt=failures, worker=dict(job.worker), time=event.at,
                 log=event.log if job.worker else None)
    return dataclasses.replace(job, failures=failures, errors=[*job.errors, entry])


def _fail(job: Job, error: dict, event, rules: Rules) -> tuple[Job, list[Action]]:
    job = _count(job, error, event)
    if error.get("kind") in errors.PERMANENT_KINDS or job.failures >= rules.maxfailures:
        return _given_up(job), [SaveRow()]
    return _relaunch(job), [Launch(), SaveRow()]


def _relaunch(job: Job) -> Job:
    return dataclasses.replace(job, state=QUEUED, attempt=None, started_at=None, worker=NO_WORKER)


def _given_up(job: Job) -> Job:
    return dataclasses.replace(job, state=FAILED, attempt=None)
