"""A Dask LocalCluster: process workers, one thread each, on this machine."""
from __future__ import annotations

from distributed import Client, LocalCluster

from .base import ClusterBackend


class LocalBackend(ClusterBackend):
    name = "local"

    def _start(self) -> Client:
        self.cluster = LocalCluster(
            n_workers=self.config["n_workers"], threads_per_worker=1, processes=True,
            host="127.0.0.1", dashboard_address=self.config["dashboard_address"],
            silence_logs=40,  # ERROR: worker chatter does not drown the progress bar
            # One thread per library too: OpenCV, BLAS and GDAL would otherwise each use every core.
            env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "GDAL_NUM_THREADS": "1"},
        )
        return Client(self.cluster)

    def worker_log(self, worker_info: dict) -> str | None:
        return "stderr of the process running the ImageAdder (LocalCluster workers log there)"
