"""Viking Orbiter 1 and 2 VIS cameras A and B (framing vidicons).

Follows ISIS ``VikingCamera`` (isis/src/viking/objs/VikingCamera/VikingCamera.cpp) for the constants no label
carries: the focal length per spacecraft and camera and the detector origin (602, 528), which ALE's
``VikingIsisLabelNaifSpiceDriver`` (ale/drivers/viking_drivers.py) also hard-codes (its origin is 0, 0; we
keep ISIS's). The spacecraft clock is converted with the alternate codes -27999 / -30999 (ISIS altinstcode,
ALE alt_ikid).

Distortion: ISIS corrects the vidicon's geometric distortion with ``ReseauDistortionMap`` from the reseau
marks measured in the image (the label's Reseaus group) against a master reseau file in ISIS's data area
($viking<n>/reseaus/vik<n><a|b>MasterReseaus.pvl), which neither the label nor usgscsm has. Like ALE
(NoDistortion) the ISD has none; that costs the vidicon's distortion, several pixels, not measured here.
"""
from __future__ import annotations

from .base import MissingConstant
from .framing import IsisFramingDriver

# Focal length (mm) per (spacecraft, camera). Source: ISIS VikingCamera.cpp SetFocalLength (as ALE's driver).
FOCAL_LENGTH = {
    ("VIKING_ORBITER_1", "VISUAL_IMAGING_SUBSYSTEM_CAMERA_A"): 474.398,
    ("VIKING_ORBITER_1", "VISUAL_IMAGING_SUBSYSTEM_CAMERA_B"): 474.448,
    ("VIKING_ORBITER_2", "VISUAL_IMAGING_SUBSYSTEM_CAMERA_A"): 474.610,
    ("VIKING_ORBITER_2", "VISUAL_IMAGING_SUBSYSTEM_CAMERA_B"): 474.101,
}
# Detector origin (sample, line), ISIS 1-based. Source: VikingCamera.cpp focalMap->SetDetectorOrigin(602, 528).
DETECTOR_ORIGIN = (602.0, 528.0)
# Spacecraft clock codes. Source: VikingCamera.cpp altinstcode; ALE alt_id_lookup.
CLOCK_CODE = {"VIKING_ORBITER_1": -27999, "VIKING_ORBITER_2": -30999}


def _key(text: str | None) -> str:
    return (text or "").strip().upper().replace(" ", "_")


class VikingVis(IsisFramingDriver):
    """Viking Orbiter VIS A/B (ISIS VikingCamera)."""

    spacecraft = ("VIKING_ORBITER_1", "VIKING_ORBITER_2")
    instruments = ("VISUAL_IMAGING_SUBSYSTEM_CAMERA_A", "VISUAL_IMAGING_SUBSYSTEM_CAMERA_B")
    source = "ISIS isis/src/viking/objs/VikingCamera/VikingCamera.cpp; ALE ale/drivers/viking_drivers.py"

    @property
    def spacecraft_id(self) -> int:
        return CLOCK_CODE.get(_key(self.platform_name), super().spacecraft_id)

    @property
    def focal_length(self) -> float:
        key = (_key(self.platform_name), _key(self.sensor_name))
        if key not in FOCAL_LENGTH:
            raise MissingConstant(f"the Viking focal length of {key[0]} {key[1]}")
        return FOCAL_LENGTH[key]

    @property
    def detector_center_sample(self) -> float:
        return DETECTOR_ORIGIN[0] - 0.5

    @property
    def detector_center_line(self) -> float:
        return DETECTOR_ORIGIN[1] - 0.5

    @property
    def sample_summing(self) -> float:
        return 1.0                                   # a plain CameraDetectorMap

    @property
    def distortion(self) -> dict:
        return {"radial": {"coefficients": [0.0, 0.0, 0.0]}}    # reseau distortion: see the module doc


__all__ = ["VikingVis", "FOCAL_LENGTH", "DETECTOR_ORIGIN", "CLOCK_CODE"]
