"""The DB writer: one process, the only database connection of a run.

The tracker sends it records and job rows over a local multiprocessing queue; it writes them in batches
(flushed by size or age) in one transaction each and acknowledges the paths only after the commit, which is
what makes ``job_status[path] is True`` durable. A lost connection is retried with backoff; records are not
dropped and jobs are not failed for it.

Messages in:  ("write", records, job_rows) | ("known", request_id) | ("stop",)
Messages out: ("ready", None) | ("fatal", message) | ("committed", [paths]) | ("rejected", [(path, message)])
              | ("known", request_id, {path: state}) | ("db_down", message) | ("db_up", None)
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import signal
import time
from typing import Any

log = logging.getLogger(__name__)

_BACKOFF_MAX = 5.0
_SQLITE_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o", "readonly database")


def writer_main(url: str, batch_size: int, flush_interval: float, inbox: mp.Queue, outbox: mp.Queue,
                retry_connect: bool = False) -> None:
    """Entry point of the writer process. ``retry_connect``: wait for the database instead of giving up
    (a restart mid-run, when the database may be the reason the old writer died)."""
    # Ctrl-C in a terminal reaches the whole process group; the adder decides when the writer stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .errors import DatabaseUnavailable
    from .store import SchemaMismatch, open_store

    store = open_store(url)
    delay = 0.2
    while True:
        try:
            store.connect()
            break
        except DatabaseUnavailable as exc:
            if not retry_connect or not _connection_error(exc):
                outbox.put(("fatal", str(exc)))
                return
            time.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX)
    outbox.put(("ready", os.getpid()))

    records: list[dict] = []
    jobs: list[dict] = []
    oldest: float | None = None
    stopping = False

    def flush() -> None:
        nonlocal records, jobs, oldest
        if not records and not jobs:
            return
        delay = 0.2
        down = False
        while True:
            try:
                if store.conn is None:
                    store.connect()
                store.write(records, jobs)
                break
            except Exception as exc:  # noqa: BLE001 - sorted into "connection" and "bad row" below
                if isinstance(exc, SchemaMismatch):
                    raise  # not the rows' fault: the writer stops with a fatal message
                if not _connection_error(exc):
                    # A bad row: write what can be written one by one and reject the rest.
                    _isolate(store, records, jobs, outbox, exc)
                    records, jobs, oldest = [], [], None
                    return
                # Connection-level trouble: keep everything, reconnect with backoff.
                if not down:
                    outbox.put(("db_down", _first_line(exc)))
                    down = True
                store.close()
                time.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
        if down:
            outbox.put(("db_up", None))
        if records:
            outbox.put(("committed", [r["path"] for r in records]))
        records, jobs, oldest = [], [], None

    try:
        parent = os.getppid()
        while True:
            if os.getppid() != parent:
                # The adder was killed (SIGKILL leaves no chance to stop us): commit what we have and go, so a
                # resumed run finds every acknowledged row and no orphan holds the database.
                stopping = True
            timeout = flush_interval if oldest is None else max(0.0, oldest + flush_interval - time.monotonic())
            try:
                msg = inbox.get(timeout=timeout)
            except queue.Empty:
                msg = None
            if msg is not None:
                kind = msg[0]
                if kind == "write":
                    records.extend(msg[1])
                    jobs.extend(msg[2])
                    if oldest is None:
                        oldest = time.monotonic()
                elif kind == "known":
                    flush()
                    outbox.put(("known", msg[1], _known(store)))
                elif kind == "stop":
                    stopping = True
            if stopping or len(records) + len(jobs) >= batch_size or (
                    oldest is not None and time.monotonic() - oldest >= flush_interval):
                flush()
            if stopping:
                break
    except SchemaMismatch as exc:  # a reconnect found another version's catalogue: no retry can help
        outbox.put(("fatal", str(exc)))
    store.close()


def _connection_error(exc: BaseException) -> bool:
    """True for trouble with the connection (retry later), False for trouble with the data (reject it)."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from .errors import DatabaseUnavailable
    from .store import SchemaMismatch

    if isinstance(exc, SchemaMismatch):  # a reconnect found another version's catalogue: waiting cannot help
        return False
    if isinstance(exc, OperationalError) and type(exc.orig).__module__ == "sqlite3":
        # sqlite3 calls schema errors ("no such column") operational too; only these pass with time.
        return any(m in str(exc.orig).lower() for m in _SQLITE_TRANSIENT)
    if isinstance(exc, (OperationalError, DatabaseUnavailable)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    try:
        import psycopg

        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            return True
    except ImportError:
        pass
    return False


def _known(store) -> dict[str, Any]:
    delay = 0.2
    while True:
        try:
            if store.conn is None:
                store.connect()
            return store.known()
        except Exception as exc:  # noqa: BLE001
            if not _connection_error(exc):
                raise
            store.close()
            time.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX)


def _isolate(store, records: list[dict], jobs: list[dict], outbox: mp.Queue, exc: Exception) -> None:
    committed, rejected = [], []
    for rec in records:
        try:
            store.write([rec], [])
            committed.append(rec["path"])
        except Exception as one:  # noqa: BLE001 - reported per record to the tracker
            rejected.append((rec["path"], _first_line(one)))
    for job in jobs:
        try:
            store.write([], [job])
        except Exception:  # noqa: BLE001 - a job row that cannot be written is not worth a failure
            log.exception("could not write job row for %s", job.get("path"))
    if committed:
        outbox.put(("committed", committed))
    if rejected:
        outbox.put(("rejected", rejected))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


class WriterProcess:
    """Handle on the writer process, owned by the tracker."""

    def __init__(self, db_config: dict):
        self._cfg = db_config
        self._ctx = mp.get_context("spawn")  # no fork: the adder has threads (Pyro, Dask) that must not be copied
        self.inbox: mp.Queue = self._ctx.Queue()
        self.outbox: mp.Queue = self._ctx.Queue()
        self.process: mp.Process | None = None
        self.pid: int | None = None

    def start(self, timeout: float = 60.0, wait: bool = True) -> None:
        """Start the process; with ``wait`` block until it is connected (DatabaseUnavailable if it cannot)."""
        from .errors import DatabaseUnavailable

        self.process = self._ctx.Process(
            target=writer_main, name="autocnet-writer", daemon=True,
            args=(self._cfg["url"], self._cfg["batch_size"], self._cfg["flush_interval"], self.inbox, self.outbox,
                  not wait))
        self.process.start()
        if not wait:
            self.pid = self.process.pid
            return
        try:
            kind, value = self.outbox.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise DatabaseUnavailable(f"the database writer did not start within {timeout:.0f} s") from None
        if kind == "fatal":
            self.process.join(5)
            raise DatabaseUnavailable(value)
        self.pid = value

    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def send(self, msg: tuple) -> None:
        self.inbox.put(msg)

    def stop(self, timeout: float = 60.0) -> None:
        """Ask the writer to flush and exit; its last acknowledgements stay readable in ``outbox``."""
        if self.process is not None and self.process.is_alive():
            self.inbox.put(("stop",))
            self.process.join(timeout)
        self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(5)

    def release(self) -> None:
        """Close the queues once nothing more will be read from them."""
        for q in (self.inbox, self.outbox):
            q.cancel_join_thread()
            q.close()
