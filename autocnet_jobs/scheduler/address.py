"""Connect to a Dask scheduler someone else runs (``cluster.backend: address``)."""
from __future__ import annotations

from distributed import Client

from .base import ClusterBackend


class AddressBackend(ClusterBackend):
    name = "address"

    def callback_host(self) -> str:
        """This host's address on the route to the scheduler, which the workers share."""
        from distributed.utils import get_ip

        host = self.config["address"].split("://")[-1].rsplit(":", 1)[0].strip("[]")
        return get_ip(host) if host else get_ip()

    def _start(self) -> Client:
        return Client(self.config["address"], timeout=30)

    def close(self) -> None:
        # The scheduler and its workers are not ours to stop.
        if self.client is not None:
            self.client.close(timeout=10)
        self.client = None
