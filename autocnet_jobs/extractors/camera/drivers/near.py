"""NEAR MSI, following ISIS ``MsiCamera`` (isis/src/near/objs/MsiCamera/MsiCamera.cpp).

Boresight (269.0, 206.5) as the detector origin, the IK's ITRANS, a one-term radial distortion (ISIS
``RadialDistortionMap``, ``u = d (1 + K1 r^2)``), which is usgscsm's ``radial`` with coefficients [0, -K1, 0]
exactly. ALE's ``MsiIsisLabelNaifSpiceDriver`` leaves the distortion out (NoDistortion); we keep ISIS's, which
costs nothing.
"""
from __future__ import annotations

from .framing import IsisFramingDriver


class NearMsi(IsisFramingDriver):
    """NEAR Multi-Spectral Imager (ISIS MsiCamera; naming as ALE's MsiIsisLabelNaifSpiceDriver)."""

    spacecraft = ("NEAR EARTH ASTEROID RENDEZVOUS", "NEAR")
    instruments = ("MSI",)
    source = "ISIS isis/src/near/objs/MsiCamera/MsiCamera.cpp; ALE ale/drivers/msi_drivers.py"

    @property
    def sensor_name(self) -> str:
        return "MULTI-SPECTRAL IMAGER"       # ALE MsiIsisLabelNaifSpiceDriver.sensor_name

    @property
    def sample_summing(self) -> float:
        return 1.0                            # MsiCamera: "These images are full summing" (CameraDetectorMap)

    @property
    def distortion(self) -> dict:
        # ISIS RadialDistortionMap u = d (1 + K1 r^2); usgscsm radial u = d (1 - (c0 + c1 r^2 + c2 r^4))
        return {"radial": {"coefficients": [0.0, -self.naif.value("INS{ik}_K1"), 0.0]}}


