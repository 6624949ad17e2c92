"""The writer's committing thread (writer.py): one encoded batch written in its transaction and acknowledged once
committed. Lost connections are retried with backoff (nothing dropped, no job failed for it); a batch with a bad
row is written row by row and only the bad rows are rejected."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

log = logging.getLogger("autocnet_jobs.catalogue.writer")

BACKOFF_MAX = 5.0
_SQLITE_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o", "readonly database")


class Outbox(Protocol):
    def put(self, msg: tuple) -> None: ...


def commit(store, encoded, records: list[dict], jobs: list[dict], outbox: Outbox, halted: threading.Event) -> None:
    """Write one encoded batch in its transaction (the committing thread's work) and acknowledge its paths once
    committed. Lost connections are retried with backoff, nothing dropped; a batch with a bad row is written row by
    row and the bad ones rejected; a SchemaMismatch is raised (the writer stops with a fatal message, and writes
    nothing queued behind it)."""
    if halted.is_set():
        return
    try:
        _commit_batch(store, encoded, records, jobs, outbox)
    except BaseException:
        halted.set()
        raise


def _commit_batch(store, encoded, records: list[dict], jobs: list[dict], outbox: Outbox) -> None:
    from .store import SchemaMismatch

    delay = 0.2
    down = False
    bad: Exception | None = None
    while True:
        try:
            if store.conn is None:
                store.connect()
            if isinstance(encoded, Exception):
                bad = encoded  # a value encode() could not take: a bad row, found below once connected
            else:
                store.write_encoded(encoded)
            break
        except Exception as exc:  # noqa: BLE001 - sorted into "connection" and "bad row" below
            if isinstance(exc, SchemaMismatch):
                raise  # not the rows' fault: the writer stops with a fatal message
            if not connection_error(exc):
                bad = exc
                break
            # Connection-level trouble: keep everything, reconnect with backoff.
            if not down:
                outbox.put(("db_down", first_line(exc)))
                down = True
            store.close()
            time.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)
    if down:
        outbox.put(("db_up", None))
    if bad is not None:
        # A bad row: write what can be written one by one and reject the rest.
        _isolate(store, records, jobs, outbox, bad)
    elif records:
        outbox.put(("committed", [r["path"] for r in records]))


def connection_error(exc: BaseException) -> bool:
    """True for trouble with the connection (retry later), False for trouble with the data (reject it)."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from ..errors import DatabaseUnavailable
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


def known(store) -> dict[str, Any]:
    delay = 0.2
    while True:
        try:
            if store.conn is None:
                store.connect()
            return store.known()
        except Exception as exc:  # noqa: BLE001
            if not connection_error(exc):
                raise
            store.close()
            time.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)


def _isolate(store, records: list[dict], jobs: list[dict], outbox: Outbox, exc: Exception) -> None:
    committed, rejected = [], []
    for rec in records:
        try:
            store.write([rec], [])
            committed.append(rec["path"])
        except Exception as one:  # noqa: BLE001 - reported per record to the tracker
            rejected.append((rec["path"], first_line(one)))
    for job in jobs:
        try:
            store.write([], [job])
        except Exception:  # noqa: BLE001 - a job row that cannot be written is not worth a failure
            log.exception("could not write job row for %s", job.get("path"))
    if committed:
        outbox.put(("committed", committed))
    if rejected:
        outbox.put(("rejected", rejected))


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
