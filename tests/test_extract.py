"""Per-image work on the real sample images and on broken files made in tmp folders.

Every sample image is processed once (module fixture, a tmp folder of symlinks) and the record, the keypoint file
and the pixels are checked against each other; bad inputs are real files (truncated copies, chmod 000 checked
as an unprivileged uid, symlink loops). Nothing is written under the shared data folder.
"""
from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
import serpent
import shapely

from autocnet_jobs import config
from autocnet_jobs.errors import ExtractionError, ImageError, OutputError, UnreadableImage, UnsupportedFormat
from autocnet_jobs.extractors import features
from autocnet_jobs.extractors.features import extract_features, tile_spans
from autocnet_jobs.extractors.keypoint_file import (
    COLUMNS,
    KEYPOINT_FIELDS,
    keypoints_path_for,
    read_keypoints,
    write_keypoints,
)
from autocnet_jobs.extractors.pipeline import RECORD_KEYS, process_image
from autocnet_jobs.extractors.pixels import valid_mask
from autocnet_jobs.extractors.reading import file_checksum, open_image, read_band_8bit
from tests.conftest import DATA_DIR, link_images, sample

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
REPO = Path(__file__).resolve().parents[1]
SETTINGS = config.job_settings(config.load({}))
# The only sample that cannot be ingested: raw data whose detached label is the .lbl beside it.
EXPECTED_ERRORS = {"MI_MAP_03_N51E124N50E125SC_cropped.img": UnsupportedFormat}
TEXTURE = "no_change_before.cub"   # 600 x 600 HiRISE crop, all valid, rich texture


def settings(**extractor) -> dict:
    s = config.job_settings(config.load({}))
    s["extractor"].update(extractor)
    return s


@pytest.fixture(scope="module")
def processed(tmp_path_factory) -> dict:
    """name -> record or the ImageError raised, for every sample image (processed once, in a folder of links)."""
    folder = link_images(tmp_path_factory.mktemp("samples"))
    out = {}
    for link in sorted(folder.iterdir()):
        try:
            out[link.name] = process_image(str(link), SETTINGS)
        except ImageError as exc:
            out[link.name] = exc
    out["__folder__"] = folder
    return out


def _is_plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_plain(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or type(value) in (str, int, bool)


def test_every_sample_is_a_record_or_a_typed_error(processed):
    folder = processed["__folder__"]
    names = sorted(p.name for p in DATA_DIR.iterdir())
    assert len(names) == 26
    for name in names:
        result = processed[name]
        if name in EXPECTED_ERRORS:
            assert type(result) is EXPECTED_ERRORS[name], (name, result)
            continue
        assert isinstance(result, dict), f"{name} raised {result!r}"
        rec = result
        assert tuple(rec) == RECORD_KEYS and set(rec) == set(RECORD_KEYS)
        assert _is_plain(rec), f"{name}: record holds a non-plain value"
        json.dumps(rec, allow_nan=False)
        assert serpent.loads(serpent.dumps(rec)) == rec      # the Pyro5 channel's serializer
        link = folder / name
        assert rec["path"] == os.path.abspath(link) and rec["name"] == name
        st = os.stat(link)
        assert rec["size"] == st.st_size and rec["mtime"] == st.st_mtime
        assert rec["checksum"] == hashlib.sha256(link.read_bytes()).hexdigest()
        with rasterio.open(link) as ds:
            assert (rec["width"], rec["height"], rec["bands"], rec["driver"]) == (ds.width, ds.height, ds.count,
                                                                                  ds.driver)
        # The keypoint file sits beside the link (not beside the link's target in the shared data folder).
        assert rec["keypoints_path"] == str(folder / (os.path.splitext(name)[0] + "_kps.h5"))
        kp = read_keypoints(rec["keypoints_path"])
        assert kp["keypoints"].shape == (rec["n_keypoints"],)
        assert kp["keypoints"].dtype.descr[:len(KEYPOINT_FIELDS)] == KEYPOINT_FIELDS
        assert (kp["keypoints"]["index"] == np.arange(rec["n_keypoints"])).all()
        assert kp["descriptors"].shape == (rec["n_keypoints"], 128) and kp["descriptors"].dtype == np.float32
        assert kp["source_checksum"] == rec["checksum"] and kp["source_path"] == rec["path"]
        assert (kp["image_width"], kp["image_height"]) == (rec["width"], rec["height"])
        assert kp["format_version"] == 2 and kp["extractor"] == "sift" == rec["extractor"]
        assert kp["parameters"] == rec["extractor_params"]
        assert rec["n_keypoints"] <= SETTINGS["extractor"]["max_features"]
        if rec["n_keypoints"]:
            xy = np.column_stack([kp["keypoints"]["x"], kp["keypoints"]["y"]])
            assert (xy >= -0.5).all() and (xy[:, 0] < rec["width"] - 0.5).all()
            assert (xy[:, 1] < rec["height"] - 0.5).all()
            assert rec["note"] is None
        else:
            assert rec["note"], f"{name}: zero keypoints without a note"
        if rec["footprint_wkb"] is not None:
            geom = shapely.from_wkb(bytes.fromhex(rec["footprint_wkb"]))
            assert geom.geom_type == "MultiPolygon" and not geom.has_z and shapely.get_srid(geom) == 0
        names = kp["keypoints"].dtype.names
        if rec["camera"].get("type") == "affine" and rec["n_keypoints"]:
            assert names[-2:] == ("lon", "lat") and kp["keypoints"]["lon"].dtype == np.float64
        elif rec["camera"].get("type") is None:
            assert "lon" not in names and "lat" not in names
    assert not [p for p in os.listdir(folder) if p.startswith(".")], "temp or probe files left behind"


def test_detached_label_pair(processed):
    err = processed["MI_MAP_03_N51E124N50E125SC_cropped.img"]
    assert "MI_MAP_03_N51E124N50E125SC_cropped.lbl" in str(err) and err.kind == "unsupported_format"
    rec = processed["MI_MAP_03_N51E124N50E125SC_cropped.lbl"]
    assert (rec["driver"], rec["width"], rec["height"], rec["bands"]) == ("PDS", 5, 5, 9)


def test_keypoints_with_a_camera_get_lonlat(processed):
    rec = processed[TEXTURE]
    kp = read_keypoints(rec["keypoints_path"])
    assert rec["camera"]["type"] == "affine" and rec["n_keypoints"] > 100
    lon, lat = kp["keypoints"]["lon"], kp["keypoints"]["lat"]
    assert np.isfinite(lon).all() and np.isfinite(lat).all()
    # Every keypoint's lon/lat lies inside (or on) the image footprint.
    footprint = shapely.from_wkb(bytes.fromhex(rec["footprint_wkb"]))
    inside = shapely.contains_xy(footprint.buffer(1e-6), lon, lat)
    assert inside.all()


def _full_valid(path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return valid_mask(ds.read(1), ds.dtypes[0], ds.nodata, ds.driver)


@pytest.mark.parametrize("name", ["vest64_dtm_specialpixels_downsampled.cub",
                                  "PSP_002118_1510_1m_o_forPDS_cropped.cub"])
def test_masked_pixels_get_no_keypoints(processed, name):
    rec = processed[name]
    valid = _full_valid(sample(name))
    assert 0.05 < 1 - valid.mean() < 0.9, "the sample should be partly masked"
    kps = read_keypoints(rec["keypoints_path"])["keypoints"]
    assert len(kps) > 0
    r = 2   # the mask is eroded by features.ERODE_PX: no invalid pixel within 2 px of any keypoint
    for x, y in zip(kps["x"], kps["y"]):
        col, row = int(round(x)), int(round(y))
        patch = valid[max(row - r, 0):row + r + 1, max(col - r, 0):col + r + 1]
        assert patch.all(), f"keypoint at ({x:.1f}, {y:.1f}) next to masked pixels"


def test_nodata_half_gets_no_keypoints_and_all_nodata_is_an_error(tmp_path):
    data, valid = rasterio.open(sample(TEXTURE)).read(1), _full_valid(sample(TEXTURE))
    lo, hi = np.percentile(data[valid], [1, 99])
    img = (np.clip((data - lo) / (hi - lo) * 253, 0, 253) + 1).astype(np.uint8)
    img[~valid] = 0
    img[:, 300:] = 0
    path = tmp_path / "half.tif"
    with rasterio.open(path, "w", driver="GTiff", width=600, height=600, count=1, dtype="uint8", nodata=0) as dst:
        dst.write(img, 1)
    with open_image(str(path)) as ds:
        kps, desc, note = extract_features(ds, 1, {"max_features": 5000})
    assert len(kps) > 100 and note is None
    assert kps[:, 0].max() < 300 - features.ERODE_PX + 0.5
    assert kps[:, 0].max() > 250   # the valid half is covered up to near its edge
    with rasterio.open(path, "r+") as dst:
        dst.write(np.zeros_like(img), 1)
    # No valid pixel: no keypoints and a note saying so, not a failure (the same rule as a small image's).
    rec = process_image(str(path), SETTINGS)
    assert rec["n_keypoints"] == 0 and "no valid pixel" in rec["note"]


def test_one_line_image_gives_zero_keypoints_and_a_note(processed):
    rec = processed["h6541_0000_ir4_cropped.img"]
    assert rec["n_keypoints"] == 0 and (rec["width"], rec["height"]) == (1708, 1)
    assert "too small" in rec["note"] and "1708x1" in rec["note"]
    kp = read_keypoints(rec["keypoints_path"])
    assert kp["keypoints"].shape == (0,) and kp["descriptors"].shape == (0, 128)
    assert kp["note"] == rec["note"]


def test_read_band_8bit_scales_valid_pixels_only():
    with open_image(str(sample("vest64_dtm_specialpixels_downsampled.cub"))) as ds:
        img, valid = read_band_8bit(ds, 1)
        raw = ds.read(1)
    assert img.dtype == np.uint8 and valid.dtype == bool and img.shape == raw.shape
    assert (img[~valid] == 0).all() and (valid == _full_valid(sample("vest64_dtm_specialpixels_downsampled.cub"))).all()
    # Robust percentiles of the valid pixels: the range is used, and special pixels (-3.4e38) did not squash it.
    assert img[valid].min() == 0 and img[valid].max() == 255 and np.median(img[valid]) not in (0, 255)
    order = np.argsort(raw[valid])
    assert (np.diff(img[valid][order].astype(int)) >= 0).all()   # monotonic stretch


# ---- bad inputs -------------------------------------------------------------------------------------------

def _expect(path, error, text):
    with pytest.raises(error) as info:
        process_image(str(path), SETTINGS)
    assert text in str(info.value).lower(), str(info.value)
    assert not glob.glob(os.path.join(os.path.dirname(str(path)), "*_kps.h5"))
    return info.value


def test_text_file_named_cub(tmp_path):
    path = tmp_path / "notes.cub"
    path.write_text("Object = IsisCube\nthis is not really a cube, just text\n" * 20)
    _expect(path, UnsupportedFormat, "no gdal driver")


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.cub"
    path.touch()
    _expect(path, UnsupportedFormat, "empty")


def test_truncated_cube(tmp_path):
    src = sample("e0902065.cal.sub.cub").read_bytes()
    path = tmp_path / "cut.cub"
    path.write_bytes(src[: len(src) * 6 // 10])
    _expect(path, UnreadableImage, "truncated")


def test_missing_file_and_directory_named_cub(tmp_path):
    _expect(tmp_path / "nope.cub", UnreadableImage, "does not exist")
    (tmp_path / "x.cub").mkdir()
    _expect(tmp_path / "x.cub", UnreadableImage, "directory")


def test_symlink_loop_and_broken_link(tmp_path):
    (tmp_path / "a.cub").symlink_to(tmp_path / "b.cub")
    (tmp_path / "b.cub").symlink_to(tmp_path / "a.cub")
    _expect(tmp_path / "a.cub", UnreadableImage, "loop")
    (tmp_path / "gone.cub").symlink_to(tmp_path / "missing.cub")
    _expect(tmp_path / "gone.cub", UnreadableImage, "broken symlink")


_NOBODY = 65534
_AS_NOBODY = """
import os, sys
from autocnet_jobs.extractors.reading import open_image
from autocnet_jobs.errors import ImageError
if os.geteuid() == 0:  # modules are loaded; now drop root so permission bits apply
    os.setgid({uid}); os.setuid({uid})
try:
    open_image(sys.argv[1])
except ImageError as exc:
    print(type(exc).__name__, exc.kind, str(exc))
else:
    print("OPENED")
"""


def test_unreadable_file_permission_denied():
    """chmod 000 checked as an unprivileged user (root ignores permission bits, so the check drops root)."""
    folder = tempfile.mkdtemp(prefix="autocnet-perm-")   # not under pytest's 0700 tmp root: nobody can enter it
    try:
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "locked.cub")
        shutil.copy(sample("e0902065.cal.sub.cub"), path)
        os.chmod(path, 0)
        out = subprocess.run([sys.executable, "-c", _AS_NOBODY.format(uid=_NOBODY), path], capture_output=True,
                             text=True, cwd=str(REPO), timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("UnreadableImage unreadable"), out.stdout
        assert "permission denied" in out.stdout
        os.chmod(path, 0o644)   # and the same file, readable, opens for the same user: the check can tell
        out = subprocess.run([sys.executable, "-c", _AS_NOBODY.format(uid=_NOBODY), path], capture_output=True,
                             text=True, cwd=str(REPO), timeout=60)
        assert out.stdout.strip() == "OPENED", out.stdout + out.stderr
    finally:
        shutil.rmtree(folder)


def test_band_beyond_band_count(tmp_path):
    link = link_images(tmp_path, ["RGB.byte.tif"]) / "RGB.byte.tif"
    s = config.job_settings(config.load({"reading": {"band": 4}}))
    with pytest.raises(ImageError, match="3 band.*band 4"):
        process_image(str(link), s)
    s["reading"]["band"] = 3
    assert process_image(str(link), s)["n_keypoints"] > 0


@pytest.mark.parametrize("name", ["with space.cub", "quote's \"double\".cub", "ünïcødé ☾ Mond.cub", "x:y!#?.cub"])
def test_awkward_file_names(tmp_path, name):
    link = tmp_path / name
    link.symlink_to(sample("e0902065.cal.sub.cub"))
    rec = process_image(str(link), SETTINGS)
    assert rec["name"] == name and rec["path"] == str(link)
    assert rec["keypoints_path"] == str(tmp_path / (os.path.splitext(name)[0] + "_kps.h5"))
    assert read_keypoints(rec["keypoints_path"])["keypoints"].shape[0] == rec["n_keypoints"] > 0


# ---- tiling, methods, downsampling ------------------------------------------------------------------------

def _cross_seam_pairs(kps, width, height, tile, overlap, radius=1.0):
    """Pairs of keypoints within ``radius`` px that belong to different tile cores."""
    def core_of(v, spans):
        return np.searchsorted([c1 for *_, c1 in spans], np.floor(v + 0.5), side="right")
    core = (core_of(kps[:, 0], tile_spans(width, tile, overlap)) * 1000
            + core_of(kps[:, 1], tile_spans(height, tile, overlap)))
    d = np.hypot(kps[:, None, 0] - kps[None, :, 0], kps[:, None, 1] - kps[None, :, 1])
    i, j = np.nonzero((d <= radius) & (core[:, None] != core[None, :]))
    return [(a, b) for a, b in zip(i, j) if a < b]


@pytest.mark.parametrize("name", [TEXTURE, "AS15-M-0297_crop.cub"])
def test_tiles_are_seam_free_and_match_full_frame(name):
    tile, overlap = 128, 16
    with open_image(str(sample(name))) as ds:
        w, h = ds.width, ds.height
        full, _, _ = extract_features(ds, 1, {"max_features": 100000, "tile_size": 4096})
        tiled, desc, _ = extract_features(ds, 1, {"max_features": 100000, "tile_size": tile, "tile_overlap": overlap})
    assert len(tile_spans(w, tile, overlap)) >= 5 and len(tiled) == len(desc)
    assert _cross_seam_pairs(tiled, w, h, tile, overlap) == []
    # Tiling finds the same features: nearly every full-frame keypoint has a tiled one within half a pixel.
    d = np.hypot(full[:, None, 0] - tiled[None, :, 0], full[:, None, 1] - tiled[None, :, 1]).min(axis=1)
    assert (d <= 0.5).mean() > 0.95
    assert 0.95 < len(tiled) / len(full) < 1.05


def test_tiles_respect_and_spread_max_features():
    tile, overlap, budget = 128, 16, 150
    with open_image(str(sample(TEXTURE))) as ds:
        kps, desc, note = extract_features(ds, 1, {"max_features": budget, "tile_size": tile,
                                                   "tile_overlap": overlap})
        full, _, _ = extract_features(ds, 1, {"max_features": budget, "tile_size": 4096})
    assert len(kps) <= budget and len(kps) >= budget - 5 and note is None
    spans = [c1 for *_, c1 in tile_spans(600, tile, overlap)]
    cores = {tuple(np.searchsorted(spans, np.floor(xy + 0.5), side="right")) for xy in kps[:, :2]}
    assert len(cores) == len(spans) ** 2          # every tile got its share
    assert len(full) == budget                    # full frame: the global strongest


@pytest.mark.parametrize("method,width,dtype", [("orb", 32, np.uint8), ("akaze", 61, np.uint8)])
def test_orb_and_akaze(tmp_path, method, width, dtype):
    link = link_images(tmp_path, [TEXTURE]) / TEXTURE
    if method == "akaze" and not features.akaze_available():
        with pytest.raises(ExtractionError, match="opencv-contrib"):
            process_image(str(link), settings(method="akaze"))
        pytest.skip("this OpenCV build has no AKAZE (OpenCV 5 moved it to opencv-contrib); checked the error")
    rec = process_image(str(link), settings(method=method, max_features=700, tile_size=256))
    kp = read_keypoints(rec["keypoints_path"])
    assert rec["extractor"] == method == kp["extractor"] and 100 < rec["n_keypoints"] <= 700
    assert kp["descriptors"].shape == (rec["n_keypoints"], width) and kp["descriptors"].dtype == dtype
    xy = np.column_stack([kp["keypoints"]["x"], kp["keypoints"]["y"]])
    assert _cross_seam_pairs(xy, 600, 600, 256, rec["extractor_params"]["tile_overlap"]) == []


def test_bad_extractor_parameters_are_an_extraction_error(tmp_path):
    link = link_images(tmp_path, [TEXTURE]) / TEXTURE
    with pytest.raises(ExtractionError, match="nOctaveLayerz"):
        process_image(str(link), settings(parameters={"nOctaveLayerz": 3}))


def test_downsample_keeps_full_resolution_coordinates():
    """downsample=2 detects on the half-size image and maps centres and sizes back to full resolution."""
    import cv2

    name = "ESP_014038_1415_RED0.30421_33069.boulder_shift.before.cub"    # 612 x 684, every pixel valid
    with open_image(str(sample(name))) as ds:
        half, _, _ = extract_features(ds, 1, {"max_features": 400, "downsample": 2})
        small, valid = read_band_8bit(ds, 1, out_shape=(342, 306))
        w, h = ds.width, ds.height
    assert valid.all() and len(half) == 400
    assert half[:, 0].max() > 0.9 * w and half[:, 1].max() > 0.9 * h
    # The same detector run by hand on the half-size image, in its own pixel coordinates.
    ref = sorted(cv2.SIFT_create().detect(small, None), key=lambda k: -k.response)[:400]
    ref = np.array([(k.pt[0], k.pt[1], k.size) for k in ref])
    # Working pixel i covers full-res pixels 2i and 2i+1: its centre is at 2i + 0.5 (centre convention).
    expect = np.column_stack([(ref[:, 0] + 0.5) * 2 - 0.5, (ref[:, 1] + 0.5) * 2 - 0.5, ref[:, 2] * 2])
    d = np.hypot(half[:, None, 0] - expect[None, :, 0], half[:, None, 1] - expect[None, :, 1])
    nearest = d.argmin(axis=1)
    assert (d.min(axis=1) < 1e-3).mean() > 0.95
    close = d.min(axis=1) < 1e-3
    assert np.allclose(half[close, 2], expect[nearest[close], 2], rtol=1e-5)


# ---- keypoint files ---------------------------------------------------------------------------------------

def test_keypoints_path_rules(tmp_path, monkeypatch):
    image = tmp_path / "img" / "a.b.cub"
    image.parent.mkdir()
    out = {"dir": "kps_out", "always": False}
    assert keypoints_path_for(str(image), out) == str(tmp_path / "img" / "a.b_kps.h5")
    monkeypatch.chdir(tmp_path)
    assert keypoints_path_for(str(image), {**out, "always": True}) == str(tmp_path / "kps_out" / "a.b_kps.h5")
    assert (tmp_path / "kps_out").is_dir()
    # A folder no file can be created in (even by root): /proc. Falls back to output.dir.
    assert keypoints_path_for("/proc/self/x.cub", out) == str(tmp_path / "kps_out" / "x_kps.h5")
    with pytest.raises(OutputError, match="output.dir"):
        keypoints_path_for("/proc/self/x.cub", {"dir": "/proc/self/kps", "always": False})
    assert not [p for p in os.listdir(tmp_path / "img") if p.startswith(".")]


def _kps(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 6), np.float32), rng.random((n, 128), np.float32)


def test_write_keypoints_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = str(tmp_path / "img_kps.h5")
    k, d = _kps(10)
    write_keypoints(path, k, d, {"extractor": "sift", "parameters": {"a": 1}, "image_width": 5})
    with pytest.raises(OutputError):   # descriptors do not match the keypoints: nothing is written
        write_keypoints(path, *_kps(3)[:1], d, {"extractor": "sift"})
    k2, d2 = _kps(4, seed=1)
    with pytest.raises(TypeError):    # an attribute h5py cannot store fails mid-write: old file stays
        write_keypoints(path, k2, d2, {"extractor": object()})
    assert os.listdir(tmp_path) == ["img_kps.h5"]
    back = read_keypoints(path)
    assert back["parameters"] == {"a": 1} and np.array_equal(back["descriptors"], d)
    for name in ("x", "y", "size", "angle", "response"):
        assert np.array_equal(back["keypoints"][name], k[:, COLUMNS.index(name)])


def test_images_of_one_stem_never_share_a_keypoint_file(tmp_path):
    # a.cub and a.tif beside each other, and two folders' b.cub written into one output.dir, map to one
    # "<stem>_kps.h5" name: the first image keeps it, the other gets its own alternate name, and re-running
    # either rewrites its own file only.
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    links = {"a.cub": "e0902065.cal.sub.cub", "a.tif": "RGB.byte.tif", "x/b.cub": "AS15-M-0297_crop.cub",
             "y/b.cub": "e0902065.cal.sub.cub"}
    for name, target in links.items():
        (tmp_path / name).symlink_to(sample(target))
    into_dir = config.job_settings(config.load({"output": {"dir": str(tmp_path / "kps"), "always": True}}))
    recs = {name: process_image(str(tmp_path / name), into_dir if "/" in name else SETTINGS) for name in links}
    paths = {name: r["keypoints_path"] for name, r in recs.items()}
    assert paths["a.cub"] == str(tmp_path / "a_kps.h5") and paths["x/b.cub"] == str(tmp_path / "kps" / "b_kps.h5")
    assert len(set(paths.values())) == 4
    assert os.path.dirname(paths["a.tif"]) == str(tmp_path) and os.path.dirname(paths["y/b.cub"]) == str(tmp_path / "kps")
    for rec in recs.values():
        back = read_keypoints(rec["keypoints_path"])
        assert back["source_path"] == rec["path"] and back["source_checksum"] == rec["checksum"]
        assert len(back["keypoints"]) == rec["n_keypoints"] > 0
    first = os.stat(paths["a.cub"]).st_mtime_ns
    assert process_image(str(tmp_path / "a.tif"), SETTINGS)["keypoints_path"] == paths["a.tif"]
    assert os.stat(paths["a.cub"]).st_mtime_ns == first
    assert process_image(str(tmp_path / "a.cub"), SETTINGS)["keypoints_path"] == paths["a.cub"]
    assert read_keypoints(paths["a.tif"])["source_path"] == recs["a.tif"]["path"]
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith(".h5")) == sorted(
        os.path.basename(paths[n]) for n in ("a.cub", "a.tif"))  # nothing else, no temp files
    assert not [p for p in os.listdir(tmp_path / "kps") if not p.endswith("_kps.h5")]


_WRITER = """
import sys, numpy as np
from autocnet_jobs.extractors.keypoint_file import write_keypoints
k = np.ones((400000, 6), np.float32); d = np.ones((400000, 128), np.float32)
print("ready", flush=True)
while True:
    write_keypoints(sys.argv[1], k, d, {"extractor": "sift"})
"""


def test_killed_writer_never_leaves_a_half_written_file(tmp_path):
    path = str(tmp_path / "img_kps.h5")
    k, d = _kps(7)
    write_keypoints(path, k, d, {"extractor": "old"})
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, path], stdout=subprocess.PIPE, cwd=str(REPO))
    try:
        assert proc.stdout.readline().strip() == b"ready"
        deadline = time.time() + 30
        while not [p for p in os.listdir(tmp_path) if p.endswith(".part")] and time.time() < deadline:
            time.sleep(0.005)
        assert time.time() < deadline, "writer never started a temp file"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert glob.glob(str(tmp_path / "*_kps.h5")) == [path]
    back = read_keypoints(path)      # complete: the old file or a complete new one, never a partial one
    assert back["extractor"] in ("old", "sift")
    assert len(back["keypoints"]) in (7, 400000) and len(back["descriptors"]) == len(back["keypoints"])


_PAUSED_WRITER = """
import sys, numpy as np
from autocnet_jobs.extractors.keypoint_file import write_keypoints

class Paused:
    # h5py turns an attribute into an array while the temp file is open: stop there until told to go on.
    def __array__(self, dtype=None, copy=None):
        print("in flight", flush=True)
        sys.stdin.readline()
        return np.array(b"sift")

k = np.ones((50, 6), np.float32); d = np.ones((50, 128), np.float32)
print(write_keypoints(sys.argv[1], k, d, {"extractor": Paused(), "source_path": sys.argv[2]}), flush=True)
"""


def test_processing_an_image_keeps_a_same_stem_images_temp_file(tmp_path):
    # x.cub and x.CUB (both match --ext cub) want the same x_kps.h5. While x.CUB's keypoint file is being
    # written (its temp file in flight), processing x.cub must not sweep that temp file as a dead attempt's:
    # x.CUB's write would then fail (write_error) and be retried for nothing.
    lower, upper = tmp_path / "x.cub", tmp_path / "x.CUB"
    lower.symlink_to(sample("e0902065.cal.sub.cub"))
    upper.symlink_to(sample("AS15-M-0297_crop.cub"))
    proc = subprocess.Popen([sys.executable, "-c", _PAUSED_WRITER, str(tmp_path / "x_kps.h5"), str(upper)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=str(REPO))
    try:
        assert proc.stdout.readline().strip() == "in flight", proc.stderr.read()
        in_flight = sorted(p for p in os.listdir(tmp_path) if p.endswith(".part"))
        assert len(in_flight) == 1
        rec = process_image(str(lower), SETTINGS)
        assert sorted(p for p in os.listdir(tmp_path) if p.endswith(".part")) == in_flight
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert rec["keypoints_path"] == str(tmp_path / "x_kps.h5")
    assert read_keypoints(rec["keypoints_path"])["source_path"] == str(lower)
    assert read_keypoints(out.strip())["source_path"] == str(upper) and out.strip() != rec["keypoints_path"]
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


def test_file_checksum_streams_sha256(tmp_path):
    path = tmp_path / "blob"
    data = os.urandom(3 * (1 << 20) + 17)
    path.write_bytes(data)
    assert file_checksum(str(path)) == hashlib.sha256(data).hexdigest()
