"""Workers as Slurm jobs through dask-jobqueue's ``SLURMCluster``.

The scheduler runs in the ImageAdder's process; each Slurm job runs one worker. Worker lifetimes shorter
than the walltime let ``adapt()`` replace workers before Slurm kills them mid-task.

Replacing worker jobs that die. The cluster is always adaptive. When a *connected* worker's job ends
(``scancel``, node failure, walltime) the scheduler drops the worker at once (its task fails with
``KilledWorker``, which the tracker counts), ``SpecCluster`` forgets the job after
``distributed.deploy.lost-worker-timeout`` (15 s) and the next ``adapt()`` pass submits a new job under the
same worker name. Two cases dask-jobqueue does not cover, measured on Slurm 22.05 with dask-jobqueue 0.9:

- a job that ends before its worker ever connects (cancelled while pending, a broken ``python`` path, a node
  that fails at launch) stays in the cluster's books forever: never replaced, and if every job goes that way
  the run waits for ever;
- with ``processes > 1`` the scheduler's worker names (``<job>-0``...) never match the job's name, so a dead
  job is never forgotten, hence never replaced.

A watcher thread asks ``squeue`` every :attr:`SlurmBackend.check_interval` seconds which of the cluster's
jobs still exist, and drops the ones that are gone with no worker connected (after SpecCluster's own grace
period), so ``adapt()`` submits replacements. A job that never connected counts as stillborn; after
``max(4, maximum_jobs)`` stillborn jobs in a row it stops replacing them, and :attr:`SlurmBackend.error`
says why (with the tail of the last job's log) instead of submitting failing jobs for ever.
"""
from __future__ import annotations

import asyncio
import getpass
import logging
import os
import subprocess
import threading
import time
from typing import Any

import dask
from dask.utils import parse_timedelta
from dask_jobqueue import SLURMCluster
from distributed import Client

from ..errors import ConfigError
from .base import ClusterBackend, thread_limit_exports, worker_env_exports

log = logging.getLogger(__name__)


# Used when neither cluster.slurm nor the site's jobqueue.slurm sets them (dask-jobqueue has no default for these
# and refuses to start without): one task at a time in a modest job.
FALLBACK: dict[str, Any] = {"cores": 1, "memory": "2GB"}


def _site(key: str) -> Any:
    """The site's dask-jobqueue setting ``jobqueue.slurm.<key>`` (from jobqueue.yaml, $DASK_CONFIG, DASK_* ...)."""
    return dask.config.get(f"jobqueue.slurm.{key}", None)


def _site_list(key: str, deprecated: str) -> list:
    """A list setting of the site, or its deprecated name's (dask-jobqueue still honours both)."""
    return list(_site(key) or _site(deprecated) or [])


class WatchedSLURMCluster(SLURMCluster):
    """A SLURMCluster that remembers which of its jobs ever had a worker connected, and when each worker
    name was last lost (SpecCluster's own timer acts on a lost name for lost-worker-timeout after that)."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.connected_jobs: set[str] = set()
        self.lost_at: dict[str, float] = {}
        super().__init__(*args, **kwargs)

    def spec_name(self, worker_name: Any) -> Any:
        """The job (worker_spec key) a scheduler worker name belongs to; None when unknown."""
        if worker_name in self.worker_spec:
            return worker_name
        for name, spec in list(self.worker_spec.items()):
            if any(f"{name}{suffix}" == str(worker_name) for suffix in spec.get("group", ())):
                return name
        return None

    def worker_names(self, name: Any) -> set:
        spec = self.worker_spec.get(name, {})
        return {f"{name}{s}" for s in spec["group"]} if "group" in spec else {name}

    def _update_worker_status(self, op, msg):
        if op == "add":
            for info in list(msg.get("workers", {}).values()):
                job = self.workers.get(self.spec_name(info.get("name")))
                if getattr(job, "job_id", None):
                    self.connected_jobs.add(job.job_id)
        elif op == "remove":
            info = self.scheduler_info["workers"].get(msg)
            if info is not None:
                self.lost_at[self.spec_name(info.get("name"))] = time.monotonic()
        super()._update_worker_status(op, msg)


def active_slurm_jobs() -> set[str] | None:
    """Ids of this user's jobs Slurm still lists (pending, running, completing); None when squeue fails."""
    try:
        res = subprocess.run(["squeue", "-h", "-o", "%i", "-u", getpass.getuser()], capture_output=True,
                             text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("squeue failed (%s); cannot check the worker jobs this time", exc)
        return None
    if res.returncode:
        log.warning("squeue failed (%s); cannot check the worker jobs this time", res.stderr.strip())
        return None
    return set(res.stdout.split())


CLOSE_WAIT = 30.0  # seconds close waits for Slurm to stop listing the run's worker jobs


class SlurmBackend(ClusterBackend):
    name = "slurm"
    #: Seconds between two squeue calls of the job watcher (one call per run, for all its jobs).
    check_interval = 10.0

    def __init__(self, cluster_config: dict[str, Any]):
        super().__init__(cluster_config)
        self._log_dir: str | None = None
        self._job_name = "dask-worker"
        self._submit_dir = os.getcwd()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._stillborn = 0
        self._max_stillborn = 4
        self._n_connected = 0
        self._given_up: set[str] = set()

    def cluster_kwargs(self) -> dict[str, Any]:
        """SLURMCluster arguments: only the keys set in cluster.slurm, so that the rest comes from the site's
        dask-jobqueue configuration (``jobqueue.slurm.*``) as it would for any dask-jobqueue user. List keys add
        to the site's lists; our own prologue lines (thread limits, worker-side Dask settings) always come last."""
        s = self.config["slurm"]
        kwargs: dict[str, Any] = {key: s[key] for key in ("queue", "account", "cores", "memory", "processes",
                                                           "walltime", "python", "interface") if s[key] is not None}
        for key, value in FALLBACK.items():
            if key not in kwargs and _site(key) is None:
                kwargs[key] = value
        if s["log_directory"]:
            # Slurm resolves a relative path against the job's working directory; make it unambiguous.
            kwargs["log_directory"] = os.path.abspath(s["log_directory"])
        if s["job_extra_directives"]:
            kwargs["job_extra_directives"] = [*_site_list("job-extra-directives", "job-extra"),
                                              *s["job_extra_directives"]]
        if s["job_directives_skip"]:
            kwargs["job_directives_skip"] = [*_site_list("job-directives-skip", "header-skip"),
                                             *s["job_directives_skip"]]
        # Same thread limits and worker-side Dask settings as the local backend, set in the job script.
        kwargs["job_script_prologue"] = [*_site_list("job-script-prologue", "env-extra"), *s["job_script_prologue"],
                                         thread_limit_exports(),
                                         *worker_env_exports()]
        kwargs["scheduler_options"] = {**(_site("scheduler-options") or {}),
                                       "dashboard_address": self.config["dashboard_address"]}
        if s["interface"]:
            kwargs["scheduler_options"]["interface"] = s["interface"]
        if s["worker_lifetime"]:
            kwargs["worker_extra_args"] = [*_site_list("worker-extra-args", "extra"), "--lifetime",
                                           s["worker_lifetime"], "--lifetime-stagger", s["worker_lifetime_stagger"]]
        return kwargs

    def credentials_base(self) -> str:
        """A folder the compute nodes share, for the run's credentials: cluster.slurm.shared_temp_directory, else
        the site's jobqueue.slurm.shared-temp-directory, else ~/.autocnet_jobs (home is shared on most sites)."""
        base = self.config["slurm"]["shared_temp_directory"] or _site("shared-temp-directory") or "~/.autocnet_jobs"
        return os.path.abspath(os.path.expanduser(os.path.expandvars(base)))

    def interface(self) -> str | None:
        """The network interface the workers and the scheduler use: cluster.slurm.interface, else the site's."""
        return self.config["slurm"]["interface"] or _site("interface")

    def _start(self) -> Client:
        s = self.config["slurm"]
        self._submit_dir = os.getcwd()  # sbatch runs here: the default working and log directory of the jobs
        # TLS (made here, not in cluster_kwargs, so rendering a job script makes no credentials): file paths only,
        # which dask-jobqueue puts on the worker command line; the files are 0600 on the shared filesystem.
        self.cluster = WatchedSLURMCluster(**self.cluster_kwargs(), security=self.security())
        # The values the job scripts really use (a site's jobqueue.yaml may set them).
        job = self.cluster._dummy_job
        self._job_name = job.job_name or "worker"
        self._log_dir = os.path.abspath(job.log_directory) if job.log_directory else None
        # Always adaptive, so a worker job that dies (scancel, node failure, walltime) is replaced.
        n = self.config["n_workers"]
        lo = s["minimum_jobs"] if s["minimum_jobs"] is not None else n
        hi = s["maximum_jobs"] if s["maximum_jobs"] is not None else max(n, lo)
        self.cluster.adapt(minimum_jobs=lo, maximum_jobs=hi)
        self._max_stillborn = max(4, hi)
        self._watcher = threading.Thread(target=self._watch, name="autocnet-slurm-jobs", daemon=True)
        self._watcher.start()
        return Client(self.cluster)

    def job_ids(self) -> list[str]:
        """Slurm job ids of the worker jobs this cluster has submitted and not yet closed."""
        if self.cluster is None:
            return []
        jobs = list(self.cluster.workers.values())  # one C-level copy: the loop thread changes the dict
        return sorted((j.job_id for j in jobs if getattr(j, "job_id", None)), key=int)

    def job_script(self) -> str | None:
        return self.cluster.job_script() if self.cluster is not None else None

    def worker_log(self, worker_info: dict) -> str | None:
        """The stderr file of the worker's Slurm job (where Dask workers log)."""
        job = worker_info.get("slurm_job_id")
        if not job:
            return None
        if self._log_dir:
            return os.path.join(self._log_dir, f"{self._job_name}-{job}.err")
        # Without a log directory dask-jobqueue sets no -o/-e: Slurm's default file in the submit directory.
        return os.path.join(self._submit_dir, f"slurm-{job}.out")

    def callback_host(self) -> str:
        """The address on the workers' interface (:meth:`interface`), the network the compute nodes use to reach
        the scheduler (which runs in this process too); this host's outward address when no interface is named."""
        interface = self.interface()
        if not interface:
            return super().callback_host()
        from distributed.utils import get_ip_interface

        try:
            return get_ip_interface(interface)
        except ValueError as exc:
            raise ConfigError(f"cluster.slurm.interface: {exc}") from None

    def kill_worker(self, worker: dict) -> bool:
        """scancel the worker's job (only one of ours); the job watcher and adapt() submit a replacement."""
        job = worker.get("slurm_job_id")
        if not job or job not in self.job_ids():
            return False
        res = subprocess.run(["scancel", job], capture_output=True, text=True, timeout=30)
        if res.returncode != 0:
            log.warning("scancel %s failed: %s", job, res.stderr.strip())
        return res.returncode == 0

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(10)
        jobs = set(self.job_ids())
        super().close()  # scancels them
        # Until Slurm has let go of them (COMPLETING while slurmd ends their processes): after close, squeue
        # lists no job of the run, and a next run's jobs never share a node with a half-ended one.
        deadline = time.monotonic() + CLOSE_WAIT
        left = jobs
        while left and time.monotonic() < deadline:
            time.sleep(0.25)
            active = active_slurm_jobs()
            left = left if active is None else left & active
        if left:
            log.warning("Slurm still lists worker job(s) %s %.0f s after close", sorted(left, key=int), CLOSE_WAIT)

    # ---- the job watcher (its own thread; cluster state is changed on the cluster's event loop) -------------
    def _watch(self) -> None:
        while not self._stop.wait(self.check_interval):
            try:
                self._check_jobs()
            except Exception:  # noqa: BLE001 - a failed check must not end the watcher
                log.warning("checking the Slurm worker jobs failed", exc_info=True)

    def _check_jobs(self) -> None:
        cluster = self.cluster
        if cluster is None:
            return
        n_connected = len(cluster.connected_jobs)
        if n_connected > self._n_connected:  # a worker connected: stillborn jobs are no longer "in a row"
            self._n_connected, self._stillborn = n_connected, 0
        jobs = [(name, job) for name, job in list(cluster.workers.items())
                if getattr(job, "job_id", None) and job.job_id not in self._given_up]
        if not jobs:
            return
        active = active_slurm_jobs()  # after listing the jobs: each of them was in Slurm's queue before this
        if active is None:
            return
        connected = {info.get("name") for info in list(cluster.scheduler_info["workers"].values())}
        # SpecCluster forgets a lost worker's job exactly lost-worker-timeout after the loss; leave those to it.
        grace = parse_timedelta(dask.config.get("distributed.deploy.lost-worker-timeout")) + 2.0
        now = time.monotonic()
        for name, job in jobs:
            if job.job_id in active or cluster.worker_names(name) & connected:
                continue  # alive, or gone so recently that the scheduler has not noticed yet
            lost = cluster.lost_at.get(name)
            if lost is not None and now - lost < grace:
                continue  # SpecCluster's own lost-worker timer is about to forget it
            cluster.loop.add_callback(self._forget, name, job)

    def _forget(self, name: Any, job: Any) -> None:
        """On the cluster's loop: drop a job that is gone, so adapt() submits a new one for its slot."""
        cluster = self.cluster
        if cluster is None or cluster.workers.get(name) is not job:
            return
        if job.job_id not in cluster.connected_jobs:
            self._stillborn += 1
            if self._stillborn > self._max_stillborn:
                self._given_up.add(job.job_id)
                if self.error is None:
                    self.error = (f"{self._stillborn} Slurm worker jobs in a row ended before their worker "
                                  f"connected; not submitting more. Last: job {job.job_id}, log "
                                  f"{self.worker_log({'slurm_job_id': job.job_id})}{_tail(self, job.job_id)}. "
                                  "Check cluster.slurm (python, queue, memory, interface) and the job script.")
                    log.error("%s", self.error)
                return
        log.warning("Slurm worker job %s (%s) is gone; adapt() will submit a replacement", job.job_id, name)
        del cluster.workers[name]
        cluster._futures.add(asyncio.ensure_future(job.close()))  # scancel, in case it is only half gone


def _tail(backend: SlurmBackend, job_id: str, lines: int = 3) -> str:
    path = backend.worker_log({"slurm_job_id": job_id})
    try:
        with open(path, errors="replace") as f:
            tail = [line.strip() for line in f.readlines()[-lines:] if line.strip()]
    except (OSError, TypeError):
        return ""
    return (" ending: " + " | ".join(tail)) if tail else ""
