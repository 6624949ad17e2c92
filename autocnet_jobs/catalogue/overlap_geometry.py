"""The geometry of the overlap graph: which footprints overlap, by how much, and seen from where (issue 26).

Plain functions, no database: the writer and ``overlaps --rebuild`` call them with footprints as stored
(MULTIPOLYGON in the body's lon/lat, longitude in [-180, 180], split at the antimeridian, a polar cap closed
along ``lat = +-90``; see DESIGN.md, Geospatial conventions).

**Where the intersection is computed.** A stored footprint is a plane polygon in (lon, lat) whose image on the
body is the footprint; the map (lon, lat) -> body is one-to-one away from the +-180 seam and the poles, exactly
where a stored footprint is cut or closed. So the intersection of two stored footprints in lon/lat *is* the
stored form of their intersection on the body (parts meet their counterparts on the same side of +-180, caps
meet along lat = +-90), again a valid stored footprint. No reprojection, no per-pair CRS.

**How the area is measured.** Exactly, for the region the stored lon/lat polygon bounds on the body's ellipsoid
``radii = (a, b)``: by Green's theorem its area is ``-loop S(lat) dlon``, where ``S`` is the area per radian of
longitude between the equator and ``lat`` (the ellipsoid's authalic zone function, closed form), integrated
along each straight lon/lat edge by a 3-point Gauss rule (edges cut to :data:`SEGMENT_DEG` first; error far
below 1e-9). No geodesics, so none of their traps: a polar cap's ``lat = +-90`` edge and a ``-180..180`` parallel
count as what they are, a region larger than half the body or the whole body comes out as such, and the +-180
seam edges add nothing. Stored latitude is planetocentric for every body but Earth and is converted to geodetic
latitude (``tan(lat_g) = (a/b)^2 tan(lat_c)``) unless ``planetocentric=False`` (Earth, EPSG:4326). Every ring
of every footprint of a batch is measured in one numpy pass (:func:`areas_m2`); the intersections of a batch's
pairs are computed by shapely's array functions (:func:`overlaps`). Agrees with pyproj's geodesic polygon area
of the densified rings to ~1e-6 (bench/bench_overlaps.py checks a sample).

**Candidates.** Pairs to intersect come from an STRtree over bounding boxes (never all pairs). A footprint
split at +-180 spans the whole longitude range in a single box; :func:`part_bounds` gives one box per part
(ids repeated), and :func:`candidate_pairs` / :func:`candidates_for` drop the duplicate pairs that makes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

DENSIFY_DEG = 0.25        # longest lon/lat edge of a ring turned into vectors (centre_lonlat)
SEGMENT_DEG = 2.0         # longest lon/lat edge integrated by one Gauss rule (areas_m2)
MIN_AREA_M2 = 1.0         # an intersection below this is a touch, not an overlap ...
MIN_FRACTION = 1e-6       # ... and so is one below this fraction of the smaller footprint
QUERY_CHUNK = 20_000      # boxes per STRtree bulk query (bounds the memory of a large batch)

Radii = Sequence[float]   # (a, b): equatorial and polar radius in metres
_GAUSS_T = 0.5 + 0.5 * np.array([-math.sqrt(0.6), 0.0, math.sqrt(0.6)])     # 3-point Gauss-Legendre on [0, 1]
_GAUSS_W = np.array([5.0, 8.0, 5.0]) / 18.0


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

def _radii(radii: Radii) -> tuple[float, float]:
    a, b = (float(r) for r in radii)
    if not (a > 0 and b > 0):
        raise ValueError(f"radii must be two positive lengths in metres (a, b), not {radii!r}")
    return a, b


def ellipsoid_area_m2(radii: Radii) -> float:
    """Surface area of the ellipsoid of revolution with equatorial radius a and polar radius b."""
    a, b = _radii(radii)
    return 2.0 * float(_zone(np.array(1.0), a, b)) * 2.0 * math.pi


def geodetic_latitude(lat: np.ndarray, radii: Radii) -> np.ndarray:
    """Planetographic (geodetic) latitude, degrees, from planetocentric latitude on the ellipsoid (a, b)."""
    a, b = _radii(radii)
    lat = np.asarray(lat, dtype=float)
    if a == b:
        return lat
    rad = np.radians(lat)
    return np.degrees(np.arctan2(a * a * np.sin(rad), b * b * np.cos(rad)))


def _zone(sin_g: np.ndarray, a: float, b: float) -> np.ndarray:
    """Area per radian of longitude between the equator and the geodetic latitude whose sine is ``sin_g``."""
    e2 = 1.0 - (b / a) ** 2
    if abs(e2) < 1e-15:
        return a * a * sin_g
    e = math.sqrt(abs(e2))
    g = np.arctanh(e * sin_g) / e if e2 > 0 else np.arctan(e * sin_g) / e     # oblate, prolate
    return 0.5 * b * b * (sin_g / (1.0 - e2 * sin_g * sin_g) + g)


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


def areas_m2(geoms, radii: Radii, planetocentric: bool = True) -> np.ndarray:
    """Areas (m^2) on the ellipsoid ``radii = (a, b)`` of stored footprints (an array or list; None gives 0).

    ``planetocentric``: the latitudes are planetocentric (every body but Earth); False for geodetic latitude
    (Earth, EPSG:4326). All rings of all footprints in one numpy pass (module docstring).
    """
    a, b = _radii(radii)
    geoms = np.asarray(geoms, dtype=object).reshape(-1)
    nested = np.flatnonzero(shapely.get_type_id(geoms) == 7)
    if nested.size:
        geoms = geoms.copy()
        geoms[nested] = [MultiPolygon(polygons(g)) for g in geoms[nested]]
    parts, owner = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == 3
    parts, owner = parts[keep], owner[keep]
    rings, poly = shapely.get_rings(parts, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    edge = np.flatnonzero(ring[1:] == ring[:-1])
    lat0, dlat, dlon = np.radians(xy[edge, 1]), np.radians(np.diff(xy[:, 1])[edge]), np.radians(np.diff(xy[:, 0])[edge])
    cuts = np.ceil(np.maximum(np.abs(dlat), np.abs(dlon)) / math.radians(SEGMENT_DEG)).astype(int)
    if (cuts > 1).any():                        # long edges: cut into pieces of at most SEGMENT_DEG
        k = np.arange(cuts.sum()) - np.repeat(np.cumsum(cuts) - cuts, cuts)
        edge, step, dlon = np.repeat(edge, cuts), np.repeat(dlat / cuts, cuts), np.repeat(dlon / cuts, cuts)
        lat0, dlat = np.repeat(lat0, cuts) + k * step, step
    phi = lat0[:, None] + _GAUSS_T[None, :] * dlat[:, None]
    s = np.sin(phi)
    if planetocentric and a != b:
        s = a * a * s / np.hypot(a * a * s, b * b * np.cos(phi))
    signed = np.bincount(ring[edge], weights=-dlon * (_zone(s, a, b) @ _GAUSS_W), minlength=len(rings))
    exterior = np.r_[True, poly[1:] != poly[:-1]] if len(poly) else np.zeros(0, bool)
    by_part = np.bincount(poly, weights=np.where(exterior, 1.0, -1.0) * np.abs(signed), minlength=len(parts))
    return np.maximum(np.bincount(owner, weights=by_part, minlength=len(geoms)), 0.0)


def footprint_area_m2(fp, radii: Radii, planetocentric: bool = True) -> float:
    """Area on the ellipsoid ``radii = (a, b)`` of a footprint in stored form (m^2; :func:`areas_m2`)."""
    return float(areas_m2([fp], radii, planetocentric)[0])


# --- pairs ------------------------------------------------------------------------------------------------

def intersections(geoms_a, geoms_b, valid: bool = False) -> np.ndarray:
    """Pairwise polygonal intersections of stored footprints, in stored form (oriented MultiPolygons of parts with
    area), None where a pair's has no area. Both arrays of one length; None entries give None. ``valid``: the
    footprints are known to be valid (else invalid ones are made valid first)."""
    ga, gb = (np.asarray(g, dtype=object).reshape(-1) for g in (geoms_a, geoms_b))
    if not valid:
        ga, gb = make_valid(ga), make_valid(gb)
    shapely.prepare(ga)                         # a prepared test first: most candidates' boxes meet, not them
    meet = np.flatnonzero(shapely.intersects(ga, gb))
    inter = np.full(len(ga), None, dtype=object)
    inter[meet] = shapely.intersection(ga[meet], gb[meet])
    kind = shapely.get_type_id(inter)
    out = np.full(len(inter), None, dtype=object)
    single = np.flatnonzero(kind == 3)          # the common case: one polygon
    single = single[shapely.area(inter[single]) > 0]
    out[single] = shapely.multipolygons(shapely.orient_polygons(inter[single])[:, None])
    many = np.flatnonzero((kind == 6) | (kind == 7))
    for k in many[kind[many] == 7]:
        inter[k] = MultiPolygon(polygons(inter[k]))
    parts, owner = shapely.get_parts(inter[many], return_index=True)
    keep = shapely.area(parts) > 0
    if keep.any():
        found = np.full(len(many), None, dtype=object)
        out[many] = shapely.multipolygons(shapely.orient_polygons(parts[keep]), indices=owner[keep], out=found)
    return out


def make_valid(geoms) -> np.ndarray:
    """``geoms`` (an array) with its invalid footprints made valid (a copy when there are any)."""
    geoms = np.asarray(geoms, dtype=object).reshape(-1)
    bad = np.flatnonzero(~shapely.is_valid(geoms) & ~shapely.is_missing(geoms))
    if bad.size:
        geoms = geoms.copy()
        geoms[bad] = shapely.make_valid(geoms[bad])
    return geoms


@dataclass(frozen=True)
class Overlaps:
    """The pairs of :func:`overlaps` that overlap: their rows in the input, and per pair what :class:`Overlap` has."""
    index: np.ndarray
    geom: np.ndarray
    area_m2: np.ndarray
    fraction_a: np.ndarray
    fraction_b: np.ndarray


def overlaps(geoms_a, geoms_b, radii: Radii, *, planetocentric: bool = True, areas_a=None, areas_b=None,
             min_area_m2: float = MIN_AREA_M2, min_fraction: float = MIN_FRACTION, valid: bool = False) -> Overlaps:
    """:func:`overlap` of many pairs (geoms_a[i], geoms_b[i]) at once: intersections, areas and fractions in a few
    vectorised passes. ``areas_a`` / ``areas_b``: the footprints' areas when the caller has them; ``valid``: the
    footprints are known to be valid (:func:`make_valid`)."""
    inter = intersections(geoms_a, geoms_b, valid)
    index = np.flatnonzero(shapely.is_geometry(inter))
    area = areas_m2(inter[index], radii, planetocentric)
    fa, fb = (areas_m2(np.asarray(g, dtype=object).reshape(-1)[index], radii, planetocentric) if known is None
              else np.asarray(known, dtype=float).reshape(-1)[index]
              for g, known in ((geoms_a, areas_a), (geoms_b, areas_b)))
    ok = area > np.maximum(min_area_m2, min_fraction * np.minimum(fa, fb))
    area, fa, fb = area[ok], fa[ok], fb[ok]
    # the intersection's area can exceed a footprint's by the measuring error: a fraction is at most 1
    return Overlaps(index[ok], inter[index[ok]], area, np.minimum(area / fa, 1.0), np.minimum(area / fb, 1.0))


def intersection(fp_a, fp_b) -> MultiPolygon | None:
    """The polygonal intersection of two stored footprints, in stored form; None when it has no area."""
    return intersections([fp_a], [fp_b])[0]


def overlap(fp_a, fp_b, radii: Radii, *, planetocentric: bool = True, area_a: float | None = None,
            area_b: float | None = None, min_area_m2: float = MIN_AREA_M2,
            min_fraction: float = MIN_FRACTION) -> Overlap | None:
    """The overlap of two footprints of one body, or None when they do not overlap or only touch.

    ``radii = (a, b)`` in metres; ``planetocentric`` as in :func:`areas_m2`. ``area_a`` / ``area_b`` are the
    footprints' areas when the caller already has them. An intersection smaller than
    ``max(min_area_m2, min_fraction * min(area_a, area_b))`` is a touch (a shared edge, a rounding sliver) and
    gives None.
    """
    found = overlaps([fp_a], [fp_b], radii, planetocentric=planetocentric, min_area_m2=min_area_m2,
                     min_fraction=min_fraction, areas_a=None if area_a is None else [area_a],
                     areas_b=None if area_b is None else [area_b])
    if not len(found.index):
        return None
    return Overlap(found.geom[0], float(found.area_m2[0]), float(found.fraction_a[0]), float(found.fraction_b[0]))


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


# --- centre --------------------------------------------------------------------------------------------------

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
        poly = shapely.segmentize(shapely.orient_polygons(poly), DENSIFY_DEG)
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
