"""Line-scan (pushbroom) cameras: every image line is exposed on one detector line, at its own time.

Times follow ALE's ``line_scan_rate``: rows of (alpha line, seconds from ``center_ephemeris_time``, seconds
per line) where each rate starts to apply, so a constant rate is one row and variable-rate instruments are more.
ISIS's LineScanCameraDetectorMap gives ``t = start + rate * (line - 0.5)`` for a line of the original image.

ground_to_image has to find the time at which the point crossed the detector line: a secant search on the
line, started in the middle of the image, converging in a handful of iterations because the along-track
position of a ground point in the focal plane changes almost linearly with time.
"""
from __future__ import annotations

import numpy as np

from .sensor import SensorModel

MAX_ITERATIONS = 40
TOLERANCE_LINES = 1e-6


class LineScanModel(SensorModel):
    def __init__(self, camera: dict, dem=None):
        super().__init__(camera, dem)
        rates = np.asarray(camera["line_scan_rate"], float).reshape(-1, 3)
        self.rate_lines, self.rate_times, self.rates = rates[:, 0], rates[:, 1], rates[:, 2]
        self.centre_time = float(camera["center_ephemeris_time"])
        self.line_offset = float(camera.get("detector_line_offset", 0.0))

    def times(self, aline: np.ndarray) -> np.ndarray:
        aline = np.asarray(aline, float)
        k = np.clip(np.searchsorted(self.rate_lines, aline, side="right") - 1, 0, len(self.rates) - 1)
        return self.centre_time + self.rate_times[k] + self.rates[k] * (aline - self.rate_lines[k])

    def detector_line(self, aline: np.ndarray) -> np.ndarray:
        return np.full(np.shape(aline), self.line_offset)

    def _residual(self, points: np.ndarray, aline: np.ndarray):
        """(along-track miss in detector lines, centred detector sample) of each point seen at ``aline``."""
        cs, cl = self.project(points, self.times(aline))
        return cl - (self.line_offset - self.centre[1]), cs

    def ground_to_image(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        points = self.surface_points(lon, lat)
        lines, _ = self.size()
        mid = self._to_alpha(np.full(len(points), (lines - 1) / 2.0), np.zeros(len(points)))[0]
        a0, a1 = mid, mid + 1.0
        g0, _ = self._residual(points, a0)
        g1, cs = self._residual(points, a1)
        done = np.zeros(len(points), bool)
        for _ in range(MAX_ITERATIONS):
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = (g1 - g0) / (a1 - a0)
                step = np.where(done, 0.0, -g1 / slope)
            a0, g0 = a1, g1
            a1 = a1 + np.where(np.isfinite(step), step, np.nan)
            g1, cs = self._residual(points, a1)
            done |= np.abs(step) < TOLERANCE_LINES
            if np.all(done | ~np.isfinite(a1)):
                break
        a1 = np.where(done, a1, np.nan)
        return self._pixel(cs, a1)
