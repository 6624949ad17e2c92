"""PostGIS backend of the writer: a batch in one transaction of binary COPYs, upserting on the image path.

COPY is the fastest way into PostGIS measured on these machines (INFRA.md). A batch of paths the catalogue does not
hold yet (a first ingest) is copied straight into ``images`` and ``cameras``, under ids taken from the images
sequence beforehand, so a camera needs no lookup of its image's id; a batch with a path already there goes through
staging tables and ``INSERT ... ON CONFLICT`` (``RETURNING`` the ids for its cameras). Either way the batch is one
transaction, and re-sending it leaves one row per image.

The rows are encoded in two steps so the writer can pipeline them (writer.py): :meth:`PostgisStore.encode` needs
no database (postgis_copy.py), :meth:`PostgisStore.write_encoded` writes them in one transaction. Footprints are
stored out of line without compression: pglz gains nothing on WKB coordinates and cost half the write time
(bench/README.md). Planetary spatial references are added to ``spatial_ref_sys`` under their IAU_2015 authority
code the first time a body is seen.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterable

import psycopg
import shapely
from sqlalchemy import func, text

from .. import schema
from . import overlaps
from .base import JOB_FIELDS, Store
from .postgis_copy import (
    BYTEA,
    CAMERA_COLS,
    HEAD_TYPES,
    IMAGE_COLS,
    INT4_FIELD,
    REST_COLS,
    TEXT,
    EncodedBatch,
    camera_data,
    copy_bytes,
    encode_batch,
    image_data,
)

log = logging.getLogger(__name__)

APPLICATION_NAME = "autocnet_jobs writer"
SCHEMA_LOCK_KEY = 0x6163_6A5F_7363_6865  # 'acj_sche': the advisory lock schema creation and upgrades hold


class PostgisStore(Store):
    postgis = True

    def __init__(self, url: str):
        super().__init__(url)
        self._srids: set[int] = set()
        self._stage_types: dict[str, list[int]] = {}
        self._stages: set[str] = set()
        self._lz4 = False
        self._rest_types: list[int] | None = None   # binary COPY type of each REST_COLS column
        self._camera_types: list[int] | None = None
        self._id_sequence = "images_id_seq"
        self._ask_first = False  # whether a batch asks if a path is there before copying straight in

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
        for table in ("images", "job_states", "crs", "cameras"):
            _compress_text_lz4(self._raw(), table, self._lz4)
        self._learn_types()

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
        self._stages = set()

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

    def _learn_types(self) -> None:
        """The binary COPY type of every column encode() fills, as this catalogue has them (geometry is sent as
        EWKB, json as its text); and the images id sequence."""
        cur = self._raw().cursor()
        cur.execute("SELECT c.relname, a.attname, a.atttypid::int, format_type(a.atttypid, NULL) FROM pg_attribute a "
                    "JOIN pg_class c ON c.oid = a.attrelid WHERE a.attrelid IN ('images'::regclass, "
                    "'cameras'::regclass) AND a.attnum > 0 AND NOT a.attisdropped")
        found = {(table, name): (oid, kind) for table, name, oid, kind in cur.fetchall()}
        for key, kind in HEAD_TYPES.items():
            if found[key][1] != kind:  # the row heads are packed with these types (_IMAGE_HEAD, _CAMERA_HEAD)
                raise RuntimeError(f"{key[0]}.{key[1]} is {found[key][1]}, the writer expects {kind}")

        def oid(table: str, name: str) -> int:
            number, kind = found[(table, name)]
            return BYTEA if kind == "geometry" else TEXT if kind == "json" else number

        self._rest_types = [oid("images", c) for c in REST_COLS]
        self._camera_types = [oid("cameras", c) for c in CAMERA_COLS[1:]]
        # The images id sequence; and PostGIS loaded into this backend now (a new connection loads it on its first
        # geometry, tens of ms), so the first batch of a run is not the one to wait for it.
        cur.execute("SELECT pg_get_serial_sequence('images', 'id'), ST_AsEWKB('SRID=4326;POINT(0 0)'::geometry)")
        self._id_sequence = cur.fetchone()[0]
        cur.close()

    def write(self, records: list[dict], jobs: list[dict]) -> None:
        """Upsert image records (each also marks its job done), their cameras and job rows, in one transaction."""
        self.write_encoded(self.encode(records, jobs))

    def encode(self, records: list[dict], jobs: list[dict]) -> EncodedBatch:
        """The batch's rows as binary COPY bytes, all but what only its transaction knows (write_encoded). Uses no
        database connection (the writer runs it in one thread while another writes the previous batch); needs
        one to have been opened once, for the column types. A record whose values cannot be encoded raises."""
        if self._rest_types is None or self._camera_types is None:
            raise RuntimeError("encode() before the first connect()")
        return encode_batch(records, jobs, self._rest_types, self._camera_types)

    def write_encoded(self, batch: EncodedBatch) -> None:
        """Write an encoded batch in one transaction: the job rows, the images rows with their cameras, and the
        images' job_states rows deleted (a committed image's job is done).

        The images go straight into the tables unless a path is there already: then the transaction is rolled back
        and done again through the staging tables (an upsert). After such a batch, the next ones ask first whether
        a path is there (a forced re-run), until one finds none."""
        if not self._ask_first:
            try:
                self._write_encoded(batch, staged=None)
                return
            except psycopg.errors.UniqueViolation:
                self._ask_first = True  # rolled back; once more, through staging
        self._write_encoded(batch, staged=True if batch.records else False)

    def _write_encoded(self, batch: EncodedBatch, staged: bool | None) -> None:
        """``staged``: True (the upsert), None (straight in), False (ask which)."""
        assert self.conn is not None
        n, n_jobs = len(batch.records), len(batch.job_rows)
        new_crs: dict[str, int] = {}
        srids = set(self._srids)
        try:
            with self.conn.begin():
                cur = self._raw().cursor()
                # One round trip: the batch's sequence numbers (newer than any written; its records newer than its
                # job rows, a record being the job's last word), ids for its images, the committed images' job
                # rows deleted (no job row of theirs is written below: encode() left them out) and, when asked,
                # whether any path is there already.
                cur.execute("WITH c AS (UPDATE job_clock SET seq = seq + %s RETURNING seq), "
                            "d AS (DELETE FROM job_states WHERE path = ANY(%s)) SELECT (SELECT seq FROM c), "
                            "ARRAY(SELECT nextval(%s::regclass) FROM generate_series(1, %s)), "
                            + ("EXISTS (SELECT 1 FROM images WHERE path = ANY(%s))" if staged is False else "%s"),
                            (n_jobs + n, batch.paths, self._id_sequence, n,
                             batch.paths if staged is False else staged), binary=True)
                last, ids, exists = cur.fetchone()
                if staged is False:
                    self._ask_first = exists
                seq = last - n_jobs - n
                if n_jobs:
                    self._upsert_jobs([dict(row, seq=seq + i + 1) for i, row in enumerate(batch.job_rows)])
                if n:
                    for srid, (iau_code, body) in batch.srids.items():
                        if srid not in self._srids:
                            self._ensure_srids([{"iau_code": iau_code, "body": body}])
                    crs = [INT4_FIELD.pack(4, self._crs_id(wkt, iau_code, body, new_crs))
                           for wkt, iau_code, body in batch.crs]
                    data = image_data(batch, ids, seq + n_jobs + 1, crs)
                    if exists:
                        ids = self._upsert_images(cur, batch, data)
                    else:
                        # None of the paths is there (a first ingest): straight in, under the ids just taken, so
                        # the cameras need no lookup. A path there after all (another writer's) raises
                        # UniqueViolation: write_encoded does the batch again through staging.
                        copy_bytes(cur, "images", IMAGE_COLS, data)
                        if batch.cameras:
                            copy_bytes(cur, "cameras", CAMERA_COLS, camera_data(batch, ids))
                    self._images_written(batch.records, batch.paths, ids)
                cur.close()
        except BaseException:
            self._srids = srids  # what the rolled back transaction registered is not there
            raise
        self._crs_ids.update(new_crs)  # only once committed: a rolled back crs row has no id

    def _images_written(self, records: list[dict], paths: list[str], ids: list[int]) -> None:
        """In the batch's transaction, once its images and cameras rows are in (``ids``: theirs, by row): the
        overlap graph's pairs, as ``Store.write`` writes them after its cameras (issue 26)."""
        self.write_overlaps(overlaps.record_entries(records, dict(zip(paths, ids))))

    def _upsert_images(self, cur, batch: EncodedBatch, data: bytes) -> list[int]:
        """The batch through the staging tables: an image already there keeps its id (and gets its camera row
        replaced, or deleted if it has no sensor camera now), the others take theirs. Returns the ids by row."""
        copy_bytes(cur, self._stage("images", IMAGE_COLS), IMAGE_COLS, data)
        cols = ", ".join(IMAGE_COLS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in IMAGE_COLS if c not in ("id", "path"))
        cur.execute(f"INSERT INTO images ({cols}) SELECT {cols} FROM images_stage "
                    f"ON CONFLICT (path) DO UPDATE SET {updates}, updated_at = now() RETURNING path, id")
        id_of = dict(cur.fetchall())
        ids = [id_of[p] for p in batch.paths]
        if batch.no_camera:
            cur.execute("DELETE FROM cameras WHERE image_id = ANY(%s)", ([id_of[p] for p in batch.no_camera],))
        if batch.cameras:
            copy_bytes(cur, self._stage("cameras", CAMERA_COLS), CAMERA_COLS, camera_data(batch, ids))
            cur.execute("INSERT INTO cameras (image_id, model, isd) SELECT image_id, model, isd FROM cameras_stage "
                        "ON CONFLICT (image_id) DO UPDATE SET model = EXCLUDED.model, isd = EXCLUDED.isd")
        return ids

    def _stage(self, table: str, cols: tuple[str, ...]) -> str:
        """The connection's staging table of ``table`` (its ``cols``, same types, none of its constraints,
        emptied at every commit), made on first use."""
        stage = f"{table}_stage"
        if stage not in self._stages:
            cur = self._raw().cursor()
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                        f"SELECT {', '.join(cols)} FROM {table} WITH NO DATA")
            if "footprint" in cols:
                cur.execute(f"ALTER TABLE {stage} ALTER COLUMN footprint SET STORAGE EXTERNAL")
            _compress_text_lz4(self._raw(), stage, self._lz4)  # rows keep their compression when copied on
            cur.close()
            self._stages.add(stage)
        return stage

    def _upsert_cameras(self, rows: list[dict]) -> None:
        """Camera rows (dicts) upserted: the schema 5 -> 6 upgrade's way in (write_encoded copies them)."""
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
        stage = self._stage(table, cols)
        collist = ", ".join(cols)
        cur = self._raw().cursor()
        types = self._stage_types.get(table)
        if types is None:
            cur.execute("SELECT attname, atttypid::int, atttypid::regtype::text FROM pg_attribute "
                        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", (stage,))
            oids = {name: (BYTEA if typ == "geometry" else TEXT if typ == "json" else oid)
                    for name, oid, typ in cur.fetchall()}
            types = self._stage_types[table] = [oids[c] for c in cols]
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
