"""What the tracker knows about one image's job, and what the ``jobs`` table keeps of it.

A Job is frozen: only the retry policy (:func:`.policy.decide`) makes a changed one. The Dask future of its
current attempt is the tracker's, kept beside it by attempt key. A million queued images are a million Jobs, so a
Job is small: slots, and a job that has no worker or errors yet shares one empty value of each (~180 bytes)."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Sequence

from ..catalogue.schema import JobState

TERMINAL = (JobState.DONE, JobState.FAILED)
NO_WORKER: Mapping = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Job:
    path: str
    size: int | None = None
    mtime: float | None = None
    state: JobState = JobState.QUEUED
    failures: int = 0
    attempt: str | None = None  # the Dask key of the current attempt
    started_at: float | None = None  # monotonic
    worker: Mapping = field(default_factory=lambda: NO_WORKER)
    errors: Sequence[dict] = ()
    requeues: int = 0  # resubmissions that did not count as failures (never started)
    from_catalogue: bool = False  # not run here: the catalogue already held it (done, or failed for good)
    # Monotonic time its attempt passed cluster.job_timeout while images after it in its task had not reported:
    # the worker is being stopped, and the failure waits for the worker to say which of them it was running.
    timed_out: float | None = None

    def row(self) -> dict:
        last = self.errors[-1] if self.errors else {}
        state = JobState.QUEUED.value if self.state is JobState.WRITING else self.state.value
        return {"path": self.path, "state": state, "attempts": self.failures, "error_kind": last.get("kind"),
                "error_type": last.get("type"), "last_error": last.get("message"),
                "traceback": last.get("traceback"), "log": last.get("log"), "size": self.size, "mtime": self.mtime,
                "worker": worker_label(self.worker)}


def queued_row(path: str, size: int | None, mtime: float | None) -> dict:
    """The jobs-table row of an image queued and never tried (what ``Job(path, size, mtime).row()`` gives)."""
    return {"path": path, "state": JobState.QUEUED.value, "attempts": 0, "error_kind": None, "error_type": None,
            "last_error": None, "traceback": None, "log": None, "size": size, "mtime": mtime, "worker": None}


def job_of(path: str, value: "Job | tuple") -> "Job":
    """The Job the tracker keeps as ``value``: a Job, or for an image never launched its ``(size, mtime)``."""
    return Job(path, *value) if isinstance(value, tuple) else value


def catalogue_job(path: str, size: int | None, mtime: float | None, prior: dict) -> Job:
    """The job of an image skipped because the catalogue knows it: done, or failed with its stored reason."""
    if prior["state"] != "failed":
        return Job(path, size, mtime, state=JobState.DONE, from_catalogue=True)
    worker = {"host": prior["worker"]} if prior.get("worker") else {}  # worker_label() gives the label back
    error = {"kind": prior.get("error_kind"), "type": prior.get("error_type"), "message": prior.get("last_error"),
             "traceback": prior.get("traceback"), "log": prior.get("log"), "attempt": prior.get("attempts") or 0,
             "worker": worker, "time": None, "earlier_run": True}
    # No Job.worker: it is the worker of an attempt of this run (info() would give this run's log for it).
    return Job(path, size, mtime, state=JobState.FAILED, failures=prior.get("attempts") or 0, errors=[error],
               from_catalogue=True)


def worker_label(worker: Mapping) -> str | None:
    """What the jobs table keeps of a worker: its host, and its Slurm job id when it runs in one."""
    if not worker.get("host"):
        return None
    job = worker.get("slurm_job_id")
    return f"{worker['host']} (slurm job {job})" if job else worker["host"]
