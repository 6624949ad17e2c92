"""The embedded default backend of the writer: SQLite, WKB footprints in a BLOB, their bounds in an R*Tree."""
from __future__ import annotations

import random
import sqlite3
import time

import shapely
from sqlalchemy import event, func

from .base import JOB_FIELDS, Store

BUSY_TIMEOUT_MS = 10_000  # how long a connection waits for another's lock before "database is locked"


def enter_wal(cur: sqlite3.Cursor, timeout_s: float = BUSY_TIMEOUT_MS / 1000) -> None:
    """Switch the database to WAL, waiting for other connections as busy_timeout would.

    On a new (rollback-journal) file the switch upgrades a read lock to an exclusive one, and SQLite answers
    "database is locked" at once, without its busy handler, when another connection holds a lock too (its
    deadlock rule): several adders opening one new catalogue together hit it. Retry until the timeout.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))  # jittered, so racing openers do not retry in step


class SqliteStore(Store):
    """Embedded default: WKB footprints in a BLOB, bounds indexed by an R*Tree kept in step by triggers."""

    def _configure(self, engine) -> None:
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # WAL: readers (status, export) never block the writer
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            enter_wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    def encode(self, records: list[dict], jobs: list[dict]) -> tuple[list[dict], list[dict]]:
        """The batch as :meth:`write_encoded` takes it: SQLite's rows are made in its transaction (sqlite3 does the
        binding), so nothing is done ahead here; the writer pipelines the same calls on both backends."""
        return records, jobs

    def write_encoded(self, batch: tuple[list[dict], list[dict]]) -> None:
        self.write(*batch)

    def _lock_schema(self) -> None:
        # pysqlite opens a transaction before DML only, so create_all's DDL would run outside one and two
        # processes could both find no table and both create it: take SQLite's write lock first (busy_timeout
        # makes the other wait for it).
        self.conn.exec_driver_sql("BEGIN IMMEDIATE")

    def _extra_schema(self) -> None:
        for stmt in _SQLITE_RTREE:
            self.conn.exec_driver_sql(stmt)

    def _insert_new(self, table):
        from sqlalchemy.dialects.sqlite import insert

        return insert(table).on_conflict_do_nothing()

    def _drop_camera_crs(self) -> None:
        self.conn.exec_driver_sql("UPDATE images SET camera = json_remove(camera, '$.crs_wkt', '$.geographic_crs_wkt') "
                                  "WHERE json_type(camera, '$.crs_wkt') IS NOT NULL "
                                  "OR json_type(camera, '$.geographic_crs_wkt') IS NOT NULL")

    def _upsert_images(self, records: list[dict], seqs, new_crs: dict[str, int]) -> None:
        from sqlalchemy.dialects.sqlite import insert

        rows = self.image_rows(records, seqs, new_crs)
        for rec, row in zip(records, rows):
            wkb = rec.get("footprint_wkb")
            if wkb:
                raw = bytes.fromhex(wkb)
                geom = shapely.from_wkb(raw)
                # process_image's WKB is plain 2D WKB already; anything else (EWKB, Z) is written as plain WKB.
                row["footprint"] = raw if _plain_2d(raw) else shapely.to_wkb(geom, output_dimension=2)
                row["minx"], row["miny"], row["maxx"], row["maxy"] = geom.bounds
            else:
                row.update(footprint=None, minx=None, miny=None, maxx=None, maxy=None)
        stmt = insert(self.images)
        update = {c: stmt.excluded[c] for c in rows[0] if c != "path"}
        update["updated_at"] = func.now()
        self.conn.execute(stmt.on_conflict_do_update(index_elements=["path"], set_=update), rows)

    def _upsert_cameras(self, rows: list[dict]) -> None:
        from sqlalchemy.dialects.sqlite import insert

        stmt = insert(self.cameras)
        self.conn.execute(stmt.on_conflict_do_update(
            index_elements=["image_id"], set_={"model": stmt.excluded.model, "isd": stmt.excluded.isd}), rows)

    def _upsert_jobs(self, rows: list[dict]) -> None:
        from sqlalchemy.dialects.sqlite import insert

        rows = [{k: r.get(k) for k in JOB_FIELDS} for r in rows]
        stmt = insert(self.jobs)
        update = {c: stmt.excluded[c] for c in JOB_FIELDS if c != "path"}
        update["updated_at"] = func.now()
        self.conn.execute(stmt.on_conflict_do_update(index_elements=["path"], set_=update), rows)


def _plain_2d(wkb: bytes) -> bool:
    """True for an ISO/OGC WKB geometry header without EWKB flags (SRID, Z, M) or ISO Z/M type codes."""
    kind = int.from_bytes(wkb[1:5], "little" if wkb[0] == 1 else "big")
    return kind < 1000


_SQLITE_RTREE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS images_rtree USING rtree(id, minx, maxx, miny, maxy)",
    """CREATE TRIGGER IF NOT EXISTS images_rtree_ins AFTER INSERT ON images WHEN new.minx IS NOT NULL
       BEGIN INSERT OR REPLACE INTO images_rtree VALUES (new.id, new.minx, new.maxx, new.miny, new.maxy); END""",
    """CREATE TRIGGER IF NOT EXISTS images_rtree_upd AFTER UPDATE ON images
       BEGIN DELETE FROM images_rtree WHERE id = old.id;
             INSERT INTO images_rtree SELECT new.id, new.minx, new.maxx, new.miny, new.maxy WHERE new.minx IS NOT NULL;
       END""",
    "CREATE TRIGGER IF NOT EXISTS images_rtree_del AFTER DELETE ON images "
    "BEGIN DELETE FROM images_rtree WHERE id = old.id; END",
)
