"""The geometry of the overlap graph: which footprints overlap, by how much, and seen from where (issue 26).

Plain functions, no database: the writer and ``overlaps --rebuild`` call them with footprints as stored
(MULTIPOLYGON in the body's lon/lat, longitude in [-180, 180], split at the antimeridian, a polar cap closed
along ``lat = +-90``; see DESIGN.md, Geospatial conventions).

**Where the intersection is computed.** A stored footprint is a plane polygon in (lon, lat) whose image on the
body is the footprint; the map (lon, lat) -> body is one-to-one away from the +-180 seam and the poles, exactly
where a stored footprint is cut or closed. So the intersection of two stored footprints in lon/lat *is* the
stored form of their intersection on the body (parts meet their counterparts on the same side of +-180, caps
meet along lat = +-90), again a valid stored footprint. No reprojection, no per-pair CRS.

**How the area is measured.** Geodesic polygon area with :class:`pyproj.Geod` on the body's ellipsoid
``radii = (a, b)``, summed over the parts and minus the holes. Four things about pyproj's (GeographicLib's)
polygon area matter for stored footprints, and each is handled here:

* an edge is a *geodesic*, while a stored edge is a straight line in lon/lat. The two coincide along a
  meridian (so the +-180 seam edges are exact) but not along a parallel: an undensified edge from (-180, 80)
  to (180, 80) - the boundary of a polar cap - is a geodesic of length zero and the cap's area comes out 0.
  Rings are therefore densified in lon/lat (:data:`DENSIFY_DEG`) before measuring, which makes the geodesic
  polygon follow the stored edges (relative error ~1e-5 for a cap at 80 deg);
* edges along ``lat = +-90`` (a cap's closing edge) are zero-length geodesics at the pole; GeographicLib
  treats the pole vertices correctly and such a ring measures the cap;
* the area is returned modulo the ellipsoid's surface area, as a signed value in (-A/2, A/2]: a region larger
  than half the body (a global map, a cap down to the equator) comes out negative, the whole body as 0. Each
  ring's true area is picked from {pyproj's value + k A} by the closest match to a cheap independent estimate
  (Green's theorem over the lon/lat ring on the authalic sphere, :func:`_ring_estimate`);
* ``pyproj.Geod`` takes geodetic latitude. Stored latitude is planetocentric for every body but Earth, so it
  is converted (``tan(lat_g) = (a/b)^2 tan(lat_c)``) unless ``planetocentric=False`` (Earth, EPSG:4326).

**Candidates.** Pairs to intersect come from an STRtree over bounding boxes (never all pairs). A footprint
split at +-180 spans the whole longitude range in a single box; :func:`part_bounds` gives one box per part
(ids repeated), and :func:`candidate_pairs` / :func:`candidates_for` drop the duplicate pairs that makes.

**Viewing geometry** (issue 26 item 5): :func:`convergence_angle` between two views of a ground point and
:func:`incidence` of a ray (to the Sun, or to the sensor for emission) on the ellipsoid there, in degrees.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np
import pyproj
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient

DENSIFY_DEG = 0.25        # longest lon/lat edge measured as one geodesic (module docstring)
MIN_AREA_M2 = 1.0         # an intersection below this is a touch, not an overlap ...
MIN_FRACTION = 1e-6       # ... and so is one below this fraction of the smaller footprint
QUERY_CHUNK = 20_000      # boxes per STRtree bulk query (bounds the memory of a large batch)

Radii = Sequence[float]   # (a, b): equatorial and polar radius in metres


@dataclass(frozen=True)
class Overlap:
    """The overlap of footprints a and b of one body."""
    geom: MultiPolygon    # the intersection, stored form (lon/lat, split at +-180, caps closed at the pole)
    area_m2: float        # its area on the body's ellipsoid
    fraction_a: float     # area_m2 / area of footprint a
    fraction_b: float     # area_m2 / area of footprint b

    def centre(self) -> tuple[float, float]:
        """(lon, lat) of the overlap's centre, in the footprints' latitude convention (:func:`centre_lonlat`)."""
        return centre_lonlat(self.geom)


# --- areas ------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _geod(a: float, b: float) -> pyproj.Geod:
    return pyproj.Geod(a=a, b=b)


def _radii(radii: Radii) -> tuple[float, float]:
    a, b = (float(r) for r in radii)
    if not (a > 0 and b > 0):
        raise ValueError(f"radii must be two positive lengths in metres (a, b), not {radii!r}")
    return a, b


def ellipsoid_area_m2(radii: Radii) -> float:
    """Surface area of the ellipsoid of revolution with equatorial radius a and polar radius b."""
    a, b = _radii(radii)
    if a == b:
        return 4.0 * math.pi * a * a
    if b < a:                                   # oblate
        e = math.sqrt(1.0 - (b / a) ** 2)
        return 2.0 * math.pi * a * a * (1.0 + (1.0 - e * e) / e * math.atanh(e))
    e = math.sqrt(1.0 - (a / b) ** 2)           # prolate
    return 2.0 * math.pi * a * a * (1.0 + b / (a * e) * math.asin(e))


def geodetic_latitude(lat: np.ndarray, radii: Radii) -> np.ndarray:
    """Planetographic (geodetic) latitude, degrees, from planetocentric latitude on the ellipsoid (a, b)."""
    a, b = _radii(radii)
    lat = np.asarray(lat, dtype=float)
    if a == b:
        return lat
    rad = np.radians(lat)
    return np.degrees(np.arctan2(a * a * np.sin(rad), b * b * np.cos(rad)))


def _ring_estimate(lon: np.ndarray, lat: np.ndarray) -> float:
    """Signed area of a closed lon/lat ring on the unit sphere (Green's theorem: -loop sin(lat) dlon).

    Exact up to the trapezoid rule along each (densified) edge; only used to pick the right multiple of the
    ellipsoid's area, so the sphere is close enough.
    """
    s = np.sin(np.radians(lat))
    return float(-np.sum(0.5 * (s[1:] + s[:-1]) * np.radians(np.diff(lon))))


def _ring_area(coords: np.ndarray, radii: tuple[float, float], planetocentric: bool, total: float) -> float:
    """Signed geodesic area (m^2, counter-clockwise positive) of one closed, densified lon/lat ring."""
    lon, lat = coords[:, 0], coords[:, 1]
    lat_g = geodetic_latitude(lat, radii) if planetocentric else lat
    area, _ = _geod(*radii).polygon_area_perimeter(lon, lat_g)
    authalic = total / (4.0 * math.pi)
    k = round((_ring_estimate(lon, lat) * authalic - area) / total)
    return area + k * total


def polygons(geom) -> list[Polygon]:
    """Every Polygon in ``geom`` (nested multi-geometries and collections included; lines and points dropped)."""
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    out: list[Polygon] = []
    for g in getattr(geom, "geoms", ()):
        out += polygons(g)
    return out


def footprint_area_m2(fp, radii: Radii, planetocentric: bool = True) -> float:
    """Area on the ellipsoid ``radii = (a, b)`` of a footprint in stored form (m^2; module docstring).

    ``planetocentric``: the footprint's latitudes are planetocentric (every body but Earth); False for
    geodetic latitude (Earth, EPSG:4326).
    """
    r = _radii(radii)
    total = ellipsoid_area_m2(r)
    area = 0.0
    for poly in polygons(fp):
        poly = shapely.segmentize(orient(poly, 1.0), DENSIFY_DEG)
        area += _ring_area(np.asarray(poly.exterior.coords), r, planetocentric, total)
        for hole in poly.interiors:
            area += _ring_area(np.asarray(hole.coords), r, planetocentric, total)
    return max(area, 0.0)


# --- pairs ------------------------------------------------------------------------------------------------

def intersection(fp_a, fp_b) -> MultiPolygon | None:
    """The polygonal intersection of two stored footprints, in stored form; None when it has no area."""
    if fp_a is None or fp_b is None or fp_a.is_empty or fp_b.is_empty:
        return None
    ax0, ay0, ax1, ay1 = fp_a.bounds
    bx0, by0, bx1, by1 = fp_b.bounds
    if ax0 > bx1 or bx0 > ax1 or ay0 > by1 or by0 > ay1:
        return None
    if not fp_a.is_valid:
        fp_a = shapely.make_valid(fp_a)
    if not fp_b.is_valid:
        fp_b = shapely.make_valid(fp_b)
    parts = [p for p in polygons(shapely.intersection(fp_a, fp_b)) if p.area > 0]
    return MultiPolygon([orient(p, 1.0) for p in parts]) if parts else None


def overlap(fp_a, fp_b, radii: Radii, *, planetocentric: bool = True, area_a: float | None = None,
            area_b: float | None = None, min_area_m2: float = MIN_AREA_M2,
            min_fraction: float = MIN_FRACTION) -> Overlap | None:
    """The overlap of two footprints of one body, or None when they do not overlap or only touch.

    ``radii = (a, b)`` in metres; ``planetocentric`` as in :func:`footprint_area_m2`. ``area_a`` / ``area_b``
    are the footprints' areas when the caller already has them (:func:`footprint_area_m2`). An intersection
    smaller than ``max(min_area_m2, min_fraction * min(area_a, area_b))`` is a touch (a shared edge, a
    rounding sliver) and gives None.
    """
    geom = intersection(fp_a, fp_b)
    if geom is None:
        return None
    area = footprint_area_m2(geom, radii, planetocentric)
    if area_a is None:
        area_a = footprint_area_m2(fp_a, radii, planetocentric)
    if area_b is None:
        area_b = footprint_area_m2(fp_b, radii, planetocentric)
    if area <= max(min_area_m2, min_fraction * min(area_a, area_b)):
        return None
    # the intersection's area can exceed a footprint's by the measuring error: a fraction is at most 1
    return Overlap(geom, area, min(area / area_a, 1.0), min(area / area_b, 1.0))


def part_bounds(footprints: Iterable, ids: Iterable) -> tuple[np.ndarray, np.ndarray]:
    """One (minx, miny, maxx, maxy) box per polygon part of each footprint, and the footprint's id per box.

    A footprint split at +-180 gets two narrow boxes instead of one box around the whole planet.
    """
    boxes, owners = [], []
    for fp, i in zip(footprints, ids):
        for p in polygons(fp):
            boxes.append(p.bounds)
            owners.append(i)
    return np.asarray(boxes, dtype=float).reshape(-1, 4), np.asarray(owners)


@dataclass(frozen=True)
class BoundsTree:
    """An STRtree over the bounding boxes of a set of footprints, with the id of each box (ids may repeat)."""
    tree: shapely.STRtree
    ids: np.ndarray


def bounds_tree(bounds: np.ndarray, ids: Sequence) -> BoundsTree:
    """The :class:`BoundsTree` of ``bounds`` (N, 4: minx miny maxx maxy) with ``ids`` (N)."""
    bounds = np.asarray(bounds, dtype=float).reshape(-1, 4)
    ids = np.asarray(ids)
    if len(ids) != len(bounds):
        raise ValueError(f"{len(bounds)} boxes but {len(ids)} ids")
    return BoundsTree(shapely.STRtree(shapely.box(*bounds.T)), ids)


def _unique_pairs(codes: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Iterator[tuple]:
    """The distinct (codes[lo], codes[hi]) as Python values, in order."""
    if lo.size == 0:
        return
    pairs = np.unique(np.stack([lo, hi], axis=1), axis=0)
    yield from zip(codes[pairs[:, 0]].tolist(), codes[pairs[:, 1]].tolist())


def _chunks(row_codes: np.ndarray) -> Iterator[np.ndarray]:
    """Rows in id order, in chunks of about QUERY_CHUNK that never split the boxes of one id."""
    order = np.argsort(row_codes, kind="stable")
    ordered = row_codes[order]
    start, n = 0, len(order)
    while start < n:
        end = min(start + QUERY_CHUNK, n)
        if end < n:
            end = int(np.searchsorted(ordered, ordered[end - 1], side="right"))
        yield order[start:end]
        start = end


def _codes(ids) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct ids and each id's position among them (so code order is id order)."""
    codes, inverse = np.unique(np.asarray(ids), return_inverse=True)
    return codes, inverse.reshape(-1)


def candidate_pairs(bounds: np.ndarray, ids: Sequence) -> Iterator[tuple]:
    """(id_a, id_b), id_a < id_b, of every two footprints of a batch whose bounding boxes intersect.

    ``bounds`` (N, 4: minx miny maxx maxy) and ``ids`` (N; an id may repeat, one box per part, see
    :func:`part_bounds`). Found with an STRtree in bulk queries of at most about QUERY_CHUNK boxes, never by
    testing all pairs; each pair once (a pair is reported by the query of its smaller id, whose boxes are all
    in one chunk).
    """
    bounds = np.asarray(bounds, dtype=float).reshape(-1, 4)
    if len(bounds) == 0:
        return
    index = bounds_tree(bounds, ids)
    codes, inverse = _codes(index.ids)
    for rows in _chunks(inverse):
        q, t = index.tree.query(shapely.box(*bounds[rows].T), predicate="intersects")
        ca, cb = inverse[rows[q]], inverse[t]
        keep = ca < cb
        yield from _unique_pairs(codes, ca[keep], cb[keep])


def candidates_for(new_bounds: np.ndarray, tree_of_existing: BoundsTree,
                   new_ids: Sequence | None = None) -> Iterator[tuple]:
    """Candidates of new footprints against an existing set (the incremental path).

    With ``new_ids``: (id_a, id_b), id_a < id_b, each pair once, a footprint never paired with itself (a
    re-extracted image may already be in the tree). Without: (row of new_bounds, existing id), each once.
    Pairs among new footprints that are not in the tree are :func:`candidate_pairs`' job.
    """
    new_bounds = np.asarray(new_bounds, dtype=float).reshape(-1, 4)
    existing = tree_of_existing.ids
    if len(new_bounds) == 0 or len(existing) == 0:
        return
    if new_ids is None:
        codes, inverse = _codes(existing)
        for start in range(0, len(new_bounds), QUERY_CHUNK):
            q, t = tree_of_existing.tree.query(shapely.box(*new_bounds[start:start + QUERY_CHUNK].T),
                                               predicate="intersects")
            pairs = np.unique(np.stack([q + start, inverse[t]], axis=1), axis=0)
            yield from zip(pairs[:, 0].tolist(), codes[pairs[:, 1]].tolist())
        return
    new_ids = np.asarray(new_ids)
    if len(new_ids) != len(new_bounds):
        raise ValueError(f"{len(new_bounds)} boxes but {len(new_ids)} ids")
    codes, inverse = _codes(np.concatenate([new_ids, existing]))
    new_codes, old_codes = inverse[:len(new_ids)], inverse[len(new_ids):]
    is_new = np.zeros(len(codes), bool)
    is_new[new_codes] = True
    in_tree = np.zeros(len(codes), bool)
    in_tree[old_codes] = True
    for rows in _chunks(new_codes):
        q, t = tree_of_existing.tree.query(shapely.box(*new_bounds[rows].T), predicate="intersects")
        cq, ct = new_codes[rows[q]], old_codes[t]
        # a pair of two new footprints both in the tree is found from either side: keep the smaller id's
        keep = (cq != ct) & ~(is_new[ct] & in_tree[cq] & (ct < cq))
        cq, ct = cq[keep], ct[keep]
        yield from _unique_pairs(codes, np.minimum(cq, ct), np.maximum(cq, ct))


# --- centre and viewing geometry -----------------------------------------------------------------------------

def _unit(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lon), np.radians(lat)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def centre_lonlat(geom) -> tuple[float, float]:
    """(lon, lat) of the centre of a stored footprint or overlap: the direction of its vector area.

    The vector area (the integral of the outward normal over the region, on the unit sphere) is half the sum
    over its edges of ``v_i x v_(i+1)`` scaled to arc length: parts either side of +-180 add up, a cap's polar
    edge adds nothing, and the result is the region's centre of mass direction. A region whose vector area
    vanishes (the whole body) or whose centre falls outside it (a C shape) gets a point on its surface.
    Latitude is in the footprint's convention.
    """
    total = np.zeros(3)
    for poly in polygons(geom):
        poly = shapely.segmentize(orient(poly, 1.0), DENSIFY_DEG)
        for ring in (poly.exterior, *poly.interiors):
            v = _unit(*np.asarray(ring.coords).T)
            c = np.cross(v[:-1], v[1:])
            s = np.linalg.norm(c, axis=1)
            theta = np.arctan2(s, np.einsum("ij,ij->i", v[:-1], v[1:]))
            scale = np.divide(theta, s, out=np.ones_like(s), where=s > 1e-15)
            total += 0.5 * (c * scale[:, None]).sum(axis=0)
    norm = np.linalg.norm(total)
    if norm > 1e-12:
        x, y, z = total / norm
        lon, lat = math.degrees(math.atan2(y, x)), math.degrees(math.asin(max(-1.0, min(1.0, z))))
        if geom.intersects(shapely.Point(lon, lat)):
            return lon, lat
    p = geom.point_on_surface()
    return p.x, p.y


def ground_point(lon, lat, radii: Radii, planetocentric: bool = True) -> np.ndarray:
    """Body-fixed x, y, z (m; shape (..., 3)) of lon/lat (degrees) on the ellipsoid's surface."""
    a, b = _radii(radii)
    lon, lat = np.radians(np.asarray(lon, float)), np.asarray(lat, float)
    if planetocentric:
        c = np.radians(lat)
        r = a * b / np.hypot(b * np.cos(c), a * np.sin(c))
        return np.stack([r * np.cos(c) * np.cos(lon), r * np.cos(c) * np.sin(lon), r * np.sin(c)], axis=-1)
    g = np.radians(lat)
    n = a * a / np.hypot(a * np.cos(g), b * np.sin(g))
    return np.stack([n * np.cos(g) * np.cos(lon), n * np.cos(g) * np.sin(lon), (b * b / (a * a)) * n * np.sin(g)],
                    axis=-1)


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle between vectors (degrees, (...,)), by atan2 of |u x v| and u . v (exact near 0 and 180)."""
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(u, v), axis=-1), np.einsum("...i,...i->...", u, v)))


def convergence_angle(pos_a, pos_b, ground):
    """Angle (degrees) at ``ground`` between the rays to the sensor positions ``pos_a`` and ``pos_b``.

    All three body-fixed, same units, shape (3,) or (..., 3); the stereo convergence of two views of the
    overlap's centre (:func:`ground_point` of :meth:`Overlap.centre`). 0 for the same view direction.
    """
    g = np.asarray(ground, float)
    out = _angle(np.asarray(pos_a, float) - g, np.asarray(pos_b, float) - g)
    return float(out) if np.ndim(out) == 0 else out


def surface_normal(ground, radii: Radii | None = None) -> np.ndarray:
    """Outward unit normal at a ground point: of the ellipsoid ``radii`` (a, b), radial when None."""
    g = np.asarray(ground, float)
    if radii is None:
        n = g
    else:
        a, b = _radii(radii)
        n = g / np.array([a * a, a * a, b * b])
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def incidence(source, ground, radii: Radii | None = None):
    """Angle (degrees) between the surface normal at ``ground`` and the ray from it to ``source``.

    ``source`` is the Sun's position for the incidence angle, the sensor's for the emission angle (body-fixed,
    the units of ``ground``; shape (3,) or (..., 3)). The normal is the ellipsoid's with ``radii`` (a, b),
    radial without. The incidence difference of two images is the difference of their incidences at the
    overlap's centre.
    """
    g = np.asarray(ground, float)
    out = _angle(np.asarray(source, float) - g, surface_normal(g, radii))
    return float(out) if np.ndim(out) == 0 else out
