"""Mars Odyssey THEMIS IR: a 320 x 240 detector read as ten filter stripes, each band a line scanner.

Follows ISIS ``isis/src/odyssey/objs/ThemisIrCamera/ThemisIrCamera.cpp`` and ``ThemisIrDistortionMap.cpp``
(Duxbury's model, Kirk's April 2009 empirical offsets), the truth for an ISIS cube. ALE's
``OdyThemisIrIsisLabelNaifSpiceDriver`` agrees on the times but puts the sample origin at 160.5 with no band line
offset and uses a ``themisir`` distortion that usgscsm (ba32d13b) does not have. ThemisIrDistortionMap
(x = k ux, y = (1 + a1) uy + a2 uy^2) is exactly usgscsm's ``transverse`` with those three coefficients, so no
accuracy is lost. THEMIS VIS (a push frame with its own IR-pixel distortion) has no driver yet: no test cube.
"""
from __future__ import annotations

from ...isis_tables import numbers
from .base import MissingConstant
from .level1 import Level1

# ISIS ThemisIrCamera.cpp / ThemisIrDistortionMap.cpp, per filter 1..10 (moved here from extractors/instruments.py)
THEMIS_IR = {
    "focal_length": 203.9213,            # mm, SetFocalLength
    "line_rate": 33.2871e-3,             # s per line at SpatialSumming 1 (Duxbury, 30.0417 lines/s)
    "boresight_sample": 160.5,           # ISIS detector origin (1-based pixel centres)
    "boresight_line": 120.5,
    "band_detector_line_tdi": (8.5, 24.5, 50.5, 76.5, 102.5, 128.5, 154.5, 180.5, 205.5, 231.5),
    "band_detector_line_no_tdi": (9, 24, 52, 77, 102, 129, 155, 181, 206, 232),
    "empirical_line_offset": (-0.076, -0.098, -0.089, -0.022, 0.0, -0.020, -0.005, -0.069, 0.025, 0.0),
    "empirical_sample_offset": (0.021, 0.027, 0.005, 0.005, 0.0, -0.007, -0.012, -0.039, -0.045, 0.0),
    "distortion_k": (0.996005, 0.995358, 0.994260, 0.993290, 0.992389,
                     0.991474, 0.990505, 0.989611, 0.988653, 0.9877),
    "distortion_alpha1": 0.00447623,
    "distortion_alpha2": 0.00107556,
}


def themis_ir_transverse(band_filter: int) -> dict:
    """ThemisIrDistortionMap for filter 1..10 as usgscsm transverse coefficients (undistorted -> distorted).

    Terms are usgscsm's order (1, x, y, x^2, xy, y^2, x^3, x^2 y, x y^2, y^3).
    """
    c = THEMIS_IR
    x = [0.0] * 10
    y = [0.0] * 10
    x[1] = c["distortion_k"][band_filter - 1]
    y[2] = 1.0 + c["distortion_alpha1"]
    y[5] = c["distortion_alpha2"]
    return {"transverse": {"x": x, "y": y}}


class OdyThemisIr(Level1):
    """THEMIS IR, one cube band at a time (its filter sets the detector line, time offset and distortion)."""

    spacecraft = ("MARS_ODYSSEY", "MARS ODYSSEY")
    instruments = ("THEMIS_IR",)
    model = "line_scan"
    source = "ISIS ThemisIrCamera.cpp, ThemisIrDistortionMap.cpp; ALE OdyThemisIrIsisLabelNaifSpiceDriver"

    @property
    def sensor_name(self) -> str:
        return "THEMIS_IR"

    @property
    def band_filter(self) -> int:
        """The physical filter (1..10) of the cube band: ReferenceBand when bands were aligned, else FilterNumber."""
        ref = self.instrument("ReferenceBand")
        if ref is not None:
            filt = int(numbers(ref)[0])
        else:
            block = self.cube.group("BandBin")
            filters = numbers(block.get("FilterNumber")) if block is not None and block.get("FilterNumber") else []
            if not 1 <= self.band <= len(filters):
                raise MissingConstant(f"BandBin FilterNumber for band {self.band}")
            filt = int(filters[self.band - 1])
        if not 1 <= filt <= 10:
            raise MissingConstant(f"THEMIS IR constants for filter {filt} (1..10 exist)")
        return filt

    @property
    def sample_summing(self) -> float:
        return float(numbers(self.instrument("SpatialSumming") or "1")[0])

    @property
    def tdi(self) -> bool:
        return (self.instrument("TimeDelayIntegration") or "").upper() == "ENABLED"

    @property
    def band_detector_line(self) -> float:
        key = "band_detector_line_tdi" if self.tdi else "band_detector_line_no_tdi"
        return float(THEMIS_IR[key][self.band_filter - 1])

    @property
    def line_exposure_duration(self) -> float:
        return THEMIS_IR["line_rate"] * self.sample_summing

    @property
    def ephemeris_start_time(self) -> float:
        # the clock plus thm2isis's offset (random timing errors of up to four lines), then the band's detector
        # line's delay: (line - 0.5) unsummed lines (top edge of the line)
        offset_text = self.instrument("SpacecraftClockOffset") or "0"
        offset = numbers(offset_text)[0]
        if "<" in offset_text and "ms" in offset_text.split("<", 1)[1].lower():
            offset *= 1.0e-3
        return (super().ephemeris_start_time + offset
                + (self.band_detector_line - 0.5) * THEMIS_IR["line_rate"])

    @property
    def focal_length(self) -> float:
        return THEMIS_IR["focal_length"]

    @property
    def detector_center_sample(self) -> float:
        f = self.band_filter - 1
        return THEMIS_IR["boresight_sample"] - THEMIS_IR["empirical_sample_offset"][f] - 0.5

    @property
    def detector_center_line(self) -> float:
        return 0.0

    @property
    def detector_start_line(self) -> float:
        # ISIS SetDetectorOffset(0, alongtrack): the band's centred detector line (origin line 0)
        f = self.band_filter - 1
        return THEMIS_IR["boresight_line"] - self.band_detector_line + THEMIS_IR["empirical_line_offset"][f]

    @property
    def distortion(self) -> dict:
        return themis_ir_transverse(self.band_filter)
