"""Database schema (SQLAlchemy 2 Core), shared by the SQLite default and PostGIS.

The footprint is a MULTIPOLYGON in the body's geographic lon/lat. PostGIS stores it as ``geometry`` with a
per-row SRID (one column holds Mars and Moon); SQLite stores WKB in a BLOB plus its bounds, which an R*Tree
virtual table (kept in step by triggers) indexes, since pip-installed Python cannot load SpatiaLite.
"""
from __future__ import annotations

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

from ..extractors.record import RECORD_KEYS

SCHEMA_VERSION = 4  # 2: jobs.error_type, traceback, log. 3: file sizes are 64-bit (images over 2 GiB).
# 4: Earth footprints in geodetic WGS84 (EPSG:4326), no longer planetocentric (IAU_2015:39900)

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


# The record's fields the images table keeps as they are (its footprint is stored from footprint_wkb).
IMAGE_FIELDS = tuple(k for k in RECORD_KEYS if k != "footprint_wkb")

# Integer SRIDs for IAU_2015 codes: PostGIS requires srid <= 998999, IAU codes of small bodies are larger.
_SRID_PLANETS = 800000
_SRID_SMALL_BODIES = 900000


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


def build_metadata(postgis: bool) -> MetaData:
    """Tables for one backend; only the footprint column's type differs."""
    md = MetaData()
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
        Column("crs_wkt", Text),
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
    )
    Table(
        "jobs", md,
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
    )
    Table("schema_info", md, Column("version", Integer, primary_key=True))
    return md

