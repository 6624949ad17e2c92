"""TLS for the callback channel, per daemon and per proxy.

Pyro5's own SSL support reads process-global settings (``Pyro5.config.SSL*``) and caches one client and one server
context for the whole process, so two runs in one process (two adders, or a worker serving two runs) would share
one certificate and turning it on for one would turn it on for all. Here each daemon and each proxy carries its
own :class:`ssl.SSLContext`: the daemon wraps each accepted connection before Pyro5's handshake (where the run's
token is checked), and the proxy wraps its socket before sending that handshake. Both sides require the peer's
certificate to be signed by the run's CA (the run's own certificate for ``cluster.security: auto``); host names
are not checked (IP addresses on cluster networks, one private CA per run: Dask's choice too).

``files`` are plain dicts of PEM paths, ``{"ca": ..., "cert": ..., "key": ...}``, so they travel to workers as
task arguments (paths only; the key never leaves its 0600 file).
"""
from __future__ import annotations

import ipaddress
import logging
import selectors
import socket
import ssl
import threading
import time
from typing import Mapping

import Pyro5.client
import Pyro5.errors
from Pyro5 import config, core, protocol, serializers, socketutil
from Pyro5.callcontext import current_context
from Pyro5.svr_multiplex import SocketServer_Multiplex

log = logging.getLogger(__name__)

# Seconds an accepted connection has, in all, for the TLS and Pyro handshakes. They run in a thread of their own
# per connection (see Transport), so a peer that connects and says nothing holds only that thread, never the daemon.
HANDSHAKE_TIMEOUT = 5.0
# Connections in their handshake at once; one more is closed at once (a flood, not a run's workers: each worker
# thread connects once and keeps its connection).
MAX_HANDSHAKES = 256


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) is on this machine's loopback only: no other machine can reach a
    daemon bound there, so TLS adds nothing a local user could not bypass. ``0.0.0.0`` and names that resolve
    to any other address are not."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def _context(purpose: ssl.Purpose, files: Mapping[str, str]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(purpose, cafile=files["ca"])
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(files["cert"], files.get("key") or None)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED  # both ways: a client without the run's certificate is refused
    return ctx


def server_context(files: Mapping[str, str]) -> ssl.SSLContext:
    return _context(ssl.Purpose.CLIENT_AUTH, files)


_client_contexts: dict[tuple, ssl.SSLContext] = {}
_client_lock = threading.Lock()


def client_context(files: Mapping[str, str]) -> ssl.SSLContext:
    """The client context for these files, made once per process (a worker calls back for every task)."""
    key = (files["ca"], files["cert"], files.get("key"))
    with _client_lock:
        ctx = _client_contexts.get(key)
        if ctx is None:
            ctx = _client_contexts[key] = _context(ssl.Purpose.SERVER_AUTH, files)
        return ctx


class _Deadline:
    """A socket whose every send and receive gets only what is left of one deadline, so a peer that sends a byte
    now and then cannot stretch a handshake past it (a socket timeout alone is per call)."""

    def __init__(self, sock: socket.socket, deadline: float):
        self._sock, self._deadline = sock, deadline

    def _arm(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("handshake time limit")
        self._sock.settimeout(left)

    def recv(self, *args):
        self._arm()
        return self._sock.recv(*args)

    def send(self, *args):
        self._arm()
        return self._sock.send(*args)

    def sendall(self, *args):
        self._arm()
        return self._sock.sendall(*args)

    def __getattr__(self, name):  # getpeercert (TLS or not decides how Pyro5 reads), fileno, close, ...
        return getattr(self._sock, name)


class Transport(SocketServer_Multiplex):
    """Pyro5's multiplex server with each accepted connection's handshakes (TLS first when :attr:`tls` is set,
    then Pyro5's, where the run's token is checked) done in a thread of their own, within
    :data:`HANDSHAKE_TIMEOUT` in all. Only a connection that passed both joins the daemon's loop, handed over
    through :attr:`_ready` and a wake-up socket, so the loop never waits on a peer that has not proven itself.
    Installed on a daemon by :func:`install`."""

    tls: ssl.SSLContext | None = None

    def _start_handoff(self) -> None:
        self._ready: list[socketutil.SocketConnection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._slots = threading.BoundedSemaphore(MAX_HANDSHAKES)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, self)

    def _handleConnection(self, sock):  # noqa: N802 - Pyro5's name
        """Accept, and start the new connection's handshakes elsewhere; nothing to register yet."""
        if sock is None:
            return None
        try:
            csock, addr = sock.accept()
        except OSError as exc:
            if getattr(exc, "errno", None) in socketutil.ERRNO_BADF + socketutil.ERRNO_ENOTSOCK:
                raise Pyro5.errors.ConnectionClosedError("server socket closed") from None
            log.warning("accept() on the callback daemon failed: %s", exc)
            return None
        if self._closed or not self._slots.acquire(blocking=False):
            log.info("callback connection from %s refused: %d handshakes already under way", addr[0] if addr else "?",
                     MAX_HANDSHAKES)
            _close(csock)
            return None
        try:
            threading.Thread(target=self._handshake, args=(csock, addr), name="autocnet-pyro-handshake",
                             daemon=True).start()
        except BaseException:
            self._slots.release()
            _close(csock)
            raise
        return None

    def _handshake(self, csock: socket.socket, addr) -> None:
        """In its own thread: TLS, then Pyro5's handshake (TokenDaemon.validateHandshake checks the token), then
        hand the connection to the loop."""
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT
        try:
            csock.settimeout(HANDSHAKE_TIMEOUT)
            if self.tls is not None:
                csock = self.tls.wrap_socket(csock, server_side=True)  # one deadline for the whole TLS handshake
            conn = socketutil.SocketConnection(_Deadline(csock, deadline), keep_open=True)
            if not self.daemon._handshake(conn):  # noqa: SLF001 - Pyro5's own handshake, as its servers call it
                raise Pyro5.errors.SecurityError("handshake refused")
            csock.settimeout(config.COMMTIMEOUT or None)
            conn.sock, conn.keep_open = csock, False  # the bare socket from here on; closed with the connection
            with self._lock:
                if not self._closed:
                    self._ready.append(conn)
                    conn = None
            if conn is not None:
                _close(csock)
                return
            try:
                self._wake_w.send(b"x")
            except OSError:  # full (the loop has a wake-up pending anyway) or closed (the daemon is going)
                pass
        except Exception as exc:  # noqa: BLE001 - whatever a peer does ends here, with its connection
            log.info("callback connection from %s refused: %s", addr[0] if addr else "?", exc)
            _close(csock)
        finally:
            self._slots.release()

    def events(self, eventsockets):
        """The loop's events; the wake-up socket's means connections that passed their handshakes wait in
        :attr:`_ready` to be served from now on."""
        if self._wake_r in eventsockets:
            eventsockets = [s for s in eventsockets if s is not self._wake_r]
            try:
                while self._wake_r.recv(4096):
                    pass
            except OSError:
                pass
            with self._lock:
                ready, self._ready = self._ready, []
            for conn in ready:
                if self.shutting_down:
                    conn.close()
                else:
                    self.selector.register(conn, selectors.EVENT_READ, self)
        return super().events(eventsockets)

    def close(self):
        with self._lock:
            self._closed = True
            ready, self._ready = self._ready, []
        for conn in ready:
            conn.close()
        super().close()
        _close(self._wake_r)
        _close(self._wake_w)


def _close(sock) -> None:
    try:
        sock.close()
    except OSError:
        pass


def install(daemon, tls: ssl.SSLContext | None) -> None:
    """Make ``daemon`` (a multiplex Pyro5 daemon, just created) accept connections through :class:`Transport`."""
    server = daemon.transportServer
    if not isinstance(server, SocketServer_Multiplex):
        raise TypeError("the callback daemon must use Pyro5's multiplex server")
    server.__class__ = Transport  # same state, a few methods more; the listening socket is unchanged
    server.tls = tls
    server._start_handoff()


class TLSProxy(Pyro5.client.Proxy):
    """A Pyro5 proxy that connects over TLS with its own context, then does Pyro5's connect handshake (which
    carries the token) inside it."""

    def __init__(self, uri: str, context: ssl.SSLContext):
        object.__setattr__(self, "_tls_context", context)  # Proxy.__setattr__ only knows Pyro5's own attributes
        super().__init__(uri)

    def _Proxy__pyroCreateConnection(self, replaceUri=False, connected_socket=None):  # noqa: N802 - Pyro5's
        if connected_socket is not None or self._pyroConnection is not None:
            return super()._Proxy__pyroCreateConnection(replaceUri, connected_socket)
        uri = core.resolve(self._pyroUri)
        where = (uri.host, uri.port)
        try:
            sock = socketutil.create_socket(connect=where, reuseaddr=config.SOCK_REUSE, timeout=self._pyroTimeout,
                                            nodelay=config.SOCK_NODELAY, sslContext=self._tls_context)
        except (OSError, ssl.SSLError) as exc:
            raise Pyro5.errors.CommunicationError(f"cannot connect to {where[0]}:{where[1]}: {exc}") from exc
        try:
            meta = self._handshake(sock, uri)
        except BaseException:
            sock.close()
            raise
        self._pyroGetMetadata(known_metadata=meta)
        return super()._Proxy__pyroCreateConnection(replaceUri, connected_socket=sock)

    def _handshake(self, sock, uri) -> dict:
        """Pyro5's MSG_CONNECT exchange (as Proxy does it on a plain socket); the daemon's metadata."""
        conn = socketutil.SocketConnection(sock, uri.object, keep_open=True)
        serializer = serializers.serializers[self._pyroSerializer or config.SERIALIZER]
        data = serializer.dumps({"handshake": self._pyroHandshake, "object": uri.object})
        msg = protocol.SendingMessage(protocol.MSG_CONNECT, 0, self._pyroSeq, serializer.serializer_id, data,
                                      annotations=current_context.annotations)
        try:
            conn.send(msg.data)
            reply = protocol.recv_stub(conn, [protocol.MSG_CONNECTOK, protocol.MSG_CONNECTFAIL])
        except (OSError, ssl.SSLError) as exc:  # e.g. the daemon refused our certificate
            raise Pyro5.errors.CommunicationError(f"cannot connect to {uri.host}:{uri.port}: {exc}") from exc
        answer = serializers.serializers_by_id[reply.serializer_id].loads(reply.data) if reply.data else "?"
        if reply.type == protocol.MSG_CONNECTFAIL:
            raise Pyro5.errors.CommunicationError(f"connection to {uri.host}:{uri.port} rejected: {answer}")
        return answer["meta"]
