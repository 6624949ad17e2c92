"""Terrain for camera rays: heights above the body's ellipsoid from any DEM rasterio opens (``camera.dem``).

The DEM may be in the body's lon/lat or any projection PROJ inverts (ISIS map-projected DEMs, GeoTIFFs). Its
values, after the file's scale and offset (an ISIS cube's ``Base``/``Multiplier``), are metres; a DEM whose
median value exceeds half the body's radius holds radii from the centre (ISIS DEMs such as ``ldem_4``),
anything else holds heights above the ellipsoid. The band is read once per worker process, at most
``MAX_SIDE`` pixels a side (a larger DEM is read decimated), and sampled bilinearly; NaN off the DEM or
where it has no data.
"""
from __future__ import annotations

import functools
import os

import numpy as np
import rasterio
from rasterio.enums import Resampling

from ..errors import ConfigError
from .lonlat import LonLatTransformer, NotInvertible

MAX_SIDE = 8192


class DemSampler:
    def __init__(self, path: str, body_radius_km: float):
        try:
            ds = rasterio.open(path)
        except rasterio.errors.RasterioIOError as exc:
            raise ConfigError(f"camera.dem: {path} cannot be opened as a raster: {exc}") from None
        with ds:
            if ds.crs is None or ds.transform.is_identity:
                raise ConfigError(f"camera.dem: {path} has no georeferencing (a CRS and a geotransform)")
            try:
                self.tr = LonLatTransformer(ds.crs.to_wkt())
            except NotInvertible as exc:
                raise ConfigError(f"camera.dem: {path}: {exc}") from None
            factor = max(1, int(np.ceil(max(ds.width, ds.height) / MAX_SIDE)))
            shape = (max(1, ds.height // factor), max(1, ds.width // factor))
            data = ds.read(1, out_shape=shape, masked=True, resampling=Resampling.average).astype(np.float64)
            self.values = data.filled(np.nan) * ds.scales[0] + ds.offsets[0]
            self.inverse = ~(ds.transform @ ds.transform.scale(ds.width / shape[1], ds.height / shape[0]))
        self.path = path
        median = np.nanmedian(self.values) if np.isfinite(self.values).any() else 0.0
        self.is_radius = bool(median > 0.5 * body_radius_km * 1000.0)

    def height_km(self, lon, lat, ellipsoid_radius_km) -> np.ndarray:
        """Height (km) of the terrain above the ellipsoid at planetocentric lon/lat."""
        lon, lat = np.asarray(lon, float), np.asarray(lat, float)
        if self.tr._ab is not None:                      # the DEM's CRS uses geodetic latitude
            a, b = self.tr._ab
            lat = np.degrees(np.arctan(np.tan(np.radians(lat)) * (a / b) ** 2))
        x, y = self.tr.native(lon, lat)
        col, row = self.inverse @ (x, y)
        value = _bilinear(self.values, np.asarray(col) - 0.5, np.asarray(row) - 0.5)
        return value / 1000.0 - ellipsoid_radius_km if self.is_radius else value / 1000.0


def _bilinear(grid: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``grid`` at pixel-centre coordinates; NaN outside or next to no-data."""
    h, w = grid.shape
    ok = np.isfinite(col) & np.isfinite(row) & (col >= -0.5) & (col <= w - 0.5) & (row >= -0.5) & (row <= h - 0.5)
    c = np.clip(np.where(ok, col, 0.0), 0, w - 1)
    r = np.clip(np.where(ok, row, 0.0), 0, h - 1)
    c0, r0 = np.minimum(np.floor(c).astype(int), max(w - 2, 0)), np.minimum(np.floor(r).astype(int), max(h - 2, 0))
    c1, r1 = np.minimum(c0 + 1, w - 1), np.minimum(r0 + 1, h - 1)
    fc, fr = c - c0, r - r0
    out = (grid[r0, c0] * (1 - fc) * (1 - fr) + grid[r0, c1] * fc * (1 - fr)
           + grid[r1, c0] * (1 - fc) * fr + grid[r1, c1] * fc * fr)
    return np.where(ok, out, np.nan)


@functools.lru_cache(maxsize=4)
def _cached(real: str, _mtime: int, body_radius_km: float) -> DemSampler:
    return DemSampler(real, body_radius_km)


def dem_sampler(path: str | None, body_radius_km: float) -> DemSampler | None:
    """The (per-process cached) sampler of the DEM at ``path``; None when no DEM is configured."""
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ConfigError(f"camera.dem: {path} cannot be read: {exc.strerror}; set camera.dem to an existing "
                          f"raster or to null") from None
    return _cached(os.path.realpath(path), st.st_mtime_ns, float(body_radius_km))
