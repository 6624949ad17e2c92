"""A sensor model seen with the package's conventions, on the ellipsoid or a DEM.

The generic models speak CSM: (line, sample) with (0.5, 0.5) the centre of the first pixel, body-fixed metres.
Footprints, keypoint lon/lat and viewing angles speak the package's: 0-based pixel centres (OpenCV's), lon/lat
in degrees (planetocentric, east-positive, [-180, 180]). :class:`GroundModel` is the one place that converts,
and the one place a DEM (``camera.dem``) enters: a ray meets the terrain by raising the ellipsoid to the DEM's
height under the current intersection until the height settles.
"""
from __future__ import annotations

import numpy as np

from . import sensor_model
from .geometry import (
    ecef_to_lonlat,
    ellipsoid_intersect,
    lonlat_to_ecef,
    spheroid_radius,
    triaxial_intersect,
    triaxial_radius,
)

CSM_OFFSET = 0.5              # CSM coordinate of a 0-based pixel centre: index + 0.5
DEM_ITERATIONS = 30
DEM_TOLERANCE_M = 0.1
VISIBLE_TOLERANCE = 1e-3      # a ground point is seen when its pixel's ray returns within this fraction of a radius


class GroundModel:
    def __init__(self, isd: dict, dem=None):
        self.isd = isd
        self.model = sensor_model(isd)
        self.dem = dem                                  # a ..dem.DemSampler or None (the ellipsoid)
        self.a, self.c = float(self.model.semi_major), float(self.model.semi_minor)
        # A cube cropped inside a push frame's framelet has the ISD of whole framelets around it, and the crop:
        # cube line l is ISD line l + line_offset (cameras.camera_model; usgscsm ignores the key).
        crop = isd.get("image_crop") or {}
        self.line_offset = float(crop.get("line_offset", 0.0))
        self.crop_lines = crop.get("lines")
        # A triaxial body (a driver records the middle radius as radii.intermediate) is met on all three radii,
        # as ISIS does; the generic models themselves, like usgscsm's, know a spheroid only.
        radii = isd.get("radii", {})
        self.triaxial = None
        if radii.get("intermediate") is not None and self.dem is None:
            scale = self.a / float(radii["semimajor"])
            self.triaxial = (self.a, float(radii["intermediate"]) * scale, self.c)

    def size(self) -> tuple[int, int]:
        return int(self.crop_lines or self.model.lines), int(self.model.samples)

    def _csm(self, line, sample) -> tuple[np.ndarray, np.ndarray]:
        return (np.ravel(np.asarray(line, float)) + CSM_OFFSET + self.line_offset,
                np.ravel(np.asarray(sample, float)) + CSM_OFFSET)

    def _height(self, points: np.ndarray) -> np.ndarray:
        """DEM height (m) above the ellipsoid under body-fixed points (0 where the DEM has none)."""
        lon, lat, _ = ecef_to_lonlat(points)
        h = self.dem.height_km(lon, lat, spheroid_radius(lat, self.a, self.c) / 1000.0) * 1000.0
        return np.where(np.isfinite(h), h, 0.0)

    def ground_points(self, line, sample) -> np.ndarray:
        """(N, 3) body-fixed metres where 0-based pixels' rays meet the ellipsoid (or the DEM); NaN on a miss."""
        cl, cs = self._csm(line, sample)
        if self.triaxial is not None:
            return triaxial_intersect(*self.model.image_to_remote_imaging_locus(cl, cs), self.triaxial)
        if self.dem is None:
            return self.model.image_to_ground(cl, cs, 0.0)
        origin, direction = self.model.image_to_remote_imaging_locus(cl, cs)
        points = ellipsoid_intersect(origin, direction, self.a, self.c, 0.0)
        height = np.zeros(len(points))
        for _ in range(DEM_ITERATIONS):
            hit = np.isfinite(points[:, 0])
            if not hit.any():
                break
            new = self._height(points[hit])
            change = np.abs(new - height[hit]).max()
            height[hit] = new
            points[hit] = ellipsoid_intersect(origin[hit], direction[hit], self.a, self.c, new)
            if change < DEM_TOLERANCE_M:
                break
        return points

    def image_to_ground(self, line, sample) -> tuple[np.ndarray, np.ndarray]:
        """(lon, lat) in degrees of 0-based pixel centres; NaN where the ray misses the body."""
        lon, lat, _ = ecef_to_lonlat(self.ground_points(line, sample))
        return lon, lat

    def surface_points(self, lon, lat) -> np.ndarray:
        lon, lat = np.ravel(np.asarray(lon, float)), np.ravel(np.asarray(lat, float))
        if self.triaxial is not None:
            return lonlat_to_ecef(lon, lat, triaxial_radius(lon, lat, self.triaxial))
        radius = spheroid_radius(lat, self.a, self.c)
        points = lonlat_to_ecef(lon, lat, radius)
        if self.dem is not None:
            radius = radius + self._height(points)
            points = lonlat_to_ecef(lon, lat, radius)
        return points

    def ground_to_image(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """(line, sample), 0-based, of ground points; NaN where the camera does not see them (outside the
        model's reach, or hidden behind the body: the pixel's own ray must come back to the point)."""
        points = self.surface_points(lon, lat)
        cl, cs = self.model.ground_to_image(points)
        back = self.ground_points(cl - CSM_OFFSET - self.line_offset, cs - CSM_OFFSET)
        seen = np.linalg.norm(back - points, axis=1) < VISIBLE_TOLERANCE * self.a
        return (np.where(seen, cl - CSM_OFFSET - self.line_offset, np.nan),
                np.where(seen, cs - CSM_OFFSET, np.nan))

    def look(self, line, sample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ray origins in m, unit look directions, times) of 0-based pixels."""
        cl, cs = self._csm(line, sample)
        origin, direction = self.model.image_to_remote_imaging_locus(cl, cs)
        return origin, direction, self.model.image_time(cl, cs)

    def sun_position(self, line, sample) -> np.ndarray:
        return self.model.sun_position(*self._csm(line, sample))

    def ground_sample_distance(self, grid: int = 9) -> tuple[float, float]:
        """(across-line, along-line) metres per pixel, area-equivalent: the mean spacings between neighbouring
        pixels' ground points over a grid x grid of image points whose rays meet the body, scaled so that their
        product is the mean ground area of a pixel there. So pixels x across x along is the footprint's area even
        where the pixel's ground size changes across the image (an oblique view of a small body: no one GSD
        describes it, and the product of mean spacings understates the mean area); NaN when no ray meets it."""
        lines, samples = self.size()
        fl, fs = np.meshgrid((np.arange(grid) + 0.5) / grid, (np.arange(grid) + 0.5) / grid)
        cl, cs = fl.ravel() * (lines - 1), fs.ravel() * (samples - 1)
        p = self.ground_points(np.concatenate([cl, cl, cl + 1.0]), np.concatenate([cs, cs + 1.0, cs]))
        n = len(cl)
        d_sample, d_line = p[n:2 * n] - p[:n], p[2 * n:] - p[:n]
        across, along = np.linalg.norm(d_sample, axis=1), np.linalg.norm(d_line, axis=1)
        area = np.linalg.norm(np.cross(d_sample, d_line), axis=1)
        ok = np.isfinite(area)
        if not ok.any():
            return float("nan"), float("nan")
        across_m, along_m = across[ok].mean(), along[ok].mean()
        scale = np.sqrt(area[ok].mean() / (across_m * along_m))
        return float(across_m * scale), float(along_m * scale)
