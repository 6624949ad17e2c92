"""``reading.nodata``: a value declared in the config masks pixels the file does not call nodata (issue 14, item 7).

``test.jp2`` (a HiRISE JPEG 2000 crop) is 68% zeros in a black frame around the data and declares no nodata.
With ``reading.nodata: 0`` the zeros must leave the validity mask, the keypoints and the footprint. Everything
is checked against references computed here: the nonzero pixels themselves, mapped to Mars lon/lat by pyproj
(``tests.test_footprints.pixel_lonlat``), and their true area from PROJ's areal scale factors.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
import shapely

from autocnet_jobs import ConfigError, config
from autocnet_jobs.extractors.keypoint_file import read_keypoints
from autocnet_jobs.extractors.pipeline import process_image
from autocnet_jobs.extractors.reading import read_valid

from .conftest import link_images, sample
from .test_footprints import grid, lonlat_area, pixel_lonlat, pixels_area

ERODE_PX = 4  # the documented margin (docs/formats.md) between a keypoint and nodata


def _ingest(tmp_path: Path, name: str, reading: dict) -> dict:
    """process_image of a link to sample ``name`` with these ``reading`` settings; footprint decoded."""
    link = link_images(tmp_path, [name]) / name
    record = process_image(str(link), config.job_settings(config.load({"reading": reading})))
    record["footprint"] = shapely.from_wkb(bytes.fromhex(record["footprint_wkb"]))
    return record


def _inside(footprint, ds, mask: np.ndarray) -> float:
    """Fraction of the grid pixels where ``mask`` holds that fall inside ``footprint`` (pyproj lon/lat)."""
    cols, rows = grid(ds, 300)
    keep = mask[rows, cols]
    lon, lat = pixel_lonlat(ds, cols[keep] + 0.5, rows[keep] + 0.5)
    return float(shapely.intersects_xy(footprint, lon, lat).mean())


def test_declared_nodata_footprint_covers_the_data_only(tmp_path: Path) -> None:
    record = _ingest(tmp_path, "test.jp2", {"nodata": 0})
    assert record["footprint_source"] == "georeference"
    with rasterio.open(sample("test.jp2")) as ds:
        data = ds.read(1)
        assert 0.6 < (data == 0).mean() < 0.75  # the sample is what this test is about
        assert _inside(record["footprint"], ds, data != 0) >= 0.99
        assert _inside(record["footprint"], ds, data == 0) <= 0.05
        expected = pixels_area(ds, valid=data != 0)
        ell = pyproj.CRS.from_wkt(ds.crs.to_wkt()).ellipsoid
    got = lonlat_area(record["footprint"], ell.semi_major_metre, ell.semi_minor_metre)
    assert got == pytest.approx(expected, rel=0.05)


def test_without_nodata_the_file_is_trusted(tmp_path: Path) -> None:
    """The default (null) keeps what the file says: test.jp2 declares nothing, so the frame is data."""
    record = _ingest(tmp_path, "test.jp2", {"nodata": None})
    with rasterio.open(sample("test.jp2")) as ds:
        data = ds.read(1)
        assert _inside(record["footprint"], ds, data == 0) >= 0.95


def test_declared_nodata_keeps_keypoints_off_the_frame(tmp_path: Path) -> None:
    record = _ingest(tmp_path, "test.jp2", {"nodata": 0})
    kps = read_keypoints(record["keypoints_path"])["keypoints"]
    assert len(kps) > 100
    with rasterio.open(sample("test.jp2")) as ds:
        data = ds.read(1)
    for x, y in zip(kps["x"], kps["y"]):
        col, row = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
        around = data[max(row - ERODE_PX, 0):row + ERODE_PX + 1, max(col - ERODE_PX, 0):col + ERODE_PX + 1]
        assert around.all(), f"keypoint at ({x:.1f}, {y:.1f}) within {ERODE_PX} px of a declared nodata pixel"


def test_declared_nodata_is_the_validity_mask(tmp_path: Path) -> None:
    with rasterio.open(sample("test.jp2")) as ds:
        data, valid = read_valid(ds, 1, nodata=0)
        assert np.array_equal(valid, data != 0)
        _, trusted = read_valid(ds, 1)
        assert trusted.all()


def test_declared_nodata_replaces_the_files_value() -> None:
    """RGB.byte.tif declares 0; a declared 255 masks 255 instead (and 0 becomes data)."""
    with rasterio.open(sample("RGB.byte.tif")) as ds:
        data, valid = read_valid(ds, 1, nodata=255)
        assert (data == 255).any() and (data == 0).any()
        assert np.array_equal(valid, data != 255)


@pytest.mark.parametrize("value", [-1, 256, 0.5])
def test_a_value_the_band_cannot_hold_masks_nothing(value: float) -> None:
    """As GDAL does: -1 on a uint8 band is not 255 (a cast would wrap), 0.5 is not 0."""
    with rasterio.open(sample("RGB.byte.tif")) as ds:
        _, valid = read_valid(ds, 1, nodata=value)
        assert valid.all()


@pytest.mark.parametrize("value", [0, -32768, 1.5e-3, None])
def test_config_accepts_a_number_or_null(value: float | None) -> None:
    assert config.load({"reading": {"nodata": value}})["reading"]["nodata"] == value
    assert config.load()["reading"]["nodata"] is None


@pytest.mark.parametrize("value", ["zero", True, [0]])
def test_config_rejects_anything_else_naming_the_key(value: object) -> None:
    with pytest.raises(ConfigError, match=r"reading\.nodata"):
        config.load({"reading": {"nodata": value}})
