"""Where an image's camera comes from (an ISD sidecar first), what a bad sidecar does, and the camera commands.

The sidecars are usgscsm's own test ISDs (DOI-USGS/usgscsm tests/data, ``orbitalLineScan.json`` and
``orbitalFramer.json``, 16 x 16 pixels) beside a 16 x 16 image without georeferencing, so the camera can come
from nowhere else. Truth for the pixel <-> ground values: usgscsm tests/LineScanCameraTests.cpp
``OrbitalLineScanSensorModel.Center``: CSM (line 8.5, sample 8.0) sees (999999.67004351015, 0, -812.35021438796923) m,
tolerance 1e-9 m.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from autocnet_jobs.errors import IsdError
from autocnet_jobs.extractors.camera.isd import check_isd, load_isd, sidecar_path
from autocnet_jobs.extractors.cameras import camera_model, is_sensor, sensor_for
from autocnet_jobs.extractors.pipeline import process_image
from autocnet_jobs.extractors.reading import open_image

from .camera_data import USGSCSM_ISDS

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
CENTER = (999999.67004351015, 0.0, -812.35021438796923)
SETTINGS = {"reading": {"band": 1}, "extractor": {"method": "orb"}, "output": {}, "camera": {}}


def _image(folder: Path, name: str = "scene.tif", size: int = 16) -> Path:
    rng = np.random.default_rng(1)
    path = folder / name
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1, dtype="uint8") as dst:
        dst.write(rng.integers(1, 255, (size, size), dtype=np.uint8), 1)
    return path


def _with_sidecar(tmp_path: Path, isd: str = "orbitalLineScan") -> Path:
    image = _image(tmp_path)
    shutil.copy(USGSCSM_ISDS / f"{isd}.json", tmp_path / "scene.json")
    return image


def _camera(path: Path, **kw) -> dict:
    with open_image(str(path)) as ds:
        return camera_model(ds, str(path), **kw)


def test_a_sidecar_beside_the_image_is_its_camera(tmp_path):
    image = _with_sidecar(tmp_path)
    camera = _camera(image)
    assert is_sensor(camera) and camera["isd_source"] == "sidecar" and camera["isd_path"] == str(tmp_path / "scene.json")
    assert camera["model"] == "USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL"
    # usgscsm tests/LineScanCameraTests.cpp OrbitalLineScanSensorModel.Center: CSM (8.5, 8.0), 0-based (8.0, 7.5)
    x, y, z = sensor_for(camera).ground_points([8.0], [7.5])[0]
    assert (x, y, z) == pytest.approx(CENTER, abs=1e-9)
    json.dumps(camera)


def test_isd_dir_is_looked_up_after_the_images_folder(tmp_path):
    image = _image(tmp_path)
    isds = tmp_path / "isds"
    isds.mkdir()
    shutil.copy(USGSCSM_ISDS / "orbitalFramer.json", isds / "scene.json")
    assert sidecar_path(image) is None and sidecar_path(image, isds) == isds / "scene.json"
    assert _camera(image, isd_dir=str(isds))["model"] == "USGS_ASTRO_FRAME_SENSOR_MODEL"
    shutil.copy(USGSCSM_ISDS / "orbitalLineScan.json", tmp_path / "scene.json")   # beside the image wins
    assert _camera(image, isd_dir=str(isds))["model"] == "USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL"


def test_an_image_ingested_with_a_sidecar_gets_a_camera_footprint_and_ground_keypoints(tmp_path):
    image = _with_sidecar(tmp_path)
    rec = process_image(str(image), SETTINGS)
    assert rec["footprint_source"] == "camera" and rec["footprint_wkb"]
    assert rec["camera"]["isd_source"] == "sidecar"
    gsd = rec["camera"]["ground_sample_distance_m"]
    assert all(g > 0 for g in gsd)


@pytest.mark.parametrize("doc, key", [
    ("empty.json", "name_model"),                  # usgscsm's own refusal tests (tests/data/empty.json)
    ("hello.json", "JSON object"),                 # tests/data/hello.json: a JSON string
])
def test_usgscsms_non_isds_are_typed_errors_naming_what_is_wrong(tmp_path, doc, key):
    image = _image(tmp_path)
    shutil.copy(USGSCSM_ISDS / doc, tmp_path / "scene.json")
    with pytest.raises(IsdError, match=key):
        process_image(str(image), SETTINGS)


@pytest.mark.parametrize("edit, key", [
    (lambda d: d.pop("instrument_position"), "instrument_position"),
    (lambda d: d["instrument_pointing"]["quaternions"][0].pop(), r"instrument_pointing.quaternions\[0\]"),
    (lambda d: d.update(name_model="USGS_ASTRO_PUSHBROOM"), "name_model"),
    (lambda d: d["focal_length_model"].update(focal_length="long"), "focal_length_model.focal_length"),
    (lambda d: d.update(image_lines=0), "image_lines"),
    (lambda d: d["optical_distortion"]["radial"].pop("coefficients"), "optical_distortion"),
])
def test_a_broken_isd_names_the_key_at_fault(edit, key):
    isd = json.loads((USGSCSM_ISDS / "orbitalLineScan.json").read_text())
    check_isd(isd)
    edit(isd)
    with pytest.raises(IsdError, match=key):
        check_isd(isd)


def test_a_sidecar_that_is_not_json_or_of_another_image_is_a_typed_error(tmp_path):
    image = _image(tmp_path)
    (tmp_path / "scene.json").write_text("{not json")
    with pytest.raises(IsdError, match="not valid JSON"):
        load_isd(tmp_path / "scene.json")
    shutil.copy(USGSCSM_ISDS / "ctxLineScan.json", tmp_path / "scene.json")     # 5000 x 11264
    with pytest.raises(IsdError, match="another image"):
        _camera(image)
    assert IsdError.permanent           # the same bytes give the same answer: not retried


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autocnet_jobs.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_point_round_trips_in_isis_pixel_convention(tmp_path):
    image = _with_sidecar(tmp_path)
    out = _cli("point", str(image), "--sample", "8.5", "--line", "9", "--json")
    assert out.returncode == 0, out.stderr
    p = json.loads(out.stdout)
    # ISIS (sample 8.5, line 9) is CSM (line 8.5, sample 8.0): usgscsm's OrbitalLineScanSensorModel.Center point
    x, _, z = CENTER
    assert (p["lon"], p["lat"], p["radius"]) == pytest.approx(
        (0.0, np.degrees(np.arctan2(z, x)), np.hypot(x, z)), abs=1e-9)
    back = json.loads(_cli("point", str(image), "--lon", str(p["lon"] + 0.001), "--lat", str(p["lat"]),
                           "--json").stdout)
    assert set(back) >= {"sample", "line", "lon", "lat"}
    fwd = json.loads(_cli("point", str(image), "--sample", str(back["sample"]), "--line", str(back["line"]),
                          "--json").stdout)
    assert fwd["lon"] == pytest.approx(p["lon"] + 0.001, abs=1e-8) and fwd["lat"] == pytest.approx(p["lat"], abs=1e-8)


def test_point_off_the_body_is_exit_1_and_bad_arguments_exit_2(tmp_path):
    image = _with_sidecar(tmp_path)
    off = _cli("point", str(image), "--lon", "180", "--lat", "0")      # the far side
    assert off.returncode == 1 and len(off.stderr.strip().splitlines()) == 1 and "not seen" in off.stderr
    bad = _cli("point", str(image), "--sample", "3")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    missing = _cli("point", str(tmp_path / "nope.cub"), "--sample", "1", "--line", "1")
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_export_isd_writes_what_usgscsm_loads(tmp_path):
    image = _with_sidecar(tmp_path)
    db = tmp_path / "cat.db"
    run = _cli("add", str(tmp_path), "--ext", "tif", "--db", f"sqlite:///{db}", "--output-dir", str(tmp_path / "k"))
    assert run.returncode == 0, run.stderr
    out = _cli("export", "--format", "isd", "--out", str(tmp_path / "isds"), "--db", f"sqlite:///{db}")
    assert out.returncode == 0, out.stderr and "1 ISDs written" in out.stdout
    exported = load_isd(tmp_path / "isds" / "scene.json")
    assert exported == json.loads((tmp_path / "scene.json").read_text())
    assert image.exists()


# ISIS's gtests on two of the shared cubes, through the command line (ISIS 1-based pixel centres, lon 0-360 east in
# ISIS, [-180, 180] here): (sample, line, planetocentric lat, lon).
ISIS_TRUTH = {
    # isis/tests/UnitTestOsirisRexTagCams.cpp, UnitTestOsirisRexTagCamsNFTCam: 1e-4 degrees, 0.01 pixel
    "20201020T214241S004_nft_L0-reduced.cub": (1e-4, 0.01, [
        (129.5, 97.0, 53.7314045659365, 45.4736806050086), (1.0, 1.0, 53.74996008837919, 44.87991851142592),
        (259.0, 1.0, 53.45070519515528, 45.595734037697831), (1.0, 194.0, 54.251546951663194, 45.249110941406045),
        (259.0, 194.0, 53.714109526681277, 46.006871961761462)]),
    # isis/tests/NearMsiCameraTests.cpp, NearMsiCameraTest: 1e-10 degrees (asked here to 1e-4, the issue's), 0.001 px
    "m0155881376f3_2p_cif_dbl.cub": (1e-4, 0.001, [
        (34, 34, -17.686235689292037, 36.717548917904146), (504, 34, -25.741437596768307, 34.216663871981211),
        (504, 379, -29.649628167745398, 38.194196619380435), (34, 379, -20.18045520120209, 40.577715588340105),
        (268.5, 206.0, -22.852443468381061, 37.504660702426833)]),
}


@pytest.mark.parametrize("name", sorted(ISIS_TRUTH))
def test_point_reproduces_isis_gtests(name):
    from .camera_data import CAMERA_DIR

    deg, px, points = ISIS_TRUTH[name]
    for sample_, line, lat, lon in points:
        out = _cli("point", str(CAMERA_DIR / name), "--sample", str(sample_), "--line", str(line), "--json")
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout)
        assert got["lat"] == pytest.approx(lat, abs=deg) and got["lon"] % 360 == pytest.approx(lon, abs=deg), got
        back = json.loads(_cli("point", str(CAMERA_DIR / name), "--lon", str(lon), "--lat", str(lat),
                               "--json").stdout)
        assert back["sample"] == pytest.approx(sample_, abs=px) and back["line"] == pytest.approx(line, abs=px)
