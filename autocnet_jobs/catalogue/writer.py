"""The DB writer: one process, the only database connection of a run.

The tracker sends it records and job rows over a pipe; it writes them in batches
(flushed by size or age) in one transaction each and acknowledges the paths only after the commit, which is
what makes ``job_status[path] is True`` durable. A lost connection is retried with backoff; records are not
dropped and jobs are not failed for it.

Pipelined: while a thread of its own writes and commits one batch on the connection, the main thread keeps
reading messages and encodes the next batch (``store.encode``: the COPY bytes, with no database); one batch is on
the connection at a time, in order, so the guarantees above hold as they did one batch after another. The
connection is only ever used by one thread at a time (the main thread waits for the batch in flight before it
answers "known" or "sync").

The process is a fresh interpreter running this module (``python -c``), not a ``multiprocessing`` child: it never
re-imports the caller's ``__main__``, so it starts the same from a script, a notebook, ``python -c`` or a script
read from standard input (whose ``__main__`` names no file), and runs none of the caller's code.

Messages in:  ("write", records, job_rows) | ("known", request_id) | ("sync", tag) | ("stop",)
Messages out: ("ready", None) | ("fatal", message) | ("committed", [paths]) | ("rejected", [(path, message)])
              | ("known", request_id, {path: state}) | ("synced", tag): all before the sync is committed
              | ("db_down", message) | ("db_up", None)
"""
from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Protocol

from .writer_commit import BACKOFF_MAX, Outbox, commit, connection_error, known

log = logging.getLogger(__name__)

_SWITCH_INTERVAL = 0.00005  # seconds: how soon a thread waiting for the GIL gets it from a busy one


class Inbox(Protocol):
    def get(self, timeout: float | None = None) -> tuple: ...


def writer_main(url: str, batch_size: int, flush_interval: float, inbox: Inbox, outbox: Outbox,
                retry_connect: bool = False) -> None:
    """Entry point of the writer process. ``retry_connect``: wait for the database instead of giving up
    (a restart mid-run, when the database may be the reason the old writer died)."""
    # Ctrl-C in a terminal reaches the whole process group; the adder decides when the writer stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from ..errors import DatabaseUnavailable
    from .store import SchemaMismatch, open_store

    delay = 0.2
    while True:
        try:
            store = open_store(url)
            store.connect()
            break
        except DatabaseUnavailable as exc:
            if not retry_connect or not connection_error(exc):
                outbox.put(("fatal", str(exc)))
                return
            time.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)
    outbox.put(("ready", os.getpid()))

    records: list[dict] = []
    jobs: list[dict] = []
    oldest: float | None = None
    stopping = False
    # Pipelined: the main thread encodes batches (store.encode, no database) while the committing thread writes
    # and commits the ones before, in order, one at a time on the one connection; a batch's paths are acknowledged
    # only once it is committed. One encoded batch may wait behind the one being written, so the connection goes
    # from one commit straight to the next batch. The main thread touches the connection only when that thread is
    # idle (settle()).
    committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autocnet-writer-db")
    in_flight: deque[Future] = deque()
    halted = threading.Event()  # set by a batch that raised: the ones queued behind it are not written
    switch = sys.getswitchinterval()
    # The committing thread wakes for each block of COPY data the server takes: with the encoding thread busy,
    # Python's default 5 ms before handing it the GIL would leave the server waiting (bench/README.md).
    sys.setswitchinterval(_SWITCH_INTERVAL)

    def settle(keep: int = 0) -> None:
        """Wait until at most ``keep`` batches are in flight; a SchemaMismatch of one is raised here."""
        while len(in_flight) > keep:
            in_flight.popleft().result()

    def flush() -> None:
        nonlocal records, jobs, oldest
        if not records and not jobs:
            return
        batch_records, batch_jobs = records, jobs
        records, jobs, oldest = [], [], None
        try:
            encoded = store.encode(batch_records, batch_jobs)
        except Exception as exc:  # noqa: BLE001 - a value that cannot be sent: found row by row in commit
            encoded = exc
        settle(keep=1)
        in_flight.append(committer.submit(commit, store, encoded, batch_records, batch_jobs, outbox, halted))

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
                    settle()
                    outbox.put(("known", msg[1], known(store)))
                elif kind == "sync":  # the tracker paces what it sends by these
                    flush()
                    settle()
                    outbox.put(("synced", msg[1]))
                elif kind == "stop":
                    stopping = True
            if stopping or len(records) + len(jobs) >= batch_size or (
                    oldest is not None and time.monotonic() - oldest >= flush_interval):
                flush()
            if stopping:
                settle()
                break
    except SchemaMismatch as exc:  # a reconnect found another version's catalogue: no retry can help
        outbox.put(("fatal", str(exc)))
    finally:
        committer.shutdown(wait=True)
        sys.setswitchinterval(switch)
    store.close()


class _Sender:
    """The writer's outbox in its process: messages to the adder over the pipe (none once the adder is gone)."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self._lock = threading.Lock()  # the main and the committing thread both report

    def put(self, msg: tuple) -> None:
        try:
            with self._lock:
                self.conn.send(msg)
        except OSError:
            pass  # the adder died: nobody to tell; the getppid check ends the loop


def _pump(conn: Connection, into: queue.Queue, at_eof: tuple | None) -> None:
    """Move messages from a pipe into a queue until the other end closes it, then put ``at_eof``. The pipe is
    this thread's: it closes it (no other thread may, or a reused descriptor number could be read)."""
    try:
        while True:
            into.put(conn.recv())
    except (EOFError, OSError):
        pass
    finally:
        conn.close()
    if at_eof is not None:
        into.put(at_eof)


def child_main(argv: list[str]) -> None:
    """Entry point of the writer interpreter: ``argv`` is the read end of its inbox pipe and the write end of
    its outbox pipe; the first message says what to open. The adder gone (its pipe closed) means stop."""
    inbox_fd, outbox_fd = (int(a) for a in argv)
    receiver = Connection(inbox_fd, writable=False)
    url, batch_size, flush_interval, retry_connect = receiver.recv()
    inbox: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(receiver, inbox, ("stop",)), name="autocnet-writer-inbox",
                     daemon=True).start()
    writer_main(url, batch_size, flush_interval, inbox, _Sender(Connection(outbox_fd, readable=False)),
                retry_connect)


class WriterProcess:
    """Handle on the writer process, owned by the tracker. ``send`` never blocks (a thread feeds the pipe);
    what the writer says arrives in ``outbox`` (a plain queue, filled by a thread reading the pipe)."""

    def __init__(self, db_config: dict):
        self._cfg = db_config
        self.inbox: queue.Queue = queue.Queue()
        self.outbox: queue.Queue = queue.Queue()
        self.process: subprocess.Popen | None = None
        self.pid: int | None = None
        self._threads: list[threading.Thread] = []

    def start(self, timeout: float = 60.0, wait: bool = True) -> None:
        """Start the process; with ``wait`` block until it is connected (DatabaseUnavailable if it cannot)."""
        from ..errors import DatabaseUnavailable

        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "import sys; from autocnet_jobs.catalogue.writer import child_main; "
                 "child_main(sys.argv[1:])", str(in_r), str(out_w)], pass_fds=(in_r, out_w), env=env,
                stdin=subprocess.DEVNULL)
        finally:
            os.close(in_r)
            os.close(out_w)
        self.pid = self.process.pid
        sender, receiver = Connection(in_w, readable=False), Connection(out_r, writable=False)
        sender.send((self._cfg["url"], self._cfg["batch_size"], self._cfg["flush_interval"], not wait))
        self._threads = [threading.Thread(target=self._feed, args=(sender,), name="autocnet-writer-feed", daemon=True),
                         threading.Thread(target=_pump, args=(receiver, self.outbox, None), name="autocnet-writer-read",
                                          daemon=True)]
        for t in self._threads:
            t.start()
        if not wait:
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                kind, value = self.outbox.get(timeout=0.1)
                break
            except queue.Empty:
                pass
            if self.process.poll() is not None and not self._threads[1].is_alive() and self.outbox.empty():
                raise DatabaseUnavailable(f"the database writer exited with code {self.process.returncode} before "
                                          "connecting to the database (its error is above)")
            if time.monotonic() > deadline:
                self.kill()
                raise DatabaseUnavailable(f"the database writer did not start within {timeout:.0f} s")
        if kind == "fatal":
            self.process.wait(5)
            raise DatabaseUnavailable(value)
        self.pid = value

    def _feed(self, conn: Connection) -> None:
        """Send what the tracker queued, in order, until :meth:`release`; the pipe is this thread's to close."""
        try:
            while (msg := self.inbox.get()) is not None:
                conn.send(msg)
        except OSError:
            pass  # the writer died; the tracker restarts it and re-sends what was not acknowledged
        finally:
            conn.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def send(self, msg: tuple) -> None:
        self.inbox.put(msg)

    def stop(self, timeout: float = 60.0) -> None:
        """Ask the writer to flush and exit; its last acknowledgements stay readable in ``outbox``."""
        if self.alive():
            self.inbox.put(("stop",))
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        self.collect()

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait(5)

    def collect(self, timeout: float = 5.0) -> None:
        """Once the process has ended: wait until everything it wrote is in ``outbox``."""
        if len(self._threads) == 2 and not self.alive():
            self._threads[1].join(timeout)

    def release(self) -> None:
        """Let go of the pipes once nothing more will be sent: the feeding thread closes its end after what is
        queued (the reading thread closes the other when the process has ended)."""
        self.inbox.put(None)
        if self._threads:
            self._threads[0].join(5)  # no thread of a finished run left behind

