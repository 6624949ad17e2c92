"""From an image's native CRS to the lon/lat footprints and keypoints are stored in (degrees, east-positive).

For every body but Earth that is planetocentric latitude (the IAU/USGS convention). The geographic CRS is the
native CRS's own ``geodetic_crs`` (for a projected CRS the base geographic CRS, so only the inverse projection
runs, never a datum shift). When that geographic CRS is on an ellipsoid that is not a sphere, PROJ returns
planetographic (geodetic) latitude; it is converted to planetocentric with ``tan(lat_c) = (b/a)^2 tan(lat_g)``.
On a sphere (as ISIS writes its maps: ``Mars_localRadius``, ...) the two are the same.

Earth (:func:`.bodies.is_earth`) is stored in geodetic WGS84, EPSG:4326, as GeoJSON and every Earth tool expect:
PROJ takes the native CRS there directly, datum shift included (NAD27, ETRS89, ... to WGS84).

Longitude is wrapped to [-180, 180]; a latitude a map places beyond a pole (a global equirectangular map whose
last row overhangs the pole) is clamped to the pole.
"""
from __future__ import annotations

import numpy as np
import pyproj
import shapely
from affine import Affine
from pyproj.exceptions import CRSError, ProjError

from .bodies import EARTH_CODE, is_earth


class NotInvertible(ValueError):
    """PROJ cannot turn this CRS's coordinates back into lon/lat (the message says why)."""


def geographic_crs(crs: pyproj.CRS) -> pyproj.CRS:
    """The geographic CRS whose lon/lat the native CRS is built on."""
    geo = crs.geodetic_crs
    if geo is None:
        raise NotInvertible(f"the CRS {crs.name!r} has no geodetic CRS (an engineering or local CRS)")
    return geo


def _scale_factor_problem(crs: pyproj.CRS) -> str | None:
    conv = crs.coordinate_operation
    for p in getattr(conv, "params", None) or []:
        if "scale factor" in p.name.lower() and p.value == 0:
            return f"its {p.name} is 0"
    return None


def ocentric_latitude(lat: np.ndarray, a: float, b: float) -> np.ndarray:
    """Planetocentric latitude (degrees) from planetographic (geodetic) latitude on an ellipsoid a, b."""
    if a == b:
        return lat
    rad = np.radians(lat)
    return np.degrees(np.arctan2((b / a) ** 2 * np.sin(rad), np.cos(rad)))


def wrap_longitude(lon: np.ndarray) -> np.ndarray:
    """Longitude wrapped to [-180, 180] (180 stays 180, -180 stays -180)."""
    lon = np.asarray(lon, dtype=float)
    out = (lon + 180.0) % 360.0 - 180.0
    return np.where((out == -180.0) & (lon > 0), 180.0, out)


class LonLatTransformer:
    """Native CRS coordinates -> stored (lon, lat) degrees (module docstring); raises NotInvertible up front."""

    def __init__(self, crs_wkt: str):
        try:
            self.crs = pyproj.CRS.from_wkt(crs_wkt)
        except CRSError as exc:
            raise NotInvertible(f"PROJ cannot read the CRS: {exc}") from None
        self.geographic = geographic_crs(self.crs)
        self.earth = is_earth(self.crs)
        if self.earth:
            self.geographic = pyproj.CRS.from_user_input(EARTH_CODE)
        reason = _scale_factor_problem(self.crs)
        try:
            self._to_geo = pyproj.Transformer.from_crs(self.crs, self.geographic, always_xy=True)
        except ProjError as exc:
            why = str(exc).split("(Internal Proj Error:")[-1].strip(" )")
            raise NotInvertible(f"PROJ cannot invert the CRS {self.crs.name!r}"
                                f"{' (' + reason + ')' if reason else ''}: {why}") from None
        if reason:
            raise NotInvertible(f"PROJ cannot invert the CRS {self.crs.name!r}: {reason}")
        ell = self.geographic.ellipsoid
        spherical_cs = self.geographic.coordinate_system is not None and \
            self.geographic.coordinate_system.name == "spherical"
        self._ab = None
        if not self.earth and ell is not None and not spherical_cs and ell.semi_minor_metre != ell.semi_major_metre:
            self._ab = (ell.semi_major_metre, ell.semi_minor_metre)

    def __call__(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """lon, lat for native coordinates x, y (arrays); NaN where PROJ has no answer."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        lon, lat = self._to_geo.transform(x, y, errcheck=False)
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        bad = ~(np.isfinite(lon) & np.isfinite(lat))
        lat = np.clip(lat, -90.0, 90.0)
        if self._ab is not None:
            lat = ocentric_latitude(lat, *self._ab)
        lon = wrap_longitude(lon)
        lon[bad] = np.nan
        lat[bad] = np.nan
        return lon, lat

    def native(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Native coordinates of geographic lon/lat (in the geographic CRS's own latitude); inf where none."""
        x, y = self._to_geo.transform(np.asarray(lon, float), np.asarray(lat, float), direction="INVERSE",
                                      errcheck=False)
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def pixel_to_native(transform: Affine, col, row) -> tuple[np.ndarray, np.ndarray]:
    """GDAL affine: (col, row) with (0, 0) the top-left corner of the top-left pixel -> native x, y."""
    a, b, c, d, e, f = tuple(transform)[:6]
    col = np.asarray(col, dtype=float)
    row = np.asarray(row, dtype=float)
    return a * col + b * row + c, d * col + e * row + f


def is_georeferenced(ds) -> bool:
    """True when the dataset has a CRS and a real (non-identity) geotransform."""
    return ds.crs is not None and not ds.transform.is_identity


def pixel_size_degrees(transform: Affine, crs: pyproj.CRS) -> float:
    """Rough angular size of one pixel on the body (degrees), for tolerances."""
    side = abs(transform.a * transform.e - transform.b * transform.d) ** 0.5
    if crs.is_geographic:
        return side
    unit = 1.0
    try:
        unit = crs.axis_info[0].unit_conversion_factor or 1.0
    except (IndexError, AttributeError):
        pass
    a = crs.ellipsoid.semi_major_metre if crs.ellipsoid else 6378137.0
    return float(np.degrees(side * unit / a))


def earth_ocentric_to_wgs84(geom, crs_wkt: str | None):
    """An Earth footprint as catalogue schema version 3 stored it, in geodetic WGS84 (EPSG:4326).

    Version 3 took the image's CRS to its own geographic CRS and made the latitude planetocentric on that CRS's
    ellipsoid; this undoes the second step on the same ellipsoid, then lets PROJ take that geographic CRS to
    WGS84 (the identity for a WGS84 image, a datum shift otherwise). Without a CRS (an ISIS polygon) the
    latitude is taken as planetocentric on WGS84. Longitudes of ±180 (antimeridian cuts) stay ±180.
    """
    native = pyproj.CRS.from_user_input(EARTH_CODE)
    if crs_wkt:
        try:
            native = geographic_crs(pyproj.CRS.from_wkt(crs_wkt))
        except (CRSError, NotInvertible):
            pass
    a, b = native.ellipsoid.semi_major_metre, native.ellipsoid.semi_minor_metre
    to_wgs84 = pyproj.Transformer.from_crs(native, EARTH_CODE, always_xy=True)

    def convert(coords: np.ndarray) -> np.ndarray:
        lon, latc = coords[:, 0], np.radians(coords[:, 1])
        latg = np.degrees(np.arctan2(np.sin(latc), (b / a) ** 2 * np.cos(latc)))
        x, y = to_wgs84.transform(lon, latg, errcheck=True)
        x = np.where(np.abs(lon) == 180.0, lon, wrap_longitude(x))
        return np.column_stack([x, np.clip(y, -90.0, 90.0)])

    return shapely.transform(geom, convert)
