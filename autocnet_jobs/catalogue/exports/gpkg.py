"""GeoPackage export: the catalogue's footprints as one layer per body, each in that body's lon/lat CRS.

A GeoPackage is an SQLite file with a few metadata tables (OGC 12-128r18, version 1.3), so it is written with the
standard library's ``sqlite3``: no second copy of GDAL is installed for it, and GDAL/OGR (QGIS, ogr2ogr, pyogrio)
reads it. One layer per body because a GeoPackage layer has a single CRS, and footprints of Mars and the Moon are
in different ones; footprints whose body is unknown go to a layer in the "undefined geographic" CRS (srs_id 0).
The file is written under a temporary name and renamed, so a reader never sees half a file.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import struct
from datetime import datetime
from typing import Any

import shapely

from ..schema import IMAGE_FIELDS, as_utc, srid_for

APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10300  # GeoPackage 1.3.0

# Attribute columns of each layer and their GeoPackage types (the footprint is the geometry column).
# The record's fields but the file's mtime, the CRS WKT (the layer's CRS says it) and the extractor parameters; TEXT
# unless named here.
_TYPES = {"width": "INTEGER", "height": "INTEGER", "bands": "INTEGER", "size": "INTEGER", "n_keypoints": "INTEGER",
          "start_time": "DATETIME", "stop_time": "DATETIME", "incidence": "REAL", "emission": "REAL", "phase": "REAL",
          "resolution": "REAL"}
FIELDS = (*((k, _TYPES.get(k, "TEXT")) for k in IMAGE_FIELDS if k not in ("mtime", "crs_wkt", "extractor_params")),
          ("created_at", "DATETIME"), ("updated_at", "DATETIME"))

_REQUIRED_SRS = [  # every GeoPackage has these three (spec, requirement 11)
    ("WGS 84 geodetic", 4326, "EPSG", 4326,
     'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
     'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,'
     'AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]', None),
    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
]


def write_gpkg(rows: list[dict[str, Any]], path: str | os.PathLike) -> dict[str, int]:
    """Write image rows (as from :func:`autocnet_jobs.catalogue.queries.images`) to a GeoPackage at ``path``.

    Returns {layer name: number of features}. Images without a footprint are written too (NULL geometry), so
    the file lists the whole catalogue.
    """
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    if os.path.exists(tmp):
        os.remove(tmp)
    layers: dict[str, list[dict]] = {}
    for r in rows:
        layers.setdefault(r.get("iau_code") or "", []).append(r)
    counts: dict[str, int] = {}
    con = sqlite3.connect(tmp)
    try:
        _create_metadata(con)
        used: set[str] = set()
        for code, members in sorted(layers.items()):
            srs_id = _add_srs(con, code)
            table = _table_name(members[0].get("body"), code, used)
            _write_layer(con, table, srs_id, members)
            counts[table] = len(members)
        con.commit()
    except BaseException:
        con.close()
        os.remove(tmp)
        raise
    con.close()
    os.replace(tmp, path)
    return counts


def _create_metadata(con: sqlite3.Connection) -> None:
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute(f"PRAGMA user_version = {USER_VERSION}")
    con.execute("""CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
                   organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL,
                   definition TEXT NOT NULL, description TEXT)""")
    con.execute("""CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
                   identifier TEXT UNIQUE, description TEXT DEFAULT '',
                   last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
                   min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
                   CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""")
    con.execute("""CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
                   geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL,
                   m TINYINT NOT NULL, CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
                   CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
                   CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""")
    con.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", _REQUIRED_SRS)


def _add_srs(con: sqlite3.Connection, code: str) -> int:
    """The srs_id of an IAU (or EPSG) code, added with its WKT; 0 (undefined geographic) for no code."""
    if not code:
        return 0
    srs_id = srid_for(code)
    if con.execute("SELECT 1 FROM gpkg_spatial_ref_sys WHERE srs_id = ?", (srs_id,)).fetchone() is None:
        from pyproj import CRS

        crs = CRS.from_user_input(code)
        auth, _, number = code.partition(":")
        con.execute("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)",
                    (crs.name, srs_id, auth.upper(), int(number), crs.to_wkt("WKT1_GDAL"), code))
    return srs_id


def _table_name(body: str | None, code: str, used: set[str]) -> str:
    base = "footprints_" + (re.sub(r"[^a-z0-9]+", "_", (body or "unknown").lower()).strip("_") or "unknown")
    name = base if base not in used else f"{base}_{code.partition(':')[2] or len(used)}"
    used.add(name)
    return name


def _write_layer(con: sqlite3.Connection, table: str, srs_id: int, rows: list[dict]) -> None:
    cols = ", ".join(f'"{name}" {kind}' for name, kind in FIELDS)
    con.execute(f'CREATE TABLE "{table}" (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom MULTIPOLYGON, {cols})')
    geoms = [r.get("footprint") for r in rows]
    present = [g for g in geoms if g is not None and not g.is_empty]
    bounds = shapely.total_bounds(present) if present else [None] * 4
    body = rows[0].get("body") or "unknown body"
    con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, "
                "max_y, srs_id) VALUES (?, 'features', ?, ?, ?, ?, ?, ?, ?)",
                (table, table, f"image footprints on {body} (autocnet_jobs)", *map(_float, bounds), srs_id))
    con.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', 'MULTIPOLYGON', ?, 0, 0)", (table, srs_id))
    names = ", ".join(f'"{name}"' for name, _ in FIELDS)
    marks = ", ".join("?" * (len(FIELDS) + 1))
    con.executemany(f'INSERT INTO "{table}" (fid, geom, {names}) VALUES (?, {marks})',
                    ([fid, _blob(g, srs_id), *(_value(r.get(name), kind) for name, kind in FIELDS)]
                     for fid, (g, r) in enumerate(zip(geoms, rows), start=1)))
    _spatial_index(con, table, geoms)


def _spatial_index(con: sqlite3.Connection, table: str, geoms: list) -> None:
    """The GeoPackage R-tree extension: filled here from the footprints' bounds; its triggers (the spec's,
    using the ST_ functions GDAL provides) keep it in step when someone edits the layer later."""
    rtree = f"rtree_{table}_geom"
    con.execute(f'CREATE VIRTUAL TABLE "{rtree}" USING rtree(id, minx, maxx, miny, maxy)')
    con.executemany(f'INSERT INTO "{rtree}" VALUES (?, ?, ?, ?, ?)',
                    ((fid, g.bounds[0], g.bounds[2], g.bounds[1], g.bounds[3])
                     for fid, g in enumerate(geoms, start=1) if g is not None and not g.is_empty))
    con.execute("CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, "
                "extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, "
                "CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))")
    con.execute("INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', "
                "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')", (table,))
    box = "NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom)"
    has, empty = "(NEW.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))", "(NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))"
    for name, when, body in (
            ("insert", f"AFTER INSERT ON \"{table}\" WHEN {has}",
             f"INSERT OR REPLACE INTO \"{rtree}\" VALUES ({box});"),
            ("update1", f"AFTER UPDATE OF geom ON \"{table}\" WHEN OLD.fid = NEW.fid AND {has}",
             f"INSERT OR REPLACE INTO \"{rtree}\" VALUES ({box});"),
            ("update2", f"AFTER UPDATE OF geom ON \"{table}\" WHEN OLD.fid = NEW.fid AND {empty}",
             f"DELETE FROM \"{rtree}\" WHERE id = OLD.fid;"),
            ("update3", f"AFTER UPDATE ON \"{table}\" WHEN OLD.fid != NEW.fid AND {has}",
             f"DELETE FROM \"{rtree}\" WHERE id = OLD.fid; INSERT OR REPLACE INTO \"{rtree}\" VALUES ({box});"),
            ("update4", f"AFTER UPDATE ON \"{table}\" WHEN OLD.fid != NEW.fid AND {empty}",
             f"DELETE FROM \"{rtree}\" WHERE id IN (OLD.fid, NEW.fid);"),
            ("delete", f"AFTER DELETE ON \"{table}\" WHEN OLD.geom NOT NULL",
             f"DELETE FROM \"{rtree}\" WHERE id = OLD.fid;")):
        con.execute(f'CREATE TRIGGER "{rtree}_{name}" {when} BEGIN {body} END')


def _blob(geom, srs_id: int) -> bytes | None:
    """A GeoPackage geometry: the "GP" header (version 0, little-endian, XY envelope) and ISO WKB."""
    if geom is None:
        return None
    if geom.is_empty:
        return b"GP\x00\x11" + struct.pack("<i", srs_id) + shapely.to_wkb(geom, byte_order=1)  # empty flag, no envelope
    minx, miny, maxx, maxy = geom.bounds
    return (b"GP\x00\x03" + struct.pack("<i4d", srs_id, minx, maxx, miny, maxy)
            + shapely.to_wkb(geom, byte_order=1, output_dimension=2, flavor="iso"))


def _value(v: Any, kind: str) -> Any:
    if kind == "DATETIME" and v is not None:
        # The spec's form, UTC with milliseconds: 2026-11-22T00:45:49.000Z. SQLite hands back text, PostGIS an
        # aware datetime; both are UTC (the catalogue stores UTC).
        t = as_utc(datetime.fromisoformat(v) if isinstance(v, str) else v)
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return v


def _float(v: Any) -> float | None:
    return None if v is None else float(v)
