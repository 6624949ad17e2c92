"""A Dask LocalCluster: process workers, one thread each, on this machine."""
from __future__ import annotations

import logging
import os
import signal

from distributed import Client, LocalCluster

from .base import THREAD_LIMITS, ClusterBackend

log = logging.getLogger(__name__)


class LocalBackend(ClusterBackend):
    name = "local"
    refills_slots = True

    def _start(self) -> Client:
        security = self.security()  # loopback is no protection: every local user can reach it
        self.cluster = LocalCluster(
            n_workers=self.config["n_workers"], threads_per_worker=1, processes=True,
            host="127.0.0.1", dashboard_address=self.config["dashboard_address"],
            silence_logs=40,  # ERROR: worker chatter does not drown the progress bar
            env=dict(THREAD_LIMITS),
            security=security, protocol="tls://" if security is not None else None,
        )
        return Client(self.cluster, security=security)

    def callback_host(self) -> str:
        return "127.0.0.1"  # the workers are on this machine: nothing else needs to reach the daemon

    def worker_log(self, worker_info: dict) -> str | None:
        return "stderr of the process running the ImageAdder (LocalCluster workers log there)"

    def lost_slots(self, connected: set) -> set:
        cluster = self.cluster
        if cluster is None:
            return set()
        nannies = dict(list(cluster.workers.items()))
        # A nanny still running is restarting its worker, however slowly (a loaded machine can take a minute):
        # replacing it then would kill that start. Lost means the nanny gave up or closed, or is gone: SpecCluster
        # closes and forgets a nanny whose worker stays away longer than distributed.deploy.lost-worker-timeout
        # (15 s; a restart on a loaded machine can take that long) and never starts another.
        return {name for name in list(cluster.worker_spec) if name not in connected
                and (name not in nannies or nannies[name].status.name not in ("running", "init", "starting"))}

    def heal(self, lost: set) -> None:
        """Replace these worker slots (LocalCluster never does: a nanny whose restart failed, or that closed,
        keeps its slot without a worker for ever)."""
        cluster = self.cluster
        if cluster is None:
            return

        def fix() -> None:  # on the cluster's event loop, which owns worker_spec
            for name in lost:
                cluster.worker_spec.pop(name, None)
            cluster.scale(self.config["n_workers"])  # closes the old nannies, starts new ones

        cluster.loop.add_callback(fix)

    def kill_worker(self, worker: dict) -> bool:
        cluster = self.cluster
        try:
            pid = int(worker.get("pid") or 0)  # the callback channel carries it as text
        except ValueError:
            return False
        if not pid or cluster is None:
            return False
        # Only a process one of our nannies runs: a pid alone could by now belong to anything.
        if pid not in {getattr(n, "pid", None) for n in list(cluster.workers.values())}:
            return False
        try:
            os.kill(pid, signal.SIGKILL)  # its nanny sees the exit and starts a fresh worker
        except ProcessLookupError:
            return False
        return True
