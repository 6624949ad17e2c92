"""Mars Reconnaissance Orbiter: CTX and HiRISE (line scan), MARCI (push frame).

Each driver follows its ISIS camera class (DOI-USGS/ISIS3 ``isis/src/mro/objs/<Camera>/<Camera>.cpp``), the
truth for an ISIS cube, and ALE's ``ale/drivers/mro_drivers.py`` where ALE agrees with it. Where ALE writes
placeholders "inaccurate for USGSCSM" (HiRISE, MARCI detector centres) the ISIS values are used instead.

Coordinate rule used throughout: ISIS detector coordinates are 1-based pixel centres, CSM's have 0 at the first
pixel's corner, so an ISIS detector origin ``o`` is ``o - 0.5`` here and an ISIS starting detector pixel ``s``
(1-based) is ``s - 1``. A line scanner's detector line is fixed: usgscsm's centred line is
``starting_detector_line - detector_center.line``, ISIS's ``DetectorLineOffset - DetectorLineOrigin``.
"""
from __future__ import annotations

import numpy as np

from ...isis_tables import numbers
from .base import Driver, MissingConstant
from .fitting import fit_over_image
from .level1 import Level1, level1_dimensions

MRO = ("MARS_RECONNAISSANCE_ORBITER", "MARS RECONNAISSANCE ORBITER", "MRO")


class MroCtx(Level1):
    """CTX, the Context Camera: a 5000-pixel line scanner (ISIS CTXCamera.cpp; ALE MroCtxIsisLabel*Driver)."""

    spacecraft = MRO
    instruments = ("CTX",)
    model = "line_scan"
    source = "ISIS CTXCamera.cpp; ALE MroCtxIsisLabelNaifSpiceDriver"

    @property
    def sensor_name(self) -> str:
        return "CONTEXT CAMERA"              # ALE: ISIS does not carry it into the label

    @property
    def sample_summing(self) -> float:
        return float(numbers(self.instrument("SpatialSumming") or "1")[0])

    @property
    def line_exposure_duration(self) -> float:
        # CTXCamera: lineRate = LineExposureDuration / 1000 * SpatialSumming (ALE leaves out the summing; a
        # summed CTX line is SpatialSumming detector lines long in time)
        return super().line_exposure_duration * self.sample_summing

    @property
    def detector_start_sample(self) -> float:
        # CTXCamera: SetStartingDetectorSample(SampleFirstPixel + 1), 1-based -> CSM SampleFirstPixel (ALE's
        # NaifSpice driver; its IsisSpice driver leaves it at 0, wrong for a cube with SampleFirstPixel > 0)
        return float(numbers(self.instrument("SampleFirstPixel") or "0")[0])

    @property
    def detector_center_sample(self) -> float:
        return super().detector_center_sample - 0.5       # ALE: "ISIS uses 0.5 based CCD samples"


# HiRISE: CPMM number (label) -> CCD number (NAIF code -74600 - ccd). ISIS HiriseCamera.cpp cpmm2ccd.
HIRISE_CPMM_TO_CCD = (0, 1, 2, 3, 12, 4, 10, 11, 5, 13, 6, 7, 8, 9)


class MroHirise(Level1):
    """HiRISE: 14 TDI line-scan CCDs of 1024 x 2 channels (ISIS HiriseCamera.cpp; ALE MroHiRise*Driver)."""

    spacecraft = MRO
    instruments = ("HIRISE",)
    model = "line_scan"
    source = "ISIS HiriseCamera.cpp; ALE MroHiRiseIsisLabelNaifSpiceDriver"

    @property
    def sensor_name(self) -> str:
        return "HIRISE CAMERA"

    def _int(self, key: str) -> int:
        value = self.instrument(key)
        if value is None:
            raise MissingConstant(f"Instrument {key}")
        return int(numbers(value)[0])

    @property
    def ccd_ik(self) -> int:
        """The CCD's NAIF code, whose TRANSX/ITRANSS the label carries (-74600 - ccd)."""
        cpmm = self._int("CpmmNumber")
        if not 0 <= cpmm < len(HIRISE_CPMM_TO_CCD):
            raise MissingConstant(f"a CCD for CpmmNumber {cpmm}")
        return -74600 - HIRISE_CPMM_TO_CCD[cpmm]

    @property
    def sample_summing(self) -> float:
        return float(self._int("Summing"))

    @property
    def unbinned_rate(self) -> float:
        # seconds per detector line: (74 + DeltaLineTimerCount / 16) microseconds
        return (74.0 + self._int("DeltaLineTimerCount") / 16.0) / 1.0e6

    @property
    def line_exposure_duration(self) -> float:
        return self.unbinned_rate * self.sample_summing

    @property
    def ephemeris_start_time(self) -> float:
        # the high-precision MRO clock (-74999); the effective time of the first (TDI-summed, binned) line
        et = self.naif.clock_et(-74999, self.spacecraft_clock_start_count or "")
        et -= self.unbinned_rate * (self._int("Tdi") / 2.0 - 0.5)
        return et + self.unbinned_rate * (self.sample_summing / 2.0 - 0.5)

    @property
    def focal2pixel_samples(self) -> list[float]:
        return self.naif.values(f"INS{self.ccd_ik}_ITRANSS", 3)

    @property
    def focal2pixel_lines(self) -> list[float]:
        return self.naif.values(f"INS{self.ccd_ik}_ITRANSL", 3)

    @property
    def detector_start_sample(self) -> float:
        # channel 0 alone starts at detector sample 1025 (1-based); channel 1 or both stitched (2) at 1
        return 1024.0 if self._int("ChannelNumber") == 0 else 0.0

    @property
    def detector_center_sample(self) -> float:
        return 1024.5 - 0.5                  # SetDetectorOrigin(1024.5, 0.0)

    @property
    def detector_center_line(self) -> float:
        return 0.0

    @property
    def detector_start_line(self) -> float:
        # SetDetectorOffset(0, -64 + Tdi / 2): the centred detector line (line 0 is the CCD's middle)
        return -64.0 + self._int("Tdi") / 2.0


# MARCI: per filter, the first (0-based) detector row of its 16-row framelet and the framelet offset in units of
# ColorOffset (ISIS MarciCamera.cpp; rows from "MARCI_CTX_Cal_Report_v1.5.pdf" p. 7)
MARCI_FILTERS = {  # name: (first detector row, framelet offset factor)
    "BLUE": (709, 4), "GREEN": (734, 3), "ORANGE": (760, 2), "RED": (786, 1), "NIR": (811, 0),
    "LONG_UV": (266, 5), "SHORT_UV": (293, 6)}
MARCI_ORIGIN = {-74410: (512.5, 760.0 + 8.5), -74420: (512.5, 288.5)}   # VIS, UV detector origins (ISIS)
MARCI_FRAMELET_ROWS = 16


class MroMarci(Driver):
    """MARCI, the Mars Color Imager: a push frame of 16-row filter framelets (ISIS MarciCamera.cpp).

    ALE's MroMarciIsisLabelNaifSpiceDriver writes a line-scan ISD with placeholder detector centres and no
    distortion ("inaccurate for USGSCSM"); this follows ISIS's PushFrameCameraDetectorMap instead. ISIS times a
    framelet ``etStart + (k - offset) * InterframeDelay`` (k from 0; ``(N - 1 - k + offset)`` when DataFlipped
    reverses the order), ``etStart = clock - ExposureDuration / 2000`` (ISIS reads the seconds as ms), and the
    band's framelet offset is ``factor * ColorOffset``, negated when flipped. MarciDistortionMap (r^2..r^6 in
    pixels, up to 4x at the detector edge) has no usgscsm equivalent: it is fitted over the image's detector
    area (see :func:`.mgs.fit_distortion`); the ISD records the worst error in
    ``distortion_fit_max_error_pixels`` (~0.02 px for the test crops, ~70 px at the edge of a whole 1024-pixel
    row, where the map scales 4x). ALE's "no distortion" is off by ~30 pixels on the ground at the K14 crop and
    ~110 at P12's.
    """

    spacecraft = MRO
    instruments = ("MARCI",)
    model = "push_frame"
    source = "ISIS MarciCamera.cpp, MarciDistortionMap.cpp, PushFrameCameraDetectorMap.cpp"

    @property
    def sensor_name(self) -> str:
        return "COLOR IMAGER CAMERA"

    @property
    def filter(self) -> str:
        block = self.cube.group("BandBin")
        text = (block.get("FilterName") or "") if block is not None else ""
        names = [n.strip().strip('"').upper() for n in text.strip().strip("()").split(",") if n.strip()]
        # a single filter serves every band (phocube-like cubes; ISIS keeps the current band's filter)
        name = names[0] if len(names) == 1 else (names[self.band - 1] if self.band <= len(names) else "")
        if name not in MARCI_FILTERS:
            raise MissingConstant(f"a MARCI filter for band {self.band} (BandBin FilterName {text or '?'})")
        return name


    @property
    def sample_summing(self) -> float:
        return self.instrument_number("SummingMode")

    @property
    def flipped(self) -> bool:
        return int(self.instrument_number("DataFlipped")) != 0

    @property
    def focal2pixel_samples(self) -> list[float]:
        return self.naif.values("INS-74400_ITRANSS", 3)      # CameraFocalPlaneMap(this, -74400)

    @property
    def focal2pixel_lines(self) -> list[float]:
        return self.naif.values("INS-74400_ITRANSL", 3)

    def _origin(self) -> tuple[float, float]:
        if self.ikid not in MARCI_ORIGIN:
            raise MissingConstant(f"a MARCI detector origin for NAIF code {self.ikid} (-74410 VIS, -74420 UV)")
        return MARCI_ORIGIN[self.ikid]

    @property
    def detector_center_sample(self) -> float:
        return self._origin()[0] - 0.5

    @property
    def detector_center_line(self) -> float:
        return self._origin()[1] - 0.5

    @property
    def detector_start_line(self) -> float:
        return float(MARCI_FILTERS[self.filter][0])     # 0-based row; ISIS adds it to the 0.5-based line

    @property
    def exposure_duration(self) -> float:
        return self.instrument_number("ExposureDuration")        # seconds in the label

    def remove_distortion(self, dx: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ISIS MarciDistortionMap::SetFocalPlane, vectorised (mm -> mm)."""
        k = self.naif.values("INS{ik}_DISTORTION_COEFFS", 4)
        pitch = self.naif.value("INS{ik}_PIXEL_SIZE")
        r2 = (dx * dx + dy * dy) / (pitch * pitch)
        scale = np.where(r2 <= 1.0e-3, 1.0, k[0] + r2 * (k[1] + r2 * (k[2] + r2 * k[3])))
        return dx * scale, dy * scale

    def timing(self) -> dict:
        return {"exposure_duration": self.exposure_duration,
                "interframe_delay": self.instrument_number("InterframeDelay"),
                "framelet_height": MARCI_FRAMELET_ROWS, "framelets_flipped": False,
                "framelet_order_reversed": self.flipped, "num_lines_overlap": 0}

    def fold_alpha(self, isd: dict) -> dict:
        """The ISD of the whole framelets around the cube's lines; ``self.line_offset`` cube -> ISD lines."""
        summing = self.sample_summing
        height = int(MARCI_FRAMELET_ROWS // summing)            # image lines per framelet
        cube_lines, cube_samples = level1_dimensions(self.cube)
        alpha = self.cube.alpha or {"starting_line": 0.5, "ending_line": cube_lines + 0.5, "beta_lines": cube_lines,
                                    "starting_sample": 0.5, "ending_sample": cube_samples + 0.5,
                                    "beta_samples": cube_samples}
        ks, kl = self.cube.alpha_scales()
        if kl != 1.0:
            raise MissingConstant("a push-frame cube reduced or enlarged in lines (framelets no longer whole)")
        isd["starting_detector_sample"] += (alpha["starting_sample"] - 0.5) * isd["detector_sample_summing"]
        isd["detector_sample_summing"] *= ks
        first = alpha["starting_line"] - 0.5                    # original line of the cube's first line
        total = self.image_lines // height                      # framelets of the original image (ISIS)
        pad = getattr(self, "_pad", 0)                          # whole framelets around, for the search
        f0 = max(0, int(first // height) - pad)
        f1 = min(total, -int(-(first + cube_lines) // height) + pad)        # ceil
        extra = (f0 - f1) % int(summing)  # usgscsm counts image_lines // framelet_height (unsummed) framelets
        grow = min(extra, total - f1)
        f1, f0 = f1 + grow, max(0, f0 - (extra - grow))
        n = f1 - f0
        color_offset = int(self.instrument_number("ColorOffset"))
        offset = MARCI_FILTERS[self.filter][1] * color_offset * (-1 if self.flipped else 1)
        rate, exposure = isd["interframe_delay"], isd["exposure_duration"]
        et_start = super().ephemeris_start_time - self.exposure_duration / 1000.0 / 2.0
        first_time = et_start + ((total - f0 - n + offset) if self.flipped else (f0 - offset)) * rate
        isd.update({"image_lines": n * height, "image_samples": cube_samples,
                    "starting_ephemeris_time": first_time - exposure / 2.0,
                    "center_ephemeris_time": first_time + n * rate / 2.0})
        self.line_offset = first - f0 * height
        # MarciDistortionMap fitted over the band's framelet rows and the image's samples
        row = isd["starting_detector_line"]
        fit_over_image(isd, self.remove_distortion, self.naif.value("INS{ik}_PIXEL_SIZE"),
                       (row, row + MARCI_FRAMELET_ROWS), 8.0)
        return isd

    def framelet_isd(self, pad: int = 1) -> tuple[dict, float]:
        """(ISD, offset): the ISD of whole framelets covering the cube (and ``pad`` more on each side, inside the
        original image, so that usgscsm's framelet search has room), whose line ``l + offset`` is cube line
        ``l``. usgscsm counts framelets from an image's first line, so a cube cropped inside a framelet has
        no exact ISD of its own."""
        self._pad = pad
        isd = super().isd()
        return isd, self.line_offset

    def isd_with_offset(self) -> tuple[dict, float]:
        return self.framelet_isd(pad=1)

    def isd(self) -> dict:
        isd, offset = self.framelet_isd(pad=0)
        lines = level1_dimensions(self.cube)[0]
        if offset != 0 or isd["image_lines"] != lines:
            raise MissingConstant(
                f"an ISD of whole framelets: this cube's {lines} lines start {offset:g} lines into a framelet or "
                f"end inside one (usgscsm counts framelets from the first line; framelet_isd() gives the ISD of "
                f"the whole framelets around it and the line offset)")
        return isd
