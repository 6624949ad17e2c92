"""OSIRIS-REx OCAMS (MapCam, PolyCam, SamCam) and TAGCAMS (NavCam, NFTCam, StowCam) framing cameras.

TAGCAMS follows ISIS ``OsirisRexTagcamsCamera`` and ``OsirisRexTagcamsDistortionMap``
(isis/src/osirisrex/objs/OsirisRexTagcamsCamera). Its OpenCV model is usgscsm's ``radtan`` exactly:

* ISIS normalises a distorted detector point by the temperature-scaled pixel focal length,
  ``x'' = (u - cx) / (fx (1 + A T))``, the undistorted one by the optical focal length,
  ``x' = (x - cx) pitch / f``; usgscsm's radtan divides both by the ISD focal length ``f``. The ratio
  ``fx (1 + A T) pitch / f`` is a scale of the distorted focal plane, so it goes into ``focal2pixel``;
* the OpenCV centre ``OPENCV_OD_C`` (ISIS detector coordinates) is where the look is the boresight, so it is
  the ISD's detector centre (CSM: minus 0.5); ISIS's CCD_CENTER + 1 origin cancels out;
* OpenCV works in (sample, line) directions, the focal plane in (x, y) with ``y = -line`` (ITRANSL < 0):
  p1 changes sign with the y axis, p2 with the x axis. The rational terms k4..k6 have no radtan equivalent
  (they are 0 in every TAGCAMS addendum, v02..v06); a non-zero one raises.

OCAMS follows ISIS ``OsirisRexOcamsCamera`` (CCD_CENTER + 1 as origin, focal length and pitch from the PolyCam
focus-position IK code when there is one). Its ``OsirisRexDistortionMap`` is a radial polynomial with odd and
even powers of r about a filter's own centre, which no usgscsm model has. ALE's
``OsirisRexCameraIsisLabelNaifSpiceDriver`` puts OD_K[0:3] into usgscsm's even-power ``radial``; for MapCam PAN
that is 60+ pixels wrong at the corners (no distortion at all: 3.0 px). So we fit usgscsm's cubic
``transverse`` to ISIS's map over the whole detector by least squares (:func:`fit_transverse`): largest
difference from ISIS 0.07 px for MapCam PAN. The fit is recomputed from the label's coefficients every time.
ALE has no TAGCAMS driver; the TAGCAMS conversion above is exact (ISIS's gtest points to 1e-10 degrees).
"""
from __future__ import annotations

import numpy as np

from ....errors import CameraDataError
from .base import MissingConstant
from .fitting import fit_transverse
from .framing import IsisFramingDriver


class OsirisRexOcams(IsisFramingDriver):
    """OCAMS MapCam, PolyCam, SamCam (ISIS OsirisRexOcamsCamera + OsirisRexDistortionMap)."""

    spacecraft = ("OSIRIS-REX",)
    instruments = ("MapCam", "PolyCam", "SamCam")
    source = ("ISIS isis/src/osirisrex/objs/OsirisRexOcamsCamera (OsirisRexOcamsCamera.cpp, "
              "OsirisRexDistortionMap.cpp); ALE ale/drivers/osirisrex_drivers.py")

    @property
    def focus_code(self) -> str:
        """PolyCam's focus-position IK code (OsirisRexOcamsCamera), else the instrument's."""
        focus = (self.instrument("PolyCamFocusPositionNaifId") or "").strip()
        if self.ikid == -64360 and focus and focus.upper() != "NONE":
            return focus
        return str(self.ikid)

    def _key(self, name: str) -> str:
        return f"INS{self.focus_code}_{name}"

    @property
    def sensor_name(self) -> str:
        return self.instrument("InstrumentId", "")        # ALE: the label's InstrumentId

    @property
    def focal_length(self) -> float:
        return self.naif.value(self._key("FOCAL_LENGTH"))

    @property
    def pixel_pitch(self) -> float:
        return self.naif.value(self._key("PIXEL_SIZE")) / 1000.0      # IK: microns

    @property
    def sample_summing(self) -> float:
        return 1.0                                                     # a plain CameraDetectorMap

    @property
    def exposure_duration(self) -> float:
        return float(self.instrument("ExposureDuration").split("<")[0]) / 1000.0   # <Millisec>

    @property
    def detector_center_sample(self) -> float:
        return self.naif.values(self._key("CCD_CENTER"), 2)[0] + 1.0 - 0.5   # ISIS origin CCD_CENTER + 1

    @property
    def detector_center_line(self) -> float:
        return self.naif.values(self._key("CCD_CENTER"), 2)[1] + 1.0 - 0.5

    @property
    def distortion(self) -> dict:
        band = self.cube.group("BandBin")
        name = (band.get("FilterName") or "UNKNOWN").strip().strip('"').upper() if band is not None else "UNKNOWN"
        suffix = "" if name == "UNKNOWN" else f"_{name}"
        if not self.naif.has(self._key(f"OD_K{suffix}")):
            return {"radial": {"coefficients": [0.0, 0.0, 0.0]}}   # ISIS: an older image, no distortion
        k = self.naif.values(self._key(f"OD_K{suffix}"), 5)[:5]
        od_sample, od_line = self.naif.values(self._key(f"OD_CENTER{suffix}"), 2)[:2]
        pitch = self.pixel_pitch
        origin_sample = self.detector_center_sample + 0.5
        origin_line = self.detector_center_line + 0.5
        # OsirisRexDistortionMap's centre, as ISIS writes it (x pairs the OD line with the origin sample)
        x0, y0 = (od_line - origin_sample) * pitch, (od_sample - origin_line) * pitch

        def apply(ux, uy):       # OsirisRexDistortionMap::SetUndistortedFocalPlane
            r = np.hypot(ux - x0, uy - y0)
            dr = k[0] + k[1] * r + k[2] * r ** 2 + k[3] * r ** 3 + k[4] * r ** 4
            return ux + dr * (ux - x0), uy + dr * (uy - y0)

        half = self.naif.value(self._key("PIXEL_SAMPLES"), 1024.0) * pitch / 2.0
        return fit_transverse(apply, half, half)[0]


class OsirisRexTagcams(IsisFramingDriver):
    """TAGCAMS NavCam, NFTCam, StowCam (ISIS OsirisRexTagcamsCamera + OsirisRexTagcamsDistortionMap)."""

    spacecraft = ("OSIRIS-REX",)
    instruments = ("NAVCam", "NFTCam", "StowCam")
    source = "ISIS isis/src/osirisrex/objs/OsirisRexTagcamsCamera (OsirisRexTagcamsCamera.cpp, ...DistortionMap.cpp)"

    @property
    def focal_length(self) -> float:
        return self.naif.value("INS{ik}_FOCAL_LENGTH") * 1000.0       # IK: metres

    @property
    def pixel_pitch(self) -> float:
        return self.naif.value("INS{ik}_PIXEL_SIZE") / 1000.0         # IK: microns

    @property
    def sample_summing(self) -> float:
        binning = int(float(self.instrument("Binning", "0")))          # OsirisRexTagcamsCamera's rule
        if binning <= 0:
            return 1.0
        return float(binning) if binning in (2, 4) else float((binning - 14) ** 2)

    @property
    def exposure_duration(self) -> float:
        return float(self.instrument("ExposureDuration").split("<")[0])   # <Sec>

    @property
    def opencv(self) -> bool:
        model = self.naif.text("INS{ik}_DISTORTION_MODEL").upper()
        if model not in ("OPENCV", "NONE"):
            raise MissingConstant(f"a usgscsm form of the TAGCAMS {model} distortion model (only OPENCV is)")
        return model == "OPENCV"

    @property
    def detector_center_sample(self) -> float:
        if self.opencv:
            return self.naif.values("INS{ik}_OPENCV_OD_C", 2)[0] - 0.5
        return self.naif.values("INS{ik}_CCD_CENTER", 2)[0] + 1.0 - 0.5

    @property
    def detector_center_line(self) -> float:
        if self.opencv:
            return self.naif.values("INS{ik}_OPENCV_OD_C", 2)[1] - 0.5
        return self.naif.values("INS{ik}_CCD_CENTER", 2)[1] + 1.0 - 0.5

    def _scale(self, axis: int) -> float:
        """fx (1 + A T) pitch / f: the distorted focal plane's scale against usgscsm's radtan (module doc)."""
        if not self.opencv:
            return 1.0
        temperature = float((self.instrument("CameraHeadTemperature") or "0").split("<")[0])
        pixel_focal = self.naif.values("INS{ik}_OPENCV_OD_F", 2)[axis]
        return pixel_focal * (1.0 + self.naif.value("INS{ik}_OPENCV_OD_A") * temperature) \
            * self.pixel_pitch / self.focal_length

    @property
    def focal2pixel_samples(self) -> list[float]:
        return [v * self._scale(0) for v in self.naif.values("INS{ik}_ITRANSS", 3)]

    @property
    def focal2pixel_lines(self) -> list[float]:
        return [v * self._scale(1) for v in self.naif.values("INS{ik}_ITRANSL", 3)]

    @property
    def distortion(self) -> dict:
        if not self.opencv:
            return {"radial": {"coefficients": [0.0, 0.0, 0.0]}}
        k = self.naif.values("INS{ik}_OPENCV_OD_K", 3)
        p1, p2 = self.naif.values("INS{ik}_OPENCV_OD_P", 2)[:2]
        if any(v != 0.0 for v in k[3:6]):
            raise MissingConstant("a usgscsm form of OpenCV's rational terms k4..k6 (radtan has none)")
        its, itl = self.naif.values("INS{ik}_ITRANSS", 3), self.naif.values("INS{ik}_ITRANSL", 3)
        if its[2] != 0.0 or itl[1] != 0.0:
            raise CameraDataError("TAGCAMS ITRANS with cross terms: the OpenCV axes are not the focal plane's")
        sx, sy = np.sign(its[1]), np.sign(itl[2])
        return {"radtan": {"coefficients": [k[0], k[1], float(sy * p1), float(sx * p2), k[2]]}}


__all__ = ["OsirisRexOcams", "OsirisRexTagcams", "fit_transverse"]
