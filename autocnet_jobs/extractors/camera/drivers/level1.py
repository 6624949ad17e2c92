"""Line scanners whose cube may be map-projected: the ISD of the level-1 image behind it."""
from __future__ import annotations

from .base import Driver


def level1_dimensions(cube) -> tuple[int, int]:
    """(lines, samples) of the level-1 image a cube holds: the AlphaCube's beta cube for a map-projected cube.

    cam2map keeps the level-1 cube's AlphaCube, Instrument group and SPICE tables, so a projected cube still
    describes the camera of the image it was projected from; its pixels are the beta cube's, not the map's.
    """
    alpha = cube.alpha
    if cube.group("Mapping") is not None and alpha:
        return int(alpha["beta_lines"]), int(alpha["beta_samples"])
    return cube.dimensions[0], cube.dimensions[1]


class Level1(Driver):
    """Line scanners: the base fold, sized to the level-1 image (:func:`level1_dimensions`)."""

    def fold_alpha(self, isd: dict) -> dict:
        isd = super().fold_alpha(isd)
        lines, samples = level1_dimensions(self.cube)
        if (lines, samples) != (isd["image_lines"], isd["image_samples"]):
            isd["image_lines"], isd["image_samples"] = lines, samples
            _, _, rate = isd["line_scan_rate"][0]
            isd["center_ephemeris_time"] = isd["starting_ephemeris_time"] + rate * lines / 2.0
            isd["line_scan_rate"] = [[0.5, -rate * lines / 2.0, rate]]
        return isd
