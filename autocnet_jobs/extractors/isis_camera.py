"""The camera dict of a level-1 ISIS cube, from the SPICE it carries (``spiceinit attach=yes``), no kernels.

:func:`isis_camera` reads the label's ``Instrument``, ``Kernels``, ``AlphaCube`` and ``NaifKeywords`` and the
``InstrumentPointing``, ``InstrumentPosition``, ``BodyRotation`` and ``SunPosition`` tables, and lays the model
out like an ALE image support data document (names ALE uses where it has one; see :mod:`.spice_cache` for the
rotation and position parts), so a CSM-minded reader finds what it expects. :func:`sensor_model` turns such a
dict back into a :class:`~.sensor.SensorModel`.

Supported instruments, each following its ISIS camera class: Apollo Metric (framing, looks down -Z, Apollo
distortion), LRO NAC left/right (line scan), Viking Orbiter VIS A/B (framing, constants from
:mod:`.instruments`) and Mars Odyssey THEMIS IR (line scan, constants from :mod:`.instruments`). Any other
cube gets ``None`` and a reason naming what is missing; a table that is there but garbled raises
CameraDataError.
"""
from __future__ import annotations

import re
import struct

from ..errors import CameraDataError
from . import instruments
from .framing import FramingModel
from .isis_tables import numbers, read_table, table_block
from .labels import Block, isis3_label
from .line_scan import LineScanModel
from .sensor import SensorModel
from .spice_cache import position_isd, rotation_isd

MODELS = {"framing": FramingModel, "line_scan": LineScanModel}
CSM_NAMES = {"framing": "USGS_ASTRO_FRAME_SENSOR_MODEL", "line_scan": "USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL"}


class MissingConstant(Exception):
    """A constant the model needs is in neither the label nor :mod:`.instruments`."""


class Naif:
    """The label's NaifKeywords, read as numbers on demand."""

    def __init__(self, label: Block, ik: int):
        block = label.find("NaifKeywords")
        self.keywords = dict(block.keywords) if block is not None else {}
        self.ik = ik

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

    def clock_et(self, spacecraft_code: int, count: str) -> float:
        """The ET ISIS computed for a spacecraft clock count (stored as the hex of a little-endian double)."""
        key = f"CLOCK_ET_{spacecraft_code}_{count.strip()}_COMPUTED"
        if key not in self.keywords:
            raise MissingConstant(f"{key} (the spacecraft clock time, which spiceinit stores)")
        try:
            return struct.unpack("<d", bytes.fromhex(self.keywords[key].strip()))[0]
        except ValueError:
            raise CameraDataError(f"NaifKeywords {key} = {self.keywords[key]!r} is not a hex double") from None

    def radii(self) -> dict:
        for key in self.keywords:
            if re.fullmatch(r"BODY-?\d+_RADII", key):
                r = self.values(key, 3)
                return {"semimajor": r[0], "semiminor": r[2], "unit": "km"}
        raise MissingConstant("BODYnnn_RADII (the target's radii)")


def _instrument(label: Block) -> tuple[str, str, Block]:
    inst = label.find("Instrument")
    if inst is None:
        raise MissingConstant("the Instrument group")
    return (inst.get("SpacecraftName") or "").strip().upper(), (inst.get("InstrumentId") or "").strip().upper(), inst


def _alpha(label: Block) -> dict | None:
    alpha = label.find("AlphaCube")
    if alpha is None:
        return None
    keys = {"samples": "AlphaSamples", "lines": "AlphaLines", "starting_sample": "AlphaStartingSample",
            "starting_line": "AlphaStartingLine", "ending_sample": "AlphaEndingSample",
            "ending_line": "AlphaEndingLine", "beta_samples": "BetaSamples", "beta_lines": "BetaLines"}
    try:
        return {k: float(alpha.get(v)) for k, v in keys.items()}
    except (TypeError, ValueError):
        raise CameraDataError("the AlphaCube group is incomplete or not numeric") from None


def _dimensions(label: Block) -> tuple[int, int]:
    dims = label.find("Dimensions")
    return int(dims.get("Lines")), int(dims.get("Samples"))


def _table_time_centre(table_isd: dict) -> float:
    times = table_isd.get("ephemeris_times")
    if not times:
        raise MissingConstant("InstrumentPointing ephemeris times (a polynomial table has no exposure time)")
    return (times[0] + times[-1]) / 2.0


def _apollo_metric(naif: Naif, inst: Block, alpha: dict | None, dims, pointing) -> dict:
    parent_lines, parent_samples = (alpha["lines"], alpha["samples"]) if alpha else dims
    pp = naif.values("INS{ik}_PP", 2)
    k = naif.values("INS{ik}_OD_K", 3)
    j = naif.values("INS{ik}_DECENTER", 3)
    return {"type": "framing", "focal_length": naif.value("INS{ik}_FOCAL_LENGTH"), "focal_plane_z": -1.0,
            "detector_center": {"sample": parent_samples / 2.0, "line": parent_lines / 2.0},
            "optical_distortion": {"apollo_metric": {"xp": pp[0], "yp": pp[1], "k1": k[0], "k2": k[1],
                                                    "k3": k[2], "j1": j[0], "j2": j[1], "t0": j[2]}},
            "center_ephemeris_time": _table_time_centre(pointing)}


def _lro_nac(naif: Naif, inst: Block, alpha, dims, pointing) -> dict:
    count = inst.get("SpacecraftClockPrerollCount")
    if not count or count.strip().upper() == "NULL":
        raise MissingConstant("Instrument SpacecraftClockPrerollCount")
    rate = numbers(inst.get("LineExposureDuration"))[0] / 1000.0
    rate = rate * (1.0 + naif.value("INS{ik}_MULTIPLI_LINE_ERROR", 0.0)) + naif.value("INS{ik}_ADDITIVE_LINE_ERROR", 0.0)
    start = (naif.clock_et(int(naif.ik / 1000), count) + naif.value("INS{ik}_ADDITIONAL_PREROLL", 0.0) * rate
             + naif.value("INS{ik}_CONSTANT_TIME_OFFSET", 0.0))
    return {"type": "line_scan", "focal_length": naif.value("INS{ik}_FOCAL_LENGTH"),
            "detector_center": {"sample": naif.value("INS{ik}_BORESIGHT_SAMPLE"),
                                "line": naif.value("INS{ik}_BORESIGHT_LINE")},
            "detector_sample_summing": float(inst.get("SpatialSumming") or 1),
            "starting_detector_sample": float(inst.get("SampleFirstPixel") or 0) + 1.0,
            "optical_distortion": {"lro_nac": {"coefficients": naif.values("INS{ik}_OD_K", 1)[:1]}},
            "start_time": start, "line_rate": rate}


def _viking(naif: Naif, inst: Block, alpha, dims, pointing, spacecraft: str, instrument: str) -> dict:
    return {"type": "framing", "focal_length": instruments.VIKING_FOCAL_LENGTH[(spacecraft, instrument)],
            "detector_center": dict(zip(("sample", "line"), instruments.VIKING_DETECTOR_ORIGIN)),
            "optical_distortion": {"none": {}}, "center_ephemeris_time": _table_time_centre(pointing),
            "note": "Viking reseau distortion is not modelled (its master reseau file is not in the label)"}


def _themis_ir(naif: Naif, inst: Block, alpha, dims, pointing, band_block: Block | None, band: int) -> dict:
    c = instruments.THEMIS_IR
    filters = [int(v) for v in numbers(band_block.get("FilterNumber"))] if band_block is not None else []
    if not 1 <= band <= len(filters):
        raise MissingConstant(f"BandBin FilterNumber for band {band}")
    f = filters[band - 1] - 1
    summing = float(inst.get("SpatialSumming") or 1)
    rate = c["line_rate"] * summing
    tdi = (inst.get("TimeDelayIntegration") or "").strip().upper() == "ENABLED"
    det_line = (c["band_detector_line_tdi"] if tdi else c["band_detector_line_no_tdi"])[f]
    start = (naif.clock_et(int(naif.ik / 1000), inst.get("SpacecraftClockCount") or "")
             + numbers(inst.get("SpacecraftClockOffset") or "0")[0] + (det_line - 0.5) * rate / summing)
    return {"type": "line_scan", "focal_length": c["focal_length"],
            "detector_center": {"sample": c["boresight_sample"] - c["empirical_sample_offset"][f], "line": 0.0},
            "detector_line_offset": c["boresight_line"] - det_line + c["empirical_line_offset"][f],
            "detector_sample_summing": summing, "detector_line_summing": summing,
            "optical_distortion": {"themis_ir": {"k": c["distortion_k"][f], "alpha1": c["distortion_alpha1"],
                                                 "alpha2": c["distortion_alpha2"]}},
            "start_time": start, "line_rate": rate}


def _specific(spacecraft, instrument, naif, inst, alpha, dims, pointing, label, band) -> dict:
    if spacecraft.startswith("APOLLO") and instrument == "METRIC":
        return _apollo_metric(naif, inst, alpha, dims, pointing)
    if instrument in ("NACL", "NACR") and "LUNAR RECONNAISSANCE" in spacecraft:
        return _lro_nac(naif, inst, alpha, dims, pointing)
    if (spacecraft, instrument) in instruments.VIKING_FOCAL_LENGTH:
        return _viking(naif, inst, alpha, dims, pointing, spacecraft, instrument)
    if instrument == "THEMIS_IR":
        return _themis_ir(naif, inst, alpha, dims, pointing, label.find("BandBin"), band)
    raise MissingConstant(f"a sensor model for {spacecraft or '?'} {instrument or '?'} (supported: Apollo "
                          f"Metric, LRO NAC, Viking Orbiter VIS, THEMIS IR)")


def isis_camera(path: str, band: int = 1) -> tuple[dict | None, str | None]:
    """(camera dict, None), or (None, why there is none) for a cube without usable SPICE.

    Raises CameraDataError when the cube's SPICE tables or keywords are present but unreadable.
    """
    label = isis3_label(path)
    if label is None or label.find("Kernels") is None:
        return None, None
    if label.find("Mapping") is not None:
        return None, "the cube is map-projected"
    try:
        spacecraft, instrument, inst = _instrument(label)
        kernels = label.find("Kernels")
        try:
            ik = int(kernels.get("NaifFrameCode") or kernels.get("NaifIkCode"))
        except (TypeError, ValueError):
            raise MissingConstant("Kernels NaifFrameCode") from None
        for name in ("InstrumentPointing", "InstrumentPosition", "BodyRotation"):
            if table_block(label, name) is None:
                raise MissingConstant(f"the {name} table (run spiceinit with attach=yes)")
        pointing = rotation_isd(read_table(path, label, "InstrumentPointing"))
        naif = Naif(label, ik)
        alpha, dims = _alpha(label), _dimensions(label)
        spec = _specific(spacecraft, instrument, naif, inst, alpha, dims, pointing, label, band)
        tx, ty = naif.values("INS{ik}_TRANSX", 3), naif.values("INS{ik}_TRANSY", 3)
        radii = naif.radii()
    except MissingConstant as exc:
        return None, f"no camera model: missing {exc}"
    kind = spec.pop("type")
    camera = {
        "type": kind, "name_model": CSM_NAMES[kind], "name_platform": spacecraft, "name_sensor": instrument,
        "naif_ik_code": ik, "image_lines": dims[0], "image_samples": dims[1],
        "focal_length_model": {"focal_length": spec.pop("focal_length")},
        "focal_plane_z": spec.pop("focal_plane_z", 1.0),
        "pixel2focal_x": tx, "pixel2focal_y": ty,
        "focal2pixel_samples": _optional(naif, "INS{ik}_ITRANSS"),
        "focal2pixel_lines": _optional(naif, "INS{ik}_ITRANSL"),
        "radii": radii,
        "instrument_pointing": pointing,
        "instrument_position": position_isd(read_table(path, label, "InstrumentPosition")),
        "body_rotation": rotation_isd(read_table(path, label, "BodyRotation")),
    }
    if table_block(label, "SunPosition") is not None:
        camera["sun_position"] = position_isd(read_table(path, label, "SunPosition"))
    if alpha:
        camera["alpha_cube"] = alpha
    if kind == "line_scan":
        start, rate = spec.pop("start_time"), spec.pop("line_rate")
        lines = alpha["lines"] if alpha else dims[0]
        centre = start + rate * lines / 2.0
        camera["center_ephemeris_time"] = centre
        camera["starting_ephemeris_time"] = start
        camera["line_scan_rate"] = [[0.5, start - centre, rate]]
    camera.update(spec)
    return camera, None


def _optional(naif: Naif, key: str) -> list[float] | None:
    try:
        return naif.values(key, 3)
    except MissingConstant:
        return None


def sensor_model(camera: dict, dem=None) -> SensorModel:
    """The model a camera dict describes (``dem``: a DemSampler to intersect instead of the ellipsoid)."""
    return MODELS[camera["type"]](camera, dem)
