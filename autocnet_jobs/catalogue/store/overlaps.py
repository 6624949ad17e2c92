"""The overlap graph's pairs, written by the writer in the images rows' transaction (issue 26).

When images are committed, each new footprint's pairs are computed against the footprints already in the
catalogue whose bounding boxes meet its parts' (the spatial index: SQLite's R*Tree, PostGIS's GiST), never all
pairs, and replace whatever pairs those images had (a re-extraction, a changed footprint). Same transaction as the
images rows, so a crash leaves both or neither: no image without its pairs. Geometry and areas:
:mod:`..overlap_geometry`. ``rebuild_overlaps`` recomputes every pair (catalogues written before this existed).
"""
from __future__ import annotations

import functools
from typing import Any, Iterable

import pyproj
import shapely
from sqlalchemy import text

from .. import overlap_geometry as og
from .pair_views import add_pair_angles

EARTH_CODE = "EPSG:4326"      # Earth's footprints are geodetic (DESIGN.md); every other body's planetocentric
REBUILD_PAGE = 500
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

    def write_overlaps(self, entries: list[Entry], replace: bool = True) -> int:
        """Pairs of ``entries`` (image id, srid, iau_code, body, footprint geometry) with every footprint of their
        body in the catalogue (these included); ``replace``: their old pairs go first. Returns pairs written."""
        ids = [e[0] for e in entries]
        if replace and ids:
            self.conn.execute(text('DELETE FROM "overlaps" WHERE image_a IN :ids OR image_b IN :ids')
                              .bindparams(_expanding("ids")), {"ids": ids})
        rows: dict[tuple[int, int], dict] = {}
        for image_id, srid, iau_code, body, geom in entries:
            found = body_radii(iau_code) if iau_code else None
            if geom is None or geom.is_empty or srid is None or found is None:
                continue
            radii, centric = found
            area = og.footprint_area_m2(geom, radii, centric)
            for other_id, other in self._footprints_near(srid, geom):
                if other_id == image_id or (min(image_id, other_id), max(image_id, other_id)) in rows:
                    continue
                pair = og.overlap(geom, other, radii, planetocentric=centric, area_a=area)
                if pair is None:
                    continue
                a, b = (image_id, other_id) if image_id < other_id else (other_id, image_id)
                fa, fb = (pair.fraction_a, pair.fraction_b) if a == image_id else (pair.fraction_b, pair.fraction_a)
                rows[(a, b)] = {"a": a, "b": b, "body": body, "srid": srid, "area": pair.area_m2, "fa": fa, "fb": fb,
                                "geom": shapely.to_wkb(pair.geom)}
        add_pair_angles(self.conn, list(rows.values()))      # where both images have a camera (pair_views)
        if rows:
            geom = "ST_GeomFromWKB(:geom, :srid)" if self.postgis else ":geom"
            self.conn.execute(text(
                'INSERT INTO "overlaps" (image_a, image_b, body, srid, area_m2, fraction_a, fraction_b, geom, '
                "convergence_deg, incidence_diff_deg) "
                # "overlaps" quoted: it is an SQL keyword (PostgreSQL's OVERLAPS operator)
                f"VALUES (:a, :b, :body, :srid, :area, :fa, :fb, {geom}, :convergence_deg, :incidence_diff_deg) "
                f"ON CONFLICT (image_a, image_b) DO UPDATE SET "
                f"area_m2 = excluded.area_m2, fraction_a = excluded.fraction_a, fraction_b = excluded.fraction_b, "
                f"geom = excluded.geom, convergence_deg = excluded.convergence_deg, "
                f"incidence_diff_deg = excluded.incidence_diff_deg"), list(rows.values()))
        return len(rows)

    def _footprints_near(self, srid: int, geom) -> Iterable[tuple[int, Any]]:
        """(id, footprint) of the catalogue's footprints of SRID ``srid`` whose boxes meet a part's of ``geom``."""
        seen: dict[int, Any] = {}
        for part in og.polygons(geom):
            minx, miny, maxx, maxy = part.bounds
            box = {"srid": srid, "minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy}
            if self.postgis:
                sql = ("SELECT id, ST_AsBinary(footprint) FROM images WHERE srid = :srid "
                       "AND footprint && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, :srid)")
            else:
                sql = ("SELECT i.id, i.footprint FROM images_rtree r JOIN images i ON i.id = r.id "
                       "WHERE i.srid = :srid AND r.minx <= :maxx AND r.maxx >= :minx AND r.miny <= :maxy "
                       "AND r.maxy >= :miny")
            for other_id, wkb in self.conn.execute(text(sql), box):
                if other_id not in seen and wkb is not None:
                    seen[other_id] = shapely.from_wkb(bytes(wkb))
        return seen.items()

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
                                               replace=False)
                last = page[-1][0]


def _expanding(name: str):
    from sqlalchemy import bindparam
    return bindparam(name, expanding=True)


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
