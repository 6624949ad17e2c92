"""The push-frame model against usgscsm's own tests, and every ALE push-frame ISD round-tripped.

Pinned values come from DOI-USGS/usgscsm tests/PushFrameCameraTests.cpp at ba32d13b (fixture
OrbitalPushFrameSensorModel in tests/Fixtures.h: tests/data/orbitalPushFrame.json, no edits), with usgscsm's
tolerances (EXPECT_DOUBLE_EQ is 4 ulps; a relative 1e-15 here). Where a usgscsm test edits the model *state* (the
sun tables), the same edit is made to the model's attributes, which is what usgscsm's replaceModelState does.

Not ported, and why:
* ``State`` - round-trips usgscsm's JSON model state string; this model has no state string.
* usgscsm's ``achievedPrecision`` outputs (in ``Center``) - not part of this contract.
* There is no lroWacPushFrame fixture in usgscsm's tests/Fixtures.h at ba32d13b (the ISD is in tests/data but no
  test uses it), so tests/data/lroWacPushFrame.json is checked here for properties only, not pinned values.
"""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from autocnet_jobs.extractors.camera import sensor_model
from autocnet_jobs.extractors.camera.pushframe import PushFrameSensorModel

from .camera_data import ALE_ISDS, usgscsm_isd

PUSH_FRAME = "USGS_ASTRO_PUSH_FRAME_SENSOR_MODEL"
ALE_PUSH_FRAME = sorted(p.stem for p in ALE_ISDS.glob("*.json") if PUSH_FRAME in p.read_text())

# ALE ISDs whose 10 x 10 grid does not round-trip within 0.01 pixel, and why. Both are usgscsm's own
# ground -> image behaviour (usgscsm PushFrameCameraTests.cpp Inversion: "It is a known issue that the
# image-to-ground and ground-to-image operations do not agree for this sensor, because the framelets overlap",
# so it allows 10 pixels).
KNOWN_FAILURES = {
    "lrolrocwac_isd": "framelets overlap (the scene moves ~3.2 of the 4 summed lines between framelets): grid "
                      "points near a framelet edge come back in the neighbouring framelet, whose centre usgscsm's "
                      "secant search finds nearer in *undistorted* focal-plane lines; with WAC's distortion some "
                      "of those lines fall just outside that framelet (errors up to ~1 line)",
    "themisvis_isd": "framelets overlap (~44 lines of 192): grid points near a framelet edge come back, exactly, "
                     "as the same ground point seen in the neighbouring framelet, the one whose centre is nearer",
}


@pytest.fixture(scope="module")
def orbital() -> PushFrameSensorModel:
    return PushFrameSensorModel(usgscsm_isd("orbitalPushFrame"))


def _model(isd: dict) -> PushFrameSensorModel:
    return PushFrameSensorModel(isd)


# --- usgscsm tests/PushFrameCameraTests.cpp ---------------------------------------------------------------------

def test_center(orbital):
    # usgscsm tests/PushFrameCameraTests.cpp OrbitalPushFrameSensorModel.Center
    ground = orbital.image_to_ground(6.0, 8.0, 0.0)[0]
    assert ground[0] == pytest.approx(1000000, abs=1e-9)
    assert ground[1] == pytest.approx(0.0, abs=1e-9)
    assert ground[2] == pytest.approx(0.0, abs=1e-9)
    line, sample = orbital.ground_to_image(np.array([[1000000.0, 0.0, 0.0]]), 0.001)
    assert line[0] == pytest.approx(6, abs=0.001)
    assert sample[0] == pytest.approx(8.0, abs=0.001)


def test_inversion(orbital):
    # usgscsm tests/PushFrameCameraTests.cpp OrbitalPushFrameSensorModel.Inversion: every pixel centre, 10 px
    line, sample = (a.ravel() for a in np.meshgrid(np.arange(0.5, 360), np.arange(0.5, 16), indexing="ij"))
    back_line, back_sample = orbital.ground_to_image(orbital.image_to_ground(line, sample, 0.0), 0.001)
    assert np.all(np.abs(back_line - line) <= 10.0)
    assert np.all(np.abs(back_sample - sample) <= 10.0)


def test_image_to_ground_height(orbital):
    # usgscsm tests/PushFrameCameraTests.cpp OrbitalPushFrameSensorModel.ImageToGroundHeight
    ground = orbital.image_to_ground(6.0, 8.0, 0.0)[0]
    raised = orbital.image_to_ground(6.0, 8.0, 100.0)[0]
    assert np.linalg.norm(raised - ground) == pytest.approx(100.0, abs=0.01)


def test_sun_position_lagrange(orbital):
    # usgscsm tests/PushFrameCameraTests.cpp OrbitalPushFrameSensorModel.getSunPositionLagrange: time -0.6 s from
    # the centre is framelet 9's mid-exposure (998.475 + 0.05 / 2 + 9 x 0.1 = 999.4), i.e. image lines 108-120
    sun = orbital.sun_position_at(-0.6)[0]
    assert sun == pytest.approx([125000000] * 3, abs=1e-5)
    assert orbital.sun_position(114.5, 8.0)[0] == pytest.approx([125000000] * 3, abs=1e-5)


def test_sun_position_linear(orbital):
    # usgscsm tests/PushFrameCameraTests.cpp OrbitalPushFrameSensorModel.getSunPositionLinear (its state edit:
    # one sun position, one velocity)
    model = copy.copy(orbital)
    model.sun_positions, model.sun_velocities = np.array([[100.0, 100.0, 100.0]]), np.array([[50.0, 50.0, 50.0]])
    assert model.sun_position_at(0.5)[0] == pytest.approx([125, 125, 125], rel=1e-15)


def test_sun_position_stationary(orbital):
    # usgscsm tests/PushFrameCameraTests.cpp OrbitalPushFrameSensorModel.getSunPositionStationary (its state edit:
    # one sun position, no velocity)
    model = copy.copy(orbital)
    model.sun_positions, model.sun_velocities = np.array([[100.0, 100.0, 100.0]]), np.empty((0, 3))
    assert model.sun_position_at(1)[0] == pytest.approx([100, 100, 100], rel=1e-15)


def test_illumination_direction_stationary(orbital):
    # usgscsm tests/PushFrameCameraTests.cpp OrbitalPushFrameSensorModel.getIlluminationDirectionStationary:
    # getIlluminationDirection = unit(ground - sun at the time the ground point is imaged)
    model = copy.copy(orbital)
    model.sun_positions, model.sun_velocities = np.array([[100.0, 100.0, 100.0]]), np.empty((0, 3))
    ground = model.image_to_ground(8.5, 8, 0.0)
    line, sample = model.ground_to_image(ground)
    direction = ground[0] - model.sun_position(line, sample)[0]
    direction /= np.linalg.norm(direction)
    expected = ground[0] - [100.0, 100.0, 100.0]
    assert direction == pytest.approx(expected / np.linalg.norm(expected), rel=1e-15)


# --- the contract on usgscsm's test ISDs (values derived from the ISD, not pinned by usgscsm) ---------------------

def test_times_positions_and_size(orbital):
    # framelet k is exposed at starting time + exposure / 2 + k x interframe delay; 360 lines of 12-line framelets
    assert (orbital.lines, orbital.samples) == (360, 16)
    assert orbital.image_time([0.5, 11.9, 12.0, 359.5]) == pytest.approx([998.5, 998.5, 998.6, 1001.4], abs=1e-9)
    # the first framelet's time is the first ephemeris node: position (1050 km, 0, 0), velocity (0, 0, -1050 km/s)
    assert orbital.sensor_position(6.0, 8.0)[0] == pytest.approx([1050000.0, 0.0, 0.0], abs=1e-6)
    assert orbital.sensor_velocity(6.0, 8.0)[0] == pytest.approx([0.0, 0.0, -1050000.0], abs=1e-6)
    # 50 km range, 0.1 mm pixels, 50 mm focal length: 100 m pixels
    assert orbital.ground_sample_distance() == pytest.approx(100.0, abs=0.01)
    assert (orbital.semi_major, orbital.semi_minor) == (1000000.0, 1000000.0)


def test_remote_locus_points_at_the_ground(orbital):
    line, sample = np.array([0.5, 100.2, 359.5]), np.array([0.5, 8.0, 15.5])
    origin, direction = orbital.image_to_remote_imaging_locus(line, sample)
    ground = orbital.image_to_ground(line, sample)
    assert origin == pytest.approx(orbital.sensor_position(line, sample))
    assert np.linalg.norm(direction, axis=1) == pytest.approx(1.0)
    to_ground = ground - origin
    assert np.einsum("ij,ij->i", to_ground, direction) == pytest.approx(np.linalg.norm(to_ground, axis=1))


def test_reversed_framelets_lro_wac():
    # usgscsm tests/data/lroWacPushFrame.json: framelet_order_reversed, so the first image framelet is the last one
    # exposed; 364 framelets of 14 lines
    model = _model(usgscsm_isd("lroWacPushFrame"))
    isd = usgscsm_isd("lroWacPushFrame")
    assert (model.lines, model.samples) == (5096, 1024)
    last = isd["starting_ephemeris_time"] + isd["exposure_duration"] / 2 + 363 * isd["interframe_delay"]
    assert model.image_time([0.5, 5095.5]) == pytest.approx(
        [last, isd["starting_ephemeris_time"] + isd["exposure_duration"] / 2], abs=1e-6)
    # framelet middles (never near an overlap) round-trip tightly
    line, sample = (a.ravel() for a in np.meshgrid(np.arange(7.0, 5096, 14 * 37), [10.5, 512.0, 1013.5]))
    back_line, back_sample = model.ground_to_image(model.image_to_ground(line, sample))
    assert np.abs(back_line - line).max() < 0.01 and np.abs(back_sample - sample).max() < 0.01


def test_flipped_framelets_invert():
    # A deliberate difference from usgscsm, whose groundToImage ignores framelets_flipped (its losToEcf flips):
    # here ground -> image inverts image -> ground for flipped framelets too.
    isd = usgscsm_isd("orbitalPushFrame")
    isd["framelets_flipped"] = True
    model, plain = _model(isd), _model(usgscsm_isd("orbitalPushFrame"))
    # line 2 of framelet 0 looks where line 10 (12 - 2) does unflipped
    assert model.image_to_ground(2.0, 8.0) == pytest.approx(plain.image_to_ground(10.0, 8.0), abs=1e-6)
    line, sample = (a.ravel() for a in np.meshgrid(np.arange(2.5, 360, 12.0), [0.5, 8.0, 15.5]))
    back_line, back_sample = model.ground_to_image(model.image_to_ground(line, sample))
    assert np.abs(back_line - line).max() < 1e-6 and np.abs(back_sample - sample).max() < 1e-6


def test_vectorised_and_nan(orbital):
    line = np.array([np.nan, 6.0, 200.0])
    ground = orbital.image_to_ground(line, 8.0)
    assert ground.shape == (3, 3) and np.isnan(ground[0]).all() and np.isfinite(ground[1:]).all()
    # a sample so far off the detector that the look leaves the body: a miss, not usgscsm's closest point
    assert np.isnan(orbital.image_to_ground(180.0, 1e6)).all()
    back_line, back_sample = orbital.ground_to_image(np.vstack([ground, [[5e6, 0.0, 0.0]]]))
    assert np.isnan(back_line[0]) and np.isnan(back_sample[0])
    assert back_line[1:3] == pytest.approx(line[1:3], abs=1e-6)
    assert np.isnan(back_line[3]) and np.isnan(back_sample[3])       # behind the sensor: not imaged


def test_missing_framelet_timing_raises():
    isd = usgscsm_isd("orbitalPushFrame")
    del isd["interframe_delay"]
    with pytest.raises(ValueError, match="interframe_delay"):
        _model(isd)
    isd = usgscsm_isd("orbitalPushFrame")
    isd["num_lines_overlap"] = 3
    with pytest.raises(ValueError, match="even"):
        _model(isd)


# --- every ALE push-frame ISD -----------------------------------------------------------------------------------

def test_ale_push_frame_isds_found():
    assert ALE_PUSH_FRAME == ["lrolrocwac_isd", "themisvis_isd"]
    assert set(KNOWN_FAILURES) <= set(ALE_PUSH_FRAME)


@pytest.mark.parametrize("name", ALE_PUSH_FRAME)
def test_ale_isd_round_trip(name):
    isd = json.loads((ALE_ISDS / f"{name}.json").read_text())
    model = sensor_model(isd)
    assert isinstance(model, PushFrameSensorModel)
    line, sample = (a.ravel() for a in np.meshgrid(np.linspace(0.5, model.lines - 0.5, 10),
                                                   np.linspace(0.5, model.samples - 0.5, 10), indexing="ij"))
    ground = model.image_to_ground(line, sample)
    assert np.isfinite(ground).all()
    back_line, back_sample = model.ground_to_image(ground)
    error = np.maximum(np.abs(back_line - line), np.abs(back_sample - sample))
    if name not in KNOWN_FAILURES:
        assert error.max() <= 0.01
        return
    assert error.max() > 0.01, f"{name} now round-trips: take it out of KNOWN_FAILURES"
    # what fails is an overlap answer: the neighbouring framelet, at most a framelet away
    assert np.abs(back_line - line).max() < 2 * model.summed_height
    assert np.median(error) <= 0.01
