"""AutoCNet export (PostGIS only): AutoCNet's ``images``, ``keypoints``, ``cameras`` and ``overlay`` tables, filled
from the catalogue, in a schema of the same database, so an AutoCNet project pointed at that schema sees the
ingested images, their footprints, keypoint files, camera models and the faces where they overlap.

The tables follow AutoCNet 1.2's database model (``autocnet/io/db/model.py``, DOI-USGS/Autocnet commit
a4a4eed8afe2cecd33541308fc0d260888011282; ``Images`` has had ``dem``/``dem_type`` since 1.2.0): the same table
and column names, types and constraints, geometry columns typed with the project's latitudinal SRID. An AutoCNet
project is of one body (one ``latitudinal_srid``), so one schema holds one body's images.

Rows keep the catalogue's image id (AutoCNet's ``images.id``, ``keypoints.id``, ``cameras.image_id``), so a
re-export updates them in place, and AutoCNet's own tables (points, measures, ...) that reference them survive it;
``images.ignore`` is AutoCNet's to set and is never overwritten. Images removed from the catalogue stay.

``overlay`` (model class ``Overlay``: id, ``intersections`` int[], ``geom`` POLYGON) is what AutoCNet's
``compute_overlaps_sql`` (``autocnet/sql.py``) would insert over these images: the faces of
``catalogue.overlay.overlay`` (the same polygonization, per connected component of the overlap graph), whose
``intersections`` are the catalogue's image ids, which the exported images keep. AutoCNet's ``points.overlapid``
points at these rows, so a re-export keeps the rows of faces that did not change (same images, equal geometry)
with their ids, deletes the faces that no longer exist and inserts the new ones; a changed face that an AutoCNet
point references is left in place (AutoCNet's data is not ours to break).
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable

import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

AUTOCNET_MODEL = "AutoCNet 1.2, autocnet/io/db/model.py (DOI-USGS/Autocnet a4a4eed8afe2cecd33541308fc0d260888011282)"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def ddl(schema: str, srid: int) -> list[str]:
    """AutoCNet's four tables in ``schema`` with geometry columns of SRID ``srid`` (created if missing)."""
    s = f'"{schema}"'
    return [
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"""CREATE TABLE IF NOT EXISTS {s}.images (
              id SERIAL PRIMARY KEY, name VARCHAR, path VARCHAR, serial VARCHAR UNIQUE,
              ignore BOOLEAN DEFAULT false, geom geometry(MULTIPOLYGON, {srid}),
              footprint_bodyfixed geometry(MULTIPOLYGON), cam_type VARCHAR, dem VARCHAR, dem_type VARCHAR)""",
        f"CREATE INDEX IF NOT EXISTS idx_images_geom ON {s}.images USING gist (geom)",
        f"""CREATE TABLE IF NOT EXISTS {s}.keypoints (
              id SERIAL PRIMARY KEY, image_id INTEGER REFERENCES {s}.images (id) ON DELETE CASCADE,
              convex_hull_image geometry(POLYGON), convex_hull_latlon geometry(POLYGON, {srid}),
              path VARCHAR, nkeypoints INTEGER)""",
        f"""CREATE TABLE IF NOT EXISTS {s}.cameras (
              id SERIAL PRIMARY KEY, image_id INTEGER UNIQUE REFERENCES {s}.images (id) ON DELETE CASCADE,
              camera VARCHAR, camtype VARCHAR)""",
        f"""CREATE TABLE IF NOT EXISTS {s}.overlay (
              id SERIAL PRIMARY KEY, intersections INTEGER[], geom geometry(POLYGON, {srid}))""",
        f"CREATE INDEX IF NOT EXISTS idx_overlay_geom ON {s}.overlay USING gist (geom)",
    ]


def export_autocnet(conn: Connection, schema: str, *, body: str | None = None,
                    faces: Callable[[str], Iterable[dict[str, Any]]] | None = None) -> dict[str, int]:
    """Create or update AutoCNet's tables in ``schema`` from the catalogue ``conn`` is connected to (PostGIS), in
    one transaction; returns {table: rows of this body now in it}. ValueError (a user error) for a schema name
    that is not a plain lower-case identifier or is the catalogue's own, a catalogue of several bodies without
    ``body``, or a schema that already holds another body's tables.

    ``faces(body)`` gives the body's overlay faces: ``catalogue.overlay.overlay(url, body=body)``, passed in
    because the read side imports the exports, not the other way round. Without it the ``overlay`` table is
    made but its rows are left as they are."""
    if not _NAME.fullmatch(schema):
        raise ValueError(f"--schema {schema!r}: give a lower-case SQL name (letters, digits, _), e.g. ctx_project")
    with conn.begin():
        if schema == conn.execute(text("SELECT current_schema()")).scalar():
            raise ValueError(f"--schema {schema}: that is the catalogue's own schema (its images table is ours); "
                             "name another")
        body, srid = _one_body(conn, body)
        existing = _existing_srid(conn, schema)
        if existing is not None and existing != srid:
            raise ValueError(f"--schema {schema} holds AutoCNet tables of SRID {existing}; this export is of {body} "
                             f"(SRID {srid}): an AutoCNet project is of one body, name another schema")
        for stmt in ddl(schema, srid):
            conn.exec_driver_sql(stmt)
        _fill(conn, schema, srid)
        _fill_hulls(conn, schema, srid)
        if faces is not None:
            _fill_overlay(conn, schema, srid, faces(body))
        return {t: conn.execute(text(f'SELECT count(*) FROM "{schema}".{t}')).scalar()
                for t in ("images", "keypoints", "cameras", "overlay")}


def keypoint_hulls(path: str) -> tuple[bytes | None, bytes | None]:
    """WKB of the convex hulls of a keypoint file's keypoints, in pixels and in lon/lat (AutoCNet's
    ``convex_hull_image`` and ``convex_hull_latlon``, as AutoCNet's own ``Keypoints`` computes them from the
    file); None where there are fewer than 3 points, or where the lon/lat points straddle the antimeridian (a
    planar hull there would cover the wrong side of the body) or the file has none."""
    import numpy as np
    import shapely

    from ...extractors.keypoint_file import read_keypoints  # the keypoint file's one reader

    try:
        kps = read_keypoints(path)["keypoints"]
    except (OSError, KeyError, ValueError):
        return None, None

    def hull(x, y) -> bytes | None:
        ok = np.isfinite(x) & np.isfinite(y)
        geom = shapely.MultiPoint(np.column_stack([x[ok], y[ok]])).convex_hull if ok.sum() >= 3 else None
        return shapely.to_wkb(geom) if geom is not None and geom.geom_type == "Polygon" else None

    image = hull(kps["x"].astype(float), kps["y"].astype(float))
    latlon = None
    if "lon" in kps.dtype.names:
        lon, lat = kps["lon"].astype(float), kps["lat"].astype(float)
        finite = lon[np.isfinite(lon)]
        if finite.size and finite.max() - finite.min() < 180.0:
            latlon = hull(lon, lat)
    return image, latlon


def _fill_hulls(conn: Connection, schema: str, srid: int) -> None:
    """AutoCNet's keypoint hull columns, from each keypoint file (left NULL where a file cannot say)."""
    s = f'"{schema}"'
    rows = conn.execute(text(f"SELECT id, path FROM {s}.keypoints WHERE path IS NOT NULL")).all()
    values = []
    for row_id, path in rows:
        image, latlon = keypoint_hulls(path)
        values.append({"id": row_id, "image": image, "latlon": latlon, "srid": srid})
    if values:
        conn.execute(text(f"UPDATE {s}.keypoints SET convex_hull_image = ST_GeomFromWKB(:image), "
                          f"convex_hull_latlon = ST_GeomFromWKB(:latlon, :srid) WHERE id = :id"), values)


def _fill_overlay(conn: Connection, schema: str, srid: int, overlay: Iterable[dict[str, Any]]) -> None:
    """AutoCNet's ``overlay`` rows from the faces ``overlay`` (``catalogue.overlay.overlay``'s dicts): unchanged
    faces kept with their ids, the rest replaced."""
    s = f'"{schema}"'
    # The faces are read through their own connection (committed rows): they are kept only where every image is
    # one this export wrote, so a row never names an image AutoCNet's table does not have.
    exported = {r[0] for r in conn.execute(text("SELECT id FROM images WHERE srid = :srid"), {"srid": srid})}
    faces = [{"ids": f["intersections"], "wkb": shapely.to_wkb(f["geom"])} for f in overlay
             if exported.issuperset(f["intersections"])]
    conn.exec_driver_sql("CREATE TEMPORARY TABLE _acn_faces (ids INTEGER[], geom geometry) ON COMMIT DROP")
    if faces:
        conn.execute(text(f"INSERT INTO _acn_faces (ids, geom) VALUES (:ids, ST_GeomFromWKB(:wkb, {srid}))"), faces)
    same = "f.ids = o.intersections AND f.geom && o.geom AND ST_Equals(f.geom, o.geom)"
    # AutoCNet's points.overlapid (a foreign key, no cascade) may point at a face: such a row stays.
    referenced = (f"AND NOT EXISTS (SELECT 1 FROM {s}.points p WHERE p.overlapid = o.id)"
                  if _has_column(conn, schema, "points", "overlapid") else "")
    conn.execute(text(f"DELETE FROM {s}.overlay o WHERE NOT EXISTS (SELECT 1 FROM _acn_faces f WHERE {same}) "
                      f"{referenced}"))
    conn.execute(text(f"INSERT INTO {s}.overlay (intersections, geom) SELECT f.ids, f.geom FROM _acn_faces f "
                      f"WHERE NOT EXISTS (SELECT 1 FROM {s}.overlay o WHERE {same}) ORDER BY f.ids"))
    conn.exec_driver_sql("DROP TABLE _acn_faces")


def _has_column(conn: Connection, schema: str, table: str, column: str) -> bool:
    return conn.execute(text("SELECT 1 FROM information_schema.columns WHERE table_schema = :s AND "
                             "table_name = :t AND column_name = :c"), {"s": schema, "t": table, "c": column}
                        ).first() is not None


def _one_body(conn: Connection, body: str | None) -> tuple[str, int]:
    rows = conn.execute(text("SELECT body, srid, count(*) FROM images WHERE srid IS NOT NULL "
                             "AND (CAST(:b AS text) IS NULL OR lower(body) = lower(:b)) GROUP BY body, srid "
                             "ORDER BY body"), {"b": body}).all()
    if not rows:
        raise ValueError(f"no image of {body} with a known body in the catalogue" if body else
                         "no image of a known body in the catalogue: nothing for AutoCNet")
    if len(rows) > 1:
        bodies = ", ".join(f"{b} ({n})" for b, _, n in rows)
        raise ValueError(f"the catalogue has images of {bodies}; an AutoCNet project is of one body: give --body")
    return rows[0][0], int(rows[0][1])


def _existing_srid(conn: Connection, schema: str) -> int | None:
    return conn.execute(text("SELECT srid FROM geometry_columns WHERE f_table_schema = :s AND f_table_name = 'images' "
                             "AND f_geometry_column = 'geom'"), {"s": schema}).scalar()


def _fill(conn: Connection, schema: str, srid: int) -> None:
    s = f'"{schema}"'
    sensor = "camera::jsonb ->> 'type'"          # the images row's camera; its ISD is in the cameras table
    # AutoCNet's cam_type: isis for an ISIS3 cube with a sensor model (AutoCNet reads the cube's own SPICE), csm for
    # a sensor model of another format; the cameras row holds the ISD itself (what csmapi/knoten load). NULL for
    # map-projected images and those without a camera (AutoCNet has no sensor for them).
    # A serial two catalogue images share (one product ingested under two paths) goes to the first: AutoCNet's
    # serial is unique.
    conn.execute(text(f"""
        INSERT INTO {s}.images (id, name, path, serial, ignore, geom, cam_type)
        SELECT id, name, path,
               CASE WHEN row_number() OVER (PARTITION BY serial_number ORDER BY id) = 1 THEN serial_number END,
               false, footprint::geometry(MULTIPOLYGON, {srid}),
               CASE WHEN {sensor} = 'csm' THEN
                    CASE WHEN driver = 'ISIS3' THEN 'isis' ELSE 'csm' END END
        FROM images WHERE srid = :srid
        ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, path = EXCLUDED.path, serial = EXCLUDED.serial,
               geom = EXCLUDED.geom, cam_type = EXCLUDED.cam_type"""), {"srid": srid})
    conn.execute(text(f"""
        INSERT INTO {s}.keypoints (id, image_id, path, nkeypoints)
        SELECT id, id, keypoints_path, n_keypoints FROM images
        WHERE srid = :srid AND keypoints_path IS NOT NULL
        ON CONFLICT (id) DO UPDATE SET image_id = EXCLUDED.image_id, path = EXCLUDED.path,
               nkeypoints = EXCLUDED.nkeypoints"""), {"srid": srid})
    conn.execute(text(f"""
        INSERT INTO {s}.cameras (id, image_id, camera, camtype)
        SELECT i.id, i.id, CASE WHEN {sensor} = 'csm' THEN c.isd::text ELSE i.camera::text END,
               CASE WHEN {sensor} = 'csm' THEN 'csm' END
        FROM images i LEFT JOIN cameras c ON c.image_id = i.id
        WHERE i.srid = :srid AND i.camera IS NOT NULL AND {sensor} IS NOT NULL
        ON CONFLICT (image_id) DO UPDATE SET camera = EXCLUDED.camera, camtype = EXCLUDED.camtype"""),
        {"srid": srid})
    for table in ("images", "keypoints", "cameras"):  # AutoCNet's own inserts continue after our ids
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{s}.{table}', 'id'), "
                          f"GREATEST((SELECT max(id) FROM {s}.{table}), 1))"))

