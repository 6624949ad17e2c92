"""Connect to a Dask scheduler someone else runs (``cluster.backend: address``)."""
from __future__ import annotations

from typing import Mapping

from distributed import Client
from distributed.security import Security

from ..errors import ConfigError
from .base import ClusterBackend
from .security import Credentials, site_credentials


class AddressBackend(ClusterBackend):
    name = "address"

    def callback_host(self) -> str:
        """This host's address on the route to the scheduler, which the workers share."""
        from distributed.utils import get_ip

        host = self.config["address"].split("://")[-1].rsplit(":", 1)[0].strip("[]")
        return get_ip(host) if host else get_ip()

    def _make_credentials(self, setting: str | Mapping) -> Credentials | None:
        """A site's files (a mapping) or, with ``auto``, the TLS files of the Dask config (the site's
        ``distributed.comm.tls.*``, as for any Dask client); this scheduler's credentials are not ours to make."""
        if isinstance(setting, Mapping):
            return site_credentials(setting)
        if setting == "none":
            return None
        tls = Security().get_tls_config_for_role("client")
        if tls.get("ca_file") and tls.get("cert") and "\n" not in tls["ca_file"] + tls["cert"]:
            return Credentials(ca=tls["ca_file"], cert=tls["cert"], key=tls.get("key") or tls["cert"])
        return None

    def _start(self) -> Client:
        security = self.security()
        address = self.config["address"]
        if security is None and address.startswith("tls://"):
            raise ConfigError(f"cluster.address {address} wants TLS but no certificate is configured: set "
                              "cluster.security to the site's {ca_file, cert, key} (or Dask's distributed.comm.tls)")
        # None: Dask's own config (and its security loader) decide, as for any client.
        return Client(address, security=security, timeout=30)

    def close(self) -> None:
        # The scheduler and its workers are not ours to stop.
        if self.client is not None:
            self.client.close(timeout=10)
        self.client = None
