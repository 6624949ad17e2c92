"""Cluster backends over one core (:mod:`.base`): a local cluster, Slurm through dask-jobqueue, or a running
scheduler at an address. ``make_backend(cluster_config)`` picks one by ``cluster.backend``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import ClusterBackend


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
