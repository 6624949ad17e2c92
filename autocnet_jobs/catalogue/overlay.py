"""AutoCNet's ``overlay`` (issue 26): the planar partition of the selected footprints into faces, each with the
ids of the images that see it (more than one).

AutoCNet computes it with ``compute_overlaps_sql`` (DOI-USGS/Autocnet ``autocnet/sql.py``): the exterior rings
of every footprint unioned into one noded linework, polygonized, each face kept with the images whose
intersection with it is over 1e-6 square degrees (planar), when there are at least two. That is one union of
the whole table, which for a global mosaic is one enormous geometry. Here the same construction runs once per
connected component of the overlap graph (the ``overlaps`` table the writer keeps): faces seen by two images
never span two components, and an image with no partner has no such face, so it is left out before any
geometry is built. The linework and the polygonizer are GEOS's, as PostGIS's ``ST_Union``/``ST_Polygonize``.

Planar, as AutoCNet: faces and areas are in lon/lat degrees as stored. A footprint split at +-180 is a
MultiPolygon whose parts are polygonized as they are, so a region across the antimeridian gives faces on each
side (the seam is an edge of both) with the same image set; areas near the poles are square degrees, not
ground area (the ``overlaps`` table has the geodesic areas).
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import shapely
from sqlalchemy import bindparam, text

from .exports.files import replaced_when_written
from .queries import connect, intersecting, is_postgis

# AutoCNet's threshold: ST_Area(ST_Intersection(face, image)) > 0.000001, square degrees.
MIN_AREA = 1e-6
PATHS_PER_QUERY = 5000


def overlay(url: str, *, body: str | None = None, bbox: tuple[float, float, float, float] | None = None,
            paths: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The overlay rows of the selected images (all by default; of ``body``, those whose footprint meets the
    lon/lat ``bbox``, those at ``paths``, all given filters at once): one dict per face with ``intersections``
    (the sorted image ids that see it, at least two), ``paths`` (theirs, same order), ``body``, ``geom`` (a
    shapely Polygon, lon/lat) and ``area`` (planar square degrees). Faces are of the selected footprints
    whole, not clipped to the box. Ordered by image ids, then by position."""
    footprints = _footprints(url, body, bbox, paths)
    faces: list[dict[str, Any]] = []
    for component in _components(url, footprints):
        ids = sorted(component)
        for seen_by, face in faces_of([footprints[i][1] for i in ids]):
            members = [ids[k] for k in seen_by]
            faces.append({"intersections": members, "paths": [footprints[i][0] for i in members],
                          "body": footprints[members[0]][2], "geom": face, "area": face.area})
    faces.sort(key=lambda f: (f["intersections"], f["geom"].bounds))
    return faces


def faces_of(geoms: list) -> list[tuple[list[int], shapely.Polygon]]:
    """The faces of ``geoms`` (footprints, Polygons or MultiPolygons of one body) seen by two or more of them:
    (the indices into ``geoms`` of those that see it, sorted; the face). AutoCNet's rule, planar: a face is
    seen by an image when their intersection is over MIN_AREA square degrees."""
    parts, owners = shapely.get_parts(np.array(geoms, dtype=object), return_index=True)
    if not len(parts):
        return []
    # AutoCNet unions the exterior rings only (holes are not edges of its faces), and so do we.
    linework = shapely.unary_union(shapely.get_exterior_ring(parts))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(linework)))
    faces = faces[shapely.area(faces) > MIN_AREA]
    if not len(faces):
        return []
    # A face lies wholly inside or outside every exterior ring (they are all its edges), so an interior point
    # answers "inside" for a hole-free part, and the intersection is then the whole face (> MIN_AREA). The
    # footprints are the query side so GEOS prepares them (a point tree queried by points is not).
    holed = shapely.get_num_interior_rings(parts) > 0
    part_i, face_i = shapely.STRtree(shapely.point_on_surface(faces)).query(parts, predicate="contains")
    keep = ~holed[part_i]
    seen = [np.stack([face_i[keep], owners[part_i[keep]]], axis=1)]
    # A part with holes: a hole is inside its ring but not in the image, so measure as AutoCNet does.
    if holed.any():
        face_h, part_h = shapely.STRtree(faces).query(parts[holed], predicate="intersects")[::-1]
        part_h = np.flatnonzero(holed)[part_h]
        big = shapely.area(shapely.intersection(faces[face_h], parts[part_h])) > MIN_AREA
        seen.append(np.stack([face_h[big], owners[part_h[big]]], axis=1))
    pairs = np.unique(np.concatenate(seen), axis=0)          # (face, image), by face then image
    face_ids, starts, counts = np.unique(pairs[:, 0], return_index=True, return_counts=True)
    return [(pairs[s:s + n, 1].tolist(), faces[f]) for f, s, n in zip(face_ids, starts, counts) if n > 1]


def _footprints(url: str, body: str | None, bbox: tuple[float, float, float, float] | None,
                paths: Iterable[str] | None) -> dict[int, tuple[str, Any, str | None]]:
    """id -> (path, footprint, body) of the selected images that have a footprint."""
    geom = "ST_AsBinary(footprint)" if is_postgis(url) else "footprint"
    sql = f"SELECT id, path, body, {geom} AS fp FROM images WHERE footprint IS NOT NULL"
    params: dict[str, Any] = {}
    wanted = None if paths is None else set(paths)
    if bbox is not None:        # index-backed, ±180-aware (queries.images' box)
        inside = set(intersecting(url, *bbox))
        wanted = inside if wanted is None else wanted & inside
    if body:
        sql += " AND lower(body) = lower(:body)"
        params["body"] = body
    if wanted is None:
        chunks: list[list[str] | None] = [None]
    else:               # in chunks: SQLite takes at most 32,766 parameters in a statement
        ordered = sorted(wanted)
        chunks = [ordered[k:k + PATHS_PER_QUERY] for k in range(0, len(ordered), PATHS_PER_QUERY)]
    out: dict[int, tuple[str, Any, str | None]] = {}
    with connect(url) as conn:
        for chunk in chunks:
            stmt = text(sql)
            if chunk is not None:
                stmt = text(sql + " AND path IN :paths").bindparams(bindparam("paths", expanding=True))
            for r in conn.execute(stmt, params if chunk is None else {**params, "paths": chunk}):
                out[r.id] = (r.path, shapely.from_wkb(bytes(r.fp)), r.body)
    return out


def _components(url: str, footprints: dict[int, tuple]) -> list[set[int]]:
    """The connected components (two images or more) of the overlap graph among ``footprints``' images, from
    the ``overlaps`` table: pairs of one body only, so a component never mixes bodies."""
    if len(footprints) < 2:
        return []
    parent: dict[int, int] = {}

    def root(i: int) -> int:
        while parent.setdefault(i, i) != i:
            parent[i] = parent[parent[i]]        # path halving keeps the trees shallow
            i = parent[i]
        return i

    with connect(url) as conn:
        for a, b in conn.execute(text('SELECT image_a, image_b FROM "overlaps"')):
            if a in footprints and b in footprints:
                parent[root(a)] = root(b)
    groups: dict[int, set[int]] = {}
    for i in parent:
        groups.setdefault(root(i), set()).add(i)
    return [g for g in groups.values() if len(g) > 1]


def write_overlay(url: str, out: str, **selection: Any) -> int:
    """The overlay of a selection (:func:`overlay`'s filters) as GeoJSON (a feature per face: ``intersections``,
    ``paths``, ``body``, ``area``) or CSV (``intersections`` as a PostgreSQL array literal and ``geom`` as WKT,
    the two columns of AutoCNet's ``overlay`` table, so ``\\copy overlay(intersections, geom) FROM FILE CSV
    HEADER`` loads it; the ids are the catalogue's, which ``export --format autocnet`` keeps), by ``out``'s
    extension; written to a temp name and renamed. Returns the number of faces."""
    import csv
    import json

    faces = overlay(url, **selection)
    with replaced_when_written(out) as f:
        if out.lower().endswith((".geojson", ".json")):
            features = [{"type": "Feature", "geometry": shapely.geometry.mapping(face["geom"]),
                         "properties": {k: face[k] for k in ("intersections", "paths", "body", "area")}}
                        for face in faces]
            json.dump({"type": "FeatureCollection", "features": features}, f)
        else:
            writer = csv.writer(f)
            writer.writerow(["intersections", "geom"])
            writer.writerows(["{" + ",".join(map(str, face["intersections"])) + "}", face["geom"].wkt]
                             for face in faces)
    return len(faces)
