"""What every instrument driver shares: the cube, opened once, and the ISD assembled from label and SPICE.

ALE's design (DOI-USGS/ale ``ale/base``): a driver is one small class per instrument composed from a label part
and a SPICE part. Ours reads only what an ISIS cube carries after ``spiceinit attach=yes`` (no kernels): the
label's ``Instrument``, ``Kernels``, ``NaifKeywords`` and ``AlphaCube`` and the ``InstrumentPointing``,
``InstrumentPosition``, ``BodyRotation`` and ``SunPosition`` tables (ALE's ``IsisLabel`` + ``IsisSpice``).

A driver describes the **original** image, as ALE does; :meth:`Driver.isd` then folds a crop or reduction of
the cube (``AlphaCube``) into the ISD: the detector summing and start for samples (and lines of a framing
camera), the line rate and start time of a line scanner. Push frame and SAR drivers fold lines themselves.

The ISD is ALE's layout (ale/formatters/formatter.py): positions in J2000 km, quaternions [w, x, y, z] rotating
J2000 into ``time_dependent_frames[0]``, ``constant_rotation`` from that frame into the sensor (or body) frame.
"""
from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ....errors import CameraDataError
from ...isis_tables import Table, numbers, read_table, table_block
from ...labels import Block

MODEL_NAMES = {"frame": "USGS_ASTRO_FRAME_SENSOR_MODEL", "line_scan": "USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL",
               "push_frame": "USGS_ASTRO_PUSH_FRAME_SENSOR_MODEL", "sar": "USGS_ASTRO_SAR_SENSOR_MODEL"}


class MissingConstant(Exception):
    """A value the driver needs is in neither the label nor the driver's own constants (no camera, a note)."""


@dataclass
class IsisCube:
    """A level-1 ISIS cube, its label parsed once and its tables read on demand."""

    path: str
    label: Block
    _tables: dict = field(default_factory=dict, repr=False)

    def group(self, name: str) -> Block | None:
        return self.label.find(name)

    def keyword(self, group: str, key: str, default: str | None = None) -> str | None:
        block = self.label.find(group)
        value = block.get(key) if block is not None else None
        return default if value is None else value.strip().strip('"')

    def has_table(self, name: str) -> bool:
        return table_block(self.label, name) is not None

    def table(self, name: str) -> Table:
        if name not in self._tables:
            self._tables[name] = read_table(self.path, self.label, name)
        return self._tables[name]

    @cached_property
    def dimensions(self) -> tuple[int, int, int]:
        """(lines, samples, bands) of the cube."""
        dims = self.label.find("Dimensions")
        try:
            return int(dims.get("Lines")), int(dims.get("Samples")), int(dims.get("Bands") or 1)
        except (AttributeError, TypeError, ValueError):
            raise CameraDataError("the cube label has no readable Core Dimensions group") from None

    @cached_property
    def alpha(self) -> dict | None:
        """The AlphaCube group as numbers (a crop or reduction of the original image), or None."""
        block = self.label.find("AlphaCube")
        if block is None:
            return None
        keys = {"samples": "AlphaSamples", "lines": "AlphaLines", "starting_sample": "AlphaStartingSample",
                "starting_line": "AlphaStartingLine", "ending_sample": "AlphaEndingSample",
                "ending_line": "AlphaEndingLine", "beta_samples": "BetaSamples", "beta_lines": "BetaLines"}
        try:
            return {k: float(block.get(v)) for k, v in keys.items()}
        except (TypeError, ValueError):
            raise CameraDataError("the AlphaCube group is incomplete or not numeric") from None


class Naif:
    """The label's NaifKeywords, read as numbers on demand; ``{ik}`` in a key is the instrument's NAIF code."""

    def __init__(self, label: Block, ik: int):
        block = label.find("NaifKeywords")
        self.keywords = dict(block.keywords) if block is not None else {}
        self.ik = ik

    def has(self, key: str) -> bool:
        return key.replace("{ik}", str(self.ik)) in self.keywords

    def values(self, key: str, n: int | None = None) -> list[float]:
        key = key.replace("{ik}", str(self.ik))
        if key not in self.keywords:
            raise MissingConstant(f"{key} (not in the label's NaifKeywords)")
        try:
            out = numbers(self.keywords[key])
        except ValueError:
            raise CameraDataError(f"NaifKeywords {key} = {self.keywords[key]!r} is not numeric") from None
        if n is not None and len(out) < n:
            raise CameraDataError(f"NaifKeywords {key} has {len(out)} values, {n} are needed")
        return out

    def value(self, key: str, default: float | None = None) -> float:
        try:
            return self.values(key, 1)[0]
        except MissingConstant:
            if default is None:
                raise
            return default

    def text(self, key: str) -> str:
        key = key.replace("{ik}", str(self.ik))
        if key not in self.keywords:
            raise MissingConstant(f"{key} (not in the label's NaifKeywords)")
        return self.keywords[key].strip().strip('"')

    def clock_et(self, spacecraft_code: int, count: str) -> float:
        """The ET spiceinit computed for a spacecraft clock count (the hex of a little-endian double)."""
        key = f"CLOCK_ET_{spacecraft_code}_{count.strip().strip(chr(34))}_COMPUTED"
        if key not in self.keywords:
            raise MissingConstant(f"{key} (the spacecraft clock time, which spiceinit stores)")
        try:
            return struct.unpack("<d", bytes.fromhex(self.keywords[key].strip().strip('"')))[0]
        except ValueError:
            raise CameraDataError(f"NaifKeywords {key} = {self.keywords[key]!r} is not a hex double") from None

    def radii(self) -> tuple[float, float, float]:
        """The target's radii (km) from BODYnnn_RADII."""
        for key in self.keywords:
            if re.fullmatch(r"BODY-?\d+_RADII", key):
                r = self.values(key, 3)
                return r[0], r[1], r[2]
        raise MissingConstant("BODYnnn_RADII (the target's radii)")


# --- UTC -> ET without kernels: the leap seconds of NAIF's naif0012.tls (valid from 2017-01-01 on) -----------
_LEAP_SECONDS = [  # (UTC date the offset starts, TAI - UTC)
    ("1972-01-01", 10), ("1972-07-01", 11), ("1973-01-01", 12), ("1974-01-01", 13), ("1975-01-01", 14),
    ("1976-01-01", 15), ("1977-01-01", 16), ("1978-01-01", 17), ("1979-01-01", 18), ("1980-01-01", 19),
    ("1981-07-01", 20), ("1982-07-01", 21), ("1983-07-01", 22), ("1985-07-01", 23), ("1988-01-01", 24),
    ("1990-01-01", 25), ("1991-01-01", 26), ("1992-07-01", 27), ("1993-07-01", 28), ("1994-07-01", 29),
    ("1996-01-01", 30), ("1997-07-01", 31), ("1999-01-01", 32), ("2006-01-01", 33), ("2009-01-01", 34),
    ("2012-07-01", 35), ("2015-07-01", 36), ("2017-01-01", 37)]


def utc_to_et(utc: str) -> float:
    """Seconds past J2000 TDB of an ISO UTC time (``2008-03-01T12:00:00.123``), as SPICE str2et with naif0012.

    TDB - TT is NAIF's periodic term K sin(E) (K = 1.657e-3 s, EB = 1.671e-2, M = 6.239996 + 1.99096871e-7 t).
    """
    import datetime as dt
    text = utc.strip().strip('"').rstrip("Z")
    day, _, clock = text.partition("T")
    h, m, s = (clock.split(":") + ["0", "0", "0"])[:3] if clock else ("0", "0", "0")
    base = dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc)
    j2000 = dt.datetime(2000, 1, 1, 12, tzinfo=dt.timezone.utc)
    seconds = (base - j2000).total_seconds() + int(h) * 3600 + int(m) * 60 + float(s)
    delta_at = next((v for d, v in reversed(_LEAP_SECONDS) if day >= d), 10)
    tt = seconds + delta_at + 32.184
    mean_anomaly = 6.239996 + 1.99096871e-7 * tt
    return tt + 1.657e-3 * math.sin(mean_anomaly + 1.671e-2 * math.sin(mean_anomaly))


# --- SPICE tables -> ISD parts ---------------------------------------------------------------------------------

def _frames(table: Table) -> dict:
    out = {"time_dependent_frames": [int(v) for v in numbers(table.get("TimeDependentFrames"))]}
    constant = [int(v) for v in numbers(table.get("ConstantFrames"))]
    if constant:
        rotation = numbers(table.get("ConstantRotation"))
        if len(rotation) != 9:
            raise CameraDataError(f"table {table.name}: ConstantRotation has {len(rotation)} values, not 9")
        out["constant_frames"] = constant
        out["constant_rotation"] = rotation
    return out


def _times(table: Table) -> list[float]:
    if "ET" not in table.columns:
        raise CameraDataError(f"table {table.name} has no ET field (a polynomial table is not supported; "
                              f"fields: {', '.join(table.columns)})")
    et = table.columns["ET"]
    if np.any(np.diff(et) <= 0):
        raise CameraDataError(f"table {table.name}: ephemeris times are not increasing")
    return et.tolist()


def rotation_part(table: Table) -> dict:
    """ALE's ``instrument_pointing`` / ``body_rotation`` of an ISIS rotation cache table."""
    names = ("J2000Q0", "J2000Q1", "J2000Q2", "J2000Q3")
    if not all(n in table.columns for n in names):
        raise CameraDataError(f"table {table.name} has no J2000Q0..3 quaternion fields (fields: "
                              f"{', '.join(table.columns)}); a polynomial table is not supported")
    times = _times(table)
    q = np.column_stack([table.columns[n] for n in names])                  # SPICE and ISD order: w, x, y, z
    norms = np.linalg.norm(q, axis=1)
    if np.any(np.abs(norms - 1.0) > 1e-3):
        raise CameraDataError(f"table {table.name}: quaternions are not unit length; the table is garbled")
    out = {**_frames(table), "ck_table_start_time": times[0], "ck_table_end_time": times[-1],
           "ck_table_original_size": len(times), "ephemeris_times": times,
           "quaternions": (q / norms[:, None]).tolist(), "reference_frame": 1}
    if all(n in table.columns for n in ("AV1", "AV2", "AV3")):
        out["angular_velocities"] = np.column_stack([table.columns[n] for n in ("AV1", "AV2", "AV3")]).tolist()
    return out


def position_part(table: Table) -> dict:
    """ALE's ``instrument_position`` / ``sun_position`` of an ISIS position cache table (J2000 km)."""
    names = ("J2000X", "J2000Y", "J2000Z")
    if not all(n in table.columns for n in names):
        raise CameraDataError(f"table {table.name} has no J2000X..Z fields (fields: {', '.join(table.columns)}); "
                              f"a polynomial table is not supported")
    times = _times(table)
    out = {"spk_table_start_time": times[0], "spk_table_end_time": times[-1],
           "spk_table_original_size": len(times), "ephemeris_times": times,
           "positions": np.column_stack([table.columns[n] for n in names]).tolist(), "reference_frame": 1}
    if all(n in table.columns for n in ("J2000XV", "J2000YV", "J2000ZV")):
        out["velocities"] = np.column_stack([table.columns[n] for n in ("J2000XV", "J2000YV", "J2000ZV")]).tolist()
    return out


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
        ks = (alpha["ending_sample"] - alpha["starting_sample"]) / alpha["beta_samples"]
        kl = (alpha["ending_line"] - alpha["starting_line"]) / alpha["beta_lines"]
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
