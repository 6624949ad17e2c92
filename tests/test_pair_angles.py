"""A pair's convergence and incidence difference at its overlap's centre (issue 26 item 5), on real cameras.

References, each independent of the code under test:

* a synthetic geometry with known angles: usgscsm's ``simpleFramerISD.json`` (a 10 m sphere, a framing camera
  1 km out looking at lon 0, lat 0) turned rigidly about axes through that ground point (spiceypy's axisar,
  q2m, m2q), so the two sensors sit at known angles from the surface normal and the Sun at a known direction:
  the angles follow from plane trigonometry;
* the two overlapping Apollo 15 Metric frames AS15-M-0297/0298: the angles recomputed with spiceypy's math
  (vsep, surfnm, latrec) from the cameras' own J2000 tables (tests/test_acquisition's interpolation), only the
  images' times taken from the ISDs;
* ISIS's CameraStatistics (camstats) ranges stored in the Viking and THEMIS crops (as test_acquisition reads
  them): each view's incidence and emission at the image centre lies within ISIS's range, and equals the
  package's own centre angles (extractors.acquisition.viewing_geometry);
* a camera paired with itself (and LRO WAC's image with its backplane cube, the same camera): 0 exactly.
"""
from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import rasterio
import shapely
import spiceypy

from autocnet_jobs.catalogue import overlap_geometry as og
from autocnet_jobs.catalogue import pair_angles as pa
from autocnet_jobs.extractors.acquisition import viewing_geometry
from autocnet_jobs.extractors.camera.ground import GroundModel
from autocnet_jobs.extractors.cameras import camera_model
from autocnet_jobs.extractors.footprints import compute_footprint

from .camera_data import CAMERA_DIR, usgscsm_isd
from .conftest import sample
from .test_acquisition import _camera_statistics, _position, _rotation

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

APOLLO = ("AS15-M-0297_crop.cub", "AS15-M-0298_crop.cub")
WAC = (CAMERA_DIR / "M1181493219CE.vis.odd.reduced.cub", CAMERA_DIR / "back.reduced.cub")
GROUND = np.array([10.0, 0.0, 0.0])          # simpleFramerISD: the centre pixel's ground point (lon 0, lat 0), m


def _camera(path) -> tuple[dict, object]:
    """(the camera dict, its footprint) of a cube, as the pipeline makes them."""
    path = str(path)
    with rasterio.open(path) as ds:
        camera = camera_model(ds, path)
        footprint = compute_footprint(ds, path, 1, None, camera, None)
    return camera, footprint.geometry


# --- synthetic: known angles -------------------------------------------------------------------------------

def _turned(axis, degrees: float, sun_direction=None) -> dict:
    """simpleFramerISD turned rigidly by ``degrees`` about ``axis`` through GROUND (position and pointing), so
    it still looks at GROUND; the Sun put 1000 km from GROUND along ``sun_direction`` when given."""
    isd = copy.deepcopy(usgscsm_isd("simpleFramerISD"))
    turn = np.asarray(spiceypy.axisar(np.asarray(axis, float), math.radians(degrees)))   # active rotation
    position = np.asarray(isd["instrument_position"]["positions"][0]) * 1000.0
    isd["instrument_position"]["positions"] = [list((GROUND + turn @ (position - GROUND)) / 1000.0)]
    to_sensor = np.asarray(spiceypy.q2m(isd["instrument_pointing"]["quaternions"][0]))  # J2000 (= body) -> sensor
    isd["instrument_pointing"]["quaternions"] = [list(spiceypy.m2q(to_sensor @ turn.T))]
    if sun_direction is not None:
        sun = GROUND + 1e6 * np.asarray(sun_direction, float) / np.linalg.norm(sun_direction)
        isd["sun_position"]["positions"] = [list(sun / 1000.0)]
    return isd


def test_the_turned_camera_still_looks_at_the_ground_point():
    model = GroundModel(_turned((0, 0, 1), 25.0))
    lines, samples = model.size()
    centre = model.ground_points([(lines - 1) / 2], [(samples - 1) / 2])[0]
    assert np.allclose(centre, GROUND, atol=1e-6)


@pytest.mark.parametrize("turn_a, turn_b, expected", [
    (((0, 0, 1), 20.0), ((0, 0, 1), -15.0), 35.0),                      # one plane, either side of the normal
    (((0, 0, 1), 20.0), ((0, 0, 1), 5.0), 15.0),                        # one plane, same side
    (((0, 0, 1), 20.0), ((0, 1, 0), 30.0),                              # orthogonal planes: cos c = cos a cos b
     math.degrees(math.acos(math.cos(math.radians(20)) * math.cos(math.radians(30))))),
])
def test_convergence_of_two_sensors_at_known_angles_over_a_sphere(turn_a, turn_b, expected):
    a, b = GroundModel(_turned(*turn_a)), GroundModel(_turned(*turn_b))
    got = pa.pair_angles(a, b, 0.0, 0.0)
    assert got.convergence_deg == pytest.approx(expected, abs=1e-9)
    emission = pa.views(a, [0.0], [0.0]).emission()[0]                  # angle of sensor a from the normal
    assert emission == pytest.approx(abs(turn_a[1]), abs=1e-9)


def test_incidence_difference_of_known_sun_directions():
    # the Sun 30 degrees from the normal (1, 0, 0) for one image, 45 degrees for the other: 15 degrees apart
    sun_a = (math.cos(math.radians(30)), math.sin(math.radians(30)), 0.0)
    sun_b = (math.cos(math.radians(45)), 0.0, math.sin(math.radians(45)))
    a = GroundModel(_turned((0, 0, 1), 10.0, sun_a))
    b = GroundModel(_turned((0, 0, 1), -10.0, sun_b))
    got = pa.pair_angles(a, b, 0.0, 0.0)
    # the Sun 1000 km from a 10 m body: its direction from GROUND is sun_direction to 1e-12 rad
    assert got.incidence_a == pytest.approx(30.0, abs=1e-9)
    assert got.incidence_b == pytest.approx(45.0, abs=1e-9)
    assert got.incidence_diff_deg == pytest.approx(15.0, abs=1e-9)
    assert got.convergence_deg == pytest.approx(20.0, abs=1e-9)


def test_none_where_a_camera_is_missing_or_the_point_is_unseen():
    a, b = GroundModel(_turned((0, 0, 1), 10.0)), GroundModel(_turned((0, 0, 1), -10.0))
    assert pa.pair_angles(a, None, 0.0, 0.0) == pa.NONE
    assert pa.pair_angles_isd(None, _turned((0, 0, 1), 1.0), 0.0, 0.0) == pa.NONE
    assert pa.pair_angles(a, b, 180.0, 0.0) == pa.NONE                  # the far side of the body: hidden
    # the body (10 m) fits in this camera's image: a point of it seen obliquely, 20 degrees off, has angles
    assert pa.pair_angles(a, b, 20.0, 0.0).convergence_deg == pytest.approx(20.0, abs=0.5)
    # a point of the Moon's near side outside an Apollo frame (its footprint about 145 E, 20 S): not seen
    camera, footprint = _camera(sample(APOLLO[0]))
    lon, lat = og.centre_lonlat(footprint)
    apollo = GroundModel(camera["isd"])
    assert pa.views(apollo, [lon + 5.0], [lat]).seen.tolist() == [False]
    assert pa.pair_angles(apollo, apollo, lon + 5.0, lat) == pa.NONE
    assert pa.pair_angles(apollo, apollo, lon, lat).convergence_deg == 0.0
    # a schema 5 camera dict (not an ISD) in the cameras table, or an invalid ISD: no model, no angles
    assert pa.model_or_none({"type": "framing", "name_model": "x"}) is None
    assert pa.model_or_none(None) is None


# --- real cameras ------------------------------------------------------------------------------------------

def test_a_camera_paired_with_itself_converges_at_zero():
    camera, footprint = _camera(sample(APOLLO[0]))
    lon, lat = og.centre_lonlat(footprint)
    got = pa.pair_angles_isd(camera["isd"], camera["isd"], lon, lat)
    assert got.convergence_deg == 0.0 and got.incidence_diff_deg == 0.0
    assert 0 < got.incidence_a < 90
    # LRO WAC's image and its backplane cube: the same camera, its own ISD built twice from two cubes
    (cam_a, fp_a), (cam_b, fp_b) = (_camera(p) for p in WAC)
    lon, lat = og.centre_lonlat(og.intersection(fp_a, fp_b))
    got = pa.pair_angles_isd(cam_a["isd"], cam_b["isd"], lon, lat)
    assert got.convergence_deg == pytest.approx(0.0, abs=1e-9) and got.incidence_diff_deg == pytest.approx(0, abs=1e-9)


def _spice_view(isd: dict, et: float, ground: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sensor, sun) body-fixed metres at ``et`` from the ISD's J2000 km tables with spiceypy's math."""
    body = _rotation(isd["body_rotation"], et)
    return (body @ _position(isd["instrument_position"], et) * 1000.0,
            body @ _position(isd["sun_position"], et) * 1000.0)


def test_apollo_stereo_pair_matches_spice_math_on_the_cameras_tables():
    (cam_a, fp_a), (cam_b, fp_b) = (_camera(sample(n)) for n in APOLLO)
    overlap = og.overlap(fp_a, fp_b, (1737400.0, 1737400.0))
    assert overlap is not None and overlap.fraction_a > 0.5          # consecutive frames, ~78% forward overlap
    lon, lat = overlap.centre()
    got = pa.pair_angles_isd(cam_a["isd"], cam_b["isd"], lon, lat)
    isd_a, isd_b = cam_a["isd"], cam_b["isd"]
    a, c = (isd_a["radii"][k] * 1000.0 for k in ("semimajor", "semiminor"))
    r = a * c / math.hypot(c * math.cos(math.radians(lat)), a * math.sin(math.radians(lat)))
    ground = np.asarray(spiceypy.latrec(r, math.radians(lon), math.radians(lat)))
    normal = np.asarray(spiceypy.surfnm(a, a, c, ground))
    craft_a, sun_a = _spice_view(isd_a, isd_a["center_ephemeris_time"], ground)   # framing: one time per image
    craft_b, sun_b = _spice_view(isd_b, isd_b["center_ephemeris_time"], ground)
    convergence = math.degrees(spiceypy.vsep(craft_a - ground, craft_b - ground))
    inc_a = math.degrees(spiceypy.vsep(normal, sun_a - ground))
    inc_b = math.degrees(spiceypy.vsep(normal, sun_b - ground))
    assert got.convergence_deg == pytest.approx(convergence, abs=1e-6)
    assert got.incidence_a == pytest.approx(inc_a, abs=1e-6) and got.incidence_b == pytest.approx(inc_b, abs=1e-6)
    assert got.incidence_diff_deg == pytest.approx(abs(inc_a - inc_b), abs=1e-6)
    # Apollo 15's Metric camera: frames ~25 s apart from ~110 km, a stereo base of ~1/3 of the height
    assert 10 < got.convergence_deg < 30 and got.incidence_diff_deg < 0.1
    # the batch form gives the same, with the models built once
    models = {1: GroundModel(isd_a), 2: GroundModel(isd_b), 3: None}
    batch = pa.pairs_angles(models, [(1, 2, lon, lat, True), (1, 3, lon, lat, True), (2, 1, lon, lat, True)])
    assert batch[0] == got and batch[1] == pa.NONE
    assert batch[2].convergence_deg == pytest.approx(got.convergence_deg, abs=1e-12)


@pytest.mark.parametrize("name", ["F704b51.lev1_slo_crop.cub", "I52634011RDR_crop.cub"])
def test_each_view_at_the_image_centre_is_the_centre_angles_and_within_isis_camstats(name):
    camera, _ = _camera(sample(name))
    model = GroundModel(camera["isd"])
    lines, samples = model.size()
    lon, lat = model.image_to_ground([(lines - 1) / 2], [(samples - 1) / 2])
    view = pa.views(model, lon, lat)
    incidence, emission = float(view.incidence()[0]), float(view.emission()[0])
    centre = viewing_geometry(camera)
    assert incidence == pytest.approx(centre["incidence"], abs=1e-6)
    assert emission == pytest.approx(centre["emission"], abs=1e-6)
    stats = _camera_statistics(name)        # ISIS's range over the original image, on its DEM: 0.5 deg slack
    for got, isis_name in ((incidence, "IncidenceAngle"), (emission, "EmissionAngle")):
        low, high = stats[isis_name]
        assert low - 0.5 <= got <= high + 0.5, (name, isis_name, got, (low, high))


def test_earth_geodetic_latitude_is_converted_for_the_model():
    # a geodetic latitude on an oblate spheroid: the centric one is nearer the equator (tan c = (b/a)^2 tan g)
    assert pa.centric_latitude(45.0, 6378137.0, 6356752.314245) == pytest.approx(44.80757678, abs=1e-7)
    assert json.dumps(pa.centric_latitude(0.0, 2.0, 1.0).tolist()) == "0.0"


def test_centres_of_small_overlaps_are_their_lonlat_centroids_and_of_the_others_centre_lonlat():
    from shapely.geometry import MultiPolygon, box

    (_, fp_a), (_, fp_b) = (_camera(sample(n)) for n in APOLLO)
    apollo = og.intersection(fp_a, fp_b)
    seam = MultiPolygon([box(178, -1, 180, 1), box(-180, -1, -178, 1)])
    cap = MultiPolygon([box(-180, 80, 180, 90)])
    c_shape = box(0, 0, 3, 3).difference(box(1, 0, 2, 2))          # its centroid is outside it
    lon, lat = pa.centres([apollo, seam, cap, c_shape])
    exact = [og.centre_lonlat(g) for g in (apollo, seam, cap)]
    # Apollo's overlap (~2.5 x 2 deg at 20 S): the lon/lat centroid within 0.01 deg of the vector-area centre
    assert abs(lon[0] - exact[0][0]) < 0.01 and abs(lat[0] - exact[0][1]) < 0.01
    assert (lon[1], lat[1]) == exact[1] and (lon[2], lat[2]) == exact[2]     # seam and pole: centre_lonlat
    assert c_shape.contains(shapely.Point(lon[3], lat[3]))
