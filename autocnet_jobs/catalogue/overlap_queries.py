"""The overlap graph read back (issue 26): pairs, an image's partners, a networkx graph, CSV and GeoJSON.

The writer keeps the ``overlaps`` table current (store/overlaps.py); this is its read side: no computation, one
query. networkx is AutoCNet's own graph library, so the graph goes straight into ``CandidateGraph`` work.
"""
from __future__ import annotations

import csv
import json
from typing import Any

import shapely
from sqlalchemy import text

from .exports.files import replaced_when_written
from .queries import connect, is_postgis

PAIR_COLUMNS = ("path_a", "path_b", "body", "area_m2", "fraction_a", "fraction_b", "convergence_deg",
                "incidence_diff_deg", "time_gap_s")

# The time between the two images' acquisitions (start times), seconds: NULL where either has none.
_TIME_GAP = {False: "abs(julianday(a.start_time) - julianday(b.start_time)) * 86400.0",
             True: "abs(extract(epoch FROM a.start_time - b.start_time))::float8"}
# One instrument: the same instrument name, on the same spacecraft unless either's is unknown (case-insensitive).
_SAME_INSTRUMENT = ("(lower(a.instrument) = lower(b.instrument) AND (a.spacecraft IS NULL OR b.spacecraft IS NULL "
                    "OR lower(a.spacecraft) = lower(b.spacecraft)))")


def overlaps(url: str, *, image: str | None = None, min_fraction: float | None = None, body: str | None = None,
             with_geometry: bool = False, same_instrument: bool | None = None, max_time_gap_s: float | None = None,
             min_convergence: float | None = None, max_convergence: float | None = None,
             max_incidence_diff: float | None = None) -> list[dict[str, Any]]:
    """The pairs (PAIR_COLUMNS, and ``geometry`` when asked), ordered by the pair's paths; optionally only those
    of ``image`` (a path), of ``body``, where either image's fraction is at least ``min_fraction``, of one
    instrument (``same_instrument=True``) or of two known, different ones (``False``), acquired at most
    ``max_time_gap_s`` seconds apart (start times), whose convergence angle is within ``min_convergence`` ..
    ``max_convergence`` degrees, or whose incidence angles differ by at most ``max_incidence_diff`` degrees. A
    filter on a value the pair does not have (no camera, no time) leaves the pair out."""
    postgis = is_postgis(url)
    geom = ", ST_AsBinary(o.geom) AS geom" if with_geometry and postgis else ", o.geom" if with_geometry else ""
    gap = _TIME_GAP[postgis]
    sql = (f"SELECT a.path AS path_a, b.path AS path_b, o.body, o.area_m2, o.fraction_a, o.fraction_b, "
           f"o.convergence_deg, o.incidence_diff_deg, {gap} AS time_gap_s{geom} "
           'FROM "overlaps" o JOIN images a ON a.id = o.image_a JOIN images b ON b.id = o.image_b WHERE 1=1')
    params: dict[str, Any] = {}
    if image is not None:
        sql += " AND (a.path = :image OR b.path = :image)"
        params["image"] = image
    if body:
        sql += " AND lower(o.body) = lower(:body)"
        params["body"] = body
    if min_fraction is not None:
        sql += " AND (o.fraction_a >= :f OR o.fraction_b >= :f)"
        params["f"] = min_fraction
    if same_instrument is True:
        sql += f" AND {_SAME_INSTRUMENT}"
    elif same_instrument is False:
        sql += f" AND a.instrument IS NOT NULL AND b.instrument IS NOT NULL AND NOT {_SAME_INSTRUMENT}"
    for value, condition, name in ((max_time_gap_s, f"{gap} <= :gap", "gap"),
                                   (min_convergence, "o.convergence_deg >= :cmin", "cmin"),
                                   (max_convergence, "o.convergence_deg <= :cmax", "cmax"),
                                   (max_incidence_diff, "o.incidence_diff_deg <= :dinc", "dinc")):
        if value is not None:
            sql += f" AND {condition}"
            params[name] = value
    with connect(url) as conn:
        rows = [dict(r._mapping) for r in conn.execute(text(sql + " ORDER BY a.path, b.path"), params)]
    for row in rows:
        if with_geometry:
            wkb = row.pop("geom")
            row["geometry"] = shapely.from_wkb(bytes(wkb)) if wkb is not None else None
    return rows


def partners(url: str, image: str, min_fraction: float | None = None, **filters: Any) -> list[dict[str, Any]]:
    """An image's overlapping images: {path, body, area_m2, fraction (of this image), partner_fraction,
    convergence_deg, incidence_diff_deg, time_gap_s}; ``filters`` as :func:`overlaps` takes them."""
    out = []
    for row in overlaps(url, image=image, min_fraction=min_fraction, **filters):
        mine = row["path_a"] == image
        out.append({"path": row["path_b"] if mine else row["path_a"], "body": row["body"], "area_m2": row["area_m2"],
                    "fraction": row["fraction_a"] if mine else row["fraction_b"],
                    "partner_fraction": row["fraction_b"] if mine else row["fraction_a"],
                    **{k: row[k] for k in ("convergence_deg", "incidence_diff_deg", "time_gap_s")}})
    return out


def overlap_graph(url: str, *, body: str | None = None, min_fraction: float | None = None, **filters: Any):
    """A networkx Graph: a node per image with a footprint (path, with ``id``, ``name``, ``body``), an edge per
    overlapping pair (``area_m2``, ``fraction_a``/``fraction_b`` of its two images by path order,
    ``convergence_deg``, ``incidence_diff_deg``, ``time_gap_s``), the pairs chosen by ``filters`` as
    :func:`overlaps` takes them. Images with no partner are nodes of degree 0: the ones a control network cannot
    tie."""
    import networkx as nx

    graph = nx.Graph()
    sql = "SELECT id, path, name, body FROM images WHERE footprint IS NOT NULL"
    params: dict[str, Any] = {}
    if body:
        sql += " AND lower(body) = lower(:body)"
        params["body"] = body
    with connect(url) as conn:
        for row in conn.execute(text(sql), params):
            graph.add_node(row.path, id=row.id, name=row.name, body=row.body)
    for pair in overlaps(url, body=body, min_fraction=min_fraction, **filters):
        graph.add_edge(pair["path_a"], pair["path_b"], **{k: pair[k] for k in PAIR_COLUMNS[2:]})
    return graph


def adjacency(url: str, **kw) -> dict[str, list[str]]:
    """What AutoCNet's ``CandidateGraph.from_adjacency`` reads: image path -> overlapping image paths."""
    graph = overlap_graph(url, **kw)
    return {node: sorted(graph.neighbors(node)) for node in sorted(graph.nodes)}


def write_pairs(url: str, out: str, **kw) -> int:
    """The pairs as CSV (PAIR_COLUMNS, one row per pair) or GeoJSON (the intersections, same properties), by
    ``out``'s extension; written to a temp name and renamed. Returns the number of pairs."""
    geojson = out.lower().endswith((".geojson", ".json"))
    rows = overlaps(url, with_geometry=geojson, **kw)
    with replaced_when_written(out) as f:
        if geojson:
            features = [{"type": "Feature", "properties": {k: r[k] for k in PAIR_COLUMNS},
                         "geometry": shapely.geometry.mapping(r["geometry"]) if r["geometry"] is not None else None}
                        for r in rows]
            json.dump({"type": "FeatureCollection", "features": features}, f)
        else:
            writer = csv.DictWriter(f, fieldnames=PAIR_COLUMNS)
            writer.writeheader()
            writer.writerows({k: r[k] for k in PAIR_COLUMNS} for r in rows)
    return len(rows)
