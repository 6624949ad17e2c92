"""The Pyro5 callback channel between workers and the tracker.

Workers report ``started`` / ``succeeded`` / ``failed`` for one attempt of one job, several such events per
call (``report``: the events of a task that carries several images). The channel is
authenticated by a per-run token checked in the daemon's handshake (a proxy without it cannot even connect),
uses Pyro5's serpent serializer (Pyro5 has no pickle at all), runs the ``multiplex`` server so the number of
connected workers is not capped by a thread pool, and refuses messages above ``pyro.max_message_size``. Each new
connection's handshakes (TLS, then the token) run in a thread of their own within a short time limit
(:class:`.callback_tls.Transport`): a peer that connects and says nothing never holds up the others' callbacks.
Handlers only validate and enqueue: the tracker thread owns all state.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
import queue
import socket
import threading
from typing import Any

import Pyro5
import Pyro5.api
import Pyro5.errors
import Pyro5.server

from . import callback_tls

log = logging.getLogger(__name__)

OBJECT_ID = "autocnet_jobs.tracker"
_MAX_TEXT = 200_000


class TokenDaemon(Pyro5.server.Daemon):
    """A Pyro5 daemon that refuses connections whose handshake data is not the run's token."""

    def __init__(self, token: str, **kwargs: Any):
        self._token = token.encode()
        super().__init__(**kwargs)

    def validateHandshake(self, conn, data):  # noqa: N802 - Pyro5's name
        given = data.encode() if isinstance(data, str) else b""
        if not hmac.compare_digest(given, self._token):
            raise Pyro5.errors.SecurityError("callback refused: missing or wrong run token")
        return super().validateHandshake(conn, data)


@Pyro5.api.expose
class CallbackService:
    """What workers call. Every argument is checked before it reaches the tracker's queue."""

    def __init__(self, events: "queue.Queue[tuple]"):
        self._events = events

    def started(self, attempt: str, worker: dict) -> bool:
        self._events.put(("started", _key(attempt), _worker(worker)))
        return True

    def succeeded(self, attempt: str, record: dict) -> bool:
        self._events.put(("succeeded", _key(attempt), _record(record)))
        return True

    def failed(self, attempt: str, error: dict) -> bool:
        self._events.put(("failed", _key(attempt), _error(error)))
        return True

    def report(self, events: list | str) -> int:
        """Several events in one call, in the order they happened: ``[kind, attempt, payload(, seconds)]`` with
        kind ``started`` (payload: worker), ``succeeded`` (the record) or ``failed`` (the error); ``seconds``: how
        long the image took. The list may come JSON-encoded, as a string: records are JSON-safe, and the json
        module reads them ten times faster than serpent. All are checked before any is queued. Returns how many
        were taken."""
        if isinstance(events, str):
            try:
                events = json.loads(events)
            except ValueError:
                raise ValueError("events must be a JSON list") from None
        if not isinstance(events, (list, tuple)):
            raise ValueError("events must be a list")
        clean = []
        for event in events:
            if not isinstance(event, (list, tuple)) or len(event) not in (3, 4) or event[0] not in _REPORTED:
                raise ValueError("an event must be [started|succeeded|failed, attempt, payload(, seconds)]")
            kind, attempt, payload = event[0], _key(event[1]), event[2]
            seconds = event[3] if len(event) == 4 else None
            if seconds is not None and (not isinstance(seconds, (int, float)) or isinstance(seconds, bool)):
                raise ValueError("seconds must be a number")
            if kind == "started":
                clean.append(("started", attempt, _worker(payload)))
            elif kind == "succeeded":
                clean.append(("succeeded", attempt, _record(payload), seconds))
            else:
                clean.append(("failed", attempt, _error(payload), seconds))
        for item in clean:
            self._events.put(item)
        return len(clean)

    def ping(self) -> str:
        return "pong"


_REPORTED = ("started", "succeeded", "failed")


def _record(record: Any) -> dict:
    if not isinstance(record, dict) or not isinstance(record.get("path"), str):
        raise ValueError("record must be a dict with a 'path'")
    return record


def _error(error: Any) -> dict:
    if not isinstance(error, dict):
        raise ValueError("error must be a dict")
    return {k: str(error.get(k, ""))[:_MAX_TEXT] for k in ("kind", "type", "message", "traceback")}


def _key(attempt: Any) -> str:
    if not isinstance(attempt, str) or not attempt or len(attempt) > 200:
        raise ValueError("attempt must be a short string")
    return attempt


def _worker(worker: Any) -> dict:
    if not isinstance(worker, dict):
        raise ValueError("worker must be a dict")
    return {k: str(v)[:500] for k, v in worker.items() if k in ("host", "pid", "address", "slurm_job_id", "log")}


class CallbackServer:
    """Runs a :class:`TokenDaemon` in a daemon thread on ``host:port`` (0 = a free port).

    ``tls`` (PEM paths ``{"ca", "cert", "key"}``, see :mod:`.callback_tls`) is used when the daemon listens beyond
    loopback, or always with ``tls_on_loopback``; :attr:`client_tls` is then what callers need to connect (None:
    plain TCP). Loopback stays plain for speed, through the same accept path (handshake time limit included).
    """

    def __init__(self, events: "queue.Queue[tuple]", token: str, host: str = "127.0.0.1", port: int = 0,
                 max_message_size: int = 16 * 1024 * 1024, tls: dict | None = None, tls_on_loopback: bool = False):
        # Pyro5 reads these globals when a daemon is created; set them here so they hold for ours.
        Pyro5.config.SERVERTYPE = "multiplex"
        Pyro5.config.SERIALIZER = "serpent"
        Pyro5.config.MAX_MESSAGE_SIZE = max_message_size
        use_tls = tls is not None and (tls_on_loopback or not callback_tls.is_loopback(host))
        if tls is None and not callback_tls.is_loopback(host):
            log.warning("the callback daemon listens on %s without TLS (cluster.security: none): the run's token "
                        "travels in clear text over that network", host)
        self.client_tls: dict | None = dict(tls) if use_tls else None
        context = callback_tls.server_context(tls) if use_tls else None
        self.daemon = TokenDaemon(token, host=host, port=port)
        callback_tls.install(self.daemon, context)
        self.uri = str(self.daemon.register(CallbackService(events), objectId=OBJECT_ID))
        self.port = self.daemon.locationStr.rsplit(":", 1)[1]
        self._thread = threading.Thread(target=self.daemon.requestLoop, name="autocnet-pyro", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.daemon.shutdown()
        self._thread.join(10)
        self.daemon.close()


# ---- worker side -------------------------------------------------------------------------------------------
_local = threading.local()


def proxy(uri: str, token: str, tls: dict | None = None) -> Pyro5.api.Proxy:
    """A proxy owned by the calling thread (Pyro5 proxies belong to one thread), reused across tasks.
    ``tls``: the daemon's :attr:`CallbackServer.client_tls` (PEM paths), None for plain TCP."""
    cache: dict = getattr(_local, "proxies", None) or {}
    _local.proxies = cache
    p = cache.get(uri)
    if p is None:
        Pyro5.config.SERIALIZER = "serpent"
        p = callback_tls.TLSProxy(uri, callback_tls.client_context(tls)) if tls else Pyro5.api.Proxy(uri)
        p._pyroHandshake = token
        p._pyroTimeout = 60
        p._pyroMaxRetries = 3
        cache[uri] = p
    return p


def call(uri: str, token: str, method: str, *args: Any, tls: dict | None = None) -> Any:
    """Call ``method`` on the tracker, reconnecting once if the connection was dropped."""
    p = proxy(uri, token, tls=tls)
    try:
        return getattr(p, method)(*args)
    except Pyro5.errors.CommunicationError:
        p._pyroRelease()
        _local.proxies.pop(uri, None)
        return getattr(proxy(uri, token, tls=tls), method)(*args)


def worker_info() -> dict:
    info = {"host": socket.gethostname(), "pid": os.getpid(), "slurm_job_id": os.environ.get("SLURM_JOB_ID", "")}
    try:
        from distributed import get_worker

        info["address"] = get_worker().address
    except Exception:  # noqa: BLE001 - outside a Dask worker (tests, plain loops)
        info["address"] = ""
    return info
