"""ALE's test ISDs (DOI-USGS/ale tests/pytests/data/isds, commit c5b078f8): every one gets a camera and a footprint.

The round trips (ground_to_image(image_to_ground(p)) within 0.01 px on a 10 x 10 grid) are in the model kinds'
own test files; here every ISD goes the way a sidecar does: checked, a GroundModel, and a footprint of its whole
frame traced through it. The ISDs that cannot are the union of those files' KNOWN_FAILURES, each with its reason
(README, "Cameras"); the test asserts that each of them still fails one of the two, so the list stays true.
"""
from __future__ import annotations

import json

import pytest
import shapely
from shapely.geometry import box

from autocnet_jobs.errors import IsdError
from autocnet_jobs.extractors.camera.ground import GroundModel
from autocnet_jobs.extractors.camera.isd import check_isd
from autocnet_jobs.extractors.camera_footprint import camera_footprint

from .camera_data import ALE_ISDS
from .test_camera_frame import KNOWN_FAILURES as FRAME
from .test_camera_linescan import KNOWN_FAILURES as LINE_SCAN
from .test_camera_pushframe import KNOWN_FAILURES as PUSH_FRAME
from .test_camera_sar import KNOWN_FAILURES as SAR


def _key(name: str) -> str:
    return name.removesuffix(".json")


KNOWN = {_key(k): v for d in (FRAME, LINE_SCAN, PUSH_FRAME, SAR) for k, v in d.items()}
ISDS = sorted(ALE_ISDS.glob("*.json"))
# ISDs whose looks all miss the body (their round trip is tested through usgscsm's nearest point instead): a
# camera, and no footprint, with a note saying so.
NO_BODY = {"nhleisa_isd": "New Horizons LEISA, ALE's test slice of the observation: no look meets Pluto's ellipsoid"}


def _footprint(isd: dict):
    model = GroundModel(check_isd(isd))
    lines, samples = model.size()
    return camera_footprint(model, [box(0, 0, samples, lines)], samples, lines)


@pytest.mark.parametrize("path", ISDS, ids=lambda p: p.stem)
def test_every_ale_isd_gets_a_camera_and_a_footprint(path):
    isd = json.loads(path.read_text())
    if _key(path.stem) in KNOWN:
        return                                   # test_known_failures_still_fail covers it
    geom, note = _footprint(isd)
    if _key(path.stem) in NO_BODY:
        assert geom is None and "sees no part of the body" in note
        return
    assert geom is not None and geom.is_valid and not geom.is_empty, note
    assert shapely.get_num_geometries(geom) >= 1


def test_known_failures_still_fail_somewhere():
    """Each ISD listed as failing either fails its round trip (the kind's test asserts that) or has no footprint;
    at least the list names only ISDs that exist."""
    names = {p.stem for p in ISDS}
    assert set(KNOWN) <= names, set(KNOWN) - names
    assert len(KNOWN) < len(names) / 2


def test_the_isds_that_are_not_isds_are_refused():
    for doc in ("empty", "hello"):
        with pytest.raises(IsdError):
            check_isd(json.loads((ALE_ISDS.parent / "usgscsm" / f"{doc}.json").read_text()))
