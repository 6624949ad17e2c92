"""The tracker's side of the database writer process: sending it records and job rows, taking its
acknowledgements, restarting it when it dies, and failing what it can never write.

A mixin of :class:`~autocnet_jobs.engine.tracker.JobTracker`: these run on the tracker thread, under its lock,
over the tracker's state.
"""
from __future__ import annotations

import logging
import queue

from .. import errors
from ..catalogue.schema import JobState
from ..catalogue.writer import WriterProcess
from . import policy
from .job import TERMINAL, job_of

log = logging.getLogger("autocnet_jobs.engine.tracker")

MAX_WRITER_RESTARTS = 5


class WriterLink:
    def _restart_writer(self) -> None:
        self.writer.collect(2.0)  # what the dead writer said before it died (commits, a fatal error) still counts
        self._drain_writer()
        if self.db_error:
            return
        self._writer_restarts += 1
        if self._writer_restarts > MAX_WRITER_RESTARTS and self._unacked:
            # The same records keep killing the writer: fail their jobs instead of looping forever.
            for path in list(self._unacked):
                job = job_of(path, self.jobs[path])
                self._apply(job, policy.Abandoned({"kind": errors.DB_WRITE, "type": "WriterDied", "message": "the "
                                                   "database writer died repeatedly while writing this image"},
                                                  *self._stamp(job)))
            self._unacked.clear()
        log.warning("database writer died; restarting it and re-sending %d unacknowledged records",
                    len(self._unacked))
        self.writer.release()
        self.writer = WriterProcess(self.cfg["database"])
        self.writer.start(wait=False)  # it waits for the database itself; this thread must not block
        self._pending_records = list(self._unacked.values())
        # Rows the dead writer may not have written: jobs of this run launched and not done. A done job's row was
        # committed with its record; a skipped job's row is the catalogue's own (re-sending would wipe attempts,
        # worker). Images queued and never launched are not re-sent: their rows were written in chunks, each
        # confirmed (sync) before the next, and at worst one is missing until the image is run.
        self._pending_rows = {p: j.row() for p, j in self.jobs.items()
                              if not isinstance(j, tuple) and not j.from_catalogue and j.state is not JobState.DONE}
        self._syncs_out = 0  # the dead writer confirms nothing more
        for req in self._known_waiters:  # questions the dead writer may not have answered
            self.writer.send(("known", req))

    def _flush_to_writer(self) -> None:
        if self._pending_records or self._pending_rows:
            rows = [r if isinstance(r, dict) else r.row() for r in self._pending_rows.values()]
            self.writer.send(("write", self._pending_records, rows))
            self._pending_records, self._pending_rows = [], {}

    def _drain_writer(self) -> None:
        while True:
            try:
                msg = self.writer.outbox.get_nowait()
            except (queue.Empty, OSError, ValueError, EOFError):
                return
            self._on_writer(msg)

    def _on_writer(self, msg: tuple) -> None:
        kind = msg[0]
        if kind == "committed":
            self._writer_restarts = 0
            catalogue = self._catalogue
            for path in msg[1]:
                record = self._unacked.pop(path, None)
                job = self.jobs.get(path)
                if job is not None and not isinstance(job, tuple):
                    self._apply(job, policy.Committed())
                if catalogue is not None and record is not None:  # what known() says, current without a re-read
                    catalogue[path] = {"state": "done", "size": record.get("size"), "mtime": record.get("mtime")}
        elif kind == "rejected":
            for path, message in msg[1]:
                self._unacked.pop(path, None)
                job = self.jobs.get(path)
                if job is not None and not isinstance(job, tuple):
                    self._apply(job, policy.Rejected(message, *self._stamp(job)))
        elif kind == "known":
            if self._catalogue is None:
                self._catalogue = msg[2]
            waiter = self._known_waiters.pop(msg[1], None)
            if waiter:
                waiter[0].append(self._catalogue)
                waiter[1].set()
        elif kind == "synced":
            self._syncs_out = max(0, self._syncs_out - 1)
        elif kind == "ready":
            self.writer.pid = msg[1]
        elif kind == "fatal":
            self._writer_fatal(msg[1])
        elif kind == "db_down":
            self.db_down = msg[1]
            log.warning("database unreachable (%s); retrying, no job is failed for it", msg[1])
        elif kind == "db_up":
            self.db_down = None
            log.warning("database reachable again")

    def _db_error(self) -> dict:
        return {"kind": errors.DB_WRITE, "type": "DatabaseUnavailable", "message": self.db_error}

    def _writer_fatal(self, message: str) -> None:
        """A restarted writer that can never write (a schema mismatch): no more restarts; every job not yet
        terminal fails with the reason, since none can be committed, and waiting callers are released."""
        live = [job_of(p, j) for p, j in self.jobs.items() if isinstance(j, tuple) or j.state not in TERMINAL]
        log.error("database writer cannot continue: %s; failing the %d unfinished jobs", message, len(live))
        self.db_error = f"the database writer cannot continue: {message}"
        self._cancel_all()
        for job in live:
            self._apply(job, policy.Abandoned(self._db_error(), *self._stamp(job)))
        self._unacked.clear()
        self._fresh.clear()
        self._ready.clear()
        for _box, done in self._known_waiters.values():
            done.set()
        self._known_waiters.clear()
