"""Acquisition metadata, resolution and viewing angles as the catalogue stores them (issue 18 item 1).

The SQLite sample run (conftest ``sample_run``: every sample through ImageAdder) is read back and checked against
the values hand-read from the labels in test_acquisition (ISIS3 cubes with an Instrument group, 6 missions) and
against independent computations: the resolution against the camera rebuilt from the image (whose ground sample
distance test_camera_cubes checks against pyproj footprint areas), angles with spiceypy's math
(test_acquisition.spice_angles), and the
map projection's pixel size from the cube's own Mapping group (read with pvl). The PostGIS run is compared with
this one in test_postgis.
"""
from __future__ import annotations

import datetime as dt
import re
import sqlite3

import numpy as np
import pvl
import pyproj
import pytest
import rasterio
import spiceypy

from autocnet_jobs.catalogue import schema
from autocnet_jobs.extractors.acquisition import resolution
from autocnet_jobs.extractors.cameras import camera_model

from .conftest import sample
from .test_acquisition import ISIS3, WITH_CAMERA, _position, _rotation, spice_angles

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

MAP_PROJECTED = ["no_change_before.cub", "ESP_014038_1415_RED0.30421_33069.boulder_shift.before.cub",
                 "PSP_002118_1510_1m_o_forPDS_cropped.cub", "dawnEqui1.cub"]


@pytest.fixture(scope="module")
def stored(sample_run) -> dict[str, dict]:
    """The images rows as SQLite holds them (raw: what is stored, not what a query makes of it)."""
    con = sqlite3.connect(sample_run["db"])
    con.row_factory = sqlite3.Row
    rows = {r["name"]: dict(r) for r in con.execute("SELECT * FROM images")}
    con.close()
    return rows


def _camera(name: str) -> dict:
    path = str(sample(name))
    with rasterio.open(path) as ds:
        return camera_model(ds, path)


def test_label_values_are_stored_for_every_isis3_cube(stored) -> None:
    assert len(ISIS3) >= 5 and len({e["spacecraft"] for e, _ in ISIS3.values()}) >= 3
    for name, (expected, _) in ISIS3.items():
        row = stored[name]
        for key in ("spacecraft", "instrument", "product_id", "target", "serial_number"):
            assert row[key] == expected[key], (name, key)
        for key in schema.TIME_COLUMNS:
            if expected[key] is None:
                assert row[key] is None, (name, key)
                continue
            # SQLite keeps fixed-width UTC text, so that text order is time order; as a time it is the label's.
            assert row[key] == schema.sqlite_time(expected[key]), (name, key)
            assert dt.datetime.fromisoformat(row[key]) == dt.datetime.fromisoformat(expected[key]), (name, key)
    assert len(rows := [r for r in stored.values() if r["serial_number"]]) >= len(ISIS3), rows


def test_text_order_of_stored_times_is_time_order() -> None:
    times = ["2001-10-26T05:21:32.38Z", "2001-10-26T05:21:32Z", "2001-10-26T05:21:32.5Z", "1971-07-31T01:25:02.243Z",
             "2016-12-31T23:59:60.5Z", "2017-01-01T00:00:00.9Z"]
    by_text = sorted(times, key=schema.sqlite_time)
    by_time = sorted(times, key=schema.utc_datetime)
    assert by_text == by_time
    assert all(schema.sqlite_time(t) == schema.sqlite_time(schema.utc_datetime(t)) for t in times)
    assert schema.utc_datetime("2016-12-31T23:59:60.5Z") == dt.datetime(2017, 1, 1, 0, 0, 0, 500000, dt.timezone.utc)


@pytest.mark.parametrize("name", WITH_CAMERA)
def test_resolution_and_angles_are_stored_for_cubes_with_a_camera(stored, name: str) -> None:
    row, camera = stored[name], _camera(name)
    # the stored resolution is the camera's ground sample distance (checked against footprint areas from pyproj
    # in test_camera_cubes), recomputed here from the image
    assert row["resolution"] == pytest.approx(float(np.mean(camera["ground_sample_distance_m"])), rel=1e-9)
    for key, degrees in spice_angles(camera).items():
        assert abs(row[key] - degrees) < 0.5, (name, key, row[key], degrees)


@pytest.mark.parametrize("name", MAP_PROJECTED)
def test_map_projected_resolution_is_the_labels_pixel_resolution(stored, name: str) -> None:
    with open(sample(name), "rb") as f:      # the label only (pvl.load would read the whole cube)
        head = f.read(1 << 16)
    end = re.search(rb"\nEnd\s*\n", head).end()        # the label's own End line, not End_Object
    mapping = pvl.loads(head[:end].decode())["IsisCube"]["Mapping"]
    assert mapping["PixelResolution"].units == "meters/pixel"
    assert stored[name]["resolution"] == pytest.approx(mapping["PixelResolution"].value, rel=1e-6)
    assert stored[name]["incidence"] is None          # no sensor model: no angles, no guess


def test_unknown_stays_null(stored) -> None:
    tif = stored["RGB.byte.tif"]
    keys = ("spacecraft", "instrument", "start_time", "serial_number", "incidence")
    assert {k: tif[k] for k in keys} == dict.fromkeys(keys)
    assert stored["e0902065.cal.sub.cub"]["resolution"] > 0        # MOC wide angle: its driver gives a camera


def test_resolution_of_a_geographic_crs_is_measured_at_the_centre() -> None:
    """0.01 degree pixels of the Moon's sphere at 60N: R*0.01 rad/deg along, times cos 60 across."""
    wkt = pyproj.CRS.from_user_input("IAU_2015:30100").to_wkt()
    radius = 1737400.0
    camera = {"type": "affine", "crs_wkt": wkt, "transform": [0.01, 0.0, 10.0, 0.0, -0.01, 61.0],
              "width": 100, "height": 200}                              # centre at 10.5E, 60N
    step = radius * np.radians(0.01)
    assert resolution(camera) == pytest.approx((step * np.cos(np.radians(60.0)) + step) / 2.0, rel=1e-4)
