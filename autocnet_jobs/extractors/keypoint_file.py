"""Keypoint files: where they go, and writing them so that a crash never leaves a half-written one.

A ``*_kps.h5`` file either is complete or does not exist: it is written under a hidden temporary name in the
same folder, fsynced, then hard-linked to a free final name or renamed over the image's own earlier file (both
atomic within a file system). Re-running an ingestion can therefore trust any ``*_kps.h5`` it finds, and one
image's file is never replaced by another's. The layout is documented in ``docs/formats.md``: version 2 stores
the keypoints as AutoCNet's ``io.keypoints.from_hdf`` reads them (a compound dataset with an ``index`` field);
:func:`read_keypoints` reads version 1 files too.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any

import h5py
import numpy as np

from ..errors import OutputError

FORMAT_VERSION = 2
# Columns of the (N, 6) float32 array the extractor hands to write_keypoints (OpenCV's raw octave), which was
# also the on-disk 'keypoints' dataset of format version 1.
COLUMNS = ("x", "y", "size", "angle", "response", "octave")
# Format version 2's compound 'keypoints' dataset: AutoCNet's fields and dtypes (an int64 'index' from
# DataFrame.reset_index, float32 columns from matcher/cpu_extractor.py), then lon/lat where a camera gives them.
KEYPOINT_FIELDS: list[tuple[str, str]] = [("index", "<i8"), ("x", "<f4"), ("y", "<f4"), ("response", "<f4"),
                                          ("size", "<f4"), ("angle", "<f4"), ("octave", "<f4"), ("layer", "<f4")]
LONLAT_FIELDS: list[tuple[str, str]] = [("lon", "<f8"), ("lat", "<f8")]
SUFFIX = "_kps.h5"
_TMP_PREFIX = ".tmp-"


def _writable(folder: str) -> bool:
    """True when a file can really be created in ``folder`` (root ignores mode bits; read-only mounts do not)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".autocnet-probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    try:
        os.remove(probe)
    except OSError:
        pass
    return True


def keypoints_path_for(image_path: str, output_settings: dict) -> str:
    """``<dir>/<image stem>_kps.h5``: beside the image when possible, else in ``output_settings['dir']``.

    The image's folder is the one its path names (``os.path.abspath``, not ``realpath``): a folder of symlinks to
    read-only data gets the keypoint files beside the links. Raises OutputError when no folder is writable.
    """
    image_path = os.path.abspath(image_path)
    name = os.path.splitext(os.path.basename(image_path))[0] + SUFFIX
    folder = os.path.dirname(image_path)
    if not output_settings.get("always", False) and _writable(folder):
        return os.path.join(folder, name)
    out_dir = os.path.abspath(output_settings.get("dir") or "autocnet_keypoints")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the keypoint folder {out_dir} (output.dir): {exc.strerror}") from None
    if not _writable(out_dir):
        where = "" if output_settings.get("always", False) else f"neither {folder} nor "
        raise OutputError(f"cannot write keypoints for {image_path}: {where}{out_dir} (output.dir) is writable; "
                          "set output.dir to a writable folder")
    return os.path.join(out_dir, name)


def write_keypoints(path: str, keypoints: np.ndarray, descriptors: np.ndarray, attrs: dict[str, Any],
                    lonlat: np.ndarray | None = None) -> str:
    """Write one keypoint file atomically (temp file in the same folder, fsync, rename); return its path.

    ``attrs`` holds extractor, parameters (a dict, stored as JSON), image_width, image_height, source_checksum and
    source_path, plus any other plain values; format_version is added here. A file is never replaced by the
    keypoints of another image: when ``path`` holds those of another ``source_path`` (``a.cub`` and ``a.img``
    beside each other, or two folders' ``a.cub`` in one ``output.dir``), the file is written beside it as
    :func:`alternate_path` instead, and that path is returned.
    """
    keypoints = np.asarray(keypoints, dtype=np.float32).reshape(-1, len(COLUMNS))
    descriptors = np.asarray(descriptors)
    if descriptors.ndim != 2 or len(descriptors) != len(keypoints):
        raise OutputError(f"{path}: {len(keypoints)} keypoints but descriptors of shape {descriptors.shape}")
    if lonlat is not None:
        lonlat = np.asarray(lonlat, dtype=np.float64)
        if lonlat.shape != (len(keypoints), 2):
            raise OutputError(f"{path}: lonlat must have shape ({len(keypoints)}, 2), got {lonlat.shape}")
    folder, name = os.path.split(os.path.abspath(path))
    prefix = _temp_prefix(name, attrs.get("source_path") or path)
    _remove_stale_parts(folder, prefix)
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot create a file in {folder}: {exc.strerror}") from None
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as h5:
            _fill(h5, keypoints, descriptors, attrs, lonlat)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the file should be as readable as any other
        path = _claim(tmp, path, attrs.get("source_path"))
    except BaseException as exc:
        try:
            os.remove(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(f"writing {path} failed: {exc}") from None
        raise
    _fsync_dir(folder)
    return path


def alternate_path(path: str, source_path: str) -> str:
    """``<stem>_<8 hex digits of the image path's SHA-1>_kps.h5`` beside ``path``: the name used when ``path``
    holds the keypoints of another image. The same image always gets the same name."""
    digest = hashlib.sha1(os.path.abspath(source_path).encode()).hexdigest()[:8]
    return f"{path[:-len(SUFFIX)]}_{digest}{SUFFIX}"


def _claim(tmp: str, path: str, source: str | None) -> str:
    """Move the finished temp file to ``path``, or to its alternate when ``path`` belongs to another image.

    ``os.link`` creates the name only if it is free, so two workers writing images of the same stem at once
    cannot both take it (a rename would let the second silently replace the first).
    """
    if not source:
        os.replace(tmp, path)
        return path
    candidates = (path, alternate_path(path, source))
    for candidate in candidates:
        try:
            os.link(tmp, candidate)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: check, then rename (not atomic against a race)
            if not os.path.exists(candidate):
                os.replace(tmp, candidate)
                return candidate
        else:
            os.remove(tmp)
            return candidate
        if _source_of(candidate) in (None, source):  # this image's earlier file (a re-run): only one attempt
            os.replace(tmp, candidate)               # of an image runs at a time
            return candidate
        # else another image's keypoints: never replaced
    raise OutputError(f"cannot write the keypoints of {source}: {' and '.join(candidates)} both hold keypoints "
                      "of other images; set output.dir to another folder")


def _source_of(path: str) -> str | None:
    """The image a keypoint file belongs to (its ``source_path``), None when unreadable or not recorded."""
    try:
        with h5py.File(path, "r") as h5:
            value = h5.attrs.get("source_path")
    except OSError:
        return None
    if isinstance(value, bytes):
        value = value.decode()
    return str(value) if value else None


def _temp_prefix(name: str, owner: str) -> str:
    """``.tmp-<name>.<16 hex digits of the owner's SHA-1>.``: the start of every temp file ``owner`` (the image's
    path; the keypoint file's own path when no image is named) writes for ``name``. Images of one stem (``x.cub``
    and ``x.CUB``) share ``name`` but not the owner, so one never sweeps the other's temp file."""
    digest = hashlib.sha1(os.path.abspath(owner).encode()).hexdigest()[:16]
    return f"{_TMP_PREFIX}{name}.{digest}."


def _remove_stale_parts(folder: str, prefix: str) -> None:
    """Remove temp files a killed earlier attempt of the same image left (those starting with ``prefix``).

    The tracker never runs two live attempts of one image (a timed-out attempt's worker is restarted), so a
    temp file of this owner that exists now belongs to an attempt that died; other images' are left alone.
    """
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        if entry.startswith(prefix) and entry.endswith(".part"):
            try:
                os.remove(os.path.join(folder, entry))
            except OSError:
                pass


def keypoint_table(keypoints: np.ndarray, lonlat: np.ndarray | None = None) -> np.ndarray:
    """The compound array of format version 2 from the extractor's (N, 6) array (``COLUMNS``) and optional lon/lat.

    ``index`` is the row number (keypoints are strongest first); OpenCV's packed octave is split as OpenCV's
    ``unpackSIFTOctave`` does (signed low byte = octave, next byte = layer), which leaves ORB's and AKAZE's
    plain octave numbers as they are with layer 0. The third byte (SIFT's sub-layer offset) is not kept.
    """
    fields = KEYPOINT_FIELDS + (LONLAT_FIELDS if lonlat is not None else [])
    table = np.zeros(len(keypoints), dtype=fields)
    table["index"] = np.arange(len(keypoints))
    for name in ("x", "y", "size", "angle", "response"):
        table[name] = keypoints[:, COLUMNS.index(name)]
    raw = keypoints[:, COLUMNS.index("octave")].astype(np.int64)
    table["octave"] = ((raw & 0xFF) ^ 0x80) - 0x80
    table["layer"] = (raw >> 8) & 0xFF
    if lonlat is not None:
        table["lon"], table["lat"] = lonlat[:, 0], lonlat[:, 1]
    return table


def _fill(h5: h5py.File, keypoints: np.ndarray, descriptors: np.ndarray, attrs: dict[str, Any],
          lonlat: np.ndarray | None) -> None:
    h5.create_dataset("keypoints", data=keypoint_table(keypoints, lonlat))
    h5.create_dataset("descriptors", data=descriptors)
    h5.attrs["format_version"] = FORMAT_VERSION
    for key, value in attrs.items():
        if key == "parameters" and not isinstance(value, str):
            value = json.dumps(value, sort_keys=True)
        h5.attrs[key] = "" if value is None else value


def _umask() -> int:
    """The process's umask, read without changing it where Linux says it (/proc): setting it to read it would,
    for that instant, give files other threads of the worker create mode 0666."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # elsewhere: the briefest and safest change
    os.umask(mask)
    return mask


def _fsync_dir(folder: str) -> None:
    """Make the rename itself durable (POSIX: the directory entry lives in the folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_keypoints(path: str) -> dict[str, Any]:
    """Everything in a keypoint file of format version 1 or 2 as numpy arrays and Python values.

    ``keypoints`` is always the version 2 compound array (:func:`keypoint_table`; ``lon``/``lat`` fields only when
    the file has them), so callers never depend on the version; ``parameters`` is decoded and
    ``format_version`` is the file's own.
    """
    with h5py.File(path, "r") as h5:
        out: dict[str, Any] = {"descriptors": h5["descriptors"][()]}
        for key, value in h5.attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            elif isinstance(value, np.generic):
                value = value.item()
            out[key] = json.loads(value) if key == "parameters" else value
        version = out.get("format_version")
        if version == 1:
            columns = tuple(str(h5["keypoints"].attrs["columns"]).split(","))
            plain = h5["keypoints"][()][:, [columns.index(c) for c in COLUMNS]]
            out["keypoints"] = keypoint_table(plain, h5["lonlat"][()] if "lonlat" in h5 else None)
        elif version == FORMAT_VERSION:
            out["keypoints"] = h5["keypoints"][()]
        else:
            raise ValueError(f"{path}: keypoint file format version {version!r} is not 1 or {FORMAT_VERSION}")
    return out
