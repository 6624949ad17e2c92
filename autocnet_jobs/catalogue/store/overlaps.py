"""The overlap graph's pairs, written by the writer in the images rows' transaction (issue 26).

When images are committed, each new footprint's pairs are computed against the footprints already in the
catalogue whose bounding boxes meet its parts' (the spatial index: SQLite's R*Tree, PostGIS's GiST), never all
pairs, and replace whatever pairs those images had (a re-extraction, a changed footprint). Same transaction as the
images rows, so a crash leaves both or neither: no image without its pairs. Geometry and areas:
:mod:`..overlap_geometry`. ``rebuild_overlaps`` recomputes every pair (catalogues written before this existed).
"""
from __future__ import annotations

import functools
import operator
import struct
from typing import Any

import numpy as np
import pyproj
import shapely
from sqlalchemy import bindparam, text

from .. import overlap_geometry as og
from .pair_views import add_pair_angles

EARTH_CODE = "EPSG:4326"      # Earth's footprints are geodetic (DESIGN.md); every other body's planetocentric
REBUILD_PAGE = 2000
NEAR_CHUNK = 2000             # boxes per spatial-index query (SQLite: 4 bound values each, under its limit)
# write_overlaps' row keys -> the overlaps table's columns (other keys are columns' own names)
PAIR_COLUMNS = {"a": "image_a", "b": "image_b", "body": "body", "srid": "srid", "area": "area_m2",
                "fa": "fraction_a", "fb": "fraction_b", "geom": "geom"}
Entry = tuple[int, "int | None", "str | None", "str | None", Any]   # image id, srid, iau_code, body, footprint


@functools.lru_cache(maxsize=64)
def body_radii(iau_code: str) -> tuple[tuple[float, float], bool] | None:
    """((a, b) metres, planetocentric?) of the body of a footprint CRS code, or None when PROJ has none.

    A footprint's code is the body's sphere-based planetocentric CRS (IAU_2015:NNN00); the area is measured on
    the body's ellipsoid, the planetocentric ellipsoid CRS beside it (NNN02) where PROJ has one (the Moon has
    none: it is a sphere). Earth's footprints are geodetic WGS84 (EPSG:4326).
    """
    auth, _, number = iau_code.partition(":")
    codes = [iau_code]
    if auth.upper() == "IAU_2015" and number.endswith("00"):
        codes.insert(0, f"{auth}:{number[:-2]}02")
    for code in codes:
        try:
            ellipsoid = pyproj.CRS.from_user_input(code).ellipsoid
        except pyproj.exceptions.CRSError:
            continue
        if ellipsoid is not None:
            return (ellipsoid.semi_major_metre, ellipsoid.semi_minor_metre), iau_code.upper() != EARTH_CODE
    return None


class OverlapWriter:
    """The overlaps part of a Store (``self.conn``, ``self.postgis``)."""

    def write_overlaps(self, entries: list[Entry], replace: bool = True, first_only: bool = False) -> int:
        """Pairs of ``entries`` (image id, srid, iau_code, body, footprint geometry) with every footprint of their
        body in the catalogue (these included); ``replace``: their old pairs go first. ``first_only``: only the
        pairs whose smaller id is an entry's (a rebuild, page by page in id order). Returns pairs written.

        Per body, the whole batch at once: one spatial-index query for the boxes of all its footprints' parts,
        the candidates by an STRtree over what it returns, then every candidate pair's intersection, area and
        fractions in a few vectorised passes (:func:`..overlap_geometry.overlaps`)."""
        ids = [e[0] for e in entries]
        if replace and ids:
            self.conn.execute(text('DELETE FROM "overlaps" WHERE image_a IN :ids OR image_b IN :ids')
                              .bindparams(bindparam("ids", expanding=True)), {"ids": ids})
        groups: dict[tuple[int, str], list[Entry]] = {}
        for entry in entries:
            image_id, srid, iau_code, body, geom = entry
            if geom is not None and not geom.is_empty and srid is not None and iau_code and body_radii(iau_code):
                groups.setdefault((srid, iau_code), []).append(entry)
        rows: list[dict] = []
        for (srid, iau_code), group in groups.items():
            rows += self._pairs(srid, iau_code, group, first_only)
        # convergence_deg, incidence_diff_deg where both have a camera
        add_pair_angles(self.conn, rows, {srid: body_radii(code)[1] for srid, code in groups})
        if rows:
            self._insert_overlaps(rows)
        return len(rows)

    def _pairs(self, srid: int, iau_code: str, group: list[Entry], first_only: bool) -> list[dict]:
        """The overlap rows of the footprints of ``group`` (one body, one SRID) with the catalogue's."""
        (radii, centric), body = body_radii(iau_code), group[0][3]
        new_ids = np.array([e[0] for e in group], dtype=np.int64)
        mine = og.make_valid([e[4] for e in group])
        parts, owner = shapely.get_parts(mine, return_index=True)
        near_ids, near = self._footprints_near(srid, shapely.bounds(parts))
        near = og.make_valid(near)
        missing = ~np.isin(new_ids, near_ids)    # not found under this SRID (never, in a Store): as given
        if missing.any():
            near_ids, near = np.concatenate([near_ids, new_ids[missing]]), np.concatenate([near, mine[missing]])
            order = np.argsort(near_ids, kind="stable")
            near_ids, near = near_ids[order], near[order]
        near_parts, near_owner = shapely.get_parts(near, return_index=True)
        tree = og.bounds_tree(shapely.bounds(near_parts), near_ids[near_owner])
        pairs = np.array(list(og.candidates_for(shapely.bounds(parts), tree, new_ids[owner])),
                         dtype=np.int64).reshape(-1, 2)
        if first_only:
            pairs = pairs[np.isin(pairs[:, 0], new_ids)]
        if not len(pairs):
            return []
        ia, ib = np.searchsorted(near_ids, pairs[:, 0]), np.searchsorted(near_ids, pairs[:, 1])
        used = np.unique(np.concatenate([ia, ib]))
        areas = np.zeros(len(near))
        areas[used] = og.areas_m2(near[used], radii, centric)
        found = og.overlaps(near[ia], near[ib], radii, planetocentric=centric, areas_a=areas[ia], areas_b=areas[ib],
                            valid=True)
        if self.postgis:   # hex EWKB, as COPY's text format takes a geometry: the WKB's header with the SRID flag
            head = "0106000020" + struct.pack("<I", srid).hex().upper()   # little-endian MultiPolygon, SRID next
            wkbs = [head + h[10:] for h in shapely.to_wkb(found.geom, hex=True, byte_order=1).tolist()]
        else:
            wkbs = shapely.to_wkb(found.geom).tolist()
        a, b = pairs[found.index, 0].tolist(), pairs[found.index, 1].tolist()
        return [{"a": a[k], "b": b[k], "body": body, "srid": srid, "area": area, "fa": fa, "fb": fb, "geom": wkbs[k]}
                for k, (area, fa, fb) in enumerate(zip(found.area_m2.tolist(), found.fraction_a.tolist(),
                                                       found.fraction_b.tolist()))]

    def _insert_overlaps(self, rows: list[dict]) -> None:
        """``rows`` into the overlaps table (keys: :data:`PAIR_COLUMNS`' or columns' own names). PostGIS: COPY, the
        pairs of the batch's images having been deleted first (or the table emptied: a rebuild); SQLite: an upsert."""
        keys = list(rows[0])
        cols = ", ".join(PAIR_COLUMNS.get(k, k) for k in keys)
        raw = self.conn.connection.driver_connection
        if self.postgis:
            # COPY's text format, made column by column; "overlaps" quoted: it is an SQL keyword (PostgreSQL's
            # OVERLAPS operator)
            columns = [list(map(_copy_value, (row[k] for row in rows))) for k in keys]
            data = "".join(f"{line}\n" for line in map("\t".join, zip(*columns)))
            with raw.cursor() as cur, cur.copy(f'COPY "overlaps" ({cols}) FROM STDIN') as copy:
                copy.write(data)
            return
        values = list(map(operator.itemgetter(*keys), rows))
        updates = ", ".join(f"{PAIR_COLUMNS.get(k, k)} = excluded.{PAIR_COLUMNS.get(k, k)}" for k in keys
                            if k not in ("a", "b", "body", "srid"))
        raw.executemany(f'INSERT INTO "overlaps" ({cols}) VALUES ({", ".join("?" * len(keys))}) '
                        f"ON CONFLICT (image_a, image_b) DO UPDATE SET {updates}", values)

    def _footprints_near(self, srid: int, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ids sorted, footprints) of the catalogue's footprints of SRID ``srid`` whose boxes meet any of ``boxes``
        (N, 4: minx miny maxx maxy), in one query per NEAR_CHUNK boxes."""
        found: dict[int, bytes] = {}
        for start in range(0, len(boxes), NEAR_CHUNK):
            chunk = boxes[start:start + NEAR_CHUNK]
            if self.postgis:
                x0, y0, x1, y1 = (chunk[:, k].tolist() for k in range(4))
                sql = ("SELECT id, ST_AsBinary(footprint) FROM images WHERE srid = :srid AND id IN (SELECT i.id "
                       "FROM unnest(CAST(:x0 AS float8[]), CAST(:y0 AS float8[]), CAST(:x1 AS float8[]), "
                       "CAST(:y1 AS float8[])) AS q(x0, y0, x1, y1) JOIN images i "
                       "ON i.footprint && ST_MakeEnvelope(q.x0, q.y0, q.x1, q.y1, :srid))")
                params = {"srid": srid, "x0": x0, "y0": y0, "x1": x1, "y1": y1}
                result = self.conn.execute(text(sql), params)
            else:   # sqlite3 itself: the query has 4 bound values a box
                sql = (f"WITH q(x0, y0, x1, y1) AS (VALUES {', '.join(['(?, ?, ?, ?)'] * len(chunk))}) SELECT id, "
                       "footprint FROM images WHERE srid = ? AND id IN (SELECT r.id FROM q JOIN images_rtree r "
                       "ON r.minx <= q.x1 AND r.maxx >= q.x0 AND r.miny <= q.y1 AND r.maxy >= q.y0)")
                result = self.conn.connection.driver_connection.execute(sql, [*chunk.ravel().tolist(), srid])
            for other_id, wkb in result:
                if wkb is not None:
                    found[other_id] = bytes(wkb)
        ids = np.array(sorted(found), dtype=np.int64)
        return ids, shapely.from_wkb([found[i] for i in ids.tolist()]).reshape(-1)

    def rebuild_overlaps(self) -> int:
        """Every pair of the catalogue recomputed from its footprints, page by page; returns the pairs written."""
        with self.conn.begin():
            self.conn.execute(text('DELETE FROM "overlaps"'))
            geom = "ST_AsBinary(footprint)" if self.postgis else "footprint"
            last, written = 0, 0
            while True:
                page = self.conn.execute(text(
                    f"SELECT id, srid, iau_code, body, {geom} FROM images WHERE id > :last "
                    f"AND footprint IS NOT NULL ORDER BY id LIMIT {REBUILD_PAGE}"), {"last": last}).all()
                if not page:
                    return written
                written += self.write_overlaps([(i, s, c, b, shapely.from_wkb(bytes(w))) for i, s, c, b, w in page],
                                               replace=False, first_only=True)
                last = page[-1][0]


def _copy_value(value) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return value
    return str(value)


def record_entries(records: list[dict], ids: dict[str, int]) -> list[Entry]:
    """write_overlaps' entries of committed records (their ids by path): a record without a footprint has none,
    but is listed, so a re-extraction that lost its footprint loses its pairs too."""
    from .. import schema

    out = []
    for rec in records:
        if rec["path"] not in ids:
            continue
        wkb = rec.get("footprint_wkb")
        geom = shapely.from_wkb(bytes.fromhex(wkb)) if wkb else None
        out.append((ids[rec["path"]], schema.srid_for(rec.get("iau_code")), rec.get("iau_code"), rec.get("body"), geom))
    return out
