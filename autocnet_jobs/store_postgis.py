"""PostGIS backend of the writer: COPY into a staging table, then one upsert per batch.

COPY with footprints pre-encoded as hex EWKB is the fastest way into PostGIS measured on these machines
(INFRA.md); the staging table turns it into an idempotent upsert on the image path. Planetary spatial
references are added to ``spatial_ref_sys`` under their IAU_2015 authority code the first time a body is seen.
"""
from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text

from . import models
from .store import IMAGE_FIELDS, JOB_FIELDS, Store, image_values

log = logging.getLogger(__name__)

_IMAGE_COLS = (*IMAGE_FIELDS, "srid", "footprint")
_JSON_COLS = {"camera", "extractor_params"}
APPLICATION_NAME = "autocnet_jobs writer"


class PostgisStore(Store):
    postgis = True

    def __init__(self, url: str):
        super().__init__(url)
        self._srids: set[int] = set()

    def _connect_args(self) -> dict:
        # Named, so a DBA (and the tests) can see in pg_stat_activity which connection is ours.
        return {"application_name": APPLICATION_NAME, "connect_timeout": 10}

    def _extra_schema(self) -> None:
        self.conn.exec_driver_sql(
            "CREATE INDEX IF NOT EXISTS images_footprint_gist ON images USING GIST (footprint)")
        self.conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS images_body ON images (body)")
        self.conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state)")

    def _ensure_schema(self) -> None:
        with self.conn.begin():
            has = self.conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).scalar()
            if not has:  # needs a role allowed to create it; an existing server usually has it already
                self.conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        super()._ensure_schema()
        self._srids = set()

    def _raw(self):
        return self.conn.connection.driver_connection

    def _ensure_srids(self, records: list[dict]) -> None:
        for rec in records:
            srid = models.srid_for(rec.get("iau_code"))
            if srid is None or srid in self._srids:
                continue
            auth, _, code = rec["iau_code"].partition(":")
            exists = self.conn.execute(text("SELECT 1 FROM spatial_ref_sys WHERE srid = :s"), {"s": srid}).scalar()
            if not exists:
                from pyproj import CRS

                crs = CRS.from_user_input(rec["iau_code"])
                self.conn.execute(
                    text("INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text) "
                         "VALUES (:s, :a, :c, :w, :p) ON CONFLICT (srid) DO NOTHING"),
                    {"s": srid, "a": auth.upper(), "c": int(code), "w": crs.to_wkt("WKT1_GDAL"),
                     "p": crs.to_proj4()})
            self._srids.add(srid)

    def _upsert_images(self, records: list[dict]) -> None:
        self._ensure_srids(records)
        rows = [image_values(r) for r in records]
        geoms = [shapely.from_wkb(bytes.fromhex(r["footprint_wkb"])) if r.get("footprint_wkb") else None
                 for r in records]
        srids = np.array([row["srid"] or 0 for row in rows], dtype=np.int32)
        # Bulk-encode EWKB with each row's SRID (one call, not one per row).
        encoded = shapely.to_wkb(shapely.set_srid(np.array(geoms, dtype=object), srids), hex=True,
                                 include_srid=True)
        for row, ewkb in zip(rows, encoded):
            row["footprint"] = ewkb
        self._copy_upsert("images", _IMAGE_COLS, rows)

    def _upsert_jobs(self, rows: list[dict]) -> None:
        self._copy_upsert("jobs", JOB_FIELDS, rows)

    def _copy_upsert(self, table: str, cols: tuple[str, ...], rows: list[dict]) -> None:
        stage = f"{table}_stage"
        collist = ", ".join(cols)
        cur = self._raw().cursor()
        # Same column types as the target, none of its constraints; emptied at every commit.
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                    f"SELECT {collist} FROM {table} WITH NO DATA")
        with cur.copy(f"COPY {stage} ({collist}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_cell(c, row.get(c)) for c in cols])
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c != "path")
        cur.execute(f"INSERT INTO {table} ({collist}) SELECT {collist} FROM {stage} "
                    f"ON CONFLICT (path) DO UPDATE SET {updates}, updated_at = now()")
        cur.close()


def _cell(col: str, value: Any) -> Any:
    if col in _JSON_COLS and value is not None:
        return json.dumps(value)
    return value
