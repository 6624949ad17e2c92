"""Image support data (ISD) documents: read, check, find beside an image, write.

An ISD is the JSON document ALE writes (``isd_generate``) and usgscsm reads: one camera, self-contained. This
module checks the keys the four models read (usgscsm's ``constructStateFromIsd``) before a model is built, so a
bad sidecar is one typed error for that image, :class:`~autocnet_jobs.errors.IsdError`, naming the key at
fault and what was expected - never a KeyError deep in a model.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from ...errors import IsdError
from . import MODELS

_NUMBER = (int, float)


def _get(isd: dict, path: str):
    node = isd
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise IsdError(f"ISD key '{path}' is missing")
        node = node[part]
    return node


def _number(isd: dict, path: str, positive: bool = False) -> float:
    value = _get(isd, path)
    if isinstance(value, bool) or not isinstance(value, _NUMBER) or not math.isfinite(value):
        raise IsdError(f"ISD key '{path}' must be a finite number, not {value!r:.60}")
    if positive and value <= 0:
        raise IsdError(f"ISD key '{path}' must be > 0, not {value!r}")
    return float(value)


def _finite(value: list, shape: tuple) -> bool:
    """Whether ``value`` is an array of finite numbers of ``shape`` (None: any length), checked in numpy: a push
    frame's ISD holds ~10^5 numbers, which a check in Python took longer over than building its model. (A JSON
    true among numbers reads as 1 here, as numpy has it.)"""
    try:
        arr = np.asarray(value)
    except ValueError:   # ragged rows
        return False
    return (arr.dtype.kind in "fiu" and arr.ndim == len(shape)
            and all(n is None or n == m for n, m in zip(shape, arr.shape)) and bool(np.isfinite(arr).all()))


def _vectors(isd: dict, path: str, width: int, rows: int | None = None) -> list:
    value = _get(isd, path)
    if not isinstance(value, list) or not value:
        raise IsdError(f"ISD key '{path}' must be a non-empty list")
    for i, row in enumerate([] if _finite(value, (None, width)) else value):
        if not isinstance(row, list) or len(row) != width or not all(
                isinstance(v, _NUMBER) and not isinstance(v, bool) and math.isfinite(v) for v in row):
            raise IsdError(f"ISD key '{path}[{i}]' must be a list of {width} finite numbers, not {row!r:.80}")
    if rows is not None and len(value) != rows:
        raise IsdError(f"ISD key '{path}' has {len(value)} entries but its ephemeris_times has {rows}")
    return value


def _times(isd: dict, path: str) -> list:
    value = _get(isd, path)
    if not isinstance(value, list) or not value or not _finite(value, (None,)):
        raise IsdError(f"ISD key '{path}' must be a non-empty list of finite numbers")
    if not (np.diff(value) > 0).all():
        raise IsdError(f"ISD key '{path}' must be strictly increasing")
    return value


def _states(isd: dict, key: str) -> None:
    n = len(_times(isd, f"{key}.ephemeris_times"))
    _vectors(isd, f"{key}.positions", 3, n)
    if "velocities" in isd[key]:
        _vectors(isd, f"{key}.velocities", 3, n)


def _rotations(isd: dict, key: str) -> None:
    n = len(_times(isd, f"{key}.ephemeris_times"))
    _vectors(isd, f"{key}.quaternions", 4, n)
    if "constant_rotation" in isd[key]:
        rotation = _get(isd, f"{key}.constant_rotation")
        if not isinstance(rotation, list) or len(rotation) != 9:
            raise IsdError(f"ISD key '{key}.constant_rotation' must be 9 numbers (a row-major 3x3 matrix)")


def check_isd(isd) -> dict:
    """``isd`` unchanged when the four models can read it; else IsdError naming the key at fault."""
    if not isinstance(isd, dict):
        raise IsdError(f"an ISD must be a JSON object, not a JSON {type(isd).__name__}")
    name = _get(isd, "name_model")
    if name not in MODELS:
        raise IsdError(f"ISD key 'name_model' is {name!r:.60}; supported: {', '.join(MODELS)}")
    for key in ("image_lines", "image_samples"):
        _number(isd, key, positive=True)
    _number(isd, "radii.semimajor", positive=True)
    _number(isd, "radii.semiminor", positive=True)
    _states(isd, "instrument_position")
    _rotations(isd, "body_rotation")
    if "sun_position" in isd:
        _states(isd, "sun_position")
    _number(isd, "center_ephemeris_time")
    if name == "USGS_ASTRO_SAR_SENSOR_MODEL":
        for key in ("wavelength", "line_exposure_duration", "scaled_pixel_width"):
            _number(isd, key, positive=True)
        _number(isd, "starting_ephemeris_time")
        _times(isd, "range_conversion_times")
        _get(isd, "range_conversion_coefficients")
        return isd
    _rotations(isd, "instrument_pointing")
    _number(isd, "focal_length_model.focal_length")
    _number(isd, "detector_center.line")
    _number(isd, "detector_center.sample")
    for key in ("focal2pixel_lines", "focal2pixel_samples"):
        _vectors({"v": [_get(isd, key)]}, "v", 3)
    if name == "USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL":
        _vectors(isd, "line_scan_rate", 3)
        _number(isd, "starting_ephemeris_time")
    elif name == "USGS_ASTRO_PUSH_FRAME_SENSOR_MODEL":
        for key in ("exposure_duration", "interframe_delay", "framelet_height"):
            _number(isd, key, positive=True)
        _number(isd, "starting_ephemeris_time")
    from .distortion import distortion_from_isd
    try:
        distortion_from_isd(isd)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise IsdError(f"ISD key 'optical_distortion': {exc}") from None
    return isd


def load_isd(path: str | os.PathLike) -> dict:
    """The checked ISD in the JSON file ``path``; IsdError when it is not valid JSON or not a usable ISD."""
    try:
        text = Path(path).read_text()
    except UnicodeDecodeError:
        raise IsdError(f"{path} is not a JSON text file (ISD sidecar)") from None
    try:
        isd = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IsdError(f"{path} is not valid JSON (ISD sidecar): {exc.msg} at line {exc.lineno}") from None
    try:
        return check_isd(isd)
    except IsdError as exc:
        raise IsdError(f"{path}: {exc}") from None


def sidecar_path(image: str | os.PathLike, isd_dir: str | os.PathLike | None = None) -> Path | None:
    """The ISD sidecar of an image: ``IMAGE_STEM.json`` beside it (ALE's isd_generate name), else in
    ``isd_dir`` (``camera.isd_dir``); None when there is none. The image's own name never matches (a .json
    image is not its own sidecar)."""
    image = Path(image)
    stem = image.name.rsplit(".", 1)[0] if "." in image.name else image.name
    for folder in (image.parent, Path(isd_dir) if isd_dir else None):
        if folder is None:
            continue
        candidate = folder / f"{stem}.json"
        if candidate.is_file() and candidate.resolve() != image.resolve():
            return candidate
    return None


def write_isd(isd: dict, path: str | os.PathLike) -> Path:
    """Write ``isd`` as JSON usgscsm loads, atomically (temp file, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(isd, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
