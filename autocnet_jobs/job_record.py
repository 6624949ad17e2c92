"""What the tracker knows about one image's job, and what the ``jobs`` table keeps of it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Failures that no retry can fix: the same bytes give the same answer.
PERMANENT_KINDS = frozenset({"unsupported_format", "no_data", "too_small", "no_georeference"})
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

    def row(self) -> dict:
        last = self.errors[-1] if self.errors else {}
        state = "queued" if self.state == "writing" else self.state
        return {"path": self.path, "state": state, "attempts": self.failures, "error_kind": last.get("kind"),
                "error_type": last.get("type"), "last_error": last.get("message"),
                "traceback": last.get("traceback"), "log": last.get("log"), "size": self.size, "mtime": self.mtime,
                "worker": worker_label(self.worker)}


def worker_label(worker: dict) -> str | None:
    """What the jobs table keeps of a worker: its host, and its Slurm job id when it runs in one."""
    if not worker.get("host"):
        return None
    job = worker.get("slurm_job_id")
    return f"{worker['host']} (slurm job {job})" if job else worker["host"]
