"""Workers as Slurm jobs through dask-jobqueue's ``SLURMCluster``.

The scheduler runs in the ImageAdder's process; each Slurm job runs one worker. Worker lifetimes shorter
than the walltime let ``adapt()`` replace workers before Slurm kills them mid-task.
"""
from __future__ import annotations

import os
import sys
from typing import Any

from distributed import Client

from .base import ClusterBackend


class SlurmBackend(ClusterBackend):
    name = "slurm"

    def cluster_kwargs(self) -> dict[str, Any]:
        s = self.config["slurm"]
        kwargs: dict[str, Any] = {
            "cores": s["cores"], "memory": s["memory"], "processes": s["processes"], "walltime": s["walltime"],
            "python": s["python"] or sys.executable,
            "job_extra_directives": list(s["job_extra_directives"]),
            "scheduler_options": {"dashboard_address": self.config["dashboard_address"]},
            # Same thread limits as the local backend, set in the job script.
            "job_script_prologue": ["export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 GDAL_NUM_THREADS=1"],
        }
        for key in ("queue", "account", "interface", "log_directory"):
            if s[key]:
                kwargs[key] = s[key]
        if s["interface"]:
            kwargs["scheduler_options"]["interface"] = s["interface"]
        if s["worker_lifetime"]:
            kwargs["worker_extra_args"] = ["--lifetime", s["worker_lifetime"],
                                           "--lifetime-stagger", s["worker_lifetime_stagger"]]
        return kwargs

    def _start(self) -> Client:
        from dask_jobqueue import SLURMCluster

        s = self.config["slurm"]
        self.cluster = SLURMCluster(**self.cluster_kwargs())
        # Always adaptive, so a worker job that dies (scancel, node failure, walltime) is replaced.
        n = self.config["n_workers"]
        lo = s["minimum_jobs"] if s["minimum_jobs"] is not None else n
        hi = s["maximum_jobs"] if s["maximum_jobs"] is not None else max(n, lo)
        self.cluster.adapt(minimum_jobs=lo, maximum_jobs=hi)
        return Client(self.cluster)

    def worker_log(self, worker_info: dict) -> str | None:
        job = worker_info.get("slurm_job_id")
        log_dir = self.config["slurm"]["log_directory"] or os.getcwd()
        return os.path.join(log_dir, f"dask-worker-{job}.err") if job else None
