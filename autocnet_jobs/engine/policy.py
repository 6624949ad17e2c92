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
stopped for another image's timeout (:class:`Stopped`), and an image whose own timeout comes while that worker is
being stopped waits for it (:class:`Tick` ``stopping``). Which image hangs is what the worker says, not the start
the tracker heard last: a hang holding the GIL keeps a task's later events in the worker, so an image timed out
while images after it in its task had not reported is charged only once the worker is gone, to the image the
worker was running (:func:`hung_task`), or, when that cannot be known, to itself at its task's end. A job is done
only when the writer committed its record.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Collection, Mapping, Sequence

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
    # Seconds a timed-out job waits for the worker the tracker is stopping to be gone (killed after
    # cluster.worker_grace) before its timeout counts anyway: a worker nobody can end must not hold it for ever.
    stop_wait: float = 60.0


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
    # Images after this job in its task have not reported: one of them may be the one running (the tracker hears a
    # task's events late, and not at all from a worker stuck with the GIL held).
    later: bool = False
    # When the tracker began stopping this job's worker for another image's timeout; None: it is not.
    stopping: float | None = None


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


@dataclass(frozen=True)
class Caught:
    """The worker the tracker was stopping for a timeout in this job's task said, before it was killed, that it
    was running this job's attempt: this image hangs (its start may never have reached the tracker)."""
    worker: Mapping[str, Any]
    at: float = 0.0
    log: str | None = None


@dataclass(frozen=True)
class Cleared:
    """This job timed out on the word of its start alone, and its worker said it was running a later image of the
    task: this one had ended (its outcome was lost with the worker), so it goes back with its task's end,
    uncounted."""


Event = (Started | Succeeded | Failed | FutureDone | Committed | Rejected | Tick | Abandoned | Unstarted | Stopped
         | Caught | Cleared)


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
             shared: bool, stopped_workers: Collection[str]) -> FutureDone | Unstarted | Stopped:
    """The event a task's end is for ``job``, one of the images it carried that had not reported its outcome.
    ``shared``: the task carried other images too. ``stopped_workers``: the addresses of the workers the tracker
    stopped for a timed-out image (a task the tracker gave up on such a worker ends cancelled)."""
    if status in ("error", "cancelled") and job.worker.get("address") in stopped_workers:
        return Stopped(status, exc_type, message, at, log)
    if shared and job.state is QUEUED:
        return Unstarted(status, exc_type, message, at, log)
    return FutureDone(status, exc_type, message, at, log)


def hung_task(jobs: Sequence[Job], running: Collection[str], worker: Mapping[str, Any], at: float = 0.0,
              log: str | None = None) -> list[tuple[Job, Event]]:
    """What a worker being killed for a hang said it was running (``running``: attempt keys, one per task thread)
    means for one of its tasks (``jobs``: the task's current jobs, in order), as ``(job, event)`` pairs.

    Only a task with a job the tracker timed out on the word of its start (``Job.timed_out``) is judged here: the
    image of it the worker was running is charged (:class:`Caught`), the timed-out one, if another, is not
    (:class:`Cleared`; it goes back with its task's end). A task none of whose images timed out was only frozen by
    another thread's hang: its images go back with its end. So does everything when the worker named no image of
    the task: then the timed-out job is charged at its task's end, as the tracker saw it."""
    if not any(j.timed_out is not None for j in jobs):
        return []
    if not any(j.attempt in running for j in jobs):
        return []
    return [(j, Caught(worker, at, log) if j.attempt in running else Cleared()) for j in jobs
            if j.attempt in running or j.timed_out is not None]


def launched(job: Job, attempt: str) -> Job:
    """The job once the tracker gave its new attempt a key."""
    return dataclasses.replace(job, attempt=attempt, state=QUEUED, started_at=None, worker=NO_WORKER,
                               timed_out=None)


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
    if (isinstance(event, (FutureDone, Unstarted, Stopped)) and job.timed_out is not None
            and job.state is RUNNING):
        # It timed out, and its task ended without its worker naming another image: it was the one hanging.
        return _fail(job, _timeout_error(rules), event, rules)
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
        if not (job.state is RUNNING and rules.job_timeout and job.started_at is not None
                and event.now - job.started_at > rules.job_timeout):
            return job, []
        since = job.timed_out if job.timed_out is not None else event.stopping
        if since is not None:
            # Its worker is being stopped (for this job's timeout, or another image's): the worker's end says who
            # hung. Unless that takes far longer than a kill: then the timeout counts as the tracker sees it.
            if event.now - since <= rules.stop_wait:
                return job, []
        elif event.later:
            return dataclasses.replace(job, timed_out=event.now), [StopHung(dict(job.worker))]
        job2, actions = _fail(job, _timeout_error(rules), event, rules)
        return job2, [StopHung(dict(job.worker)), *actions]
    if isinstance(event, Caught):
        if job.state not in (QUEUED, RUNNING):
            return job, []  # its outcome reached the tracker after all
        if not job.worker:  # its start never reached the tracker
            job = dataclasses.replace(job, worker=dict(event.worker))
        error = _timeout_error(rules)
        error["message"] += ": its worker was stuck (a call holding the GIL?) and was killed"
        return _fail(job, error, event, rules)
    if isinstance(event, Cleared):
        return dataclasses.replace(job, timed_out=None), []
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


def _timeout_error(rules: Rules) -> dict:
    return {"kind": errors.TIMEOUT, "type": "JobTimeout",
            "message": f"no result within cluster.job_timeout={rules.job_timeout} s"}


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
    return dataclasses.replace(job, state=QUEUED, attempt=None, started_at=None, worker=NO_WORKER, timed_out=None)


def _given_up(job: Job) -> Job:
    return dataclasses.replace(job, state=FAILED, attempt=None, timed_out=None)
