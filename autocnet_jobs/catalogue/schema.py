"""Database schema (SQLAlchemy 2 Core), shared by the SQLite default and PostGIS.

The footprint is a MULTIPOLYGON in the body's geographic lon/lat. PostGIS stores it as ``geometry`` with a
per-row SRID (one column holds Mars and Moon); SQLite stores WKB in a BLOB plus its bounds, which an R*Tree
virtual table (kept in step by triggers) indexes, since pip-installed Python cannot load SpatiaLite.
"""
from __future__ import annotations

import functools
import json
import re
from datetime import datetime, timedelta, timezone
from enum import Enum

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
)

from ..extractors.record import ACQUISITION_KEYS, RECORD_KEYS, VIEWING_KEYS

SCHEMA_VERSION = 7  # 2: jobs.error_type, traceback, log. 3: file sizes are 64-bit (images over 2 GiB).
# 4: Earth footprints in geodetic WGS84 (EPSG:4326), no longer planetocentric (IAU_2015:39900).
# 5: acquisition columns (ACQUISITION_KEYS, VIEWING_KEYS, resolution); the CRS WKT once per CRS in the crs table
#    (images.crs_id), no longer per image nor inside the camera JSON.
# 6: a sensor camera's ISD (hundreds of KB for a line scanner) in its own table, cameras(image_id, model, isd):
#    the images row every spatial query reads keeps the camera's small part only (split_camera); the overlap
#    graph's pairs in the overlaps table (an older catalogue's are made by ``autocnet-jobs overlaps --rebuild``).
# 7: a pair's viewing geometry at its overlap's centre, where both images have a camera: overlaps.convergence_deg
#    and incidence_diff_deg (catalogue.pair_angles; NULL in a version 6 catalogue's pairs until the rebuild).

class JobState(str, Enum):
    """A job's state. The jobs table keeps all but ``writing`` (a record on its way to the writer is ``queued``
    there); ``done`` and ``failed`` are terminal. Compare members, or ``.value`` where a string is wanted."""

    QUEUED = "queued"
    RUNNING = "running"
    WRITING = "writing"
    DONE = "done"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED)


# The states of the jobs table (``JobState.WRITING`` is stored as queued) and those still to finish.
JOB_STATES = tuple(s.value for s in JobState if s is not JobState.WRITING)
ACTIVE_STATES = tuple(s.value for s in JobState if not s.terminal)


# The record's fields the images table keeps as they are (its footprint is stored from footprint_wkb, its CRS
# WKT in the crs table, referenced by crs_id).
IMAGE_FIELDS = tuple(k for k in RECORD_KEYS if k not in ("footprint_wkb", "crs_wkt"))
# The images columns added by schema version 5, with the indexes the acquisition queries use.
ACQUISITION_COLUMNS = (*ACQUISITION_KEYS, *VIEWING_KEYS, "resolution", "crs_id")
# The images indexes the acquisition queries use (name -> indexed expression): instrument and spacecraft are
# compared case-insensitively (queries: lower(x) = lower(:x)), so those are indexes on lower().
ACQUISITION_INDEXES = {"images_instrument_ci": "lower(instrument)", "images_spacecraft_ci": "lower(spacecraft)",
                       "images_start_time": "start_time", "images_resolution": "resolution"}
TIME_COLUMNS = ("start_time", "stop_time")
# Keys of a camera dict that hold the CRS the crs table holds: dropped from the stored camera JSON.
CAMERA_CRS_KEYS = ("crs_wkt", "geographic_crs_wkt")

# What a schema 5 sensor camera (the hand-written framing/line-scan models before ISDs) keeps in its images row;
# the whole dict goes to the cameras table as it was.
_LEGACY_SENSOR_TYPES = ("framing", "line_scan")
_LEGACY_ROW_KEYS = ("type", "name_model", "name_platform", "name_sensor", "ground_sample_distance_m", "dem")


_JSON_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def split_camera(camera):
    """(what the images row keeps, the ISD for the cameras table or None, its model name or None).

    A sensor camera (``type: csm``) keeps everything but its ``isd``; a schema 5 sensor dict keeps a few
    describing keys and goes to the cameras table whole; any other camera (affine, a plug-in's, none) stays in
    the row. :func:`join_camera` undoes it."""
    if not isinstance(camera, dict):
        return camera, None, None
    if camera.get("isd") is not None:
        return {k: v for k, v in camera.items() if k != "isd"}, camera["isd"], camera.get("model")
    if camera.get("type") in _LEGACY_SENSOR_TYPES:
        return {k: camera[k] for k in _LEGACY_ROW_KEYS if k in camera}, camera, camera.get("name_model")
    return camera, None, None


def json_text(value) -> str:
    """A JSON column's text: a value encoded, a str taken as JSON text already (a record's ISD arrives so: the
    worker that made it encodes it once, engine/task.py, instead of the one writer encoding every image's)."""
    return value if isinstance(value, str) else _JSON_ENCODE(value)


def join_camera(row_camera, isd):
    """The camera a record had, from its images row's part and its cameras row's ISD (see split_camera)."""
    if isd is None or not isinstance(row_camera, dict):
        return row_camera
    if row_camera.get("type") in _LEGACY_SENSOR_TYPES:
        return isd
    return {**row_camera, "isd": isd}


# Integer SRIDs for IAU_2015 codes: PostGIS requires srid <= 998999, IAU codes of small bodies are larger.
_SRID_PLANETS = 800000
_SRID_SMALL_BODIES = 900000


@functools.lru_cache(maxsize=256)  # the writer asks once per row, of a few codes
def srid_for(iau_code: str | None) -> int | None:
    """Stable integer SRID for an ``IAU_2015:NNNNN`` or ``EPSG:NNNN`` code (None when unknown)."""
    if not iau_code:
        return None
    auth, _, number = iau_code.partition(":")
    code = int(number)
    if auth.upper() == "EPSG":
        return code
    if code <= 99999:  # planets and their moons: NAIF id * 100 + kind
        return _SRID_PLANETS + code
    return _SRID_SMALL_BODIES + (code // 100) % 98999


_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:[0-5]\d(\.\d{1,6})?Z\Z")


def as_utc(t: datetime) -> datetime:
    """``t`` as an aware UTC datetime: the catalogue stores UTC, so a naive time is taken as UTC and an aware one
    converted. The one home of that rule (queries, exports and the time columns all use it)."""
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def utc_datetime(text: str | datetime | None) -> datetime | None:
    """A record's ISO-8601 UTC time (``...Z``, extractors.acquisition.utc_iso) as an aware datetime; a leap second
    (``:60``) becomes the next minute's first instant, as PostgreSQL reads it. A datetime is taken as
    :func:`as_utc` takes it."""
    if isinstance(text, datetime):
        return as_utc(text)
    if not text:
        return None
    leap = text[17:19] == "60"
    value = datetime.fromisoformat(text.replace(":60", ":59", 1) if leap else text)
    return value + timedelta(seconds=1) if leap else value


def sqlite_time(value: datetime | str | None) -> str | None:
    """How the SQLite catalogue stores a time column (start_time, stop_time): UTC ISO-8601 text of fixed width,
    ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, so text order is time order. A query bound on these columns is compared
    as the same text: pass it through here (a naive datetime is UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        if _CANONICAL.match(value):  # the record's own form: padded as text, no datetime made (the writer's path)
            return f"{value[:19]}.{value[20:-1].ljust(6, '0')}Z" if value[19] == "." else f"{value[:19]}.000000Z"
        value = utc_datetime(value)
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_metadata(postgis: bool) -> MetaData:
    """Tables for one backend; the footprint column's type and the time columns' differ. Times: timezone-aware
    ``timestamptz`` on PostGIS, :func:`sqlite_time` text on SQLite (which has no time type)."""
    md = MetaData()
    time_type = DateTime(timezone=True) if postgis else String(27)
    if postgis:
        from geoalchemy2 import Geometry

        footprint = [Column("footprint", Geometry("MULTIPOLYGON", srid=-1, spatial_index=False), nullable=True)]
    else:
        footprint = [Column("footprint", LargeBinary, nullable=True),
                     Column("minx", Float), Column("miny", Float), Column("maxx", Float), Column("maxy", Float)]
    Table(
        "images", md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("name", Text, nullable=False),
        Column("path", Text, nullable=False, unique=True),
        Column("checksum", String(64), nullable=False),
        Column("size", BigInteger, nullable=False),
        Column("mtime", Float, nullable=False),
        Column("driver", String(32)),
        Column("width", Integer), Column("height", Integer), Column("bands", Integer),
        Column("body", String(64)),
        Column("iau_code", String(64)),
        Column("srid", Integer),
        *footprint,
        Column("footprint_source", String(32)),
        Column("footprint_note", Text),
        Column("camera", JSON),
        Column("keypoints_path", Text),
        Column("n_keypoints", Integer),
        Column("extractor", String(16)),
        Column("extractor_params", JSON),
        Column("note", Text),
        Column("created_at", DateTime(timezone=True), server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), server_default=func.now()),
        *acquisition_columns(time_type),
        *(Column(name, kind) for name, kind in DONE_JOB_COLUMNS),
    )
    # One row per distinct CRS (an image's native CRS, as WKT); found by the WKT's SHA-256, since a WKT can be
    # longer than a B-tree key may be. srid is the footprint's (the body's geographic CRS), as images.srid.
    Table(
        "crs", md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("wkt_sha256", String(64), nullable=False, unique=True),
        Column("wkt", Text, nullable=False),
        Column("iau_code", String(64)),
        Column("body", String(64)),
        Column("srid", Integer),
    )
    # Jobs not done (queued, running, failed) as the tracker last sent them; a done image's job state is in its
    # images row (attempts, worker, job_seq): one write per image. The ``jobs`` view (JOBS_VIEW) joins the two,
    # the newer of an image's rows winning by their sequence numbers (job_clock), as the jobs table read before.
    Table(
        "job_states", md,
        Column("path", Text, primary_key=True),
        Column("state", String(16), nullable=False),  # JOB_STATES
        Column("attempts", Integer, nullable=False, default=0),
        Column("error_kind", String(32)),
        Column("error_type", String(64)),
        Column("last_error", Text),
        Column("traceback", Text),
        Column("log", Text),
        Column("size", BigInteger), Column("mtime", Float),
        Column("worker", Text),
        Column("updated_at", DateTime(timezone=True), server_default=func.now()),
        Column("seq", BigInteger, nullable=False, default=0),
    )
    # A sensor camera's ISD, one row per image that has one (split_camera), written with its images row.
    Table(
        "cameras", md,
        Column("image_id", Integer, primary_key=True, autoincrement=False),
        Column("model", String(64)),
        Column("isd", JSON, nullable=False),
    )
    # The overlap graph (issue 26): one row per pair of images of one body whose footprints overlap, image_a <
    # image_b, the intersection and its area on the body's ellipsoid (catalogue.overlap_geometry), written by the
    # writer with the images rows (Store.write_overlaps).
    overlap_geom = (Column("geom", Geometry("MULTIPOLYGON", srid=-1, spatial_index=False)) if postgis
                    else Column("geom", LargeBinary))
    Table(
        "overlaps", md,
        Column("image_a", Integer, primary_key=True, autoincrement=False),
        Column("image_b", Integer, primary_key=True, autoincrement=False, index=True),
        Column("body", String(64)),
        Column("srid", Integer),
        Column("area_m2", Float, nullable=False),
        Column("fraction_a", Float, nullable=False),
        Column("fraction_b", Float, nullable=False),
        overlap_geom,
        *pair_angle_columns(),
    )
    Table("job_clock", md, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("seq", BigInteger, nullable=False))
    Table("schema_info", md, Column("version", Integer, primary_key=True))
    return md


# A done image's job state, in its images row (the version 5 upgrade adds the same).
DONE_JOB_COLUMNS = (("attempts", Integer), ("worker", Text), ("job_seq", BigInteger))

# What ``SELECT ... FROM jobs`` reads: every job with its latest state, a done one from its images row.
JOBS_VIEW = """
CREATE VIEW jobs AS
SELECT j.path, j.state, j.attempts, j.error_kind, j.error_type, j.last_error, j.traceback, j.log, j.size, j.mtime,
       j.worker, j.updated_at
  FROM job_states j
 WHERE NOT EXISTS (SELECT 1 FROM images i WHERE i.path = j.path AND coalesce(i.job_seq, 0) >= j.seq)
UNION ALL
SELECT i.path, 'done', coalesce(i.attempts, 0), NULL, NULL, NULL, NULL, NULL, i.size, i.mtime, i.worker, i.updated_at
  FROM images i
 WHERE NOT EXISTS (SELECT 1 FROM job_states j WHERE j.path = i.path AND j.seq > coalesce(i.job_seq, 0))
"""


# The overlaps columns of a pair's viewing geometry (schema 7; NULL where an image has no camera, or the centre
# is not seen): the stereo convergence angle and the difference of the two incidence angles, degrees.
PAIR_ANGLE_COLUMNS = ("convergence_deg", "incidence_diff_deg")


def pair_angle_columns() -> list[Column]:
    """The overlaps columns of PAIR_ANGLE_COLUMNS (new tables and the version 7 upgrade add the same)."""
    return [Column(name, Float) for name in PAIR_ANGLE_COLUMNS]


def acquisition_columns(time_type) -> list[Column]:
    """The images columns of ACQUISITION_COLUMNS (new tables and the version 5 upgrade add the same)."""
    types = {"incidence": Float, "emission": Float, "phase": Float, "resolution": Float, "crs_id": Integer,
             **{k: time_type for k in TIME_COLUMNS}}
    return [Column(k, types.get(k, Text)) for k in ACQUISITION_COLUMNS]

