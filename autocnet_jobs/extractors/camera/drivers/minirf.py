"""LRO Mini-RF (SAR), following ISIS ``MiniRF`` (isis/src/lro/objs/MiniRF/MiniRF.cpp with base/objs/Radar*Map.cpp)
and ALE's LroMiniRf drivers where ALE agrees with ISIS; its start is ISIS's StartTime (ALE's is one line earlier).
Checked against ISIS's FunctionalTestPhocubeMiniRF (tests/test_drivers_lro.py).
"""
from __future__ import annotations

import re

from ...isis_tables import numbers
from .base import MissingConstant, utc_to_et
from .lro import _Lro

# --- Mini-RF -------------------------------------------------------------------------------------------------------
_RANGE_SET = re.compile(r'\(\s*"?([^",()]+?)"?\s*,\s*([^,()]+),\s*([^,()]+),\s*([^,()]+),\s*([^,()]+)\)')
LIGHT_SPEED_KM_S = 299792.458       # SPICE clight


class LroMiniRf(_Lro):
    """Mini-RF: a synthetic aperture radar; a line is a time, a sample a ground range (ISIS MiniRF.cpp with
    RadarPulseMap, RadarGroundRangeMap, RadarSlantRangeMap; ALE LroMiniRfIsisLabelNaifSpiceDriver)."""

    instruments = ("MRFLRO",)
    model = "sar"
    source = "ISIS MiniRF.cpp; ALE LroMiniRfIsisLabelNaifSpiceDriver"

    @property
    def sensor_name(self) -> str:
        return self.instrument("InstrumentName") or "MINI-RF LRO"

    @property
    def line_exposure_duration(self) -> float:
        if self.instrument("LineExposureDuration") is None:
            raise MissingConstant("Instrument LineExposureDuration")
        return numbers(self.instrument("LineExposureDuration"))[0]          # seconds here (ALE, ISIS)

    @property
    def wavelength(self) -> float:
        # metres; the label's Frequency is in MHz whatever its unit says (ALE: clight / frequency / 1000)
        return LIGHT_SPEED_KM_S / numbers(self.instrument("Frequency"))[0] / 1000.0

    @property
    def scaled_pixel_width(self) -> float:
        return numbers(self.instrument("ScaledPixelHeight"))[0]      # metres of ground range per sample

    @property
    def range_conversion(self) -> tuple[list[float], list[list[float]]]:
        """(ephemeris times, [a0..a3] per time): slant range = a0 + a1 g + a2 g^2 + a3 g^3 of ground range g."""
        rows = _RANGE_SET.findall(self.instrument("RangeCoefficientSet") or "")
        if not rows:
            raise MissingConstant("Instrument RangeCoefficientSet")
        return [utc_to_et(r[0]) for r in rows], [[float(v) for v in r[1:]] for r in rows]

    @property
    def ephemeris_start_time(self) -> float:
        # RadarPulseMap: line L (1-based) at StartTime + (L - 1) rate, i.e. usgscsm's start + (line - 0.5) rate
        # with start = StartTime. ALE starts one line earlier (StartTime - rate): one line off ISIS.
        return utc_to_et(self.instrument("StartTime") or "")

    def timing(self) -> dict:
        start, rate = self.ephemeris_start_time, self.line_exposure_duration
        end = start + (self.image_lines + 1) * rate       # MiniRF.cpp's etEnd
        times, coefficients = self.range_conversion
        return {"starting_ephemeris_time": start, "ending_ephemeris_time": end,
                "center_ephemeris_time": (start + end) / 2.0, "wavelength": self.wavelength,
                "line_exposure_duration": rate, "scaled_pixel_width": self.scaled_pixel_width,
                "range_conversion_times": times, "range_conversion_coefficients": coefficients,
                "look_direction": (self.instrument("LookDirection") or "RIGHT").lower()}

    def fold_alpha(self, isd: dict) -> dict:
        """A crop or reduction: lines move and scale the time, samples the ground range, whose offset the
        slant range polynomials absorb (re-expanded about the new origin)."""
        alpha = self.cube.alpha
        lines, samples, _ = self.cube.dimensions
        isd["image_lines"], isd["image_samples"] = lines, samples
        if not alpha:
            return isd
        ks, kl = self.cube.alpha_scales()
        rate, width = isd["line_exposure_duration"], isd["scaled_pixel_width"]
        # original 1-based line l0 + kl x (CSM line) at StartTime + (that - 1) rate
        start = isd["starting_ephemeris_time"] + rate * (alpha["starting_line"] - 1.0 + 0.5 * kl)
        rate *= kl
        # ground range = width (original 1-based sample - 1) = new width (sample - 0.5) + g0
        g0 = width * (alpha["starting_sample"] - 1.0 + 0.5 * ks)
        shifted = [[a0 + g0 * (a1 + g0 * (a2 + g0 * a3)), a1 + g0 * (2 * a2 + 3 * a3 * g0), a2 + 3 * a3 * g0, a3]
                   for a0, a1, a2, a3 in isd["range_conversion_coefficients"]]
        end = start + (lines + 1) * rate
        isd.update({"starting_ephemeris_time": start, "ending_ephemeris_time": end,
                    "center_ephemeris_time": (start + end) / 2.0, "line_exposure_duration": rate,
                    "scaled_pixel_width": width * ks, "range_conversion_coefficients": shifted})
        return isd
