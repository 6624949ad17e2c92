"""The ground footprint of an image: a valid MULTIPOLYGON in its body's lon/lat.

Conventions (DESIGN.md, "Geospatial conventions"): longitude in [-180, 180], east-positive; planetocentric
latitude, but geodetic WGS84 (EPSG:4326) on Earth (:mod:`.lonlat`); split at the antimeridian; a footprint
containing a pole is closed through the pole.

Sources, in order:

1. ``isis_polygon`` - the footprint polygon an ISIS3 cube carries after ``footprintinit``
   (:mod:`.isis_polygon`), normalised from ISIS's 0..360 longitudes, when it is current. Where the cube also
   has a camera model, the note records how well the two agree (IoU). A *stale* polygon (the cube was cropped
   or reduced after ``footprintinit``) is replaced by the camera footprint (3.), or, without a camera, not
   used at all; the note says which.
2. ``georeference`` - the image's CRS and geotransform. The boundary of the *valid* pixels (nodata, GDAL
   masks and ISIS special pixels excluded, :func:`.reading.read_valid`; nodata is ``reading.nodata`` when set,
   else the file's) is traced on a mask read at most
   ``MAX_SIDE`` pixels a side, holes smaller than ``HOLE_MIN_FRACTION`` of the image filled, every edge
   densified to ``EDGE_SEGMENTS`` vertices per image side (never just the corners: a straight image edge is a
   curve on the body), and taken pixel -> native CRS -> the CRS's own geographic lon/lat (:mod:`.lonlat`).
   Each ring is unwrapped across the antimeridian, closed through a pole it winds around, and cut back into
   [-180, 180] (:mod:`.antimeridian`). A map that covers every longitude to within a pixel of a pole is
   extended to the pole. A mask too fragmented to outline cheaply (more than ``MAX_PARTS`` pieces or
   ``MAX_EDGES_PER_SIDE`` boundary edges per row + column, e.g. salt-and-pepper nodata) is coarsened 2x at a
   time, a coarse cell being valid when any of its cells is, and the note says so.
3. ``camera`` - an image's sensor model (:mod:`.camera`: an ISD sidecar or an instrument driver): the same
   valid-pixel outline traced through the camera onto the ellipsoid, or the DEM of ``camera.dem``
   (:mod:`.camera_footprint`); an image with no valid pixel gets the footprint of its whole frame.
4. none - ``geometry`` is None and ``note`` says why (no georeferencing, polygon or camera: the camera's reason
   names the missing constant; a CRS PROJ cannot invert, such as a Mercator with scale factor 0; no valid pixel).

Every footprint is then simplified to ``SIMPLIFY_PIXELS`` of a pixel's ground size (:func:`simplified`,
topology preserved): a straight edge keeps its two ends, a densified curve the vertices that bend it.

``compute_footprint`` does not raise for a readable image: problems become the note.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import rasterio.features
import shapely
import shapely.affinity
from pyproj.exceptions import CRSError, ProjError
from shapely.errors import GEOSException
from shapely.geometry import MultiPolygon, Polygon, box, shape

from .antimeridian import clean, cover_pole_gaps, normalise, polygons, ring_region
from .bodies import body_of
from .camera_footprint import camera_footprint, iou
from .cameras import body_radius_m, georeference_problem, is_sensor, sensor_for
from .isis_polygon import isis_footprint
from .labels import UNREAD, label_of
from .lonlat import LonLatTransformer, NotInvertible, is_georeferenced, pixel_size_degrees, pixel_to_native
from .reading import read_valid

MAX_SIDE = 1024            # the validity mask is read at most this many pixels a side
EDGE_SEGMENTS = 256        # densify boundaries to at least this many vertices per image side
HOLE_MIN_FRACTION = 1e-4   # holes smaller than this fraction of the image are filled
MAX_EDGES_PER_SIDE = 8     # outline complexity bound: boundary pixel edges per mask row + column
MAX_PARTS = 500            # ... and number of separate polygons; beyond either the mask is coarsened
SIMPLIFY_PIXELS = 0.1      # footprints are simplified to this fraction of a pixel's ground size
NO_CAMERA = "no georeferencing and no ISIS footprint polygon; a camera model is needed"


@dataclass
class Footprint:
    geometry: shapely.MultiPolygon | None   # body lon/lat, lon in [-180, 180], east-positive, in iau_code's CRS
    source: str | None                      # "isis_polygon" | "georeference" | None
    note: str | None                        # why there is none, or caveats
    body: str | None                        # "Mars", "Moon", "Vesta", "Earth", ...
    iau_code: str | None                    # e.g. "IAU_2015:49900"; "EPSG:4326" for Earth
    crs_wkt: str | None                     # the image's native CRS as WKT


def compute_footprint(ds, path: str, band: int = 1, nodata: float | None = None,
                      camera: dict | None = None, label=UNREAD) -> Footprint:
    """The footprint of the open dataset ``ds`` (opened from ``path``), traced on band ``band``.

    ``nodata`` (``reading.nodata``) replaces the file's nodata value in the validity mask; ``camera`` is the
    image's camera dict (:func:`.cameras.camera_model`), used for level-1 cubes.
    """
    path = str(path)
    label = label_of(path, label)
    body, code = body_of(ds, path, label)
    crs_wkt = ds.crs.to_wkt() if ds.crs is not None else None

    def made(geom, source, *notes):
        geom = simplified(geom, pixel_degrees(ds, camera))
        return Footprint(geom, source if geom is not None else None, _join(*notes), body, code, crs_wkt)

    polygon, polygon_problem, stale = isis_footprint(path, label)
    if polygon is not None and not is_sensor(camera):
        return made(None, None, stale + "; not used, and there is no camera model to replace it", _reason(camera)) \
            if stale else made(polygon, "isis_polygon")
    if polygon is not None:
        geom, note = _camera_footprint(ds, band, nodata, camera)
        agreement = (f"IoU {iou(polygon, geom, body_radius_m(camera)):.3g}"
                     if geom is not None else None)
        if not stale:
            return made(polygon, "isis_polygon",
                        f"the camera footprint agrees with the ISIS polygon to {agreement}" if agreement else None)
        if geom is None:
            return made(None, None, f"{stale}; not used", note)
        return made(geom, "camera", f"{stale}; replaced by the camera footprint ({agreement} with the stale "
                    f"polygon)", note)

    if is_georeferenced(ds):
        try:
            geom, note = georeference_footprint(ds, band, nodata)
        except NotInvertible as exc:
            return made(None, None, str(exc), polygon_problem)
        except (ProjError, CRSError, GEOSException) as exc:
            why = f"the footprint could not be traced from the georeferencing: {type(exc).__name__}: {exc}"
            return made(None, None, why, polygon_problem)
        return made(geom, "georeference", note, polygon_problem)
    if is_sensor(camera):
        geom, note = _camera_footprint(ds, band, nodata, camera)
        return made(geom, "camera", note, polygon_problem)
    return made(None, None, _no_georeference_reason(ds, path, camera, label), polygon_problem)


def pixel_degrees(ds, camera: dict | None) -> float | None:
    """A pixel's ground size at the image centre as an angle on the body (degrees), or None when unknown: the
    sensor model's ground sample distance over the body's radius, else the georeferencing's pixel."""
    if is_sensor(camera):
        gsd = [g for g in camera.get("ground_sample_distance_m") or [] if g and math.isfinite(g)]
        radius_m = body_radius_m(camera)
        return math.degrees(min(gsd) / radius_m) if gsd else None
    if is_georeferenced(ds):
        try:
            return pixel_size_degrees(ds.transform, LonLatTransformer(ds.crs.to_wkt()).crs)
        except (NotInvertible, CRSError, ProjError):
            return None
    return None


def simplified(geom, pixel_deg: float | None):
    """``geom`` without the vertices that lie within ``SIMPLIFY_PIXELS`` of a pixel of the line through their
    neighbours (Douglas-Peucker, topology preserved): a straight edge keeps its ends, a densified curve keeps
    the vertices that bend it. Kept vertices are original ones, so antimeridian and pole edges stay exact. The
    tolerance is in lon/lat degrees, which never understate a ground distance (a degree of longitude is at most
    a degree of arc). ``geom`` as it was when there is no pixel size or the result would not be valid."""
    if geom is None or not pixel_deg or not math.isfinite(pixel_deg):
        return geom
    out = shapely.simplify(geom, SIMPLIFY_PIXELS * pixel_deg, preserve_topology=True)
    if out.is_empty or not out.is_valid:
        return geom
    if isinstance(out, Polygon):
        out = MultiPolygon([out])
    return out if isinstance(out, MultiPolygon) else geom


def _camera_footprint(ds, band: int, nodata, camera: dict) -> tuple[MultiPolygon | None, str | None]:
    """The valid-pixel outline traced through the sensor model (:mod:`.camera_footprint`)."""
    mask, sx, sy = validity_mask(ds, band, nodata=nodata)
    note = None
    if not mask.any():
        # What the camera sees does not depend on pixel values: a Null image still has its frame's footprint.
        mask = np.ones_like(mask)
        note = f"band {band} has no valid pixel: the footprint is the whole image frame"
    pixel_polys, _ = simple_outline(mask, sx, sy, ds)
    try:
        geom, traced = camera_footprint(sensor_for(camera), pixel_polys, ds.width, ds.height)
        return geom, _join(note, traced)
    except GEOSException as exc:
        return None, f"the camera footprint could not be traced: {exc}"


def _reason(camera: dict | None) -> str | None:
    return camera.get("reason") if camera else None


def _join(*notes: str | None) -> str | None:
    text = "; ".join(n for n in notes if n)
    return text or None


def _no_georeference_reason(ds, path: str, camera: dict | None = None, label=UNREAD) -> str:
    # The camera's reason already names what the image lacks (georeference_problem): say it once.
    reason = _reason(camera)
    return f"{NO_CAMERA}: {reason}" if reason else f"{NO_CAMERA} ({georeference_problem(ds, path, label)})"


# --- tracing the valid-data boundary -------------------------------------------------------------------

def validity_mask(ds, band: int = 1, max_side: int = MAX_SIDE,
                  nodata: float | None = None) -> tuple[np.ndarray, float, float]:
    """(mask, sx, sy): the band's valid pixels on a grid at most ``max_side`` a side; sx, sy = full px per cell.

    The same validity as feature extraction (:func:`.reading.read_valid`, nearest-neighbour reads).
    """
    factor = max(1, math.ceil(max(ds.width, ds.height) / max_side))
    shape_out = (max(1, math.ceil(ds.height / factor)), max(1, math.ceil(ds.width / factor)))
    _, mask = read_valid(ds, band, out_shape=shape_out, nodata=nodata)
    return mask, ds.width / shape_out[1], ds.height / shape_out[0]


def boundary_edges(mask: np.ndarray) -> int:
    """Number of pixel edges between valid and invalid cells: the length of the mask's boundary."""
    return int(np.count_nonzero(mask[:, 1:] != mask[:, :-1]) + np.count_nonzero(mask[1:, :] != mask[:-1, :]))


def coarsen(mask: np.ndarray) -> np.ndarray:
    """Half-resolution mask: a cell is valid when any of its 2x2 cells is (padding the odd row/column)."""
    h, w = mask.shape
    padded = np.zeros((h + h % 2, w + w % 2), dtype=bool)
    padded[:h, :w] = mask
    return padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2).any(axis=(1, 3))


def trace_valid_pixels(mask: np.ndarray, sx: float = 1.0, sy: float = 1.0, hole_min_area: float = 0.0,
                       width: float | None = None, height: float | None = None) -> list[Polygon]:
    """Polygons (full-resolution pixel coordinates, GDAL convention) around the True cells of ``mask``.

    Each cell is ``sx`` x ``sy`` full pixels; the result is clipped to ``width`` x ``height`` when given.
    """
    frame = box(0.0, 0.0, width, height) if width and height else None
    polys = []
    for geom, _value in rasterio.features.shapes(mask.astype(np.uint8), mask=mask, connectivity=4):
        poly = shapely.affinity.scale(shape(geom), xfact=sx, yfact=sy, origin=(0.0, 0.0))
        if frame is not None and not frame.contains(poly):
            poly = poly.intersection(frame)
        for part in polygons(poly):
            holes = [r for r in part.interiors if Polygon(r).area >= hole_min_area]
            polys.append(Polygon(part.exterior, holes))
    return polys


def simple_outline(mask: np.ndarray, sx: float, sy: float, ds) -> tuple[list[Polygon], float]:
    """The valid-pixel polygons, the mask coarsened until the outline has bounded complexity.

    Returns the polygons and the final coarsening factor (1 = none). Coarsening keeps every valid pixel
    inside (a coarse cell is valid when any of its pixels is), so salt-and-pepper masks cost seconds, not
    minutes, and give one outline around the data instead of thousands of specks.
    """
    factor = 1
    hole_min = HOLE_MIN_FRACTION * ds.width * ds.height
    while True:
        limit = MAX_EDGES_PER_SIDE * (mask.shape[0] + mask.shape[1])
        if boundary_edges(mask) <= limit or min(mask.shape) <= 2:
            polys = trace_valid_pixels(mask, sx * factor, sy * factor, hole_min, ds.width, ds.height)
            if len(polys) <= MAX_PARTS or min(mask.shape) <= 2:
                return polys, factor
        mask = coarsen(mask)
        factor *= 2


def _pole_pixels(tr: LonLatTransformer, transform) -> dict[int, tuple[float, float] | None]:
    """Pixel coordinates of the north (+1) and south (-1) poles, where the projection can place them."""
    out: dict[int, tuple[float, float] | None] = {}
    inverse = ~transform
    for pole in (1, -1):
        x, y = tr.native(0.0, 90.0 * pole)
        x, y = float(x), float(y)
        if math.isfinite(x) and math.isfinite(y):
            col, row = pixel_to_native(inverse, x, y)
            out[pole] = (float(col), float(row))
        else:
            out[pole] = None
    return out


def _ring_lonlat_region(ring, step: float, tr: LonLatTransformer, transform, poles) -> shapely.Geometry:
    """The lon/lat region bounded by one pixel-space ring, normalised to [-180, 180]."""
    dense = shapely.segmentize(ring, step)
    col, row = np.asarray(dense.coords).T
    lon, lat = tr(*pixel_to_native(transform, col, row))
    pole = None
    ring_poly = Polygon(ring)
    for p, px in poles.items():
        if px is not None and ring_poly.contains(shapely.Point(px)):
            pole = p
            break
    lon, lat = _split_pole_vertices(lon, lat)
    region = ring_region(lon, lat, pole)
    return normalise(region) if region is not None else Polygon()


def _split_pole_vertices(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A lone vertex exactly on a pole has no longitude: replace it by the pole at both neighbours' longitudes."""
    at_pole = np.abs(lat) >= 90.0 - 1e-9
    if not at_pole.any() or at_pole.all():
        return lon, lat
    out_lon, out_lat = [], []
    n = len(lon)
    for i in range(n):
        prev, nxt = (i - 1) % n, (i + 1) % n
        if at_pole[i] and not at_pole[prev] and not at_pole[nxt]:
            out_lon += [lon[prev], lon[nxt]]
            out_lat += [lat[i], lat[i]]
        else:
            out_lon.append(lon[i])
            out_lat.append(lat[i])
    return np.asarray(out_lon), np.asarray(out_lat)


def georeference_footprint(ds, band: int = 1, nodata: float | None = None) -> tuple[MultiPolygon | None, str | None]:
    """(footprint, note) traced from the valid pixels of a georeferenced image.

    Raises NotInvertible when PROJ cannot take the CRS back to lon/lat.
    """
    tr = LonLatTransformer(ds.crs.to_wkt())
    transform = ds.transform
    clon, clat = tr(*pixel_to_native(transform, [ds.width / 2.0], [ds.height / 2.0]))
    if not (np.isfinite(clon[0]) and np.isfinite(clat[0])):
        raise NotInvertible(f"PROJ returns no lon/lat for the image centre in the CRS {tr.crs.name!r}")

    mask, sx, sy = validity_mask(ds, band, nodata=nodata)
    if not mask.any():
        return None, f"band {band} has no valid pixel"
    pixel_polys, factor = simple_outline(mask, sx, sy, ds)
    step = max(ds.width, ds.height) / EDGE_SEGMENTS
    poles = _pole_pixels(tr, transform)

    regions = []
    for poly in pixel_polys:
        region = _ring_lonlat_region(poly.exterior, step, tr, transform, poles)
        holes = [_ring_lonlat_region(r, step, tr, transform, poles) for r in poly.interiors]
        if holes:
            region = region.difference(shapely.union_all(holes))
        if not region.is_empty:
            regions.append(region)
    geom = shapely.union_all(regions) if regions else Polygon()
    geom = cover_pole_gaps(geom, pixel_size_degrees(transform, tr.crs))
    geom = clean(geom)
    if geom is None:
        return None, "the valid pixels do not map to any area on the body"
    note = None
    if factor > 1:
        note = (f"the valid-pixel mask was too fragmented to outline pixel by pixel; traced at 1/"
                f"{max(sx, sy) * factor:.3g} resolution (a cell counts as valid when any of its pixels is)")
    elif sx > 1.0 or sy > 1.0:
        note = f"traced on the validity mask read at 1/{max(sx, sy):.3g} resolution"
    return geom, note
