"""Lunar Reconnaissance Orbiter: LROC NAC left/right (line scan), LROC WAC VIS/UV (push frame); Mini-RF is in minirf.py.

Each driver follows its ISIS camera class (DOI-USGS/ISIS3 ``isis/src/lro/objs/``: LroNarrowAngleCamera.cpp,
LroWideAngleCamera.cpp, MiniRF/MiniRF.cpp with base/objs/Radar*Map.cpp), the truth for an ISIS cube, and ALE's
``ale/drivers/lro_drivers.py`` (LroLrocNac*, LroLrocWac*, LroMiniRf* drivers) where ALE agrees with ISIS. Where
they differ the ISIS value is used, checked against ISIS's own output (tests/test_drivers_lro.py):

* WAC lens: ISIS's polynomial has no usgscsm model and ALE's radial stand-in misses ISIS's ground by ~6 km;
  a radtan fitted to ISIS's lens (:attr:`LroWac.lens_fit`) matches ISIS's backplane to 0.3 m.
* WAC detector origin: ISIS's boresight + 1 (1-based), + 0.5 here (ALE: - 0.5 or + 0).
* Mini-RF start: ISIS's StartTime (ALE's is one line earlier).

Coordinate rule: ISIS detector coordinates are 1-based pixel centres, CSM's have 0 at the first pixel's corner,
so an ISIS detector origin ``o`` is ``o - 0.5`` here and an ISIS starting detector pixel ``s`` is ``s - 1``.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from ...isis_tables import numbers
from ..geometry import quaternion_matrices
from .base import Driver, MissingConstant, utc_to_et
from .fitting import fit_radtan_to_radial_lens

LRO = ("LUNAR RECONNAISSANCE ORBITER", "LRO")


class _Lro(Driver):
    """What the three LRO instruments share: the label's CameraVersion as the ISD's isis_camera_version."""

    spacecraft = LRO

    def isd(self) -> dict:
        isd = super().isd()
        version = self.cube.keyword("Kernels", "CameraVersion")
        if version:
            isd["isis_camera_version"] = int(numbers(version)[0])
        return isd


# --- NAC ---------------------------------------------------------------------------------------------------------
# The timing constants of the LROC IAK (lro_instrumentAddendum_v0N.ti) that spiceinit copies into NaifKeywords;
# ALE's drivers hard-code the same values for a label that lacks them.
NAC_IAK_DEFAULTS = {"MULTIPLI_LINE_ERROR": 0.0045, "ADDITIVE_LINE_ERROR": 0.0, "CONSTANT_TIME_OFFSET": 0.0,
                    "ADDITIONAL_PREROLL": 1024.0}


class LroNac(_Lro):
    """LROC NAC-L / NAC-R: 5064-pixel line scanners timed from the preroll clock count (ISIS
    LroNarrowAngleCamera.cpp; ALE LroLrocNacIsisLabelIsisSpiceDriver)."""

    instruments = ("NACL", "NACR")
    model = "line_scan"
    source = "ISIS LroNarrowAngleCamera.cpp; ALE LroLrocNacIsisLabelIsisSpiceDriver"

    def _iak(self, key: str) -> float:
        return self.naif.value(f"INS{{ik}}_{key}", NAC_IAK_DEFAULTS[key])

    @property
    def sensor_name(self) -> str:
        return self.instrument("InstrumentName") or self.instrument("InstrumentId", "")

    @property
    def line_exposure_duration(self) -> float:
        # lineRate = LineExposureDuration (1 + MULTIPLI_LINE_ERROR) + ADDITIVE_LINE_ERROR
        return (super().line_exposure_duration * (1.0 + self._iak("MULTIPLI_LINE_ERROR"))
                + self._iak("ADDITIVE_LINE_ERROR"))

    @property
    def ephemeris_start_time(self) -> float:
        """The preroll clock count (PrerollTime when it is NULL) + CONSTANT_TIME_OFFSET + ADDITIONAL_PREROLL
        lines: ISIS's etStart, the time of the first line's top edge."""
        count = self.instrument("SpacecraftClockPrerollCount")
        if count and count.upper() != "NULL":
            et = self.naif.clock_et(self.spacecraft_id, count)
        elif self.instrument("PrerollTime"):
            et = utc_to_et(self.instrument("PrerollTime"))
        else:
            raise MissingConstant("Instrument SpacecraftClockPrerollCount or PrerollTime")
        return (et + self._iak("CONSTANT_TIME_OFFSET")
                + self._iak("ADDITIONAL_PREROLL") * self.line_exposure_duration)

    @property
    def sample_summing(self) -> float:
        return float(numbers(self.instrument("SpatialSumming") or "1")[0])

    @property
    def detector_start_sample(self) -> float:
        # SetStartingDetectorSample(SampleFirstPixel + 1), 1-based (ALE's IsisSpice driver leaves 0)
        return float(numbers(self.instrument("SampleFirstPixel") or "0")[0])

    @property
    def detector_center_sample(self) -> float:
        return super().detector_center_sample - 0.5       # ALE: "ISIS uses 0.5 based CCD samples"

    @property
    def distortion(self) -> dict:
        # LroNarrowAngleDistortionMap: y only, one coefficient = usgscsm's lrolrocnac
        return {"lrolrocnac": {"coefficients": self.naif.values("INS{ik}_OD_K")[:1]}}

    @property
    def spacecraft_direction(self) -> float:
        """ALE: the x of the first velocity in the sensor frame, negated for NAC-R (LRO flies +x forwards half
        the year, backwards the other half; NAC-R's frame is turned 180 degrees from NAC-L's)."""
        position, pointing = self.cube.table("InstrumentPosition"), self.cube.table("InstrumentPointing")
        velocity = np.array([position.columns[k][0] for k in ("J2000XV", "J2000YV", "J2000ZV")])
        w, x, y, z = (pointing.columns[f"J2000Q{i}"][0] for i in range(4))     # SPICE order: J2000 -> frame
        rotation = quaternion_matrices([[x, y, z, w]])[0]
        constant = numbers(pointing.get("ConstantRotation"))
        if len(constant) == 9:
            rotation = np.reshape(constant, (3, 3)) @ rotation
        x = float((rotation @ velocity)[0])
        return -x if (self.instrument("InstrumentId") or "").upper() == "NACR" else x

    @property
    def focal2pixel_lines(self) -> list[float]:
        # ALE: per summed line, and reversed when flying backwards (usgscsm's ground -> image walks lines along
        # the flight). No effect on image -> ground: the detector line is the boresight line (0).
        lines = np.asarray(self.naif.values("INS{ik}_ITRANSL", 3)) / self.sample_summing
        return (-lines if self.spacecraft_direction < 0 else lines).tolist()


# --- WAC ---------------------------------------------------------------------------------------------------------
# LroWideAngleCamera.cpp: per channel the summing, the framelet height (detector lines) and the base of the
# filter NAIF codes (filter code = camera code - (base + FILTER_BANDID)).
WAC_CHANNELS = {"WAC-VIS": {"summing": 1, "framelet_height": 14, "filter_ik_base": 10 - 3},
                "WAC-UV": {"summing": 4, "framelet_height": 16, "filter_ik_base": 15 - 1}}


class LroWac(_Lro):
    """LROC WAC VIS / UV: a push frame camera whose framelets hold one band per filter strip of the CCD (ISIS
    LroWideAngleCamera.cpp; ALE LroLrocWacIsisLabelIsisSpiceDriver). The driver's ``band`` picks the filter.

    An even or odd cube (lrowac2isis) holds every framelet, the other half Null; ISIS's ground -> image keeps
    to the cube's parity, usgscsm's (no parity in an ISD) takes the nearest framelet of either.
    """

    instruments = ("WAC-VIS", "WAC-UV")
    model = "push_frame"
    source = "ISIS LroWideAngleCamera.cpp; ALE LroLrocWacIsisLabelIsisSpiceDriver"

    @property
    def channel(self) -> dict:
        key = (self.instrument("InstrumentId") or "").upper()
        if key not in WAC_CHANNELS:
            raise MissingConstant(f"a WAC channel for InstrumentId {key!r}")
        return WAC_CHANNELS[key]

    @property
    def sensor_name(self) -> str:
        return self.platform_name            # ALE's WAC drivers name the spacecraft

    def _ints(self, key: str) -> list[int]:
        return [int(v) for v in self.naif.values(f"INS{{ik}}_{key}")]

    @property
    def filter_index(self) -> int:
        """Index of the band's filter in the IK's FILTER_* lists (the band's BandBin Center wavelength)."""
        centers = numbers(self.cube.keyword("BandBin", "Center"))
        if not 1 <= self.band <= len(centers):
            raise MissingConstant(f"BandBin Center for band {self.band}")
        wavelengths = self._ints("FILTER_BANDCENTER")
        if int(centers[self.band - 1]) not in wavelengths:
            raise MissingConstant(f"an IK filter of band centre {centers[self.band - 1]}")
        return wavelengths.index(int(centers[self.band - 1]))

    @property
    def fikid(self) -> int:
        """The filter's NAIF code, whose focal length, boresight, TRANS and OD_K the label carries."""
        return self.ikid - (self.channel["filter_ik_base"] + self._ints("FILTER_BANDID")[self.filter_index])

    def _filter(self, key: str, n: int | None = None) -> list[float]:
        return self.naif.values(f"INS{self.fikid}_{key}", n)

    @property
    def framelet_offset(self) -> int:
        """ISIS's frameletOffset of the band: its filter's rank along the CCD x ColorOffset (negated when the
        data are flipped); it delays the band's framelets by that many framelet periods."""
        offsets = self._ints("FILTER_OFFSET")
        rank = sorted(offsets).index(offsets[self.filter_index])
        factor = int(numbers(self.instrument("ColorOffset") or "0")[0])
        return -rank * factor if self.flipped else rank * factor

    @property
    def flipped(self) -> bool:
        return (self.instrument("DataFlipped") or "NO").upper() == "YES"

    @property
    def sample_summing(self) -> float:
        return float(self.channel["summing"])

    @property
    def isis_focal_length(self) -> float:
        return self._filter("FOCAL_LENGTH", 1)[0]

    @property
    def focal_length(self) -> float:
        return self.isis_focal_length * self.lens_fit[0]

    # ISIS SetDetectorOrigin(boresight + 1): 1-based, so boresight + 0.5 in CSM (ALE's NaifSpice driver has
    # boresight - 0.5, its IsisSpice driver the boresight: one and a half detector pixels apart from ISIS)
    @property
    def detector_center_line(self) -> float:
        return self._filter("BORESIGHT_LINE", 1)[0] + 0.5

    @property
    def detector_center_sample(self) -> float:
        return self._filter("BORESIGHT_SAMPLE", 1)[0] + 0.5

    @property
    def focal2pixel_lines(self) -> list[float]:
        return self._filter("ITRANSL", 3)

    @property
    def focal2pixel_samples(self) -> list[float]:
        return self._filter("ITRANSS", 3)

    @property
    def detector_start_line(self) -> float:
        # SetBandFirstDetectorLine(FILTER_OFFSET): the filter strip's first line, 0-based
        return float(self._ints("FILTER_OFFSET")[self.filter_index])

    @property
    def detector_start_sample(self) -> float:
        # SetStartingDetectorSample(INS_<mode>_SAMPLE_OFFSET + 1), 1-based
        mode = (self.instrument("InstrumentModeId") or "").upper()
        if mode == "BW":
            mode += (self.instrument("Mode") or "").strip()
        return self.naif.value(f"INS{{ik}}_{mode}_SAMPLE_OFFSET")

    @property
    def distortion(self) -> dict:
        k1, k2, k3 = self.lens_fit[1]
        return {"radtan": {"coefficients": [k1, k2, 0.0, 0.0, k3]}}

    @cached_property
    def lens_fit(self) -> tuple[float, list[float], float]:
        """(focal length scale, radtan k1 k2 k3, largest residual in detector pixels) fitting ISIS's lens.

        ISIS LroWideAngleCameraDistortionMap: undistorted u = d (1 + K1 r^2 + K2 r^4 + K3 r^6), r = |d| the
        distorted radius (mm). usgscsm has no such model, and ALE's radial with the OD_K negated is
        u = d (1 + K1 + K2 r^2 + K3 r^4): 5.5 to 6.4 km off ISIS's ground points of the lrowacphomap test cube
        (about 40 pixels). usgscsm's radtan distorts the *undistorted* normalised point v = u / f,
        d = f' v (1 + k1 v^2 + k2 v^4 + k3 v^6); with a free focal length f' = s f it is fitted here (linear
        least squares in detector-pixel units) over the detector area the cube covers: the band's filter strip
        and the cube's detector samples. Residual: about 0.03 pixel over a 704-sample colour strip, 0.8 over
        a full 1024-sample one, nothing for a narrow crop.
        """
        pitch = self.naif.value("INS{ik}_PIXEL_PITCH", 0.009)          # mm per detector pixel
        k = self._filter("OD_K", 3)
        tx, ty = self._filter("TRANSX", 3), self._filter("TRANSY", 3)
        alpha = self.cube.alpha
        first = self.detector_start_sample
        count = self.cube.dimensions[1] * self.sample_summing
        if alpha:
            ks = self.cube.alpha_scales()[0]
            first += (alpha["starting_sample"] - 0.5) * self.sample_summing
            count *= ks
        samples = np.linspace(first, first + count, 200) - self.detector_center_sample
        lines = (self.detector_start_line + np.linspace(0.0, self.channel["framelet_height"], 15)
                 - self.detector_center_line)
        cs, cl = (a.ravel() for a in np.meshgrid(samples, lines))
        x, y = tx[0] + tx[1] * cs + tx[2] * cl, ty[0] + ty[1] * cs + ty[2] * cl
        return fit_radtan_to_radial_lens(k, self.isis_focal_length, x, y, pitch)

    @property
    def interframe_delay(self) -> float:
        delay = self.instrument("InterframeDelay") or self.instrument("InterFrameDelay")
        if delay is None:
            raise MissingConstant("Instrument InterframeDelay")
        return numbers(delay)[0] / 1000.0                 # ms (LroWideAngleCamera.cpp divides by 1000)

    @property
    def framelet_lines(self) -> int:
        """Image lines per framelet (framelet height / summing)."""
        return self.channel["framelet_height"] // self.channel["summing"]

    @property
    def ephemeris_start_time(self) -> float:
        """The start clock count, less the band's framelet offset.

        ISIS times framelet k (0-based) at etStart + k x delay with etStart = clock + exposure / 2 (the middle
        of the exposure); usgscsm at start + exposure / 2 + k x delay, so start = clock. ALE's IsisSpice driver
        does the same, its NaifSpice driver adds exposure / 2 once more (13 ms late for a 26 ms exposure).
        """
        clock = self.naif.clock_et(self.spacecraft_id, self.spacecraft_clock_start_count or "")
        return clock - self.framelet_offset * self.interframe_delay

    def timing(self) -> dict:
        start = self.ephemeris_start_time
        frames = self.image_lines // self.framelet_lines
        end = start + self.interframe_delay * frames
        # ISIS: SetFrameletOrderReversed(DataFlipped), SetFrameletsGeometricallyFlipped(false); no overlap trim
        return {"starting_ephemeris_time": start, "ending_ephemeris_time": end,
                "center_ephemeris_time": (start + end) / 2.0, "exposure_duration": self.exposure_duration,
                "interframe_delay": self.interframe_delay, "framelet_order_reversed": self.flipped,
                "framelets_flipped": False, "framelet_height": self.channel["framelet_height"],
                "num_lines_overlap": 0}

    def fold_alpha(self, isd: dict) -> dict:
        """A crop of whole framelets (lines) and any crop or summing of samples; other line crops or a line
        reduction cut across framelets, which no push frame ISD can describe."""
        alpha = self.cube.alpha
        lines, samples, _ = self.cube.dimensions
        isd["image_lines"], isd["image_samples"] = lines, samples
        if not alpha:
            return isd
        ks, kl = self.cube.alpha_scales()
        skipped = (alpha["starting_line"] - 0.5) / self.framelet_lines
        if abs(kl - 1.0) > 1e-9 or abs(skipped - round(skipped)) > 1e-9:
            raise MissingConstant("a push frame cube cropped or reduced across framelets (AlphaCube lines "
                                  f"{alpha['starting_line']}..{alpha['ending_line']} of a "
                                  f"{self.framelet_lines}-line framelet)")
        isd["starting_detector_sample"] += (alpha["starting_sample"] - 0.5) * isd["detector_sample_summing"]
        isd["detector_sample_summing"] *= ks
        delay, frames = isd["interframe_delay"], lines // self.framelet_lines
        if isd["framelet_order_reversed"]:   # ISIS counts reversed framelets back from the original's last
            shift = self.image_lines // self.framelet_lines - round(skipped) - frames
        else:
            shift = round(skipped)
        start = isd["starting_ephemeris_time"] + shift * delay
        isd.update({"starting_ephemeris_time": start, "ending_ephemeris_time": start + frames * delay,
                    "center_ephemeris_time": start + frames * delay / 2.0})
        return isd
