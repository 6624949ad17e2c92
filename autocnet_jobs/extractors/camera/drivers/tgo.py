"""ExoMars TGO CaSSIS: framelets (one filter strip each) and framelets stitched into one frame.

Follows ISIS ``TgoCassisCamera`` (isis/src/tgo/objs/TgoCassisCamera/TgoCassisCamera.cpp), which serves both
kinds: a framelet is a crop (AlphaCube) of the 2048 x 2048 detector taken at one time, the stitched image
(tgocassisstitch) the whole detector at the first framelet's time. Boresight (1024.5, 1024.5) as ISIS
origin, the IK's ITRANS, summing ``2 SummingMode`` (0: none), the time the label's UTC StartTime plus half the
exposure (ISIS does not use the clock yet) - and the pointing table is cached there. Naming as ALE's
``TGOCassisIsisLabelNaifSpiceDriver`` (ale/drivers/tgo_drivers.py).

Distortion: ``TgoCassisDistortionMap`` is a ratio of quadratics in the focal plane (OD_A1/A2/A3_DIST
undistorted -> distorted, *_CORR back), which no usgscsm model has. ALE leaves it out (NoDistortion), which is
17.8 px wrong at the CCD's corners. We fit usgscsm's cubic ``transverse`` to OD_A*_DIST over the CCD
(FILTER_SAMPLES x FILTER_LINES) by least squares (osirisrex.fit_transverse): largest difference 0.47 px
from OD_A*_DIST, 0.51 px from ISIS's own inverse (OD_A*_CORR).
"""
from __future__ import annotations

import numpy as np

from .base import utc_to_et
from .framing import IsisFramingDriver
from .osirisrex import fit_transverse


class TgoCassis(IsisFramingDriver):
    """CaSSIS framelets and stitched frames (ISIS TgoCassisCamera + TgoCassisDistortionMap)."""

    spacecraft = ("TRACE GAS ORBITER", "TGO")
    instruments = ("CaSSIS",)
    source = "ISIS isis/src/tgo/objs/TgoCassisCamera (TgoCassisCamera.cpp, TgoCassisDistortionMap.cpp)"

    @property
    def sensor_name(self) -> str:
        return self.instrument("InstrumentId", "CaSSIS")

    @property
    def sample_summing(self) -> float:
        mode = int(float(self.instrument("SummingMode", "0")))
        return float(2 * mode) if mode > 0 else 1.0

    @property
    def ephemeris_start_time(self) -> float:
        return utc_to_et(self.instrument("StartTime"))      # TgoCassisCamera: UTC, "will change to use SCLK"

    @property
    def distortion(self) -> dict:
        rows = {name: self.naif.values(f"INS{{ik}}_OD_{name}_DIST", 6)[:6] for name in ("A1", "A2", "A3")}

        def apply(ux, uy):       # TgoCassisDistortionMap::SetUndistortedFocalPlane (chiDotA)
            chi = np.stack([ux * ux, ux * uy, uy * uy, ux, uy, np.ones_like(ux)])
            a1, a2, a3 = (np.asarray(rows[n]) @ chi for n in ("A1", "A2", "A3"))
            return a1 / a3, a2 / a3

        pitch = self.naif.value("INS{ik}_PIXEL_PITCH")
        half_x = self.naif.value("INS{ik}_FILTER_SAMPLES") * pitch / 2.0
        half_y = self.naif.value("INS{ik}_FILTER_LINES") * pitch / 2.0
        return fit_transverse(apply, half_x, half_y)[0]


__all__ = ["TgoCassis"]
