"""Footprints from a sensor model: the valid-pixel outline traced through the camera onto the body.

Each outline ring (pixel corners, GDAL convention) is densified to an edge point at least every 1/20 of the
image's shorter side (a straight image edge is a curve on the ground), every vertex goes through
``image_to_ground``, and the lon/lat ring is unwrapped across the antimeridian and closed through a pole the
camera sees inside it (:mod:`.antimeridian`).

Where part of the image misses the body (a limb), the footprint is the on-body part only: the rays of a grid
of pixels say which part that is, and every outline vertex off the body is moved, by bisection towards the
on-body part, to the limb itself (to 1/100 pixel). The note says so.
"""
from __future__ import annotations

import numpy as np
import pyproj
import rasterio.features
import shapely
import shapely.affinity
from shapely.geometry import Polygon, box, shape

from .antimeridian import clean, normalise, polygons, ring_region

SIDE_FRACTION = 20        # an edge point at least every 1/SIDE_FRACTION of the shorter image side
LIMB_GRID = 256           # rays per image side that find the on-body part when a limb is in view
LIMB_TOLERANCE_PX = 0.01


def _ground(model, x, y):
    """lon, lat of GDAL-convention pixel coordinates (0, 0 = the top-left corner)."""
    return model.image_to_ground(np.asarray(y, float) - 0.5, np.asarray(x, float) - 0.5)


def _on_body_region(model, width: float, height: float) -> Polygon | None:
    """The part of the image frame whose rays meet the body, traced on a grid of rays."""
    nx, ny = min(LIMB_GRID, max(2, int(width) + 1)), min(LIMB_GRID, max(2, int(height) + 1))
    xs, ys = np.linspace(0, width, nx), np.linspace(0, height, ny)
    gx, gy = np.meshgrid((xs[:-1] + xs[1:]) / 2, (ys[:-1] + ys[1:]) / 2)
    lon, _ = _ground(model, gx.ravel(), gy.ravel())
    hit = np.isfinite(lon).reshape(gx.shape)
    if not hit.any():
        return None
    parts = [shapely.affinity.scale(shape(g), xfact=width / (nx - 1), yfact=height / (ny - 1), origin=(0, 0))
             for g, _ in rasterio.features.shapes(hit.astype(np.uint8), mask=hit, connectivity=8)]
    return shapely.union_all(parts).buffer(max(width / (nx - 1), height / (ny - 1)) * 0.5)


def _to_limb(model, pts: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Each off-body point moved along the segment towards ``inside`` (on the body) to the limb."""
    lo = np.zeros(len(pts))            # fraction from inside (on body) ...
    hi = np.ones(len(pts))             # ... to the point (off body)
    span = np.linalg.norm(pts - inside, axis=1).max(initial=1.0)
    for _ in range(int(np.ceil(np.log2(max(span, 1.0) / LIMB_TOLERANCE_PX))) + 1):
        mid = (lo + hi) / 2
        p = inside + mid[:, None] * (pts - inside)
        on = np.isfinite(_ground(model, p[:, 0], p[:, 1])[0])
        lo, hi = np.where(on, mid, lo), np.where(on, hi, mid)
    return inside + lo[:, None] * (pts - inside)


def _pole_in(model, pixel_poly: Polygon) -> int | None:
    line, sample = model.ground_to_image([0.0, 0.0], [90.0, -90.0])
    for pole, l, s in zip((1, -1), line, sample):
        if np.isfinite(l) and pixel_poly.contains(shapely.Point(s + 0.5, l + 0.5)):
            return pole
    return None


def _ring(model, ring, step: float, interior: np.ndarray | None, pole: int | None):
    pts = np.asarray(shapely.segmentize(ring, step).coords)[:-1]
    lon, lat = _ground(model, pts[:, 0], pts[:, 1])
    off = ~np.isfinite(lon)
    if off.any():
        if interior is None:
            return None
        pts[off] = _to_limb(model, pts[off], np.broadcast_to(interior, pts[off].shape))
        lon[off], lat[off] = _ground(model, pts[off, 0], pts[off, 1])
        keep = np.isfinite(lon)
        lon, lat = lon[keep], lat[keep]
    if len(lon) < 3:
        return None
    region = ring_region(lon, lat, pole)
    return normalise(region) if region is not None else None


def camera_footprint(model, pixel_polys: list[Polygon], width: float, height: float):
    """(MultiPolygon in lon/lat, note) of the valid-pixel polygons ``pixel_polys`` seen through ``model``."""
    step = max(min(width, height) / SIDE_FRACTION, 1e-3)
    frame = box(0, 0, width, height)
    corners = np.array(frame.exterior.coords)[:-1]
    note = None
    on_body = None
    if not np.all(np.isfinite(_ground(model, corners[:, 0], corners[:, 1])[0])) or \
            not np.all(np.isfinite(_ground(model, *np.asarray(shapely.segmentize(frame.exterior, step).coords).T)[0])):
        on_body = _on_body_region(model, width, height)
        if on_body is None:
            return None, "the camera sees no part of the body in this image"
        note = "part of the image misses the body (a limb is in view); the footprint is the on-body part"
    regions = []
    for poly in pixel_polys:
        parts = polygons(poly.intersection(on_body)) if on_body is not None else [poly]
        for part in parts:
            interior = np.asarray(part.representative_point().coords[0]) if on_body is not None else None
            pole = _pole_in(model, part)
            outer = _ring(model, part.exterior, step, interior, pole)
            if outer is None or outer.is_empty:
                continue
            holes = [_ring(model, r, step, interior, None) for r in part.interiors]
            holes = [h for h in holes if h is not None and not h.is_empty]
            regions.append(outer.difference(shapely.union_all(holes)) if holes else outer)
    geom = clean(shapely.union_all(regions)) if regions else None
    if geom is None:
        return None, note or "the valid pixels do not map to any area on the body"
    return geom, note


def iou(a, b, radius_m: float) -> float:
    """Intersection over union of two lon/lat footprints, measured in an equal-area projection about ``a``."""
    c = a.centroid
    laea = pyproj.Transformer.from_crs(
        pyproj.CRS.from_proj4(f"+proj=longlat +R={radius_m} +no_defs"),
        pyproj.CRS.from_proj4(f"+proj=laea +lat_0={c.y} +lon_0={c.x} +R={radius_m} +no_defs"), always_xy=True)
    pa, pb = (shapely.transform(g, lambda xy: np.column_stack(laea.transform(xy[:, 0], xy[:, 1])))
              for g in (a, b))
    union = pa.union(pb).area
    return float(pa.intersection(pb).area / union) if union > 0 else 0.0
