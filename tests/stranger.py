"""Another user's process trying to join a run: run as ``python -m tests.stranger`` by tests/test_security.py.

Reads one JSON object on standard input (never the command line, which every user sees), tries each way in it
names, and prints one JSON object: for each attempt ``"ok: ..."`` or ``"refused: <error>"``.

    {"dask": {"scheduler": "tls://host:port", "workers": [...], "own": {"ca": ..., "cert": ..., "key": ...}},
     "pyro": {"uri": "PYRO:...", "token": "...", "own": {...}}}

``own`` files are the run's: attempts with them are the positive controls (they must work, or the refusals prove
nothing).
"""
from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import sys
import tempfile
import time


def attempt(fn) -> str:
    try:
        return f"ok: {fn()}"
    except BaseException as exc:  # noqa: BLE001 - every refusal is a result
        return f"refused: {type(exc).__name__}: {exc}"[:300]


def _client_run(address: str, security=None):
    from distributed import Client

    with Client(address, security=security, timeout=5) as c:
        return sorted(c.run(os.getpid).values())


def _comm_connect(address: str, security=None):
    from distributed.comm import connect

    async def go():
        kwargs = security.get_connection_args("client") if security is not None else {}
        comm = await connect(address, timeout=5, **kwargs)
        await comm.write({"op": "identity"})
        reply = await comm.read()
        await comm.close()
        return reply.get("type")

    return asyncio.run(go())


def raw_tcp(address: str) -> str:
    """Connect with a bare socket, send bytes that are not TLS, read what comes back until the peer closes."""
    host, port = address.split("://")[-1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"\x00" * 8 + b"hello, are you a dask scheduler?\n")
        data, t0 = b"", time.monotonic()
        closed = False
        while time.monotonic() - t0 < 5:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                closed = True
                break
            if not chunk:
                closed = True
                break
            data += chunk
    return json.dumps({"closed": closed, "bytes": len(data), "dask": b"compression" in data,
                       "head": data[:8].hex()})


def foreign_security():
    from distributed.security import Security

    return Security.temporary()


def own_security(files: dict):
    from distributed.security import Security

    return Security(require_encryption=True, tls_ca_file=files["ca"], tls_client_cert=files["cert"],
                    tls_client_key=files["key"])


def dask_attempts(spec: dict) -> dict:
    scheduler = spec["scheduler"]
    hostport = scheduler.split("://")[-1]
    out = {
        "no_credentials": attempt(lambda: _client_run(scheduler)),
        "plain_tcp": attempt(lambda: _client_run("tcp://" + hostport)),
        "foreign_certificate": attempt(lambda: _client_run(scheduler, foreign_security())),
        "raw_tcp": raw_tcp(scheduler),
    }
    for i, worker in enumerate(spec.get("workers", [])):
        out[f"worker{i}_plain_tcp"] = attempt(lambda w=worker: _comm_connect("tcp://" + w.split("://")[-1]))
        out[f"worker{i}_foreign_certificate"] = attempt(lambda w=worker: _comm_connect(w, foreign_security()))
    if spec.get("own"):
        out["own_credentials"] = attempt(lambda: _client_run(scheduler, own_security(spec["own"])))
        if spec.get("workers"):
            out["worker0_own_credentials"] = attempt(lambda: _comm_connect(spec["workers"][0],
                                                                           own_security(spec["own"])))
    return out


def _ping(proxy, token: str) -> str:
    proxy._pyroHandshake = token
    proxy._pyroTimeout = 5
    with proxy:
        return proxy.ping()


def pyro_attempts(spec: dict) -> dict:
    import Pyro5.api
    from distributed.security import Security

    from autocnet_jobs.engine.callback_tls import TLSProxy, client_context

    uri, token, own = spec["uri"], spec["token"], spec["own"]
    ca_only = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=own["ca"])
    ca_only.check_hostname = False
    folder = tempfile.mkdtemp()
    foreign = Security.temporary()
    for name, text in (("cert.pem", foreign.tls_client_cert), ("key.pem", foreign.tls_client_key)):
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)
    stranger = {"ca": own["ca"], "cert": os.path.join(folder, "cert.pem"), "key": os.path.join(folder, "key.pem")}
    out = {
        "plain_with_token": attempt(lambda: _ping(Pyro5.api.Proxy(uri), token)),
        "tls_without_certificate": attempt(lambda: _ping(TLSProxy(uri, ca_only), token)),
        "tls_foreign_certificate": attempt(lambda: _ping(TLSProxy(uri, client_context(stranger)), token)),
        "tls_wrong_token": attempt(lambda: _ping(TLSProxy(uri, client_context(own)), "not-the-token")),
        "tls_own": attempt(lambda: _ping(TLSProxy(uri, client_context(own)), token)),
    }
    # Pyro5's own SSL client (its process-global settings), trusting the run's CA but with no certificate.
    Pyro5.config.SSL = True
    Pyro5.config.SSL_CACERTS = own["ca"]
    out["pyro5_ssl_without_certificate"] = attempt(lambda: _ping(Pyro5.api.Proxy(uri), token))
    Pyro5.config.SSL = False
    return out


def main() -> None:
    spec = json.load(sys.stdin)
    out = {}
    if "dask" in spec:
        out["dask"] = dask_attempts(spec["dask"])
    if "pyro" in spec:
        out["pyro"] = pyro_attempts(spec["pyro"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
