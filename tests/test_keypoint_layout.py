"""Keypoint file format version 2 is the layout AutoCNet's ``autocnet.io.keypoints.from_hdf`` reads; version 1
files still read with ours.

The AutoCNet-side reader below is written from AutoCNet's source (DOI-USGS/autocnet 1.2.2, commit
5398a27d470898f83e27a5f5619ca5e910f51619: ``autocnet/io/keypoints.py`` ``from_hdf``/``to_hdf`` and
``autocnet/matcher/cpu_extractor.py``), not from our reader: '/keypoints' is a compound dataset whose ``index``
field becomes the frame's index and whose other fields are its columns; '/descriptors' a plain 2-D array. AutoCNet
writes ``DataFrame.reset_index()`` of float32 columns, so ``index`` is int64 and x ... layer float32.
The expected values come from running the extractor again on the same real image (it is deterministic) and
decoding OpenCV's packed octave here as OpenCV's ``unpackSIFTOctave`` does.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from autocnet_jobs import config
from autocnet_jobs.extractors.cameras import pixel_to_lonlat
from autocnet_jobs.extractors.features import effective_settings, extract_features
from autocnet_jobs.extractors.keypoint_file import read_keypoints
from autocnet_jobs.extractors.pipeline import process_image
from autocnet_jobs.extractors.reading import open_image

from tests.conftest import link_images, sample

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
SETTINGS = config.job_settings(config.load({}))
AUTOCNET_COLUMNS = ("x", "y", "response", "size", "angle", "octave", "layer")   # cpu_extractor.extract_features
CAMERA_IMAGE = "M143947267L.cal.echo.crop.cub"   # LRO NAC, a line-scan camera model: keypoints get lon/lat
PLAIN_IMAGE = "PSP_001446_1790_BG12_0.IMG"    # a HiRISE EDR (PDS3): no camera model, so no lon/lat


def autocnet_from_hdf(path: str) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """(index, {column: values}, descriptors) as AutoCNet's from_hdf builds its DataFrame, without pandas."""
    with h5py.File(path, "r") as hdf:
        raw_kps = hdf["/keypoints"][:]
        desc = hdf["/descriptors"][:]
    index = raw_kps["index"]
    columns = [n for n in raw_kps.dtype.names if n != "index"]   # utils.remove_field_name(raw_kps, 'index')
    return index, {c: raw_kps[c] for c in columns}, desc


def unpack_octave(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV sift.simd.hpp unpackOctave: octave = signed low byte, layer = second byte."""
    raw = raw.astype(np.int64)
    octave = raw & 255
    octave = np.where(octave >= 128, octave - 256, octave)
    return octave, (raw >> 8) & 255


def _extract_again(name: str) -> tuple[np.ndarray, np.ndarray]:
    with open_image(str(sample(name))) as ds:
        kps, desc, _ = extract_features(ds, 1, effective_settings(SETTINGS["extractor"]))
    return kps, desc


@pytest.mark.parametrize("name", [CAMERA_IMAGE, PLAIN_IMAGE])
def test_autocnet_reader_reads_our_file(tmp_path: Path, name: str) -> None:
    link = link_images(tmp_path, [name]) / name
    rec = process_image(str(link), SETTINGS)
    index, columns, desc = autocnet_from_hdf(rec["keypoints_path"])
    with h5py.File(rec["keypoints_path"], "r") as hdf:
        dtype = hdf["keypoints"].dtype
        assert hdf.attrs["format_version"] == 2
    assert dtype["index"] == np.dtype("<i8")
    assert tuple(columns)[:7] == AUTOCNET_COLUMNS
    assert all(dtype[c] == np.dtype("<f4") for c in AUTOCNET_COLUMNS)

    kps, expected_desc = _extract_again(name)       # x, y, size, angle, response, octave (OpenCV raw)
    assert len(kps) == rec["n_keypoints"] > 100
    np.testing.assert_array_equal(index, np.arange(len(kps)))
    for column, i in (("x", 0), ("y", 1), ("size", 2), ("angle", 3), ("response", 4)):
        np.testing.assert_array_equal(columns[column], kps[:, i])
    octave, layer = unpack_octave(kps[:, 5])
    assert (layer > 0).any() and layer.max() <= 5          # SIFT's default 3 layers: 1..3; decoding is exercised
    np.testing.assert_array_equal(columns["octave"], octave)
    np.testing.assert_array_equal(columns["layer"], layer)
    assert desc.dtype == expected_desc.dtype == np.float32
    np.testing.assert_array_equal(desc, expected_desc)

    if name == CAMERA_IMAGE:
        assert tuple(columns)[7:] == ("lon", "lat") and dtype["lon"] == dtype["lat"] == np.dtype("<f8")
        assert np.isfinite(columns["lon"]).all() and np.isfinite(columns["lat"]).all()
        # The record's camera model maps the keypoints to the lon/lat the file holds (float64, no rounding).
        lon, lat = pixel_to_lonlat(rec["camera"], kps[:, 0].astype(np.float64), kps[:, 1].astype(np.float64))
        np.testing.assert_array_equal(columns["lon"], lon)
        np.testing.assert_array_equal(columns["lat"], lat)
    else:
        assert tuple(columns) == AUTOCNET_COLUMNS


def test_version_1_file_still_reads(tmp_path: Path) -> None:
    """A file in the version 1 layout (docs/formats.md before version 2), written here by hand with h5py."""
    kps, desc = _extract_again(PLAIN_IMAGE)
    lonlat = np.column_stack([np.linspace(-10, 10, len(kps)), np.linspace(5, 6, len(kps))])
    path = tmp_path / "old_kps.h5"
    with h5py.File(path, "w") as h5:
        ds = h5.create_dataset("keypoints", data=kps.astype(np.float32))
        ds.attrs["columns"] = "x,y,size,angle,response,octave"
        h5.create_dataset("descriptors", data=desc)
        ll = h5.create_dataset("lonlat", data=lonlat)
        ll.attrs["columns"] = "lon,lat"
        h5.attrs["format_version"] = 1
        h5.attrs["extractor"] = "sift"
        h5.attrs["parameters"] = '{"max_features": 2000}'
    back = read_keypoints(str(path))
    assert back["format_version"] == 1 and back["extractor"] == "sift" and back["parameters"] == {"max_features": 2000}
    table = back["keypoints"]
    np.testing.assert_array_equal(table["index"], np.arange(len(kps)))
    for column, i in (("x", 0), ("y", 1), ("size", 2), ("angle", 3), ("response", 4)):
        np.testing.assert_array_equal(table[column], kps[:, i])
    octave, layer = unpack_octave(kps[:, 5])
    np.testing.assert_array_equal(table["octave"], octave)
    np.testing.assert_array_equal(table["layer"], layer)
    np.testing.assert_array_equal(table["lon"], lonlat[:, 0])
    np.testing.assert_array_equal(table["lat"], lonlat[:, 1])
    np.testing.assert_array_equal(back["descriptors"], desc)


def test_unknown_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future_kps.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("keypoints", data=np.zeros(0, [("index", "<i8")]))
        h5.create_dataset("descriptors", data=np.zeros((0, 128), np.float32))
        h5.attrs["format_version"] = 3
    with pytest.raises(ValueError, match="format version 3"):
        read_keypoints(str(path))
