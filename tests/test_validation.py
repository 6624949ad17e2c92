"""Settings are validated once, in config, before any job; per-image errors no retry can fix fail at once.

Issue 14, item 5: settings config accepted but every job rejected (ORB with a small extractor.tile_size) failed
every image as unexpected_error, with retries; a band the image does not have was a retried ImageError.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from autocnet_jobs import ConfigError, ImageAdder, config, errors
from autocnet_jobs.extractors.features import accepted_parameters, akaze_available, effective_settings, make_detector
from autocnet_jobs.extractors.pipeline import process_image

from .conftest import REPO, link_images
from .helpers import config as run_config


@pytest.mark.parametrize("tile_size", [66, 100, 124])
def test_orb_tile_size_every_job_would_reject_is_a_config_error(tmp_path: Path, tile_size: int) -> None:
    """ORB widens the tile overlap to twice its edgeThreshold (62): tiles of 124 px or less cannot work."""
    site = tmp_path / "site.yml"
    site.write_text(yaml.safe_dump({"extractor": {"method": "orb", "tile_size": tile_size}}))
    with pytest.raises(ConfigError, match=r"extractor\.tile_size.*site\.yml"):
        config.load(site)


def test_the_smallest_orb_tile_config_accepts_is_one_every_job_accepts() -> None:
    """The boundary is where the per-image code draws it: 125 is accepted by both (not everything refused)."""
    cfg = config.load({"extractor": {"method": "orb", "tile_size": 125}})
    assert effective_settings(cfg["extractor"])["tile_size"] == 125
    cfg = config.load({"extractor": {"method": "orb", "tile_size": 100, "parameters": {"edgeThreshold": 15}}})
    assert effective_settings(cfg["extractor"])["tile_overlap"] == 32


@pytest.mark.parametrize("bad, key", [
    ({"extractor": {"tile_overlap": 512}}, "extractor.tile_overlap"),
    ({"extractor": {"tile_overlap": -1}}, "extractor.tile_overlap"),
    ({"extractor": {"tile_size": 40}}, "extractor.tile_size"),
    ({"extractor": {"downsample": 0}}, "extractor.downsample"),
    ({"extractor": {"max_features": 0}}, "extractor.max_features"),
    ({"extractor": {"method": "surf"}}, "extractor.method"),
])
def test_extractor_rules_are_config_errors_naming_the_key(bad: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(key) + r".*<dict>"):
        config.load(bad)


@pytest.mark.parametrize("method, parameters, named", [
    ("sift", {"nOctaveLayerz": 3}, "'nOctaveLayerz'"),     # a name SIFT_create does not take
    ("sift", {"nfeatures": "many"}, "'nfeatures'"),         # a value of the wrong type
    ("sift", {"sigma": "wide", "nfeatures": 100}, "'sigma'"),
    ("orb", {"WTA_K": 2.5}, "'WTA_K'"),
])
def test_extractor_parameters_opencv_rejects_are_a_config_error(tmp_path: Path, method: str, parameters: dict,
                                                                 named: str) -> None:
    """Such a parameter failed every image, each retried maxfailures times, as extraction_error: the config
    says so instead, naming the parameter, the file and what the constructor takes."""
    site = tmp_path / "site.yml"
    site.write_text(yaml.safe_dump({"extractor": {"method": method, "parameters": parameters}}))
    with pytest.raises(ConfigError, match=r"extractor\.parameters.*site\.yml") as info:
        config.load(site)
    assert named in str(info.value) and f"({method} takes nfeatures, " in str(info.value), info.value


def test_extractor_parameters_opencv_takes_pass_and_reach_the_detector() -> None:
    cfg = config.load({"extractor": {"parameters": {"nOctaveLayers": 4, "contrastThreshold": 0.05}}})
    assert make_detector("sift", cfg["extractor"]["parameters"]).getNOctaveLayers() == 4
    cfg = config.load({"extractor": {"method": "orb", "parameters": {"edgeThreshold": 15, "nlevels": 4}}})
    assert make_detector("orb", cfg["extractor"]["parameters"]).getNLevels() == 4
    for method in ("sift", "orb") + (("akaze",) if akaze_available() else ()):  # the name check has names
        assert "nfeatures" in accepted_parameters(method) or "threshold" in accepted_parameters(method), method


def test_per_image_code_uses_the_configured_defaults() -> None:
    """One home per default: defaults.yml. The per-image code once had its own tile_size (2048 against 1024)."""
    filled = effective_settings({})
    for key, value in config.defaults()["extractor"].items():
        assert filled[key] == value, key


def test_band_the_image_lacks_is_a_permanent_error(tmp_path: Path) -> None:
    link = link_images(tmp_path, ["RGB.byte.tif"]) / "RGB.byte.tif"
    settings = config.job_settings(config.load({"reading": {"band": 4}}))
    with pytest.raises(errors.ImageError, match=r"3 band.*band 4.*reading\.band") as info:
        process_image(str(link), settings)
    assert errors.error_kind(info.value) in errors.PERMANENT_KINDS


def test_band_the_image_lacks_fails_once_not_maxfailures_times(tmp_path: Path) -> None:
    images = link_images(tmp_path / "images", ["RGB.byte.tif", "dawnEqui1.cub"])
    cfg = run_config(tmp_path, cluster={"maxfailures": 3}, reading={"band": 2})
    with ImageAdder(cfg, quiet=True) as ia:
        ia.add_images(images, "tif")
        ia.add_images(images, "cub")
        ia.wait(timeout=300)
        one_band = str(images / "dawnEqui1.cub")
        assert ia.failed_jobs == [one_band]
        assert ia.failure(one_band)["kind"] == "no_such_band"
        assert ia.failure(one_band)["attempts"] == 1
        assert ia.job_status[str(images / "RGB.byte.tif")] is True


def _image_error_classes() -> list[type]:
    out, todo = [], [errors.ImageError]
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo += cls.__subclasses__()
    return out


def test_every_image_error_is_raised_somewhere() -> None:
    """An exported, documented error that nothing raises promises users a failure kind they never see."""
    source = "\n".join(p.read_text() for p in (REPO / "autocnet_jobs").rglob("*.py") if p.name != "errors.py")
    for cls in _image_error_classes():
        if cls is not errors.ImageError:
            assert re.search(rf"\b{cls.__name__}\(", source), f"{cls.__name__} is never raised"


def test_readme_lists_exactly_the_failure_kinds() -> None:
    readme = (REPO / "README.md").read_text()
    listed = set(re.findall(r"`([a-z_]+)`", readme.split("Every failure is typed:")[1].split(".\n")[0]))
    kinds = {cls.kind for cls in _image_error_classes() if cls is not errors.ImageError}
    kinds |= {errors.WORKER_DIED, errors.TIMEOUT, errors.CALLBACK_ERROR, errors.UNEXPECTED, errors.DB_WRITE}
    assert listed == kinds
