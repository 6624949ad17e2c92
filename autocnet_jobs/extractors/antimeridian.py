"""Lon/lat polygons on a sphere-like body, stored flat: the antimeridian, the poles and the 0-360 domain.

A footprint is kept as a MULTIPOLYGON in plain lon/lat with longitude in [-180, 180]. Three things go wrong
when a boundary traced on the body is written down naively:

* **the antimeridian** - a ring whose longitude jumps from +179 to -179 would become a band around the
  planet. Rings are therefore *unwrapped* (consecutive longitudes never differ by more than 180 deg), giving a
  polygon in a continuous longitude domain that may run past +-180, which :func:`normalise` then cuts into
  360-degree windows and shifts each piece back into [-180, 180];
* **a pole inside the ring** - an unwrapped ring that goes once around a pole ends 360 deg from where it
  started. It is closed along the pole (``lat = +-90``), so the polygon covers the polar cap;
* **the 0/360 seam** - ISIS writes footprints in 0..360 and splits them at the seam; :func:`normalise` moves
  the 180..360 half to -180..0, where the two halves meet again along lon 0 and are merged.
"""
from __future__ import annotations

import math

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.polygon import orient

WORLD = box(-180.0, -90.0, 180.0, 90.0)


def ring_region(lon: np.ndarray, lat: np.ndarray, pole: int | None = None) -> Polygon | None:
    """The region a ring of lon/lat vertices bounds, in an unwrapped longitude domain.

    ``pole`` (+1 north, -1 south) says which pole the ring encloses when it winds around one; when None the
    pole on the side of the ring's mean latitude is used. Returns None for fewer than three usable vertices.
    """
    ok = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = np.asarray(lon, float)[ok], np.asarray(lat, float)[ok]
    if lon.size < 3:
        return None
    if lon[0] != lon[-1] or lat[0] != lat[-1]:
        lon, lat = np.append(lon, lon[0]), np.append(lat, lat[0])
    lon_u = np.unwrap(lon, period=360.0)
    turns = int(round((lon_u[-1] - lon_u[0]) / 360.0))
    coords = list(zip(lon_u[:-1], lat[:-1]))
    if turns != 0:
        if pole is None:
            pole = 1 if float(np.mean(lat)) >= 0 else -1
        end = lon_u[-1]
        coords += [(end, lat[-1]), (end, 90.0 * pole), (lon_u[0], 90.0 * pole)]
    if len(coords) < 3:
        return None
    poly = Polygon(coords)
    if not poly.is_valid:
        poly = shapely.make_valid(poly)
    return poly


def normalise(geom) -> shapely.Geometry:
    """``geom`` in any longitude domain cut into 360-degree windows, each shifted into [-180, 180].

    Latitude is clipped to [-90, 90]. Pieces that meet after shifting (the halves of an ISIS footprint split
    at 0/360) are merged; pieces on either side of +-180 stay separate parts.
    """
    if geom is None or geom.is_empty:
        return Polygon()
    minx, miny, maxx, maxy = geom.bounds
    if -180.0 <= minx and maxx <= 180.0 and -90.0 <= miny and maxy <= 90.0:
        return geom
    first = math.floor((minx + 180.0) / 360.0)
    last = math.ceil((maxx - 180.0) / 360.0)
    pieces = []
    for k in range(first, last + 1):
        window = box(-180.0 + 360.0 * k, -90.0, 180.0 + 360.0 * k, 90.0)
        piece = geom.intersection(window)
        if not piece.is_empty:
            pieces.append(shapely.affinity.translate(piece, xoff=-360.0 * k))
    if not pieces:
        return Polygon()
    return shapely.union_all(pieces)


def cover_pole_gaps(geom, tolerance: float):
    """Extend a footprint that covers every longitude to within ``tolerance`` degrees of a pole to that pole.

    A global map resampled to a whole number of rows often stops a fraction of a pixel short of a pole; its
    last row still observes the polar cap. Only a footprint that covers all 360 degrees of longitude just inside
    its extreme latitude is extended, so a tile that merely comes near a pole is left alone.
    """
    if geom.is_empty or tolerance <= 0:
        return geom
    _minx, miny, _maxx, maxy = geom.bounds
    height = maxy - miny
    for pole, edge in ((1, maxy), (-1, miny)):
        gap = 90.0 - pole * edge
        if not 0.0 < gap <= tolerance:
            continue
        probe = edge - pole * min(tolerance / 4.0, height / 4.0)
        line = shapely.LineString([(-180.0, probe), (180.0, probe)])
        if line.intersection(geom).length >= 360.0 * (1.0 - 1e-9):
            cap = box(-180.0, min(probe, 90.0 * pole), 180.0, max(probe, 90.0 * pole))
            geom = geom.union(cap)
    return geom


def polygons(geom) -> list[Polygon]:
    """Every Polygon inside ``geom``, however deeply nested in multi-geometries and collections."""
    if isinstance(geom, Polygon):
        return [geom]
    out: list[Polygon] = []
    if hasattr(geom, "geoms"):
        for g in geom.geoms:
            out += polygons(g)
    return out


def clean(geom, min_fraction: float = 1e-7) -> MultiPolygon | None:
    """A valid MULTIPOLYGON (exteriors counter-clockwise) of ``geom``'s polygonal parts, slivers dropped.

    Parts smaller than ``min_fraction`` of the total area (artefacts of cutting and repairing) are dropped.
    Returns None when nothing is left.
    """
    if geom is None or geom.is_empty:
        return None
    geom = shapely.make_valid(geom.intersection(WORLD))
    parts = [p for p in polygons(geom) if p.area > 0]
    total = sum(p.area for p in parts)
    parts = [orient(p, 1.0) for p in parts if p.area >= min_fraction * total]
    if not parts:
        return None
    out = MultiPolygon(parts)
    if not out.is_valid:
        out = shapely.make_valid(out)
        out = MultiPolygon([orient(p, 1.0) for p in polygons(out)])
    return out if not out.is_empty else None
