"""Write side of the catalogue, what both backends share: one connection, batched idempotent upserts. Used
only by the writer process.

``open_store(url)`` (in :mod:`autocnet_jobs.catalogue.store`) picks the backend from the URL. Both backends take
the same plain records (the dicts ``process_image`` returns) and job rows, and write a batch in one transaction,
upserting on the path, so a batch re-sent after a crash or a lost connection leaves one row per image.
"""
from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Iterable

import shapely
from sqlalchemy import Column, create_engine, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from ...errors import DatabaseUnavailable
from .. import schema
from .overlaps import OverlapWriter, record_entries

log = logging.getLogger(__name__)

IMAGE_FIELDS = schema.IMAGE_FIELDS
JOB_FIELDS = ("path", "state", "attempts", "error_kind", "error_type", "last_error", "traceback", "log", "size",
              "mtime", "worker", "seq")


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


class SchemaMismatch(DatabaseUnavailable):
    """The catalogue has another schema version: no retry or reconnect can fix it."""


class Store(OverlapWriter):
    """One connection to the catalogue, opened by :meth:`connect` and held until :meth:`close`."""

    postgis = False

    def __init__(self, url: str):
        self.url = url
        self.metadata = schema.build_metadata(self.postgis)
        self.images = self.metadata.tables["images"]
        self.jobs = self.metadata.tables["job_states"]  # the jobs not done; ``jobs`` is a view (schema.JOBS_VIEW)
        self.cameras = self.metadata.tables["cameras"]
        self.conn: Connection | None = None
        self._crs_ids: dict[str, int] = {}  # WKT -> crs.id, as committed

    def connect(self) -> None:
        try:
            engine = create_engine(self.url, poolclass=NullPool, connect_args=self._connect_args(),
                                   json_serializer=schema.json_text)
            self._configure(engine)
            self.conn = engine.connect()
            self._ensure_schema()
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            self.conn = None
            raise DatabaseUnavailable(f"cannot open database {safe_url(self.url)}: {exc}") from exc

    def _configure(self, engine) -> None:
        pass

    def _connect_args(self) -> dict:
        return {}

    def _ensure_schema(self) -> None:
        assert self.conn is not None
        with self.conn.begin():
            self._lock_schema()  # two adders opening one new catalogue: one creates or upgrades, the other waits
            self.metadata.create_all(self.conn)  # new tables only; an older images table is upgraded below
            clock = self.metadata.tables["job_clock"]
            self.conn.execute(self._insert_new(clock).values(id=1, seq=0))
            info = self.metadata.tables["schema_info"]
            version = self.conn.execute(select(info.c.version)).scalar()
            if version is None:
                self.conn.execute(info.insert().values(version=schema.SCHEMA_VERSION))
            elif version in (2, 3, 4, 5, 6):
                if version == 2:
                    # 2 -> 3 only widened the size columns (SQLite's INTEGER is 64-bit already).
                    self._widen_sizes()
                if version < 5:
                    self._to_version_5()  # before 3 -> 4, which reads the CRS from the crs table
                if version < 4:
                    self._earth_to_wgs84()  # 3 -> 4
                if version < 6:
                    self._to_version_6()
                self._to_version_7()
                self.conn.execute(info.update().values(version=schema.SCHEMA_VERSION))
                log.warning("database %s upgraded from schema version %d to %d", safe_url(self.url), version,
                            schema.SCHEMA_VERSION)
            elif version != schema.SCHEMA_VERSION:
                raise SchemaMismatch(
                    f"database {safe_url(self.url)} has schema version {version}; this autocnet_jobs writes "
                    f"version {schema.SCHEMA_VERSION}. Use a new database or migrate it.")
            if not self._has_view("jobs"):
                self.conn.exec_driver_sql(schema.JOBS_VIEW)
            for name, expression in schema.ACQUISITION_INDEXES.items():
                self.conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {name} ON images ({expression})")
            self._extra_schema()
        self._crs_ids = {}

    def _lock_schema(self) -> None:
        """Hold the catalogue's lock for the rest of the schema transaction."""
        raise NotImplementedError

    def _to_version_5(self) -> None:
        """Schema 4 -> 5, in place: the acquisition columns added (NULL: the label is not read again), each
        distinct ``images.crs_wkt`` moved into the crs table and referenced by ``crs_id``, the CRS keys dropped
        from the stored camera JSON. Columns are checked, not assumed, so a partly upgraded table is finished."""
        from sqlalchemy import inspect

        have = {c["name"] for c in inspect(self.conn).get_columns("images")}
        new = [*schema.acquisition_columns(self.images.c.start_time.type),
               *(Column(name, kind) for name, kind in schema.DONE_JOB_COLUMNS)]
        for column in new:
            if column.name not in have:
                kind = column.type.compile(dialect=self.conn.dialect)
                self.conn.exec_driver_sql(f"ALTER TABLE images ADD COLUMN {column.name} {kind}")
        if "crs_wkt" in have:
            rows = self.conn.exec_driver_sql(
                "SELECT crs_wkt, min(iau_code), min(body) FROM images WHERE crs_wkt IS NOT NULL "
                "GROUP BY crs_wkt").all()
            for wkt, iau_code, body in rows:
                crs_id = self._crs_id(wkt, iau_code, body, {})
                self.conn.execute(text("UPDATE images SET crs_id = :i WHERE crs_wkt = :w"), {"i": crs_id, "w": wkt})
            self._drop_camera_crs()
            self.conn.exec_driver_sql("ALTER TABLE images DROP COLUMN crs_wkt")
        if "jobs" in inspect(self.conn).get_table_names():  # the version 4 jobs table (not the view)
            # A done job's attempts and worker move into its images row; the others keep their rows, ahead of
            # the images row (sequence 1 against 0), as version 4 ranked a failed job above an older image.
            self.conn.exec_driver_sql(
                "UPDATE images SET attempts = (SELECT j.attempts FROM jobs j WHERE j.path = images.path "
                "AND j.state = 'done'), worker = (SELECT j.worker FROM jobs j WHERE j.path = images.path "
                "AND j.state = 'done'), job_seq = 0")
            cols = ", ".join(c.name for c in self.jobs.c if c.name != "seq")
            self.conn.exec_driver_sql(f"INSERT INTO job_states ({cols}, seq) SELECT {cols}, 1 FROM jobs "
                                      "WHERE state <> 'done'")
            self.conn.exec_driver_sql("DROP TABLE jobs")

    def _to_version_6(self) -> None:
        """Schema 5 -> 6, in place: each sensor camera moves into the cameras table (schema.split_camera), its
        images row keeping the small part. In pages of rows, by id."""
        images = self.images
        done = 0
        while True:
            rows = self.conn.execute(select(images.c.id, images.c.camera).where(images.c.camera.is_not(None))
                                     .where(images.c.id > done).order_by(images.c.id).limit(500)).all()
            if not rows:
                return
            cams = []
            for row_id, camera in rows:
                if isinstance(camera, str):
                    camera = json.loads(camera)
                small, isd, model = schema.split_camera(camera)
                if isd is not None:
                    cams.append({"image_id": row_id, "model": model, "isd": isd})
                    self.conn.execute(images.update().where(images.c.id == row_id).values(camera=small))
            if cams:
                self._upsert_cameras(cams)
            done = rows[-1][0]

    def _to_version_7(self) -> None:
        """Schema 6 -> 7, in place: the pair angle columns added to ``overlaps`` (NULL: ``overlaps --rebuild``
        computes them). Checked, not assumed, as in :meth:`_to_version_5`."""
        from sqlalchemy import inspect

        have = {c["name"] for c in inspect(self.conn).get_columns("overlaps")}
        for column in schema.pair_angle_columns():
            if column.name not in have:
                kind = column.type.compile(dialect=self.conn.dialect)
                self.conn.exec_driver_sql(f'ALTER TABLE "overlaps" ADD COLUMN {column.name} {kind}')

    def _drop_camera_crs(self) -> None:
        raise NotImplementedError

    def _has_view(self, name: str) -> bool:
        from sqlalchemy import inspect

        return name in inspect(self.conn).get_view_names()

    def _extra_schema(self) -> None:
        pass

    def _widen_sizes(self) -> None:
        pass

    def _earth_to_wgs84(self) -> None:
        """Schema 3 -> 4: Earth rows' footprints from planetocentric latitude to geodetic WGS84, in place."""
        from ...extractors.bodies import EARTH_CODE, SCHEMA3_EARTH_CODE
        from ...extractors.lonlat import earth_ocentric_to_wgs84  # the conversion's home, beside the forward one

        images = self.images
        srid = schema.srid_for(EARTH_CODE)
        while True:  # pages of rows: a converted row leaves the selection
            crs = self.metadata.tables["crs"]
            rows = self.conn.execute(
                select(images.c.id, self._footprint_wkb(), crs.c.wkt)
                .select_from(images.outerjoin(crs, crs.c.id == images.c.crs_id))
                .where(images.c.iau_code == SCHEMA3_EARTH_CODE).order_by(images.c.id).limit(1000)).all()
            if not rows:
                return
            for row_id, wkb, crs_wkt in rows:
                geom = earth_ocentric_to_wgs84(shapely.from_wkb(bytes(wkb)), crs_wkt) if wkb is not None else None
                self.conn.execute(images.update().where(images.c.id == row_id).values(
                    iau_code=EARTH_CODE, srid=srid, **self._footprint_values(geom, srid)))

    def _footprint_wkb(self):
        return self.images.c.footprint

    def _footprint_values(self, geom, srid: int) -> dict[str, Any]:
        wkb = shapely.to_wkb(geom) if geom is not None else None
        minx, miny, maxx, maxy = geom.bounds if geom is not None else (None,) * 4
        return {"footprint": wkb, "minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy}

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    def write(self, records: list[dict], jobs: list[dict]) -> None:
        """Upsert image records (each also marks its job done) and job rows, in one transaction."""
        assert self.conn is not None
        records = _last_per_path(records)
        done = {r["path"] for r in records}
        job_rows = _last_per_path(j for j in jobs if j["path"] not in done)
        new_crs: dict[str, int] = {}
        with self.conn.begin():
            # Sequence numbers rank an image's rows in the jobs view: this batch's are newer than any written,
            # its records newer than its job rows (a record is the job's last word).
            clock = self.metadata.tables["job_clock"]
            last = self.conn.execute(clock.update().values(seq=clock.c.seq + len(job_rows) + len(records))
                                     .returning(clock.c.seq)).scalar()
            seq = last - len(job_rows) - len(records)
            if job_rows:
                self._upsert_jobs([dict(row, seq=seq + i + 1) for i, row in enumerate(job_rows)])
            if records:
                seq += len(job_rows)
                self._upsert_images(records, range(seq + 1, seq + 1 + len(records)), new_crs)
                ids = self._write_cameras(records)
                self.write_overlaps(record_entries(records, ids))
                # A committed image's job is done: its queued/running row goes, in the same transaction, so
                # job_states (which users read with SQL and GIS tools too) never shows a finished image running.
                self.conn.execute(self.jobs.delete().where(self.jobs.c.path.in_(list(done))))
        self._crs_ids.update(new_crs)  # only once committed: a rolled back crs row has no id

    def _write_cameras(self, records: list[dict]) -> dict[str, int]:
        """The records' ISDs into the cameras table, in the images rows' transaction: upserted for an image with
        a sensor camera, deleted for one re-extracted without (schema.split_camera)."""
        isds = {}
        for rec in records:
            _, isd, model = schema.split_camera(rec.get("camera"))
            isds[rec["path"]] = (model, isd)
        ids = dict(self.conn.execute(select(self.images.c.path, self.images.c.id)
                                     .where(self.images.c.path.in_(list(isds)))).all())
        gone = [ids[p] for p, (_, isd) in isds.items() if isd is None and p in ids]
        if gone:
            self.conn.execute(self.cameras.delete().where(self.cameras.c.image_id.in_(gone)))
        rows = [{"image_id": ids[p], "model": model, "isd": isd} for p, (model, isd) in isds.items()
                if isd is not None and p in ids]
        if rows:
            self._upsert_cameras(rows)
        return ids

    def _upsert_cameras(self, rows: list[dict]) -> None:
        raise NotImplementedError

    def image_rows(self, records: list[dict], seqs, new_crs: dict[str, int]) -> list[dict[str, Any]]:
        """The columns both backends share, from ``process_image`` records: the times in the backend's form,
        the CRS as a crs table id (rows added for new ones, noted in ``new_crs``), the camera without the CRS,
        the job's attempts and worker, and ``seqs``, the rows' sequence numbers."""
        rows = []
        for record, seq in zip(records, seqs):
            row = image_values(record)
            row.update(attempts=record.get("_attempts", 0), worker=record.get("_worker"), job_seq=seq)
            for key in schema.TIME_COLUMNS:
                row[key] = self._time(row[key])
            wkt = record.get("crs_wkt")
            if wkt:
                row["crs_id"] = self._crs_id(wkt, record.get("iau_code"), record.get("body"), new_crs)
            rows.append(row)
        return rows

    def _time(self, value: str | None):
        return schema.sqlite_time(value)

    def _crs_id(self, wkt: str, iau_code: str | None, body: str | None, new_crs: dict[str, int]) -> int:
        """The crs table's id of ``wkt``, its row added if there is none (idempotent, race-safe)."""
        found = self._crs_ids.get(wkt) or new_crs.get(wkt)
        if found is not None:
            return found
        digest = hashlib.sha256(wkt.encode()).hexdigest()
        crs = self.metadata.tables["crs"]
        found = self.conn.execute(select(crs.c.id).where(crs.c.wkt_sha256 == digest)).scalar()
        if found is None:
            srid = schema.srid_for(iau_code)
            self.conn.execute(self._insert_new(crs).values(wkt_sha256=digest, wkt=wkt, iau_code=iau_code, body=body,
                                                           srid=srid))
            found = self.conn.execute(select(crs.c.id).where(crs.c.wkt_sha256 == digest)).scalar()
            self._crs_added(srid, wkt, iau_code, body)
        new_crs[wkt] = found
        return found

    def _insert_new(self, table):
        """INSERT that leaves an existing row (same unique key) alone."""
        raise NotImplementedError

    def _crs_added(self, srid: int | None, wkt: str, iau_code: str | None, body: str | None) -> None:
        pass

    def known(self) -> dict[str, dict[str, Any]]:
        """State of every image the catalogue knows: committed rows (done) and terminally failed jobs, a
        failed job with its stored reason. A failed job wins over an older images row (a forced re-run that
        failed): its jobs row is the latest attempt, as ``autocnet-jobs failed`` reports it."""
        assert self.conn is not None
        out: dict[str, dict[str, Any]] = {}
        with self.conn.begin():
            for path, size, mtime in self.conn.execute(
                    select(self.images.c.path, self.images.c.size, self.images.c.mtime)):
                out[path] = {"state": "done", "size": size, "mtime": mtime}
            for row in self.conn.execute(text(  # the view: a failed job only if newer than its images row
                    "SELECT path, state, size, mtime, attempts, error_kind, error_type, last_error, traceback, log, "
                    "worker FROM jobs WHERE state = 'failed'")):
                out[row.path] = dict(row._mapping)
        return out

    # backend specific
    def _upsert_images(self, records: list[dict], seqs, new_crs: dict[str, int]) -> None:
        raise NotImplementedError

    def _upsert_jobs(self, rows: list[dict]) -> None:
        raise NotImplementedError


def _last_per_path(rows: Iterable[dict]) -> list[dict]:
    """Keep the newest row per path: one statement may not upsert the same key twice."""
    latest: dict[str, dict] = {}
    for row in rows:
        latest[row["path"]] = row
    return list(latest.values())


def image_values(record: dict) -> dict[str, Any]:
    """Columns common to both backends from a ``process_image`` record, as the record has them (times as text,
    no crs_id: :meth:`Store.image_rows` adds those); the camera without the CRS the crs table holds."""
    row = {k: record.get(k) for k in IMAGE_FIELDS}
    row["srid"] = schema.srid_for(record.get("iau_code"))
    row["camera"] = stored_camera(row.get("camera"))
    row["crs_id"] = None
    return row


def camera_without_crs(camera):
    """The camera dict without the CRS keys the crs table holds."""
    if isinstance(camera, dict) and any(k in camera for k in schema.CAMERA_CRS_KEYS):
        return {k: v for k, v in camera.items() if k not in schema.CAMERA_CRS_KEYS}
    return camera


def stored_camera(camera):
    """The camera as its images row stores it: without the CRS (the crs table's) and the ISD (the cameras
    table's, schema.split_camera)."""
    return schema.split_camera(camera_without_crs(camera))[0]
