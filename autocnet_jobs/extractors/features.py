"""Interest points with OpenCV (SIFT, ORB, AKAZE), tiled so memory does not grow with the image.

Why tiles: OpenCV's SIFT doubles the image and keeps a float pyramid, about 250 bytes per input pixel (1 GB for a
2048 x 2048 frame), so a 20k x 20k image can only be done in windows. Each tile is read with rasterio, extracted,
and only the keypoints in the tile's *core* are kept: cores partition the image (the seam between two tiles is the
middle of their overlap), so a keypoint seen by two tiles is kept exactly once and always from the tile where it is
farthest from the window edge. The ``max_features`` budget is split over the tiles by core area (strongest
keypoints per tile; budget a tile cannot use passes on to the next), which also spreads points over the image.

Coordinates: x, y are full-resolution pixel coordinates in OpenCV's convention, where the *centre* of the
top-left pixel is (0, 0). Add 0.5 for GDAL/rasterio pixel-corner coordinates (rasterio ``ds.xy(row, col)`` takes
integer indices of centres); ISIS sample/line = x + 1, y + 1.
"""
from __future__ import annotations

import math
import re
from typing import Any

import cv2
import numpy as np
import rasterio
from rasterio.windows import Window

from ..defaults import defaults as builtin_defaults
from ..errors import ConfigError, ExtractionError, NoData
from .keypoint_file import COLUMNS
from .reading import estimate_stretch, read_band_8bit

METHODS = ("sift", "orb", "akaze")
# Smallest image side (after downsampling) handed to a detector; below it the note says "too small".
MIN_SIDE = 16
# The valid mask is eroded by this many (working) pixels so no keypoint sits on, or right next to, nodata.
ERODE_PX = 4
# Smallest tile side, and ORB's default edgeThreshold (OpenCV's ORB_create).
MIN_TILE = 64
ORB_EDGE_THRESHOLD = 31


def effective_settings(extractor_settings: dict) -> dict[str, Any]:
    """The settings actually used: defaults (``defaults.yml``) filled in, checked, ORB's overlap widened.

    The one home of the extractor rules: ``config.load`` runs this on the ``extractor`` section, so settings
    every job would reject are a ConfigError before any job starts. ORB ignores a border of ``edgeThreshold``
    pixels in every tile; an overlap of at least twice that keeps the seams from becoming strips without
    keypoints, and a tile must be more than twice its overlap.
    """
    defaults = builtin_defaults()["extractor"]
    unknown = set(extractor_settings) - set(defaults)
    if unknown:
        raise ConfigError(f"unknown extractor setting(s) {sorted(unknown)}; known: {sorted(defaults)}")
    s: dict[str, Any] = {**defaults, **extractor_settings}
    s["parameters"] = dict(s["parameters"] or {})
    s["method"] = str(s["method"]).lower()
    if s["method"] not in METHODS:
        raise ConfigError(f"extractor.method must be one of {METHODS}, got {s['method']!r}")
    for key in ("max_features", "tile_size", "downsample"):
        if not isinstance(s[key], int) or isinstance(s[key], bool) or s[key] < 1:
            raise ConfigError(f"extractor.{key} must be a positive integer, got {s[key]!r}")
    if not isinstance(s["tile_overlap"], int) or isinstance(s["tile_overlap"], bool) or s["tile_overlap"] < 0:
        raise ConfigError(f"extractor.tile_overlap must be an integer >= 0, got {s['tile_overlap']!r}")
    why = ""
    if s["method"] == "orb":
        edge = s["parameters"].get("edgeThreshold", ORB_EDGE_THRESHOLD)
        if not isinstance(edge, int) or isinstance(edge, bool):
            raise ConfigError(f"extractor.parameters.edgeThreshold must be an integer, got {edge!r}")
        if 2 * edge > s["tile_overlap"]:
            why = f": ORB widens extractor.tile_overlap {s['tile_overlap']} to twice its edgeThreshold, {edge}"
            s["tile_overlap"] = 2 * edge
    if s["tile_size"] < MIN_TILE:
        raise ConfigError(f"extractor.tile_size must be at least {MIN_TILE}, got {s['tile_size']}")
    if 2 * s["tile_overlap"] >= s["tile_size"]:
        raise ConfigError(f"extractor.tile_size ({s['tile_size']}) must be more than twice the tile overlap "
                          f"({s['tile_overlap']}{why}): set extractor.tile_size to at least "
                          f"{2 * s['tile_overlap'] + 1} or lower extractor.tile_overlap"
                          f"{' / parameters.edgeThreshold' if why else ''}")
    return s


def _akaze_factory():
    """AKAZE's constructor: cv2 main module up to OpenCV 4, cv2.xfeatures2d (opencv-contrib) from OpenCV 5 on."""
    factory = getattr(cv2, "AKAZE_create", None) or getattr(getattr(cv2, "xfeatures2d", None), "AKAZE_create", None)
    if factory is None:
        raise ExtractionError(
            f"extractor.method 'akaze' is not available in this OpenCV ({cv2.__version__}): OpenCV 5 moved AKAZE "
            "to opencv-contrib; install opencv-contrib-python-headless instead of opencv-python-headless, or use "
            "sift/orb")
    return factory


def akaze_available() -> bool:
    """Whether this OpenCV build has AKAZE (OpenCV 5 wheels without contrib do not)."""
    try:
        _akaze_factory()
    except ExtractionError:
        return False
    return True


def _factory(method: str):
    """The OpenCV constructor of ``method``."""
    if method == "sift":
        return cv2.SIFT_create
    if method == "orb":
        return cv2.ORB_create
    return _akaze_factory()


# What an OpenCV constructor raises for arguments it rejects.
_REJECTED = (cv2.error, TypeError, ValueError, SystemError)


def make_detector(method: str, parameters: dict, nfeatures: int | None = None) -> cv2.Feature2D:
    """An OpenCV Feature2D for ``method``; ``parameters`` go to its constructor unchanged."""
    try:
        if method == "orb":
            return cv2.ORB_create(**{"nfeatures": max(500, nfeatures or 0), **parameters})
        return _factory(method)(**parameters)
    except _REJECTED as exc:
        raise ExtractionError(f"cannot create the {method} extractor with parameters {parameters}: {exc}") from None


def accepted_parameters(method: str) -> list[str]:
    """The keyword names ``method``'s OpenCV constructor takes, in its order. cv2's functions have no
    inspect.signature; their docstrings open each overload with ``NAME([, a[, b]]) -> retval``."""
    signatures = re.findall(r"^\w+\(([^)]*)\)\s*->", _factory(method).__doc__ or "", re.MULTILINE)
    return list(dict.fromkeys(name for sig in signatures for name in re.findall(r"[A-Za-z_]\w*", sig)))


def check_parameters(method: str, parameters: dict) -> None:
    """Build ``method``'s detector once with ``parameters``: a name or a value OpenCV rejects would fail every
    image the same way, so it is a ConfigError (naming it and what is accepted) when the config is loaded."""
    if method == "akaze" and not akaze_available():
        return  # every image says how to get AKAZE (make_detector); nothing to check the parameters against
    accepted = accepted_parameters(method)
    known = f"{method} takes {', '.join(accepted)}" if accepted else f"see OpenCV's {_factory(method).__name__}"
    unknown = [k for k in parameters if accepted and k not in accepted]
    if unknown:
        raise ConfigError(f"extractor.parameters: unknown {method} parameter(s) {unknown} ({known})")
    try:
        _factory(method)(**parameters)
    except _REJECTED as exc:
        raise ConfigError(f"extractor.parameters {parameters}: {_rejection(exc, parameters)} ({known})") from None


def _rejection(exc: BaseException, parameters: dict) -> str:
    """The part of OpenCV's message about the given parameters: cv2 tries every overload and lists each one's
    complaint (``>  - Argument 'sigma' can not be treated as a double``), most about arguments not given."""
    lines = [line.lstrip(">- ").strip() for line in str(exc).splitlines()]
    named = [line for line in lines if any(f"'{k}'" in line for k in parameters)]
    return "; ".join(dict.fromkeys(named)) or next((line for line in reversed(lines) if line), type(exc).__name__)


def tile_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(window start, window end, core start, core end) along one axis; cores partition [0, length)."""
    if length <= tile:
        return [(0, length, 0, length)]
    n = math.ceil((length - overlap) / (tile - overlap))
    starts = [round(i * (length - tile) / (n - 1)) for i in range(n)]
    ends = [s + tile for s in starts]
    seams = [(ends[i] + starts[i + 1]) // 2 for i in range(n - 1)]
    cores = [0, *seams, length]
    return [(starts[i], ends[i], cores[i], cores[i + 1]) for i in range(n)]


def _quotas(areas: list[int], total: int) -> list[int]:
    """Split ``total`` over tiles in proportion to ``areas`` (largest remainder; sums to exactly ``total``)."""
    whole = sum(areas)
    exact = [total * a / whole for a in areas]
    quota = [int(e) for e in exact]
    order = sorted(range(len(areas)), key=lambda i: exact[i] - quota[i], reverse=True)
    for i in order[: total - sum(quota)]:
        quota[i] += 1
    return quota


def _empty(detector: cv2.Feature2D) -> tuple[np.ndarray, np.ndarray]:
    """Zero keypoints and zero descriptors of the right width and type (readers need not special-case them)."""
    dtype = np.float32 if detector.descriptorType() == cv2.CV_32F else np.uint8
    return np.zeros((0, len(COLUMNS)), np.float32), np.zeros((0, detector.descriptorSize()), dtype)


def extract_features(ds: rasterio.DatasetReader, band: int, extractor_settings: dict,
                     nodata: float | None = None) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Keypoints (N, 6 float32: x, y, size, angle, response, octave), descriptors (N, D), note.

    Coordinates and sizes are in full-resolution pixels (see the module docstring for the convention) even when
    ``downsample`` > 1. ``nodata`` (``reading.nodata``) replaces the file's nodata value, so those pixels are
    out of the stretch and of detection (:func:`.reading.read_valid`). ``note`` says why there are no keypoints
    (too small, no valid pixel, nothing found), else None. Raises ExtractionError when OpenCV fails.
    """
    cv2.setNumThreads(1)  # Dask/Slurm run one task per core: OpenCV's own threads would oversubscribe them.
    s = effective_settings(extractor_settings)
    method, d = s["method"], s["downsample"]
    width, height = ds.width, ds.height
    wd, hd = math.ceil(width / d), math.ceil(height / d)
    detector = make_detector(method, s["parameters"])  # bad parameters fail here, whatever the image
    if min(wd, hd) < MIN_SIDE:
        scaled = f" ({wd}x{hd} after downsample {d})" if d > 1 else ""
        keypoints, descriptors = _empty(detector)
        return keypoints, descriptors, (f"image too small for feature detection: {width}x{height} px{scaled}; "
                                        f"detectors need at least {MIN_SIDE} px in each dimension")
    try:
        return _extract_tiles(ds, band, s, detector, nodata)
    except NoData as exc:
        # One rule at every size: no valid pixel is an answer (no keypoints, a note), not a failure to retry.
        keypoints, descriptors = _empty(detector)
        return keypoints, descriptors, f"no keypoints: {str(exc).split(': ', 1)[-1]}"


def _extract_tiles(ds, band: int, s: dict, detector, nodata) -> tuple[np.ndarray, np.ndarray, str | None]:
    """extract_features' tiled detection; raises NoData when the band has no valid pixel."""
    method, d = s["method"], s["downsample"]
    width, height = ds.width, ds.height
    wd, hd = math.ceil(width / d), math.ceil(height / d)
    xs, ys = tile_spans(wd, s["tile_size"], s["tile_overlap"]), tile_spans(hd, s["tile_size"], s["tile_overlap"])
    tiles = [(x, y) for y in ys for x in xs]
    stretch = estimate_stretch(ds, band, nodata=nodata) if len(tiles) > 1 else None  # one stretch for all tiles
    quotas = _quotas([(x[3] - x[2]) * (y[3] - y[2]) for x, y in tiles], s["max_features"])
    kept_kps, kept_desc, kept_tile = [], [], []
    carry, n_valid = 0, 0
    for index, ((x0, x1, cx0, cx1), (y0, y1, cy0, cy1)) in enumerate(tiles):
        quota = quotas.pop(0) + carry
        window = Window(x0 * d, y0 * d, min(x1 * d, width) - x0 * d, min(y1 * d, height) - y0 * d)
        out_shape = (y1 - y0, x1 - x0) if d > 1 else None
        try:
            img, valid = read_band_8bit(ds, band, window, out_shape, stretch=stretch, nodata=nodata)
        except NoData:
            if len(tiles) == 1:
                raise
            carry = quota
            continue
        n_valid += int(valid.sum())
        # ORB's nfeatures is a cap inside the detector: size it to this tile's quota.
        tile_detector = make_detector(method, s["parameters"], 2 * quota) if method == "orb" else detector
        kps, desc = _detect_tile(tile_detector, img, valid, (cx0 - x0, cx1 - x0, cy0 - y0, cy1 - y0), quota)
        carry = quota - len(kps)
        if len(kps):
            kps[:, 0] = window.col_off + (kps[:, 0] + 0.5) * (window.width / img.shape[1]) - 0.5
            kps[:, 1] = window.row_off + (kps[:, 1] + 0.5) * (window.height / img.shape[0]) - 0.5
            kps[:, 2] *= window.width / img.shape[1]
            kept_kps.append(kps)
            kept_desc.append(desc)
            kept_tile.append(np.full(len(kps), index))
        del img, valid
    if not kept_kps:
        if n_valid == 0:
            raise NoData(f"{ds.name}: band {band} has no valid pixel (all nodata or ISIS special pixels)")
        keypoints, descriptors = _empty(detector)
        return keypoints, descriptors, (f"no keypoints found by {method} in {n_valid} valid pixels "
                                        "(too little texture or contrast)")
    keypoints, descriptors = np.concatenate(kept_kps), np.concatenate(kept_desc)
    if len(tiles) > 1:
        # Seams in full-resolution centre coordinates: working pixel c starts at full-res corner c * d.
        seams = ([x[2] * d - 0.5 for x in xs[1:]], [y[2] * d - 0.5 for y in ys[1:]])
        keep = _seam_unique(keypoints, np.concatenate(kept_tile), seams, radius=float(d))
        keypoints, descriptors = keypoints[keep], descriptors[keep]
    order = np.argsort(-keypoints[:, 4], kind="stable")[: s["max_features"]]
    return keypoints[order], descriptors[order], None


def _seam_unique(kps: np.ndarray, tile: np.ndarray, seams: tuple[list[float], list[float]],
                 radius: float) -> np.ndarray:
    """Mask dropping the weaker of two keypoints from different tiles within ``radius`` px across a seam.

    Core ownership already keeps each detection once; this removes the same feature detected on both sides of a
    seam a fraction of a pixel apart (tile borders shift a detection slightly).
    """
    keep = np.ones(len(kps), bool)
    near = np.zeros(len(kps), bool)
    for axis, lines in enumerate(seams):
        if lines:
            near |= np.min(np.abs(kps[:, axis, None] - np.asarray(lines)[None, :]), axis=1) <= radius
    cand = np.flatnonzero(near)
    cand = cand[np.argsort(kps[cand, 0])]
    for a, i in enumerate(cand):
        for j in cand[a + 1:]:
            if kps[j, 0] - kps[i, 0] > radius:
                break
            if tile[i] != tile[j] and math.hypot(kps[j, 0] - kps[i, 0], kps[j, 1] - kps[i, 1]) <= radius:
                keep[j if kps[j, 4] < kps[i, 4] else i] = False
    return keep


def _detect_tile(detector: cv2.Feature2D, img: np.ndarray, valid: np.ndarray, core: tuple[int, int, int, int],
                 quota: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``quota`` strongest keypoints (tile coordinates) whose centre lies in ``core`` and on valid data."""
    if quota <= 0:
        return np.zeros((0, len(COLUMNS)), np.float32), None
    mask = None
    if not valid.all():
        # Fill nodata with the mean so its edge is not a strong artificial step, and keep keypoints off it.
        img = img.copy()
        img[~valid] = int(img[valid].mean())
        kernel = np.ones((2 * ERODE_PX + 1, 2 * ERODE_PX + 1), np.uint8)
        mask = cv2.erode(valid.astype(np.uint8) * 255, kernel)
        if not mask.any():
            return np.zeros((0, len(COLUMNS)), np.float32), None
    try:
        found = detector.detect(img, mask)
        cx0, cx1, cy0, cy1 = core
        found = [k for k in found
                 if cx0 <= math.floor(k.pt[0] + 0.5) < cx1 and cy0 <= math.floor(k.pt[1] + 0.5) < cy1]
        found.sort(key=lambda k: k.response, reverse=True)
        found, desc = detector.compute(img, found[:quota])
    except cv2.error as exc:
        raise ExtractionError(f"OpenCV failed on a {img.shape[1]}x{img.shape[0]} tile: {exc}") from None
    if not found or desc is None:
        return np.zeros((0, len(COLUMNS)), np.float32), None
    kps = np.array([(k.pt[0], k.pt[1], k.size, k.angle, k.response, k.octave) for k in found], np.float32)
    return kps, desc
