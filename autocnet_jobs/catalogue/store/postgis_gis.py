"""What GIS clients (GDAL/OGR, QGIS) need of a PostGIS catalogue: each footprint CRS in ``spatial_ref_sys`` and a
per-body view whose geometry column is typed ``MULTIPOLYGON`` with that CRS's SRID.

The ``images`` table keeps every body's footprints in one column with a per-row SRID, which a GIS client can only
show as a layer of unknown CRS. A view per CRS, ``footprints_<body>``, casts the footprint to
``geometry(MultiPolygon, <srid>)``: PostGIS's ``geometry_columns`` then reports that type and SRID, and OGR reads
the CRS (``ID["IAU",49900,2015]``, i.e. ``IAU_2015:49900``) from the ``spatial_ref_sys`` row written here. A
partial GiST index on the same cast expression keeps the client's box filters on the view index-backed.

Called by the PostGIS store inside the transaction that inserts a new CRS, so a catalogue never holds a CRS
without its view.
"""
from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.engine import Connection

# Columns of images a view leaves out: the footprint (the view's own geometry column), the bulky JSON, and the
# CRS text (the layer's CRS says it). A view depends on each column it selects, so these may also change freely.
_LEFT_OUT = {"footprint", "camera", "extractor_params", "crs_wkt"}


def view_name(body: str | None, srid: int) -> str:
    """``footprints_<body>`` (lower case, ``_`` for anything but letters and digits), as the GeoPackage layers."""
    slug = re.sub(r"[^a-z0-9]+", "_", (body or "").lower()).strip("_")
    return f"footprints_{slug}" if slug else f"footprints_srid_{srid}"


def spatial_ref_text(wkt: str, iau_code: str | None) -> tuple[str, str]:
    """(srtext, proj4text) for ``spatial_ref_sys``: PROJ's own definition of ``iau_code`` when PROJ knows it (its
    WKT2 carries the ``IAU_2015`` identifier; WKT1 would only say ``IAU``), else ``wkt`` as given."""
    import warnings

    from pyproj import CRS
    from pyproj.exceptions import CRSError

    crs = None
    if iau_code:
        try:
            crs = CRS.from_user_input(iau_code)
        except CRSError:
            crs = None
    if crs is None:
        crs = CRS.from_wkt(wkt)
    with warnings.catch_warnings():  # "you will likely lose projection information": it is the fallback text
        warnings.simplefilter("ignore", UserWarning)
        proj4 = crs.to_proj4() or ""
    return crs.to_wkt("WKT2_2019"), proj4


def register_crs(conn: Connection, srid: int, wkt: str, iau_code: str | None, body: str | None) -> None:
    """Make footprints of SRID ``srid`` (``catalogue.schema.srid_for(iau_code)``) visible to GIS clients: its
    ``spatial_ref_sys`` row (EPSG codes are PostGIS's own and left alone) and its ``footprints_<body>`` view with
    a partial GiST index. Idempotent; runs in the caller's transaction (no commit here)."""
    auth, _, code = (iau_code or "").partition(":")
    if auth.upper() != "EPSG":
        srtext, proj4 = spatial_ref_text(wkt, iau_code)
        # Our own rows (same authority) are refreshed, e.g. a WKT1 text an older version wrote; another
        # authority's row at this SRID is never overwritten.
        conn.execute(text(
            "INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text) "
            "VALUES (:srid, :auth, :code, :srtext, :proj4) ON CONFLICT (srid) DO UPDATE "
            "SET srtext = EXCLUDED.srtext, proj4text = EXCLUDED.proj4text "
            "WHERE spatial_ref_sys.auth_name IS NOT DISTINCT FROM EXCLUDED.auth_name"),
            {"srid": srid, "auth": auth.upper() or None, "code": int(code) if code.isdigit() else None,
             "srtext": srtext, "proj4": proj4})
    name = _free_view_name(conn, view_name(body, srid), srid)
    if name is None:  # a view of this SRID exists already
        return
    cols = [c for c in _image_columns(conn) if c not in _LEFT_OUT]
    geom = f"footprint::geometry(MultiPolygon, {int(srid)})"
    select = ", ".join(f'"{c}"' for c in cols)
    conn.exec_driver_sql(f'CREATE VIEW "{name}" AS SELECT {select}, {geom} AS footprint FROM images '
                         f"WHERE srid = {int(srid)}")
    conn.exec_driver_sql(f'COMMENT ON VIEW "{name}" IS \'image footprints on {_sql_text(body or "an unknown body")} '
                         f"(autocnet_jobs), SRID {int(srid)} = {_sql_text(iau_code or '')}'")
    conn.exec_driver_sql(f'CREATE INDEX IF NOT EXISTS "{name}_gist" ON images USING GIST (({geom})) '
                         f"WHERE srid = {int(srid)}")


def footprint_views(conn: Connection) -> dict[str, int]:
    """{view name: SRID} of the per-body footprint views, from PostGIS's ``geometry_columns``."""
    rows = conn.execute(text(
        "SELECT g.f_table_name, g.srid FROM geometry_columns g JOIN pg_class c ON c.relname = g.f_table_name "
        "AND c.relkind = 'v' AND c.relnamespace = to_regnamespace(g.f_table_schema) "
        "WHERE g.f_table_schema = current_schema() AND g.f_table_name LIKE 'footprints\\_%'"))
    return {name: srid for name, srid in rows}


def _free_view_name(conn: Connection, name: str, srid: int) -> str | None:
    """``name`` if no relation has it, ``name_<srid>`` if a view of another SRID has it; None when a view of
    ``srid`` exists already (under either name)."""
    views = footprint_views(conn)
    if srid in views.values():
        return None
    taken = conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": f'"{name}"'}).scalar()
    return f"{name}_{int(srid)}" if taken else name


def _image_columns(conn: Connection) -> list[str]:
    return list(conn.execute(text(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'images'::regclass AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum")).scalars())


def _sql_text(s: str) -> str:
    return s.replace("'", "''")
