"""Write side of the catalogue, what both backends share: one connection, batched idempotent upserts. Used
only by the writer process.

``open_store(url)`` (in :mod:`autocnet_jobs.catalogue.store`) picks the backend from the URL. Both backends take
the same plain records (the dicts ``process_image`` returns) and job rows, and write a batch in one transaction,
upserting on the path, so a batch re-sent after a crash or a lost connection leaves one row per image.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable

import shapely
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from ...errors import DatabaseUnavailable
from .. import schema

log = logging.getLogger(__name__)

IMAGE_FIELDS = schema.IMAGE_FIELDS
JOB_FIELDS = ("path", "state", "attempts", "error_kind", "error_type", "last_error", "traceback", "log", "size",
              "mtime", "worker")


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


class SchemaMismatch(DatabaseUnavailable):
    """The catalogue has another schema version: no retry or reconnect can fix it."""


class Store:
    """One connection to the catalogue, opened by :meth:`connect` and held until :meth:`close`."""

    postgis = False

    def __init__(self, url: str):
        self.url = url
        self.metadata = schema.build_metadata(self.postgis)
        self.images = self.metadata.tables["images"]
        self.jobs = self.metadata.tables["jobs"]
        self.conn: Connection | None = None

    def connect(self) -> None:
        try:
            engine = create_engine(self.url, poolclass=NullPool, connect_args=self._connect_args())
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
            self.metadata.create_all(self.conn)
            self._extra_schema()
            info = self.metadata.tables["schema_info"]
            version = self.conn.execute(select(info.c.version)).scalar()
            if version is None:
                self.conn.execute(info.insert().values(version=schema.SCHEMA_VERSION))
            elif version in (2, 3):
                if version == 2:
                    # 2 -> 3 only widened the size columns (SQLite's INTEGER is 64-bit already).
                    self._widen_sizes()
                self._earth_to_wgs84()  # 3 -> 4
                self.conn.execute(info.update().values(version=schema.SCHEMA_VERSION))
                log.warning("database %s upgraded from schema version %d to %d", safe_url(self.url), version,
                            schema.SCHEMA_VERSION)
            elif version != schema.SCHEMA_VERSION:
                raise SchemaMismatch(
                    f"database {safe_url(self.url)} has schema version {version}; this autocnet_jobs writes "
                    f"version {schema.SCHEMA_VERSION}. Use a new database or migrate it.")

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
            rows = self.conn.execute(
                select(images.c.id, self._footprint_wkb(), images.c.crs_wkt)
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
        done = {r["path"] for r in records}
        job_rows = [j for j in jobs if j["path"] not in done]
        job_rows += [{"path": r["path"], "state": "done", "attempts": r.get("_attempts", 0), "size": r["size"],
                      "mtime": r["mtime"], "worker": r.get("_worker")} for r in records]
        records = _last_per_path(records)
        with self.conn.begin():
            if records:
                self._upsert_images(records)
            if job_rows:
                self._upsert_jobs(_last_per_path(job_rows))

    def known(self) -> dict[str, dict[str, Any]]:
        """State of every image the catalogue knows: committed rows (done) and terminally failed jobs, a
        failed job with its stored reason. A failed job wins over an older images row (a forced re-run that
        failed): its jobs row is the latest attempt, as ``autocnet-jobs failed`` reports it."""
        assert self.conn is not None
        out: dict[str, dict[str, Any]] = {}
        j = self.jobs.c
        with self.conn.begin():
            for path, size, mtime in self.conn.execute(
                    select(self.images.c.path, self.images.c.size, self.images.c.mtime)):
                out[path] = {"state": "done", "size": size, "mtime": mtime}
            for row in self.conn.execute(
                    select(j.path, j.state, j.size, j.mtime, j.attempts, j.error_kind, j.error_type, j.last_error,
                           j.traceback, j.log, j.worker).where(j.state == "failed")):
                out[row.path] = dict(row._mapping)
        return out

    # backend specific
    def _upsert_images(self, records: list[dict]) -> None:
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
    """Columns common to both backends from a ``process_image`` record."""
    row = {k: record.get(k) for k in IMAGE_FIELDS}
    row["srid"] = schema.srid_for(record.get("iau_code"))
    return row
