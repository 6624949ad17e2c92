"""Apollo 15, 16 and 17 Metric (mapping) camera: scanned film frames.

Follows ISIS ``ApolloMetricCamera`` (isis/src/apollo/objs/ApolloMetricCamera/ApolloMetricCamera.cpp):

* the detector origin is the middle of the scanned frame, (ParentSamples / 2, ParentLines / 2) in ISIS's
  1-based pixels (ALE's ``ApolloMetricIsisLabelNaifSpiceDriver`` takes the BORESIGHT vector's first two
  components, 0 and 0, instead; we keep ISIS's);
* the camera looks down its -Z axis: ``ApolloMetricDistortionMap`` is built with zDirection -1, so ISIS's
  look is (ux, uy, -f). usgscsm's is (ux, uy, focal_length); usgscsm would take focal_length = -f, but this
  package's frame model calls every point with camera z <= 0 "behind the camera". So the ISD's sensor frame is
  the A15_METRIC frame turned half a turn about x (y' = -y, z' = -z): ``constant_rotation`` is premultiplied
  by diag(1, -1, -1), the y column of ``focal2pixel`` changes sign and the focal length stays +f. ISIS's
  look (ux, uy, -f) is (ux, -uy, f) in the turned frame; image <-> ground are unchanged;
* the frame's time is the label's StartTime (ISIS setTime(StartTime)); the pointing table is cached there.

Distortion: ``ApolloMetricDistortionMap`` removes a radial term to r^6 about the principal point
(INS_PP = xp, yp) and a decentering term (INS_DECENTER = j1, j2, t0). The principal point is exact in usgscsm
terms, so it moves the ISD's detector centre (ISIS's origin plus ITRANS . PP). The rest has no usgscsm
equivalent: usgscsm's radial stops at r^4 and a least-squares ``radial`` or cubic ``transverse`` is worse
than none over the frame (17 and 13 px). So, as ALE (NoDistortion), the ISD has none: that leaves up to
10.5 px (0.05 mm) at the frame's edges, about 9 px across AS15-M-0297_crop's sample band.
"""
from __future__ import annotations

import numpy as np

from .base import utc_to_et
from .framing import IsisFramingDriver

HALF_TURN_X = (1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0)     # diag(1, -1, -1), row-major


class ApolloMetric(IsisFramingDriver):
    """Apollo Metric camera (ISIS ApolloMetricCamera)."""

    spacecraft = ("APOLLO 15", "APOLLO 16", "APOLLO 17", "APOLLO15", "APOLLO16", "APOLLO17")
    instruments = ("METRIC",)
    source = "ISIS isis/src/apollo/objs/ApolloMetricCamera (ApolloMetricCamera.cpp, ApolloMetricDistortionMap.cpp)"

    @property
    def sensor_name(self) -> str:
        return "APOLLO_METRIC"                          # ALE ApolloMetricIsisLabelNaifSpiceDriver.instrument_id

    def spice(self) -> dict:
        """The SPICE parts, the sensor frame turned half a turn about x (module doc)."""
        parts = super().spice()
        pointing = parts["instrument_pointing"]
        frames = pointing["time_dependent_frames"]
        rotation = np.asarray(pointing.get("constant_rotation", np.eye(3).ravel()), float).reshape(3, 3)
        pointing["constant_frames"] = pointing.get("constant_frames", [frames[0]])
        pointing["constant_rotation"] = (np.reshape(HALF_TURN_X, (3, 3)) @ rotation).ravel().tolist()
        return parts

    @property
    def focal2pixel_samples(self) -> list[float]:
        t0, t1, t2 = self.naif.values("INS{ik}_ITRANSS", 3)[:3]
        return [t0, t1, -t2]                            # y' = -y in the turned frame

    @property
    def focal2pixel_lines(self) -> list[float]:
        t0, t1, t2 = self.naif.values("INS{ik}_ITRANSL", 3)[:3]
        return [t0, t1, -t2]

    @property
    def sample_summing(self) -> float:
        return 1.0

    @property
    def ephemeris_start_time(self) -> float:
        return utc_to_et(self.instrument("StartTime"))

    @property
    def exposure_duration(self) -> float:
        return 0.0                                      # ISIS sets the frame at StartTime itself

    def _principal_point_pixels(self) -> tuple[float, float]:
        """ITRANS . (xp, yp): the principal point's offset from the origin in (sample, line) pixels."""
        xp, yp = self.naif.values("INS{ik}_PP", 2)[:2]          # in the A15_METRIC (unturned) frame
        ts, tl = self.naif.values("INS{ik}_ITRANSS", 3), self.naif.values("INS{ik}_ITRANSL", 3)
        return ts[1] * xp + ts[2] * yp, tl[1] * xp + tl[2] * yp

    @property
    def detector_center_sample(self) -> float:
        return self.image_samples / 2.0 + self._principal_point_pixels()[0] - 0.5

    @property
    def detector_center_line(self) -> float:
        return self.image_lines / 2.0 + self._principal_point_pixels()[1] - 0.5

    @property
    def distortion(self) -> dict:
        return {"radial": {"coefficients": [0.0, 0.0, 0.0]}}   # see the module doc for what this costs


__all__ = ["ApolloMetric"]
