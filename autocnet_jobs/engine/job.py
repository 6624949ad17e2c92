"""What the tracker knows about one image's job, and what the ``jobs`` table keeps of it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import PERMANENT_KINDS  # noqa: F401  (failures no retry can fix; the tracker imports it from here)

TERMINAL = ("done", "failed")


@dataclass
class Job:
    path: str
    size: int | None = None
    mtime: float | None = None
    state: str = "queued"  # queued | running | writing | done | failed
    failures: int = 0
    attempt: str | None = None
    future: Any = None
    started_at: float | None = None
    worker: dict = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    requeues: int = 0  # resubmissions that did not count as failures (never started)
    from_catalogue: bool = False  # not run here: the catalogue already held it (done, or failed for good)

    def row(self) -> dict:
        last = self.errors[-1] if self.errors else {}
        state = "queued" if self.state == "writing" else self.state
        return {"path": self.path, "state": state, "attempts": self.failures, "error_kind": last.get("kind"),
                "error_type": last.get("type"), "last_error": last.get("message"),
                "traceback": last.get("traceback"), "log": last.get("log"), "size": self.size, "mtime": self.mtime,
                "worker": worker_label(self.worker)}


def catalogue_job(path: str, size: int | None, mtime: float | None, prior: dict) -> Job:
    """The job of an image skipped because the catalogue knows it: done, or failed with its stored reason."""
    if prior["state"] != "failed":
        return Job(path, size, mtime, state="done", from_catalogue=True)
    worker = {"host": prior["worker"]} if prior.get("worker") else {}  # worker_label() gives the label back
    error = {"kind": prior.get("error_kind"), "type": prior.get("error_type"), "message": prior.get("last_error"),
             "traceback": prior.get("traceback"), "log": prior.get("log"), "attempt": prior.get("attempts") or 0,
             "worker": worker, "time": None, "earlier_run": True}
    # No Job.worker: it is the worker of an attempt of this run (info() would give this run's log for it).
    return Job(path, size, mtime, state="failed", failures=prior.get("attempts") or 0, errors=[error],
               from_catalogue=True)


def worker_label(worker: dict) -> str | None:
    """What the jobs table keeps of a worker: its host, and its Slurm job id when it runs in one."""
    if not worker.get("host"):
        return None
    job = worker.get("slurm_job_id")
    return f"{worker['host']} (slurm job {job})" if job else worker["host"]
