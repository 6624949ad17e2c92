"""The driver base class: an instrument's label + SPICE -> an ISD, ALE's design.

ALE (DOI-USGS/ale ``ale/base``): a driver is one small class per instrument composed from a label part and a
SPICE part; here the parts are :class:`~.cube.IsisCube` and :class:`~.cube.Naif`, and the defaults of
:class:`Driver` are ALE's IsisLabel + IsisSpice ones. A driver describes the **original** image, as ALE does;
:meth:`Driver.isd` then folds a crop or reduction of the cube (``AlphaCube``) into the ISD: the detector summing
and start for samples (and lines of a framing camera), the line rate and start time of a line scanner. Push
frame and SAR drivers fold lines themselves.
"""
from __future__ import annotations

from functools import cached_property

from ...isis_tables import numbers
from .cube import IsisCube, MissingConstant, Naif, position_part, rotation_part, utc_to_et

__all__ = ["Driver", "IsisCube", "MissingConstant", "Naif", "MODEL_NAMES", "position_part", "rotation_part",
           "utc_to_et"]

MODEL_NAMES = {"frame": "USGS_ASTRO_FRAME_SENSOR_MODEL", "line_scan": "USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL",
               "push_frame": "USGS_ASTRO_PUSH_FRAME_SENSOR_MODEL", "sar": "USGS_ASTRO_SAR_SENSOR_MODEL"}


def _quantity_seconds(text: str | None) -> float | None:
    """A label duration as seconds: ``<ms>``/``<milliseconds>`` or no unit means milliseconds (ALE's rule)."""
    if text is None:
        return None
    unit = text.split("<", 1)[1].lower() if "<" in text else "ms"
    value = numbers(text)[0]
    return value * 0.001 if ("ms" in unit or "milli" in unit) else value


class Driver:
    """One instrument: an ISIS cube's label and attached SPICE -> an ISD. Subclasses are small.

    Set ``spacecraft`` and ``instruments`` (the label's Instrument SpacecraftName and InstrumentId, compared
    upper-case with spaces and underscores alike), ``model`` ("frame", "line_scan", "push_frame" or "sar") and
    ``source`` (the ISIS camera class / ALE driver the constants come from); override the properties below that
    the instrument does differently. Defaults are ALE's IsisLabel + IsisSpice ones.
    """

    spacecraft: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    model: str = "frame"
    source: str = ""

    def __init__(self, cube: IsisCube, band: int = 1):
        self.cube, self.band = cube, band
        self.naif = Naif(cube.label, self.ikid)

    # --- label ---------------------------------------------------------------------------------------------
    def instrument(self, key: str, default: str | None = None) -> str | None:
        return self.cube.keyword("Instrument", key, default)

    def instrument_number(self, key: str) -> float:
        """An Instrument keyword's (first) number; MissingConstant naming it when the label has none."""
        value = self.instrument(key)
        if value is None:
            raise MissingConstant(f"Instrument {key}")
        return numbers(value)[0]

    @cached_property
    def ikid(self) -> int:
        kernels = self.cube.group("Kernels")
        code = kernels.get("NaifFrameCode") or kernels.get("NaifIkCode") if kernels is not None else None
        try:
            return int(numbers(code)[0])
        except (TypeError, ValueError, IndexError):
            raise MissingConstant("Kernels NaifFrameCode") from None

    @property
    def platform_name(self) -> str:
        return self.instrument("SpacecraftName", "")

    @property
    def sensor_name(self) -> str:
        return self.instrument("InstrumentId", "")

    @property
    def image_lines(self) -> int:
        """Lines of the original image (before any crop or reduction)."""
        return int(self.cube.alpha["lines"]) if self.cube.alpha else self.cube.dimensions[0]

    @property
    def image_samples(self) -> int:
        return int(self.cube.alpha["samples"]) if self.cube.alpha else self.cube.dimensions[1]

    @property
    def sample_summing(self) -> float:
        return float(numbers(self.instrument("SpatialSumming") or self.instrument("Summing") or "1")[0])

    @property
    def line_summing(self) -> float:
        return self.sample_summing

    @property
    def exposure_duration(self) -> float:
        value = _quantity_seconds(self.instrument("ExposureDuration"))
        if value is None:
            raise MissingConstant("Instrument ExposureDuration")
        return value

    @property
    def spacecraft_clock_start_count(self) -> str | None:
        return self.instrument("SpacecraftClockStartCount") or self.instrument("SpacecraftClockCount")

    @property
    def spacecraft_id(self) -> int:
        """The NAIF code of the spacecraft (the instrument code / 1000, as ISIS and ALE take it)."""
        return int(self.ikid / 1000) if self.ikid > -1000 or self.ikid % 1000 == 0 else -((-self.ikid) // 1000)

    @property
    def ephemeris_start_time(self) -> float:
        """From the spacecraft clock count spiceinit converted (ALE IsisSpice), else the label's StartTime."""
        count = self.spacecraft_clock_start_count
        if count:
            try:
                return self.naif.clock_et(self.spacecraft_id, count)
            except MissingConstant:
                pass
        start = self.instrument("StartTime")
        if not start:
            raise MissingConstant("Instrument SpacecraftClockCount or StartTime")
        return utc_to_et(start)

    @property
    def center_ephemeris_time(self) -> float:
        return self.ephemeris_start_time + self.exposure_duration / 2.0

    # --- instrument constants (NaifKeywords; override with sourced constants) -------------------------------
    @property
    def focal_length(self) -> float:
        return self.naif.value("INS{ik}_FOCAL_LENGTH")

    @property
    def detector_center_sample(self) -> float:
        return self.naif.value("INS{ik}_BORESIGHT_SAMPLE")

    @property
    def detector_center_line(self) -> float:
        return self.naif.value("INS{ik}_BORESIGHT_LINE")

    @property
    def focal2pixel_lines(self) -> list[float]:
        return self.naif.values("INS{ik}_ITRANSL", 3)

    @property
    def focal2pixel_samples(self) -> list[float]:
        return self.naif.values("INS{ik}_ITRANSS", 3)

    @property
    def detector_start_sample(self) -> float:
        return 0.0

    @property
    def detector_start_line(self) -> float:
        return 0.0

    @property
    def distortion(self) -> dict:
        """The ISD's ``optical_distortion``: radial OD_K when the label has it (ALE's default)."""
        if self.naif.has("INS{ik}_OD_K"):
            return {"radial": {"coefficients": self.naif.values("INS{ik}_OD_K")}}
        return {"radial": {"coefficients": [0.0, 0.0, 0.0]}}

    # --- line scanners -----------------------------------------------------------------------------------
    @property
    def line_exposure_duration(self) -> float:
        rate = _quantity_seconds(self.instrument("LineExposureDuration"))
        if rate is None:
            raise MissingConstant("Instrument LineExposureDuration")
        return rate

    @property
    def line_scan_rate(self) -> list[list[float]]:
        """ALE's [[line, seconds from the centre time, seconds per line], ...]: one constant rate by default."""
        rate = self.line_exposure_duration
        return [[0.5, -rate * self.image_lines / 2.0, rate]]

    @property
    def radii(self) -> tuple[float, float, float]:
        """The target's radii (km): the label's BODYnnn_RADII, else the IAU 2015 ellipsoid PROJ holds for the
        label's TargetName (old cubes, such as MGS MOC's, carry no radii)."""
        try:
            return self.naif.radii()
        except MissingConstant:
            pass
        import pyproj

        from ...bodies import iau_body
        target = self.instrument("TargetName") or self.cube.keyword("Instrument", "TargetName")
        _, code = iau_body(target)
        if code is None:
            raise MissingConstant(f"BODYnnn_RADII (the target's radii; TargetName {target!r} is not an IAU body)")
        ellipsoid = pyproj.CRS.from_user_input(code).ellipsoid
        a, c = ellipsoid.semi_major_metre / 1000.0, ellipsoid.semi_minor_metre / 1000.0
        return a, a, c

    def isd_with_offset(self) -> tuple[dict, float]:
        """(ISD, line offset): cube line l is the ISD's line l + offset. 0 for every driver whose ISD describes
        the cube exactly; a push frame cropped inside a framelet overrides (its ISD is of whole framelets)."""
        return self.isd(), 0.0

    # --- the ISD -------------------------------------------------------------------------------------------
    def spice(self) -> dict:
        """The four SPICE parts, from the cube's tables."""
        for name in ("InstrumentPointing", "InstrumentPosition", "BodyRotation"):
            if not self.cube.has_table(name):
                raise MissingConstant(f"the {name} table (run spiceinit with attach=yes)")
        out = {"instrument_pointing": rotation_part(self.cube.table("InstrumentPointing")),
               "instrument_position": position_part(self.cube.table("InstrumentPosition")),
               "body_rotation": rotation_part(self.cube.table("BodyRotation"))}
        if self.cube.has_table("SunPosition"):
            out["sun_position"] = position_part(self.cube.table("SunPosition"))
        return out

    def isd(self) -> dict:
        """The ISD of the cube (the original image's geometry with the cube's crop/reduction folded in)."""
        a, b, c = self.radii
        isd = {"isis_camera_version": 1, "name_model": MODEL_NAMES[self.model],
               "name_platform": self.platform_name, "name_sensor": self.sensor_name,
               "image_lines": self.image_lines, "image_samples": self.image_samples,
               "radii": {"semimajor": a, "semiminor": c, "unit": "km",
                         # usgscsm's models read a spheroid; ISIS intersects all three radii. The middle one
                         # rides along (usgscsm ignores the key) so GroundModel can meet a triaxial body.
                         **({"intermediate": b} if b != a else {})},
               "reference_height": {"maxheight": 1000, "minheight": -1000, "unit": "m"},
               **self.spice()}
        if self.model in ("frame", "line_scan", "push_frame"):
            isd.update({
                "detector_sample_summing": self.sample_summing, "detector_line_summing": self.line_summing,
                "focal_length_model": {"focal_length": self.focal_length},
                "detector_center": {"line": self.detector_center_line, "sample": self.detector_center_sample},
                "focal2pixel_lines": self.focal2pixel_lines, "focal2pixel_samples": self.focal2pixel_samples,
                "optical_distortion": self.distortion,
                "starting_detector_line": self.detector_start_line,
                "starting_detector_sample": self.detector_start_sample})
        isd.update(self.timing())
        return self.fold_alpha(isd)

    def timing(self) -> dict:
        """The model kind's time keys (frame and line scan here; push frame and SAR drivers override)."""
        if self.model == "frame":
            return {"center_ephemeris_time": self.center_ephemeris_time}
        if self.model == "line_scan":
            rates = self.line_scan_rate
            start = self.ephemeris_start_time
            return {"interpolation_method": "lagrange", "line_scan_rate": rates,
                    "starting_ephemeris_time": start, "center_ephemeris_time": start - rates[0][1]}
        raise NotImplementedError(f"a {self.model} driver must define timing()")

    def fold_alpha(self, isd: dict) -> dict:
        """Fold the cube's AlphaCube (crop / reduction) into the ISD of the original image.

        ISIS's AlphaCube maps cube pixel p (1-based centre) to original pixel ``start + k (p - 0.5)`` with
        ``k = (ending - start) / beta``; in CSM coordinates (corner 0) that is ``(start - 0.5) + k x``. A
        detector coordinate is ``summing * x + starting_detector``, so summing becomes k * summing and the start
        moves by (start - 0.5) * summing. A line scanner's lines are times: its rate scales and its start
        moves instead. Push frame and SAR drivers override this.
        """
        alpha = self.cube.alpha
        lines, samples, _ = self.cube.dimensions
        isd["image_lines"], isd["image_samples"] = lines, samples
        if not alpha:
            return isd
        ks, kl = self.cube.alpha_scales()
        s0, l0 = alpha["starting_sample"] - 0.5, alpha["starting_line"] - 0.5
        if self.model in ("frame", "line_scan", "push_frame"):
            isd["starting_detector_sample"] += s0 * isd["detector_sample_summing"]
            isd["detector_sample_summing"] *= ks
        if self.model == "frame":
            isd["starting_detector_line"] += l0 * isd["detector_line_summing"]
            isd["detector_line_summing"] *= kl
        elif self.model == "line_scan":
            rates = isd["line_scan_rate"]
            if len(rates) != 1:
                raise MissingConstant("a crop of a variable-rate line scanner (not supported yet)")
            _, offset, rate = rates[0]
            start = isd["starting_ephemeris_time"] + l0 * rate
            rate *= kl
            centre = start + rate * lines / 2.0
            isd.update({"starting_ephemeris_time": start, "center_ephemeris_time": centre,
                        "line_scan_rate": [[0.5, start - centre, rate]]})
        else:
            raise MissingConstant(f"a {self.model} driver must fold its own AlphaCube")
        return isd
