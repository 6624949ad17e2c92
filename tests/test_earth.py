"""Earth is stored in geodetic WGS84 (EPSG:4326), other bodies planetocentric (issue 14, item 6).

The reference is pyproj alone: RGB.byte.tif's pixels (UTM zone 18N, WGS84) taken straight to EPSG:4326, and
the footprint's area measured with pyproj.Geod on the WGS84 ellipsoid. Stored planetocentric, only 89% of
the valid pixels fell inside the footprint.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
import shapely

from autocnet_jobs import config
from autocnet_jobs.extractors.footprints import compute_footprint
from autocnet_jobs.extractors.keypoint_file import read_keypoints
from autocnet_jobs.extractors.pipeline import process_image
from autocnet_jobs.extractors.pixels import valid_mask

from .conftest import link_images, sample
from .test_footprints import pixels_area

WGS84 = pyproj.CRS.from_epsg(4326)


def wgs84_lonlat(ds, cols: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geodetic WGS84 lon/lat of pixel coordinates (GDAL convention), straight from pyproj."""
    x, y = ds.transform @ (cols, rows)
    lon, lat = pyproj.Transformer.from_crs(ds.crs.to_wkt(), WGS84, always_xy=True).transform(x, y)
    return np.asarray(lon), np.asarray(lat)


def valid_pixel_centres(ds) -> tuple[np.ndarray, np.ndarray]:
    data = ds.read(1)
    rows, cols = np.nonzero(valid_mask(data, ds.dtypes[0], ds.nodatavals[0], ds.driver))
    return cols + 0.5, rows + 0.5


def test_earth_footprint_holds_every_valid_pixel_in_wgs84() -> None:
    path = sample("RGB.byte.tif")
    with rasterio.open(path) as ds:
        fp = compute_footprint(ds, str(path))
        lon, lat = wgs84_lonlat(ds, *valid_pixel_centres(ds))
        expected_area = pixels_area(ds)
    assert (fp.body, fp.iau_code) == ("Earth", "EPSG:4326")
    inside = shapely.intersects_xy(fp.geometry, lon, lat)
    assert inside.all(), f"{inside.mean():.4f} of the valid pixels inside"
    area, _ = pyproj.Geod(ellps="WGS84").geometry_area_perimeter(fp.geometry)
    assert abs(area) == pytest.approx(expected_area, rel=0.01)


def test_earth_keypoint_lonlat_is_wgs84(tmp_path: Path) -> None:
    link = link_images(tmp_path, ["RGB.byte.tif"]) / "RGB.byte.tif"
    record = process_image(str(link), config.job_settings(config.load()))
    kp = read_keypoints(record["keypoints_path"])
    assert len(kp["keypoints"]) > 100
    with rasterio.open(link) as ds:   # keypoints are pixel centres: + 0.5 for GDAL's corner convention
        lon, lat = wgs84_lonlat(ds, kp["keypoints"]["x"] + 0.5, kp["keypoints"]["y"] + 0.5)
    np.testing.assert_allclose(kp["keypoints"]["lon"], lon, atol=1e-9)
    np.testing.assert_allclose(kp["keypoints"]["lat"], lat, atol=1e-9)


def test_earth_on_another_datum_is_shifted_to_wgs84(tmp_path: Path) -> None:
    """A NAD27 UTM image: the stored lon/lat are WGS84's, not NAD27's own (tens of metres apart)."""
    src = sample("RGB.byte.tif")
    out = tmp_path / "nad27.tif"
    with rasterio.open(src) as ds:
        profile = dict(ds.profile, crs="EPSG:26718")   # the same numbers as NAD27 / UTM zone 18N
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(ds.read())
    with rasterio.open(out) as ds:
        fp = compute_footprint(ds, str(out))
        cols, rows = valid_pixel_centres(ds)
        lon, lat = wgs84_lonlat(ds, cols, rows)
        nad27 = pyproj.Transformer.from_crs(ds.crs.to_wkt(), "EPSG:4267", always_xy=True)
        lon27, lat27 = nad27.transform(*(ds.transform @ (cols, rows)))
    shift = pyproj.Geod(ellps="WGS84").inv(lon27, lat27, lon, lat)[2]
    assert np.median(shift) > 5.0   # the datum shift PROJ applies is real here, so the test can tell
    assert fp.iau_code == "EPSG:4326"
    assert shapely.intersects_xy(fp.geometry, lon, lat).all()
