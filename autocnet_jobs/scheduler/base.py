"""One core for every cluster backend: start a cluster, connect a client, expose the dashboard, close.

Dask's own failure budgets are turned off (``allowed-failures: 0``) so a worker death surfaces at once as
``KilledWorker`` on the job's future, and the tracker counts it against ``cluster.maxfailures`` exactly
once. ``worker-saturation: 1.0`` keeps one task per worker thread, so restarting a worker to stop a hung task
never takes a queued task down with it.
"""
from __future__ import annotations

import contextlib
import logging
import shlex
import tempfile
from typing import Any, Iterator, Mapping

import dask
from distributed import Client
from distributed.security import Security

from .security import Credentials, make_run_credentials, site_credentials

log = logging.getLogger(__name__)

# One thread per library in every worker process, whatever the backend: workers are already one process per core,
# and OpenMP, OpenBLAS and GDAL would otherwise each use every core (OpenCV: extractors.features).
THREAD_LIMITS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "GDAL_NUM_THREADS": "1"}

DASK_SETTINGS = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.scheduler.worker-saturation": 1.0,
    # The tracker, not the scheduler, decides when a job is given up.
    "distributed.scheduler.unknown-task-duration": "1s",
    # Dask's default also sets MALLOC_TRIM_THRESHOLD_=65536 in every worker, which turns off glibc's adaptive mmap
    # threshold: each large array (image tiles, SIFT pyramids) is then a fresh mmap, twice the page faults, +15%
    # time per image (bench/README.md, parallel efficiency). Only the one-thread-per-library settings are kept.
    # None unsets it (Dask's convention), also where this dict is merged into Dask's default (DASK_* variables).
    "distributed.nanny.pre-spawn-environ": {**THREAD_LIMITS, "MALLOC_TRIM_THRESHOLD_": None},
    # Background work of an idle cluster, measured on 2 local workers: 127 ms of CPU per second by default (the
    # 20 ms event-loop tick of every server, the workers' 10 ms profiler), 41 ms with these; profiles still work.
    "distributed.admin.tick.interval": "500ms",
    "distributed.worker.profile.interval": "100ms",
}


# The settings above that take effect in the worker processes. Local workers inherit our config; Slurm workers
# read their own, so the job script exports these (Dask reads DASK_* variables).
WORKER_SIDE = ("distributed.nanny.pre-spawn-environ", "distributed.admin.tick.interval",
               "distributed.worker.profile.interval")


def thread_limit_exports() -> str:
    """The job script line that sets :data:`THREAD_LIMITS` (``export OMP_NUM_THREADS=1 ...``)."""
    return "export " + " ".join(f"{name}={value}" for name, value in THREAD_LIMITS.items())


def worker_env_exports() -> list[str]:
    """Job script lines that give a worker process these settings (``export DASK_...=...``)."""
    # Dask drops a None entry from what it sets, but a value inherited from the submitting process (sbatch
    # exports its environment) would still reach the worker: unset it in the job too.
    lines = [f"unset {name}" for name, value in DASK_SETTINGS["distributed.nanny.pre-spawn-environ"].items()
             if value is None]
    for key in WORKER_SIDE:
        var = "DASK_" + "__".join(part.upper().replace("-", "_") for part in key.split("."))
        lines.append(f"export {var}={shlex.quote(repr(DASK_SETTINGS[key]))}")
    return lines


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
        self._credentials: Credentials | None = None
        self._credentials_ready = False

    def start(self) -> Client:
        with dask_settings():
            self.client = self._start()
        return self.client

    def _start(self) -> Client:
        raise NotImplementedError

    # ---- TLS (scheduler.security) ----------------------------------------------------------------------------
    def credentials(self) -> Credentials | None:
        """The run's TLS files, made on first use: fresh per-run ones (``cluster.security: auto``), the site's
        (a mapping), or None (``none``: plain TCP, which lets anyone who reaches the scheduler run code as us)."""
        if not self._credentials_ready:
            self._credentials_ready = True
            self._credentials = self._make_credentials(self.config["security"])
        return self._credentials

    def _make_credentials(self, setting: str | Mapping) -> Credentials | None:
        if isinstance(setting, Mapping):
            return site_credentials(setting)
        if setting == "none":
            log.warning("cluster.security is none: the Dask scheduler and workers of this run accept anyone who "
                        "can reach them, and run their code as you; use 'auto' (the default) on a shared machine")
            return None
        return make_run_credentials(self.credentials_base())

    def credentials_base(self) -> str:
        """Where per-run credential folders are made: private temp space (the workers are on this machine)."""
        return tempfile.gettempdir()

    def security(self) -> Security | None:
        """Dask's Security for the run's cluster and client; None without TLS."""
        creds = self.credentials()
        return creds.security() if creds is not None else None

    @property
    def dashboard_link(self) -> str | None:
        if self.client is None:
            return None
        try:
            return self.client.dashboard_link
        except Exception:  # noqa: BLE001 - no dashboard (bokeh missing, disabled)
            return None

    def callback_host(self) -> str:
        """Where the callback daemon listens when ``pyro.host`` is unset: an address the workers can reach."""
        from distributed.utils import get_ip

        return get_ip()

    def worker_log(self, worker_info: dict) -> str | None:
        """Where the log of the worker described by a ``started`` callback can be read."""
        return None

    # ---- used by the watchdog (autocnet_jobs.engine.watchdog) -------------------------------------------------------
    #: Whether lost_slots/heal do anything here (else the watchdog does not look for lost workers).
    refills_slots = False

    def lost_slots(self, connected: set) -> set:
        """Names of worker slots with no worker and none on its way (``connected``: names of live workers).
        Empty for backends that replace lost workers themselves (Slurm: adapt) or cannot (address)."""
        return set()

    def heal(self, lost: set) -> None:
        """Replace the workers of these slots (names from lost_slots) with fresh ones."""

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
        self.remove_credentials()

    def remove_credentials(self) -> None:
        """Delete the run's own credential files (never a site's); the workers using them are gone by now."""
        if self._credentials is not None:
            self._credentials.remove()
