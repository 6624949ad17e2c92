"""One core for every cluster backend: start a cluster, connect a client, expose the dashboard, close.

Dask's own failure budgets are turned off (``allowed-failures: 0``) so a worker death surfaces at once as
``KilledWorker`` on the job's future, and the tracker counts it against ``cluster.maxfailures`` exactly
once. ``worker-saturation: 1.0`` keeps one task per worker thread, so restarting a worker to stop a hung task
never takes a queued task down with it.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import dask
from distributed import Client

DASK_SETTINGS = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.scheduler.worker-saturation": 1.0,
    # The tracker, not the scheduler, decides when a job is given up.
    "distributed.scheduler.unknown-task-duration": "1s",
    # Dask's default also sets MALLOC_TRIM_THRESHOLD_=65536 in every worker, which turns off glibc's adaptive mmap
    # threshold: each large array (image tiles, SIFT pyramids) is then a fresh mmap, twice the page faults, +15%
    # time per image (bench/README.md, parallel efficiency). Only the one-thread-per-library settings are kept.
    "distributed.nanny.pre-spawn-environ": {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1},
    # Background work of an idle cluster, measured on 2 local workers: 127 ms of CPU per second by default (the
    # 20 ms event-loop tick of every server, the workers' 10 ms profiler), 41 ms with these; profiles still work.
    "distributed.admin.tick.interval": "500ms",
    "distributed.worker.profile.interval": "100ms",
}


@contextlib.contextmanager
def dask_settings() -> Iterator[None]:
    with dask.config.set(DASK_SETTINGS):
        yield


class ClusterBackend:
    """Subclasses build ``self.cluster`` (or connect to an address) in :meth:`_start`."""

    name = "base"

    def __init__(self, cluster_config: dict[str, Any]):
        self.config = cluster_config
        self.cluster: Any = None
        self.client: Client | None = None
        # Set by a backend that finds it cannot start workers; wait() raises it instead of waiting forever.
        self.error: str | None = None

    def start(self) -> Client:
        with dask_settings():
            self.client = self._start()
        return self.client

    def _start(self) -> Client:
        raise NotImplementedError

    @property
    def dashboard_link(self) -> str | None:
        if self.client is None:
            return None
        try:
            return self.client.dashboard_link
        except Exception:  # noqa: BLE001 - no dashboard (bokeh missing, disabled)
            return None

    def worker_log(self, worker_info: dict) -> str | None:
        """Where the log of the worker described by a ``started`` callback can be read."""
        return None

    # ---- used by the watchdog (autocnet_jobs.watchdog) -------------------------------------------------------
    def worker_slots(self) -> set | None:
        """Names of the workers the cluster should have, when this backend can replace lost ones (see heal)."""
        return None

    def heal(self, lost: set) -> None:
        """Replace the workers of these slots (names from worker_slots) with fresh ones."""

    def kill_worker(self, worker: dict) -> bool:
        """End a worker that would not exit by itself (``worker`` as sent by its ``started`` callback)."""
        return False

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close(timeout=10)
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close(timeout=30)
        self.client = self.cluster = None


def make_backend(cluster_config: dict[str, Any]) -> ClusterBackend:
    backend = cluster_config["backend"]
    if backend == "local":
        from .local import LocalBackend

        return LocalBackend(cluster_config)
    if backend == "slurm":
        from .slurm import SlurmBackend

        return SlurmBackend(cluster_config)
    from .address import AddressBackend

    return AddressBackend(cluster_config)
