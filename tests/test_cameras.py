"""Camera models of the real samples: affine cameras against pyproj, no-georef images, plug-ins."""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import rasterio
from rasterio.rpc import RPC

from autocnet_jobs.extractors.cameras import ENTRY_POINT_GROUP, camera_model, pixel_to_lonlat
from tests.conftest import sample
from tests.test_footprints import GEOREFERENCED, NO_CAMERA, grid, pixel_lonlat

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


def model_of(path):
    with rasterio.open(path) as ds:
        return camera_model(ds, str(path))


@pytest.mark.parametrize("name", GEOREFERENCED)
def test_affine_camera_matches_pyproj(name):
    path = sample(name)
    camera = model_of(path)
    assert camera["type"] == "affine"
    wire = json.loads(json.dumps(camera))          # what a worker sends is what the caller gets
    assert wire == camera
    with rasterio.open(path) as ds:
        assert camera["crs_wkt"] == ds.crs.to_wkt()
        assert camera["transform"] == pytest.approx(list(ds.transform)[:6])
        assert (camera["width"], camera["height"]) == (ds.width, ds.height)
        assert "GEOGCRS" in camera["geographic_crs_wkt"] or "GEOGCS" in camera["geographic_crs_wkt"]
        cols, rows = grid(ds, 40)
        # pixel_to_lonlat takes pixel-centre coordinates; pyproj gets the GDAL corner-based ones.
        expected_lon, expected_lat = pixel_lonlat(ds, cols + 0.5, rows + 0.5)
    lon, lat = pixel_to_lonlat(wire, cols, rows)
    on_body = np.isfinite(expected_lon)
    assert on_body.mean() > 0.9
    dlon = np.abs((lon[on_body] - expected_lon[on_body] + 180.0) % 360.0 - 180.0)
    assert dlon.max() < 1e-7
    assert np.abs(lat[on_body] - expected_lat[on_body]).max() < 1e-7
    assert np.all((lon[on_body] >= -180.0) & (lon[on_body] <= 180.0))


def test_pixel_centre_convention():
    path = sample("ulcn2005_lpo_npole.cub")
    camera = model_of(path)
    lon, lat = pixel_to_lonlat(camera, [0.0], [0.0])
    tl_lon, tl_lat = pixel_to_lonlat(camera, [-0.5], [-0.5])         # its top-left corner
    assert lat[0] < tl_lat[0] and lon[0] > tl_lon[0]
    # 16 pixels per degree: the corner is half a pixel away in both directions.
    assert tl_lat[0] - lat[0] == pytest.approx(1 / 32, rel=1e-6)
    assert lon[0] - tl_lon[0] == pytest.approx(1 / 32, rel=1e-6)


@pytest.mark.parametrize("name", NO_CAMERA)
def test_images_without_georeferencing_have_no_model(name):
    camera = model_of(sample(name))
    assert camera["type"] is None
    assert "georeferencing" in camera["reason"] and ENTRY_POINT_GROUP in camera["reason"]
    json.dumps(camera)
    assert pixel_to_lonlat(camera, [1.0], [1.0]) is None


def unknown_instrument_cube(folder):
    """THEMIS IR's cube with its InstrumentId renamed (same length): a level-1 cube no driver knows."""
    from tests.camera_data import CAMERA_DIR
    data = (CAMERA_DIR / "thmIR.cub").read_bytes()
    assert data.count(b"InstrumentId          = THEMIS_IR") == 1
    path = folder / "unknown.cub"
    path.write_bytes(data.replace(b"InstrumentId          = THEMIS_IR", b"InstrumentId          = NOSUCHCAM"))
    return path


def test_level1_cube_without_a_driver_says_which_instrument_and_what_it_is(tmp_path):
    path = unknown_instrument_cube(tmp_path)
    camera = model_of(path)
    assert camera["type"] is None
    assert "no camera driver for MARS_ODYSSEY NOSUCHCAM" in camera["reason"] and "CTX" in camera["reason"]
    assert camera["reason"].count("level-1 ISIS cube (SPICE attached) without georeferencing") == 1
    from autocnet_jobs.extractors.footprints import compute_footprint
    with rasterio.open(path) as ds:
        note = compute_footprint(ds, str(path), camera=camera).note
    assert note.count("level-1 ISIS cube (SPICE attached) without georeferencing") == 1   # issue 24 item 7


def test_mercator_scale_factor_zero_has_no_usable_model():
    camera = model_of(sample("Mars_MGS_MOLA_ClrShade_MAP2_0.0N0.0_MERC.tif"))
    assert camera["type"] is None
    assert "invert" in camera["reason"]
    assert pixel_to_lonlat(camera, [0.0], [0.0]) is None
    json.dumps(camera)


def test_rpcs_are_kept_when_gdal_exposes_them(tmp_path):
    with rasterio.open(sample("ulcn2005_lpo_npole.cub")) as src:
        data, crs, transform = src.read(1), src.crs, src.transform
    rpcs = RPC(height_off=0.0, height_scale=1000.0, lat_off=80.0, lat_scale=5.0, long_off=0.0, long_scale=5.0,
               line_off=125.0, line_scale=125.0, samp_off=125.0, samp_scale=125.0,
               line_num_coeff=[0.0, 0.0, -1.0] + [0.0] * 17, line_den_coeff=[1.0] + [0.0] * 19,
               samp_num_coeff=[0.0, 1.0] + [0.0] * 18, samp_den_coeff=[1.0] + [0.0] * 19)
    path = tmp_path / "rpc.tif"
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype=data.dtype, crs=crs, transform=transform, rpcs=rpcs) as dst:
        dst.write(data, 1)
    camera = model_of(path)
    assert camera["type"] == "affine"
    assert camera["rpcs"]["lat_off"] == pytest.approx(80.0)
    assert camera["rpcs"]["line_num_coeff"][2] == pytest.approx(-1.0)
    assert json.loads(json.dumps(camera)) == camera


# --- plug-ins through real entry points -----------------------------------------------------------------

def _install_plugin(root, dist, name, module, body):
    """Make an importable module plus a dist-info declaring it under ENTRY_POINT_GROUP, on ``root``."""
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{name} = {module}:camera_for\n")


def test_plugins_are_tried_for_images_without_georeferencing(tmp_path, monkeypatch):
    _install_plugin(tmp_path, "acj_broken_cam", "a_broken", "acj_broken_cam",
                    """
                    def camera_for(path):
                        raise RuntimeError("no kernels here")
                    """)
    _install_plugin(tmp_path, "acj_nac_cam", "b_nac", "acj_nac_cam",
                    """
                    import numpy as np
                    def camera_for(path):
                        if "unknown" not in path:       # a cube no driver knows
                            return None
                        return {"model": "linescan", "focal_length": np.float64(699.6), "size": (400, 400)}
                    """)
    monkeypatch.syspath_prepend(str(tmp_path))

    camera = model_of(unknown_instrument_cube(tmp_path))
    assert camera["type"] == "b_nac" and camera["plugin"] == "b_nac"
    assert camera["focal_length"] == 699.6 and type(camera["focal_length"]) is float
    assert camera["size"] == [400, 400]
    json.dumps(camera)
    assert pixel_to_lonlat(camera, [0.0], [0.0]) is None

    other = model_of(sample("PSP_001446_1790_BG12_0.IMG"))       # the plug-in declines this one
    assert other["type"] is None
    assert "'a_broken' failed: RuntimeError: no kernels here" in other["reason"]
    assert "a_broken, b_nac" in other["reason"]

    georef = model_of(sample("dawnEqui1.cub"))                   # georeferenced: plug-ins not consulted
    assert georef["type"] == "affine"
