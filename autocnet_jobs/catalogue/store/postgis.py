"""PostGIS backend of the writer: binary COPY into a staging table, then one upsert per batch.

COPY is the fastest way into PostGIS measured on these machines (INFRA.md); the staging table turns it into an
idempotent upsert on the image path. Footprints go over the wire as binary EWKB made from the record's WKB by
splicing the SRID into its header (no geometry is decoded in Python), and are stored out of line without
compression: pglz gains nothing on WKB coordinates and cost half the write time (bench/README.md). Planetary
spatial references are added to ``spatial_ref_sys`` under their IAU_2015 authority code the first time a body
is seen.
"""
from __future__ import annotations

import json
import logging
from typing import Callable, Iterable, Iterator

import psycopg
import shapely
from sqlalchemy import func, text

from .. import schema
from .base import IMAGE_FIELDS, JOB_FIELDS, Store, stored_camera

log = logging.getLogger(__name__)

_IMAGE_COLS = (*IMAGE_FIELDS, "srid", "crs_id", *(name for name, _ in schema.DONE_JOB_COLUMNS), "footprint")
_JSON_AT = tuple(IMAGE_FIELDS.index(k) for k in ("camera", "extractor_params"))
_CAMERA_AT = IMAGE_FIELDS.index("camera")
_TIMES_AT = tuple(IMAGE_FIELDS.index(k) for k in schema.TIME_COLUMNS)
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_TEXT = 25  # json columns are sent as their text
APPLICATION_NAME = "autocnet_jobs writer"
SCHEMA_LOCK_KEY = 0x6163_6A5F_7363_6865  # 'acj_sche': the advisory lock schema creation and upgrades hold


class PostgisStore(Store):
    postgis = True

    def __init__(self, url: str):
        super().__init__(url)
        self._srids: set[int] = set()
        self._stage_types: dict[str, list[int]] = {}
        self._lz4 = False

    def _connect_args(self) -> dict:
        # Named, so a DBA (and the tests) can see in pg_stat_activity which connection is ours.
        return {"application_name": APPLICATION_NAME, "connect_timeout": 10}

    def _extra_schema(self) -> None:
        self.conn.exec_driver_sql(
            "CREATE INDEX IF NOT EXISTS images_footprint_gist ON images USING GIST (footprint)")
        self.conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS images_body ON images (body)")
        # queries.intersecting finds the SRIDs in use by skipping through this index.
        self.conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS images_srid ON images (srid)")
        self.conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS jobs_state ON job_states (state)")
        if self.conn.execute(text(
                "SELECT attstorage <> 'e' FROM pg_attribute WHERE attrelid = 'images'::regclass "
                "AND attname = 'footprint'")).scalar():
            self.conn.exec_driver_sql("ALTER TABLE images ALTER COLUMN footprint SET STORAGE EXTERNAL")
        self._lz4 = bool(self.conn.execute(text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar())
        for table in ("images", "job_states", "crs"):
            _compress_text_lz4(self._raw(), table, self._lz4)

    def _widen_sizes(self) -> None:
        from sqlalchemy import inspect

        for table in {"images", "jobs", "job_states"} & set(inspect(self.conn).get_table_names()):
            self.conn.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN size TYPE bigint")

    def _footprint_wkb(self):
        return func.ST_AsBinary(self.images.c.footprint)

    def _footprint_values(self, geom, srid: int) -> dict:
        return {"footprint": func.ST_GeomFromWKB(shapely.to_wkb(geom), srid) if geom is not None else None}

    def _ensure_schema(self) -> None:
        with self.conn.begin():
            self._lock_schema()
            has = self.conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).scalar()
            if not has:  # needs a role allowed to create it; an existing server usually has it already
                self.conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        super()._ensure_schema()
        self._srids = set()
        self._stage_types = {}  # temp staging tables belong to the connection

    def _lock_schema(self) -> None:
        # Two adders on a new database would both CREATE TABLE images (a unique violation in pg_type): the
        # schema is made or upgraded under a transaction-scoped advisory lock, the other writer waiting for it.
        self.conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})

    def _raw(self):
        return self.conn.connection.driver_connection

    def _ensure_srids(self, records: list[dict]) -> None:
        """Each footprint SRID's spatial_ref_sys row and per-body view (postgis_gis.register_crs), once per SRID
        and connection; images without a native CRS (level-1 cubes) have footprints of their body too."""
        from pyproj import CRS

        from .postgis_gis import register_crs

        for rec in records:
            srid = schema.srid_for(rec.get("iau_code"))
            if srid is None or srid in self._srids:
                continue
            register_crs(self.conn, srid, CRS.from_user_input(rec["iau_code"]).to_wkt(), rec["iau_code"],
                         rec.get("body"))
            self._srids.add(srid)

    def _crs_added(self, srid: int | None, wkt: str, iau_code: str | None, body: str | None) -> None:
        if srid is not None and srid not in self._srids:
            self._ensure_srids([{"iau_code": iau_code, "body": body}])

    def _insert_new(self, table):
        from sqlalchemy.dialects.postgresql import insert

        return insert(table).on_conflict_do_nothing()

    def _time(self, value: str | None):
        return schema.utc_datetime(value)

    def _drop_camera_crs(self) -> None:
        self.conn.exec_driver_sql("UPDATE images SET camera = (camera::jsonb - 'crs_wkt' - 'geographic_crs_wkt')::json "
                                  "WHERE camera::jsonb ?| array['crs_wkt', 'geographic_crs_wkt']")

    def _upsert_images(self, records: list[dict], seqs, new_crs: dict[str, int]) -> None:
        self._ensure_srids(records)
        # The CRS ids first: nothing else can be sent on the connection while the COPY runs.
        for rec in records:
            if rec.get("crs_wkt"):
                self._crs_id(rec["crs_wkt"], rec.get("iau_code"), rec.get("body"), new_crs)
        seqs = list(seqs)
        self._copy_upsert("images", _IMAGE_COLS, lambda: self._image_tuples(records, seqs, new_crs),
                          [r["path"] for r in records])

    def _image_tuples(self, records: list[dict], seqs, new_crs: dict[str, int]) -> Iterator[tuple]:
        """The COPY rows (``_IMAGE_COLS`` order) of ``records``: what :meth:`image_rows` gives, built straight
        into tuples, the JSON columns as JSON text (a json value's binary COPY form is its text): the writer's
        per-row Python work is a third of its time (bench/README.md). A generator, so the server writes each row
        while the next is built: client and server work overlap instead of adding up."""
        dumps = _JSON.encode
        for rec, seq in zip(records, seqs):
            values = [rec.get(k) for k in IMAGE_FIELDS]
            for i in _JSON_AT:
                value = values[i]
                if value is not None:
                    values[i] = dumps(stored_camera(value) if i == _CAMERA_AT else value)
            for i in _TIMES_AT:
                values[i] = schema.utc_datetime(values[i])
            iau_code, wkt = rec.get("iau_code"), rec.get("crs_wkt")
            srid = schema.srid_for(iau_code)
            crs_id = self._crs_id(wkt, iau_code, rec.get("body"), new_crs) if wkt else None
            yield (*values, srid, crs_id, rec.get("_attempts", 0), rec.get("_worker"), seq,
                   ewkb(rec.get("footprint_wkb"), srid or 0))

    def _upsert_cameras(self, rows: list[dict]) -> None:
        from sqlalchemy.dialects.postgresql import insert

        stmt = insert(self.cameras)
        self.conn.execute(stmt.on_conflict_do_update(
            index_elements=["image_id"], set_={"model": stmt.excluded.model, "isd": stmt.excluded.isd}), rows)

    def _upsert_jobs(self, rows: list[dict]) -> None:
        self._copy_upsert("job_states", JOB_FIELDS, lambda: rows, [r["path"] for r in rows])

    def _copy_upsert(self, table: str, cols: tuple[str, ...], make_rows: Callable[[], Iterable],
                     paths: list[str]) -> None:
        """Rows (dicts, or tuples in ``cols`` order, from ``make_rows()``, called again for a second try) upserted
        on their ``paths``: copied straight in when none of the paths is there yet, else through the staging
        table."""
        stage = f"{table}_stage"
        collist = ", ".join(cols)
        cur = self._raw().cursor()
        types = self._stage_types.get(table)
        if types is None:
            # Same column types as the target, none of its constraints; emptied at every commit.
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                        f"SELECT {collist} FROM {table} WITH NO DATA")
            if "footprint" in cols:
                cur.execute(f"ALTER TABLE {stage} ALTER COLUMN footprint SET STORAGE EXTERNAL")
            _compress_text_lz4(self._raw(), stage, self._lz4)  # rows keep their compression when copied on
            cur.execute("SELECT attname, atttypid::int, atttypid::regtype::text FROM pg_attribute "
                        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", (stage,))
            oids = {name: (_BYTEA if typ == "geometry" else _TEXT if typ == "json" else oid)
                    for name, oid, typ in cur.fetchall()}
            types = self._stage_types[table] = [oids[c] for c in cols]
        # A batch of paths the table does not hold yet (a first ingest) is copied straight in: half the writes
        # of staging. A path another writer adds meanwhile makes it fall back to the upsert.
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE path = ANY(%s))", (paths,))
        if not cur.fetchone()[0]:
            cur.execute("SAVEPOINT direct_copy")
            try:
                _copy(cur, table, cols, types, make_rows())
                cur.execute("RELEASE SAVEPOINT direct_copy")
                cur.close()
                return
            except psycopg.errors.UniqueViolation:
                cur.execute("ROLLBACK TO SAVEPOINT direct_copy")
        _copy(cur, stage, cols, types, make_rows())
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c != "path")
        cur.execute(f"INSERT INTO {table} ({collist}) SELECT {collist} FROM {stage} "
                    f"ON CONFLICT (path) DO UPDATE SET {updates}, updated_at = now()")
        cur.close()


def _compress_text_lz4(raw, table: str, lz4: bool) -> None:
    """Compress the table's text and JSON columns with lz4 instead of pglz, when the server has it.

    A row over ~2 KB (a camera model and CRS WKT make one) is compressed before it is stored; pglz made the
    server take a third longer over small-footprint rows than lz4 does (bench/README.md). Only values written
    afterwards are affected, so this is safe on a catalogue that already holds rows.
    """
    if not lz4:
        return
    cols = [r[0] for r in raw.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
        "AND atttypid IN ('text'::regtype, 'json'::regtype) AND attcompression <> 'l'", (table,)).fetchall()]
    if cols:
        raw.execute(f"ALTER TABLE {table} " + ", ".join(f"ALTER COLUMN {c} SET COMPRESSION lz4" for c in cols))


def _copy(cur, table: str, cols: tuple[str, ...], types: list[int], rows: Iterable) -> None:
    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)") as copy:
        # Binary: numbers, JSON (as its text) and geometry (as EWKB bytes) with no text round trip.
        copy.set_types(types)
        for row in rows:
            copy.write_row(row if isinstance(row, tuple) else [row.get(c) for c in cols])


_BYTEA = 17  # a geometry's binary COPY format is its EWKB, which psycopg sends as it sends bytea
_SRID_FLAG = 0x20000000


def ewkb(wkb_hex: str | None, srid: int) -> bytes | None:
    """EWKB bytes of a hex WKB geometry with ``srid`` spliced into its header (replaced if it has one)."""
    if not wkb_hex:
        return None
    wkb = bytes.fromhex(wkb_hex)
    order = "little" if wkb[0] == 1 else "big"
    kind = int.from_bytes(wkb[1:5], order)
    body = wkb[9:] if kind & _SRID_FLAG else wkb[5:]
    return wkb[:1] + (kind | _SRID_FLAG).to_bytes(4, order) + srid.to_bytes(4, order) + body
