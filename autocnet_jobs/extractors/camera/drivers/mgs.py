"""Mars Global Surveyor MOC: the wide angle (red and blue line arrays) and narrow angle line scanners.

Follows ISIS ``isis/src/mgs/objs/MocWideAngleCamera`` (camera, MocWideAngleDistortionMap) and
``MocNarrowAngleCamera`` with ``MocLabels`` (line rate = LineExposureDuration x DowntrackSumming), the truth for
an ISIS cube. ALE's ``mgs_drivers.py`` is not followed where it differs from ISIS: its wide-angle radial
"odtk" [0, -0.007, 0.007] (the pixel pitch's value), its ``INS_CENTER`` origin (1727.5 against ISIS's 1674.65
red, 1688.58 blue, and no along-track detector offset), and the narrow-angle radial [0, 0.0131, 0.0131] that
ISIS's MocNarrowAngleCamera does not apply (it has no distortion).

MocWideAngleDistortionMap (a polynomial in the field angle, 40+ degrees off axis) has no usgscsm equivalent.
:func:`fit_distortion` fits usgscsm's ``transverse`` (or ``radtan``) to it over the detector area the image
uses; the ISD records the largest fit error on the image in detector pixels
(``distortion_fit_max_error_pixels``): ~1e-4 px for the 20-sample test crop, 18 px (4.6 image px at 4x
summing, at the far edge, 60 degrees off axis) for a whole 640-sample image. For comparison, on the test crop
ALE's radial makes every ray miss Mars and no distortion at all is off by ~17 pixels on the ground.
The SPICE tables of a cube already carry ISIS's -1.15 s pointing time bias (SpiceRotation caches the
biased pointing at the image times), so it is not applied again. Variable crosstrack summing (13, 27)
maps samples to detectors through a table usgscsm cannot express: no ISD for it.
"""
from __future__ import annotations

import numpy as np

from .base import MissingConstant
from .fitting import fit_over_image
from .level1 import Level1

MGS = ("MARS GLOBAL SURVEYOR", "MARS_GLOBAL_SURVEYOR", "MGS")

# ISIS MocWideAngleCamera.cpp: detector origin (sample, line) and along-track line offset; red, blue
MOC_WA_ORIGIN = {"RED": (1674.65, 6.7785), "BLUE": (1688.58, -0.8486)}
# ISIS MocWideAngleDistortionMap.cpp: field-angle polynomial (distorted -> undistorted) and the cross-track
# (focal plane y) scale, red and blue
MOC_WA_DISTORTION = {
    "RED": ((0.9993258, 0.4655529, -0.1548756, 1.827967, -3.057435, 2.226331), 1.0),
    "BLUE": ((1.000246, 0.4612695, 0.2352545, 0.3535922, -0.2853861, 0.5574971), 1.000452),
}
MOC_NA_ORIGIN = 1024.5                  # ISIS MocNarrowAngleCamera.cpp SetDetectorOrigin(1024.5, 0.0)

# The MOC addendum IAK (mocAddendum004.ti, the kernel ISIS loads for MOC; a copy is ALE's test datum
# tests/pytests/data/m0402852/mocAddendum004.ti): used where an old cube's label carries no NaifKeywords.
MOC_IAK = {
    -94031: {"FOCAL_LENGTH": 3500.0, "ITRANSS": [0.0, 0.0, 76.1959457398412],
             "ITRANSL": [0.0, 76.1959457398412, 0.0]},
    -94032: {"FOCAL_LENGTH": 11.20537656, "ITRANSS": [0.0, 0.0, -142.8571429], "ITRANSL": [0.0, 142.8571429, 0.0]},
}


class _Moc(Level1):
    spacecraft = MGS
    model = "line_scan"

    def _iak(self, key: str):
        """A NaifKeywords value, else the MOC addendum IAK's (old cubes carry none)."""
        if self.naif.has(f"INS{{ik}}_{key}"):
            values = self.naif.values(f"INS{{ik}}_{key}")
            return values[0] if key == "FOCAL_LENGTH" else values
        if self.ikid in MOC_IAK:
            return MOC_IAK[self.ikid][key]
        raise MissingConstant(f"INS{self.ikid}_{key} (not in the label's NaifKeywords)")

    @property
    def focal_length(self) -> float:
        return self._iak("FOCAL_LENGTH")

    @property
    def focal2pixel_samples(self) -> list[float]:
        return self._iak("ITRANSS")

    @property
    def focal2pixel_lines(self) -> list[float]:
        return self._iak("ITRANSL")


    @property
    def sample_summing(self) -> float:
        return self.instrument_number("CrosstrackSumming")

    @property
    def line_summing(self) -> float:
        return self.instrument_number("DowntrackSumming")

    @property
    def line_exposure_duration(self) -> float:
        return super().line_exposure_duration * self.line_summing       # MocLabels: true line rate

    @property
    def detector_start_sample(self) -> float:
        return self.instrument_number("FirstLineSample") - 1.0       # ISIS SetStartingDetectorSample(FirstLineSample)

    @property
    def detector_center_line(self) -> float:
        return 0.0


class MgsMocNarrowAngle(_Moc):
    """MOC narrow angle: 2048-pixel line array, no distortion (ISIS MocNarrowAngleCamera.cpp)."""

    instruments = ("MOC-NA",)
    source = "ISIS MocNarrowAngleCamera.cpp, MocLabels.cpp; ALE MgsMocNarrowAngleCameraIsisLabelNaifSpiceDriver"

    @property
    def detector_center_sample(self) -> float:
        return MOC_NA_ORIGIN - 0.5

    @property
    def distortion(self) -> dict:
        return {"radial": {"coefficients": [0.0, 0.0, 0.0]}}      # CameraDistortionMap with no OD_K: none


class MgsMocWideAngle(_Moc):
    """MOC wide angle, red or blue array (BandBin FilterName), ISIS MocWideAngleCamera.cpp."""

    instruments = ("MOC-WA",)
    source = ("ISIS MocWideAngleCamera.cpp, MocWideAngleDistortionMap.cpp, MocLabels.cpp; "
              "ALE MgsMocWideAngleCameraIsisLabelNaifSpiceDriver")

    @property
    def filter(self) -> str:
        block = self.cube.group("BandBin")
        name = (block.get("FilterName") or "").strip().strip('"').upper() if block is not None else ""
        if name not in MOC_WA_ORIGIN:
            raise MissingConstant(f"a MOC wide angle filter RED or BLUE (BandBin FilterName is {name or '?'})")
        return name

    @property
    def sensor_name(self) -> str:
        return f"MGS_MOC_WA_{self.filter}"

    @property
    def sample_summing(self) -> float:
        summing = super().sample_summing
        if summing in (13, 27):
            raise MissingConstant("a sample-to-detector table usgscsm can hold (MOC wide angle variable summing "
                                  f"mode {summing:g})")
        return summing

    @property
    def detector_center_sample(self) -> float:
        return MOC_WA_ORIGIN[self.filter][0] - 0.5

    @property
    def detector_start_line(self) -> float:
        return MOC_WA_ORIGIN[self.filter][1]                # SetDetectorOffset(0, offset), origin line 0

    def remove_distortion(self, dx: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ISIS MocWideAngleDistortionMap::SetFocalPlane, vectorised (mm -> mm)."""
        coefs, scale = MOC_WA_DISTORTION[self.filter]
        f = self.focal_length
        sdy = dy / scale
        s = np.hypot(dx, sdy)
        ang = np.arctan(s / f)
        angp = np.full_like(ang, coefs[-1])
        for c in coefs[-2::-1]:
            angp = angp * ang * ang + c
        with np.errstate(invalid="ignore", divide="ignore"):
            g = np.where(s * s <= 1.0e-6, 1.0, f * np.tan(angp * ang) / s)
        return dx * g, sdy * g

    def isd(self) -> dict:
        isd = super().isd()
        pitch = self.naif.value("INS{ik}_PIXEL_PITCH", 0.007)
        line = isd["starting_detector_line"]
        fit_over_image(isd, self.remove_distortion, pitch, (line, line), 20.0)
        return isd
