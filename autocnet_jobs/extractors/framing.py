"""Framing cameras: the whole image is one exposure, at ``center_ephemeris_time``.

Detector lines come from image lines exactly as samples do (ISIS CameraDetectorMap), so ground_to_image is
one projection, no search.
"""
from __future__ import annotations

import numpy as np

from .sensor import SensorModel


class FramingModel(SensorModel):
    def times(self, aline: np.ndarray) -> np.ndarray:
        return np.full(np.shape(aline), float(self.camera["center_ephemeris_time"]))

    def detector_line(self, aline: np.ndarray) -> np.ndarray:
        return (aline - 1.0) * self.sum_l + self.sl

    def ground_to_image(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        points = self.surface_points(lon, lat)
        cs, cl = self.project(points, self.times(np.zeros(len(points))))
        aline = (cl + self.centre[1] - self.sl) / self.sum_l + 1.0
        return self._pixel(cs, aline)
