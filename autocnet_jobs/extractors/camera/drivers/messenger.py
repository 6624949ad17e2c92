"""MESSENGER MDIS narrow and wide angle framing cameras.

Follows ISIS ``MdisCamera`` (isis/src/messenger/objs/MdisCamera/MdisCamera.cpp) and ALE's
``MessengerMdisIsisLabelNaifSpiceDriver`` (ale/drivers/mess_drivers.py):

* the WAC's constants are per filter: IK code ``ikid - BandBin Number`` (the NAC's filter number is 0);
* the focal length depends on the focal plane temperature: the ``TempDependentFocalLength`` spiceinit stores,
  else the ``FL_TEMP_COEFFS`` polynomial at ``FocalPlaneTemperature``, else ``FOCAL_LENGTH``;
* the boresight (ISIS origin) comes from the instrument's own code, the ITRANS from the filter's;
* summing is ``PixelBinningMode`` (0 meaning 1), doubled when ``FpuBinningMode`` is 1 (ISIS; its FPU start
  offsets are compiled out, USE_FPU_BINNING_OFFSETS);
* ISIS ``TaylorCameraDistortionMap`` (OD_T_X, OD_T_Y: a cubic of the undistorted point, ten terms each) is
  usgscsm's ``transverse`` term for term.
"""
from __future__ import annotations

from .framing import IsisFramingDriver


class MessengerMdis(IsisFramingDriver):
    """MDIS-NAC and MDIS-WAC (ISIS MdisCamera + TaylorCameraDistortionMap)."""

    spacecraft = ("MESSENGER",)
    instruments = ("MDIS-NAC", "MDIS-WAC")
    source = "ISIS isis/src/messenger/objs/MdisCamera/MdisCamera.cpp; ALE ale/drivers/mess_drivers.py"

    @property
    def platform_name(self) -> str:
        return self.instrument("SpacecraftName", "").upper()      # ALE: MDIS labels say "Messenger"

    @property
    def sensor_name(self) -> str:
        return self.instrument("InstrumentName") or self.instrument("InstrumentId", "")

    @property
    def filter_code(self) -> int:
        """The filter's IK code: the WAC's ikid minus BandBin Number (MdisCamera, ALE fikid)."""
        if self.ikid != -236800:
            return self.ikid
        band = self.cube.group("BandBin")
        number = (band.get("Number") or "0").strip() if band is not None else "0"
        return self.ikid - (0 if number.upper() == "N/A" else int(float(number)))

    def _filter(self, name: str) -> str:
        return f"INS{self.filter_code}_{name}"

    @property
    def focal_length(self) -> float:
        if self.naif.has("TempDependentFocalLength"):
            return self.naif.value("TempDependentFocalLength")
        if self.naif.has(self._filter("FL_TEMP_COEFFS")) and self.instrument("FocalPlaneTemperature"):
            coeffs = self.naif.values(self._filter("FL_TEMP_COEFFS"))
            t = float(self.instrument("FocalPlaneTemperature").split("<")[0])
            return float(sum(c * t ** i for i, c in enumerate(coeffs[:6])))
        return self.naif.value(self._filter("FOCAL_LENGTH"))

    @property
    def sample_summing(self) -> float:
        pixel = int(float(self.instrument("PixelBinningMode", "0")))
        summing = 1 if pixel == 0 else pixel
        return float(summing * 2 if int(float(self.instrument("FpuBinningMode", "0"))) == 1 else summing)

    @property
    def focal2pixel_samples(self) -> list[float]:
        return self.naif.values(self._filter("ITRANSS"), 3)

    @property
    def focal2pixel_lines(self) -> list[float]:
        return self.naif.values(self._filter("ITRANSL"), 3)

    @property
    def distortion(self) -> dict:
        return {"transverse": {"x": self.naif.values(self._filter("OD_T_X"), 10)[:10],
                               "y": self.naif.values(self._filter("OD_T_Y"), 10)[:10]}}


__all__ = ["MessengerMdis"]
