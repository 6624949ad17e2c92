"""Read side of the catalogue: status, spatial queries and export, for the CLI and for users.

These open their own short-lived connection; they are for people and notebooks looking at a catalogue,
not part of an ingestion run (whose only connection is the writer's).
"""
from __future__ import annotations

import functools
import json
import os
import sqlite3
import urllib.parse
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator

import shapely
from shapely.geometry import box
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from ..errors import AutocnetJobsError, DatabaseUnavailable
from .exports.geojson import to_geojson  # noqa: F401 - part of the read side, as before
from .schema import (  # noqa: F401 - JobState: the job states, for the views
    IMAGE_FIELDS,
    JOB_STATES,
    TIME_COLUMNS,
    JobState,
    as_utc,
    join_camera,
    sqlite_time,
    utc_datetime,
)
from .store.base import safe_url  # noqa: F401 - also for the views (report)

# Image columns a query returns (the camera and the footprint are selected on their own): the record's fields
# but the bulky ones, with the row's id, SRID and times.
_COLUMNS = ("id", *(k for k in IMAGE_FIELDS if k not in ("crs_wkt", "camera", "extractor_params")), "srid",
            "created_at", "updated_at")


class NoCatalogue(DatabaseUnavailable):
    """The URL names no catalogue: a SQLite file that does not exist (the read side never creates one), or a
    database without the ``images`` table (see :func:`require_catalogue`)."""


class NotInCatalogue(AutocnetJobsError, LookupError):
    """An image a query is relative to (``overlapping``) has no row, or no footprint, in the catalogue."""


def sqlite_file(url: str) -> str | None:
    """The absolute path of a SQLite URL's file (relative paths are against the current folder, as SQLAlchemy
    takes them); None for an in-memory database or another backend."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or u.database in (None, "", ":memory:"):
        return None
    return os.path.abspath(u.database)


def _engine(url: str) -> Engine:
    """An engine that reads an existing catalogue. A SQLite file is opened with ``mode=rw`` so that a typo in
    the URL can never leave an empty catalogue behind (SQLite creates a missing file by default)."""
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, poolclass=NullPool)
    path = sqlite_file(url)
    if path is None:
        raise NoCatalogue(f"{safe_url(url)} is an in-memory SQLite database, which holds no catalogue; "
                          "name the catalogue's file: sqlite:///FILE")
    if not os.path.isfile(path):
        what = "is a folder" if os.path.isdir(path) else "does not exist"
        raise NoCatalogue(f"no catalogue at {safe_url(url)}: {path} {what}; check --db / database.url "
                          "(autocnet-jobs add creates the catalogue)")
    uri = f"file:{urllib.parse.quote(path)}?mode=rw"
    return create_engine("sqlite://", poolclass=NullPool, creator=lambda: sqlite3.connect(uri, uri=True))


@contextmanager
def connect(url: str) -> Iterator[Connection]:
    """A connection to an existing catalogue database (NoCatalogue for a SQLite file that does not exist)."""
    try:
        engine = _engine(url)
        conn = engine.connect()
    except DatabaseUnavailable:
        raise
    except Exception as exc:
        raise DatabaseUnavailable(f"cannot open database {safe_url(url)}: {exc}") from exc
    try:
        yield conn
    finally:
        conn.close()
        engine.dispose()


def require_catalogue(url: str) -> None:
    """Raise NoCatalogue unless ``url`` holds a catalogue (its ``images`` table), without creating anything.

    For commands that only read: a mistyped ``--db`` must be reported, not answered with zeros from an empty
    database made on the spot.
    """
    with connect(url) as conn:
        try:
            present = _has_table(conn, "images")
        except SQLAlchemyError as exc:  # e.g. a file that is not a SQLite database
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise NoCatalogue(f"no catalogue at {safe_url(url)}: {reason}; check --db / database.url") from None
    if not present:
        raise NoCatalogue(f"no catalogue at {safe_url(url)}: the database has no images table; check --db / "
                          "database.url (autocnet-jobs add creates the catalogue)")


def is_postgis(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def job_counts(url: str) -> dict[str, int]:
    """Jobs by state (queued, running, done, failed) as the run last recorded them."""
    counts = {state: 0 for state in JOB_STATES}
    with connect(url) as conn:
        if not _has_table(conn, "jobs"):
            return counts
        for state, n in conn.execute(text("SELECT state, count(*) FROM jobs GROUP BY state")):
            counts[state] = n
    return counts


def bodies(url: str) -> list[str]:
    """The bodies the catalogue's images are of (as stored; images of no known body left out)."""
    with connect(url) as conn:
        if not _has_table(conn, "images"):
            return []
        return [r[0] for r in conn.execute(text("SELECT DISTINCT body FROM images WHERE body IS NOT NULL "
                                                "ORDER BY body"))]


def job_rows(url: str, state: str | None = None) -> list[dict[str, Any]]:
    with connect(url) as conn:
        if not _has_table(conn, "jobs"):
            return []
        sql = ("SELECT path, state, attempts, error_kind, error_type, last_error, traceback, log, worker, updated_at"
               " FROM jobs")
        params: dict[str, Any] = {}
        if state:
            sql += " WHERE state = :state"
            params["state"] = state
        return [dict(r._mapping) for r in conn.execute(text(sql + " ORDER BY path"), params)]


def images(url: str, *, bbox: tuple[float, float, float, float] | None = None, geometry=None,
           overlapping: str | None = None, body: str | None = None, since: datetime | None = None,
           with_footprint: bool = True, **acquired: Any) -> list[dict[str, Any]]:
    """Image rows, optionally only those whose footprint intersects a lon/lat ``bbox`` (minlon, minlat,
    maxlon, maxlat; minlon > maxlon means the box crosses 180°), a shapely ``geometry`` (lon/lat), or the
    footprint of the image at path ``overlapping`` (NotInCatalogue when it has no row or no footprint);
    filtered by ``body``, ``since`` (time added to the catalogue; a naive datetime is UTC) and the acquisition
    filters of :func:`acquisition_filter` (``instrument``, ``spacecraft``, ``acquired_from``, ``acquired_to``,
    ``resolution``, ``incidence``, ``emission``, ``phase``)."""
    unknown = set(acquired) - set(ACQUISITION_FILTERS)
    if unknown:
        raise TypeError(f"images() got unknown filters {sorted(unknown)}; known: {', '.join(ACQUISITION_FILTERS)}")
    region = None
    if bbox is not None:
        region = bbox_geometry(*bbox)
    if geometry is not None:
        region = geometry if region is None else region.intersection(geometry)
    with connect(url) as conn:
        if not _has_table(conn, "images"):
            return []
        postgis = is_postgis(url)
        target = None
        if overlapping is not None:
            found = _select(conn, postgis, None, None, path=overlapping)
            if not found:
                raise NotInCatalogue(f"{overlapping} is not in the catalogue (give the path it was added with)")
            if found[0]["footprint"] is None:
                raise NotInCatalogue(f"{overlapping} has no footprint in the catalogue "
                                     f"({found[0]['footprint_note'] or 'none was computed'})")
            target = found[0]
            region = target["footprint"] if region is None else region.intersection(target["footprint"])
        # The spatial index narrows the rows to those whose bounds meet the region's; the exact test below
        # runs in shapely on both backends, so they answer identically.
        boxes = None if region is None else [g.bounds for g in _parts(region)]
        rows = _select(conn, postgis, body, since, boxes=boxes, acquired=acquired)
        if target is not None:
            rows = [r for r in rows if r["path"] != overlapping and r["body"] == target["body"]]
        if region is not None:
            rows = [r for r in rows if r["footprint"] is not None and r["footprint"].intersects(region)]
    if not with_footprint:
        for r in rows:
            r.pop("footprint")
    return rows


def _parts(geom) -> list:
    return [g for g in getattr(geom, "geoms", [geom]) if not g.is_empty]


def bbox_geometry(minlon: float, minlat: float, maxlon: float, maxlat: float):
    """A lon/lat box as a (Multi)Polygon; a box with minlon > maxlon wraps across the antimeridian."""
    if not (-90 <= minlat <= maxlat <= 90):
        raise ValueError(f"latitudes must satisfy -90 <= minlat <= maxlat <= 90, got {minlat}, {maxlat}")
    if not (-180 <= minlon <= 180 and -180 <= maxlon <= 180):
        raise ValueError(f"longitudes must be within -180..180 (subtract 360 from those above 180; minlon > maxlon "
                         f"for a box across 180°), got {minlon}, {maxlon}")
    if minlon <= maxlon:
        return box(minlon, minlat, maxlon, maxlat)
    return shapely.MultiPolygon([box(minlon, minlat, 180, maxlat), box(-180, minlat, maxlon, maxlat)])


def _select(conn: Connection, postgis: bool, body: str | None, since: datetime | None, *, path: str | None = None,
            boxes: list[tuple[float, float, float, float]] | None = None,
            acquired: dict[str, Any] | None = None) -> list[dict]:
    """Image rows, optionally only those whose footprint bounds meet one of ``boxes`` (index-backed)."""
    cols = ", ".join(_COLUMNS)
    geom = "ST_AsBinary(footprint)" if postgis else "footprint"
    # The camera's ISD is in its own table (schema 6): joined back into the camera dict (schema.join_camera).
    # And its CRS, kept once per CRS in the crs table (schema 5), is put back where the record had it.
    sql = (f"SELECT {cols}, camera, cameras.isd AS camera_isd, {geom} AS fp, "
           f"(SELECT wkt FROM crs WHERE crs.id = images.crs_id) AS crs_wkt FROM images "
           f"LEFT JOIN cameras ON cameras.image_id = images.id WHERE 1=1")
    params: dict[str, Any] = {}
    if body:
        sql += " AND lower(body) = lower(:body)"
        params["body"] = body
    if since:
        # Naive times are UTC. SQLite keeps CURRENT_TIMESTAMP text (UTC, no offset); PostgreSQL a timestamptz.
        since = as_utc(since)
        sql += " AND created_at >= :since"
        params["since"] = since if postgis else since.replace(tzinfo=None)
    if path is not None:
        sql += " AND path = :path"
        params["path"] = path
    if boxes is not None:
        where, box_params = _box_filter(conn, postgis, boxes)
        sql += f" AND {where}"
        params.update(box_params)
    for where, value in acquisition_filter(postgis, **(acquired or {})):
        sql += f" AND {where}"
        params.update(value)
    out = []
    for row in conn.execute(text(sql + " ORDER BY path"), params):
        d = dict(row._mapping)
        fp = d.pop("fp")
        d["footprint"] = shapely.from_wkb(bytes(fp)) if fp is not None else None
        for col in TIME_COLUMNS:  # SQLite keeps them as text: the same aware datetimes as PostGIS gives
            if isinstance(d.get(col), str):
                d[col] = utc_datetime(d[col])
        camera, isd = d.pop("camera"), d.pop("camera_isd")
        camera = json.loads(camera) if isinstance(camera, str) else camera
        d["camera"] = with_crs(join_camera(camera, json.loads(isd) if isinstance(isd, str) else isd), d.pop("crs_wkt"))
        out.append(d)
    return out


def with_crs(camera, crs_wkt: str | None):
    """An affine camera as the record had it: its CRS WKT and that CRS's geographic CRS (the store drops both:
    the crs table holds the WKT once per CRS)."""
    if not isinstance(camera, dict) or camera.get("type") != "affine" or not crs_wkt or "crs_wkt" in camera:
        return camera
    return {**camera, "crs_wkt": crs_wkt, "geographic_crs_wkt": _geographic_wkt(crs_wkt)}


@functools.lru_cache(maxsize=64)
def _geographic_wkt(crs_wkt: str) -> str | None:
    from ..extractors.lonlat import LonLatTransformer, NotInvertible  # the geographic CRS's one home

    try:
        return LonLatTransformer(crs_wkt).geographic.to_wkt()
    except NotInvertible:
        return None


# Acquisition filters of images(): names and what each compares. Text filters match case-insensitively; ranges
# are (low, high) in the column's unit, either end None for open, both ends inclusive; acquired_from/acquired_to
# bound start_time (from inclusive, to exclusive). A row whose column is NULL never matches a filter on it.
_TEXT_FILTERS = {"instrument": "instrument", "spacecraft": "spacecraft"}
_RANGE_FILTERS = {"resolution": "resolution", "incidence": "incidence", "emission": "emission", "phase": "phase"}
ACQUISITION_FILTERS = (*_TEXT_FILTERS, "acquired_from", "acquired_to", *_RANGE_FILTERS)


def acquisition_filter(postgis: bool, *, instrument: str | None = None, spacecraft: str | None = None,
                       acquired_from: datetime | None = None, acquired_to: datetime | None = None,
                       resolution: tuple[float | None, float | None] | None = None,
                       incidence: tuple[float | None, float | None] | None = None,
                       emission: tuple[float | None, float | None] | None = None,
                       phase: tuple[float | None, float | None] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """WHERE terms with their parameters for the acquisition filters (a pure function: no connection).

    Times: a naive datetime is UTC; PostGIS compares timestamptz, SQLite the fixed-width UTC text the store
    writes (``schema.sqlite_time``), whose text order is time order. ValueError for a range whose low end is
    above its high end, or a time range that ends before it starts."""
    terms: list[tuple[str, dict[str, Any]]] = []
    given = {"instrument": instrument, "spacecraft": spacecraft}
    for name, col in _TEXT_FILTERS.items():
        if given[name] is not None:
            terms.append((f"lower({col}) = lower(:{name})", {name: given[name]}))
    if acquired_from is not None and acquired_to is not None and as_utc(acquired_to) <= as_utc(acquired_from):
        raise ValueError(f"the acquisition time range ends ({as_utc(acquired_to).isoformat()}) before or when it "
                         f"starts ({as_utc(acquired_from).isoformat()})")
    for name, bound, op in (("acquired_from", acquired_from, ">="), ("acquired_to", acquired_to, "<")):
        if bound is not None:
            terms.append((f"start_time {op} :{name}", {name: as_utc(bound) if postgis else sqlite_time(bound)}))
    ranges = {"resolution": resolution, "incidence": incidence, "emission": emission, "phase": phase}
    for name, col in _RANGE_FILTERS.items():
        if ranges[name] is None:
            continue
        low, high = ranges[name]
        if low is not None and high is not None and low > high:
            raise ValueError(f"{name} range {low:g}..{high:g}: the low end is above the high end")
        if low is not None:
            terms.append((f"{col} >= :{name}_low", {f"{name}_low": float(low)}))
        if high is not None:
            terms.append((f"{col} <= :{name}_high", {f"{name}_high": float(high)}))
    return terms


def intersecting(url: str, minlon: float, minlat: float, maxlon: float, maxlat: float) -> list[str]:
    """Paths whose footprint intersects the box (through the spatial index, as :func:`images` does)."""
    return sorted(r["path"] for r in images(url, bbox=(minlon, minlat, maxlon, maxlat), with_footprint=False))


def _box_filter(conn: Connection, postgis: bool, boxes: list[tuple[float, float, float, float]]
                ) -> tuple[str, dict[str, float]]:
    """A WHERE term (and its parameters) for rows whose footprint bounds meet one of ``boxes``, answered by
    the spatial index: SQLite's R*Tree, or PostGIS's GiST with one envelope per SRID in use (an envelope built
    from each row's own SRID would make PostgreSQL scan every footprint)."""
    terms, params = [], {}
    srids = _footprint_srids(conn) if postgis else []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        params.update({f"x0_{i}": x0, f"y0_{i}": y0, f"x1_{i}": x1, f"y1_{i}": y1})
        if not postgis:
            terms.append(f"id IN (SELECT id FROM images_rtree WHERE minx <= :x1_{i} AND maxx >= :x0_{i} "
                         f"AND miny <= :y1_{i} AND maxy >= :y0_{i})")
        for srid in srids:
            terms.append(f"(coalesce(srid, 0) = {int(srid)} AND footprint && "
                         f"ST_MakeEnvelope(:x0_{i}, :y0_{i}, :x1_{i}, :y1_{i}, {int(srid)}))")
    return f"({' OR '.join(terms) or 'false'})", params


def _footprint_srids(conn: Connection) -> list[int]:
    """The distinct SRIDs of the footprints, by a skip scan of the srid index (one probe per SRID, not a pass
    over every image), plus 0: a footprint whose body is unknown is stored without one."""
    rows = conn.execute(text("""
        WITH RECURSIVE s(srid) AS (
            SELECT min(srid) FROM images
            UNION ALL
            SELECT (SELECT min(srid) FROM images WHERE srid > s.srid) FROM s WHERE s.srid IS NOT NULL)
        SELECT srid FROM s WHERE srid IS NOT NULL"""))
    return sorted({0, *(r[0] for r in rows)})


def _has_table(conn: Connection, name: str) -> bool:
    from sqlalchemy import inspect

    return inspect(conn).has_table(name)
