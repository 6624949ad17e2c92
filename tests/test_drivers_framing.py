"""Framing-camera drivers (MDIS, OCAMS, TAGCAMS, NEAR MSI, Viking VIS, Apollo Metric, CaSSIS) on real ISIS cubes.

Truth is ISIS's: its gtests that pin image <-> ground on these very cubes (NEAR MSI, NFTCam), a phocube gtest
on the MDIS off-body cube, ISIS's distortion maps, and the footprint polygons ISIS stored in the Apollo and
Viking cubes. ISIS pixel (sample, line) is 1-based at pixel centres: CSM (line, sample) = (line - 0.5,
sample - 0.5). ISIS latitudes are planetocentric, longitudes 0..360 east.

Eros (17 x 5.5 x 5.5 km) and Bennu are triaxial; ISIS intersects the triaxial ellipsoid, usgscsm's models
only a biaxial one (semimajor, semiminor), so for those the gtest points are checked through the model's
look (``image_to_remote_imaging_locus``) met with the triaxial ellipsoid here, and through
``ground_to_image`` of ISIS's ground point, which needs no ellipsoid at all.
"""
from __future__ import annotations

import numpy as np
import pytest
import shapely

from autocnet_jobs.extractors.camera import sensor_model
from autocnet_jobs.extractors.camera.distortion import distortion_from_isd
from autocnet_jobs.extractors.camera.drivers import cube_isd, driver_for
from autocnet_jobs.extractors.camera.drivers.apollo import ApolloMetric
from autocnet_jobs.extractors.camera.drivers.base import IsisCube
from autocnet_jobs.extractors.camera.drivers.messenger import MessengerMdis
from autocnet_jobs.extractors.camera.drivers.near import NearMsi
from autocnet_jobs.extractors.camera.drivers.osirisrex import OsirisRexOcams, OsirisRexTagcams
from autocnet_jobs.extractors.camera.drivers.tgo import TgoCassis
from autocnet_jobs.extractors.camera.drivers.viking import VikingVis
from autocnet_jobs.extractors.camera.geometry import quaternion_matrices
from autocnet_jobs.extractors.labels import isis3_label
from tests.camera_data import CAMERA_DIR
from tests.conftest import DATA_DIR

MDIS = CAMERA_DIR / "EW0131773041G.cal.crop.cub"
MAPCAM = CAMERA_DIR / "20190425T211232S312_map_iofL2pan-crop.cub"
NFTCAM = CAMERA_DIR / "20201020T214241S004_nft_L0-reduced.cub"
MSI = CAMERA_DIR / "m0155881376f3_2p_cif_dbl.cub"
VIKING = DATA_DIR / "F704b51.lev1_slo_crop.cub"
APOLLO = [DATA_DIR / "AS15-M-0297_crop.cub", DATA_DIR / "AS15-M-0298_crop.cub"]
CASSIS = [CAMERA_DIR / "CAS-MCO-2016-11-22T16.16.10.833-PAN-00000-B1_crop.cub",
          CAMERA_DIR / "CAS-MCO-2016-11-22T16.16.16.833-BLU-03006-B1.cub",
          CAMERA_DIR / "stitched-spice-2016-11-26T22-50-27.381_crop.cub"]

# (cube, driver, nominal IFOV in radians: detector pitch / focal length, source named)
CUBES = [
    (MDIS, MessengerMdis, 0.014 / 78.2575),      # MDIS WAC filter 7: PIXEL_PITCH, TempDependentFocalLength (label)
    (MAPCAM, OsirisRexOcams, 67.675e-6),         # INS-64361_IFOV = 67.675 urad (orx_ocams IK, in the label)
    (NFTCAM, OsirisRexTagcams, 2.2e-3 / 7.61),   # orex_tagcams_addendum: PIXEL_SIZE 2.2 um, FOCAL_LENGTH 7.61 mm
    (MSI, NearMsi, 0.016 / 166.85),              # msiAddendum002.ti: PIXEL_PITCH, FOCAL_LENGTH
    (VIKING, VikingVis, (1 / 85.0) / 474.610),   # VikingCamera.cpp: pitch 1/85 mm, VO2 camera A f
    *[(p, ApolloMetric, 0.005 / 76.054) for p in APOLLO],     # A15 metric IK: PIXEL_PITCH (scan), FOCAL_LENGTH
    *[(p, TgoCassis, 0.01 / 880.0) for p in CASSIS],          # CaSSIS IK: PIXEL_PITCH, FOCAL_LENGTH
]
IDS = [c[0].name[:32] for c in CUBES]


def isd_of(cls, path) -> dict:
    """The driver's ISD of a cube, built without the registry (the other modules are not under test here)."""
    return cls(IsisCube(str(path), isis3_label(str(path)))).isd()


def lat_lon(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Planetocentric latitude and 0..360 east longitude (degrees), ISIS's Universal ones."""
    return (np.degrees(np.arctan2(xyz[:, 2], np.hypot(xyz[:, 0], xyz[:, 1]))),
            np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0])) % 360.0)


def triaxial_intersect(origin, direction, radii) -> np.ndarray:
    """Where looks first meet the triaxial ellipsoid (ISIS EllipsoidShape, NAIF surfpt)."""
    r = np.asarray(radii, float)
    o, d = origin / r, direction / r
    a, b, c = (d * d).sum(1), 2 * (o * d).sum(1), (o * o).sum(1) - 1.0
    t = (-b - np.sqrt(b * b - 4 * a * c)) / (2 * a)
    return origin + t[:, None] * direction


def triaxial_point(lat, lon, radii) -> np.ndarray:
    """Body-fixed metres of a planetocentric lat/lon on the triaxial ellipsoid."""
    u = np.column_stack([np.cos(np.radians(lat)) * np.cos(np.radians(lon)),
                         np.cos(np.radians(lat)) * np.sin(np.radians(lon)), np.sin(np.radians(lat))])
    return u / np.sqrt(((u / np.asarray(radii, float)) ** 2).sum(1))[:, None]


def check_isis_points(model, radii, points, deg_tol, pixel_tol) -> None:
    """ISIS SetImage -> lat/lon and SetUniversalGround -> sample/line, points (sample, line, lat, lon)."""
    s, line, lat, lon = (np.array(v, float) for v in zip(*points))
    origin, direction = model.image_to_remote_imaging_locus(line - 0.5, s - 0.5)
    got_lat, got_lon = lat_lon(triaxial_intersect(origin, direction, radii))
    np.testing.assert_allclose(got_lat, lat, atol=deg_tol, rtol=0)
    np.testing.assert_allclose(got_lon, lon, atol=deg_tol, rtol=0)
    back_line, back_sample = model.ground_to_image(triaxial_point(lat, lon, radii))
    np.testing.assert_allclose(back_sample + 0.5, s, atol=pixel_tol, rtol=0)
    np.testing.assert_allclose(back_line + 0.5, line, atol=pixel_tol, rtol=0)


# --- every cube: driver, ISD, model, round trip, ground sample distance --------------------------------------

@pytest.mark.parametrize("path, cls, ifov", CUBES, ids=IDS)
def test_the_registry_finds_the_driver_and_its_isd_builds(path, cls, ifov):
    cube = IsisCube(str(path), isis3_label(str(path)))
    assert driver_for(cube) is cls
    isd = cube_isd(str(path))
    assert isd["name_model"] == "USGS_ASTRO_FRAME_SENSOR_MODEL"
    assert isd == isd_of(cls, path)
    lines, samples, _ = cube.dimensions
    model = sensor_model(isd)
    assert (model.lines, model.samples) == (lines, samples)


@pytest.mark.parametrize("path, cls, ifov", CUBES, ids=IDS)
def test_a_grid_of_pixels_round_trips_within_a_hundredth_of_a_pixel(path, cls, ifov):
    model = sensor_model(isd_of(cls, path))
    line, sample = (a.ravel() for a in np.meshgrid(np.linspace(0.5, model.lines - 0.5, 10),
                                                   np.linspace(0.5, model.samples - 0.5, 10)))
    ground = model.image_to_ground(line, sample)
    hit = np.isfinite(ground[:, 0])
    # MDIS EW0131773041G is ISIS's off-body test image: its lowest lines look past Mercury's limb.
    assert hit.sum() == (59 if path == MDIS else 100)
    back_line, back_sample = model.ground_to_image(ground[hit])
    assert np.max(np.hypot(back_line - line[hit], back_sample - sample[hit])) < 0.01


@pytest.mark.parametrize("path, cls, ifov", CUBES, ids=IDS)
def test_ground_sample_distance_is_the_nominal_ifov_at_the_model_range(path, cls, ifov):
    # One cube pixel on the ground: IFOV x slant range x detector pixels per cube pixel (the cube's AlphaCube
    # reduction), stretched by at most 1 / cos(emission) on the tilted surface (5% slack: lens distortion).
    model = sensor_model(isd_of(cls, path))
    line, sample = (1.5, 2.5) if path == MDIS else (model.lines / 2.0, model.samples / 2.0)   # MDIS: on body
    g = model.image_to_ground([line, line + 1, line], [sample, sample, sample + 1])
    gsd = 0.5 * (np.linalg.norm(g[1] - g[0]) + np.linalg.norm(g[2] - g[0]))
    origin, look = model.image_to_remote_imaging_locus([line], [sample])
    normal = g[0] / np.array([model.semi_major ** 2, model.semi_major ** 2, model.semi_minor ** 2])
    cos_e = abs(np.dot(normal / np.linalg.norm(normal), look[0]))
    alpha = IsisCube(str(path), isis3_label(str(path))).alpha
    reduction = (alpha["ending_sample"] - alpha["starting_sample"]) / alpha["beta_samples"] if alpha else 1.0
    nominal = ifov * np.linalg.norm(g[0] - origin[0]) * reduction
    assert 0.95 * nominal < gsd < 1.05 * nominal / cos_e
    if path != MDIS:                                  # MDIS's image centre looks past the limb: NaN there
        assert model.ground_sample_distance() == pytest.approx(gsd)


# --- ISIS gtests on these cubes ----------------------------------------------------------------------------

def test_nftcam_reproduces_isis_unit_test_osirisrex_tagcams():
    # ISIS isis/tests/UnitTestOsirisRexTagCams.cpp, TEST_F UnitTestOsirisRexTagCamsNFTCam, on this cube:
    # SetImage(sample, line) -> Universal lat/lon (EXPECT_NEAR 0.0001), SetUniversalGround -> sample/line (0.01).
    points = [(129.5, 97.0, 53.7314045659365, 45.4736806050086),
              (1.0, 1.0, 53.74996008837919, 44.87991851142592),
              (259.0, 1.0, 53.45070519515528, 45.595734037697831),
              (1.0, 194.0, 54.251546951663194, 45.249110941406045),
              (259.0, 194.0, 53.714109526681277, 46.006871961761462)]
    model = sensor_model(isd_of(OsirisRexTagcams, NFTCAM))
    radii = np.array([0.283065, 0.271215, 0.24972]) * 1000.0      # BODY2101955_RADII (label), km -> m
    check_isis_points(model, radii, points, 1e-4, 0.01)


def test_near_msi_reproduces_isis_near_msi_camera_test():
    # ISIS isis/tests/NearMsiCameraTests.cpp, TEST_F NearMsiCameraCube NearMsiCameraTest: the fixture builds the
    # camera from data/near/msicamera/m0155881376f3_2p_cif_dbl.{isd,pvl}, this image's label and SPICE (the
    # ISD's quaternions and positions are this cube's tables). Tolerances 1e-10 degrees and 0.001 pixel.
    points = [(34, 34, -17.686235689292037, 36.717548917904146),
              (504, 34, -25.741437596768307, 34.216663871981211),
              (504, 379, -29.649628167745398, 38.194196619380435),
              (34, 379, -20.18045520120209, 40.577715588340105),
              (268.5, 206.0, -22.852443468381061, 37.504660702426833)]
    model = sensor_model(isd_of(NearMsi, MSI))
    radii = np.array([17.0, 5.5, 5.5]) * 1000.0                     # BODY2000433_RADII (label)
    check_isis_points(model, radii, points, 1e-10, 0.001)
    # NearMsiCameraTest also pins FocalLength 166.85 and PixelPitch 0.016 (1e-4).
    isd = isd_of(NearMsi, MSI)
    assert isd["focal_length_model"]["focal_length"] == pytest.approx(166.85, abs=1e-4)
    assert 1.0 / isd["focal2pixel_samples"][1] == pytest.approx(0.016, abs=1e-4)


def test_mdis_off_body_image_matches_isis_phocube_off_body():
    # ISIS isis/tests/FunctionalTestsPhocube.cpp, TEST_F OffBodyCube FunctionalTestPhocubeOffBody, on this cube:
    # phase angle is valid on lines 1-3 and Null on lines 4-5 (off the body); right ascension and declination
    # everywhere; the three bands' histogram: 65 valid pixels, average 130.22882244403544 (1e-6),
    # sum 8464.8734588623047 (1e-4), standard deviation 167.45747507650518 (1e-4). phocube writes 32-bit reals.
    isd = isd_of(MessengerMdis, MDIS)
    model = sensor_model(isd)
    sample, line = (a.ravel() for a in np.meshgrid(np.arange(1, 6), np.arange(1, 6)))
    ground = model.image_to_ground(line - 0.5, sample - 0.5)
    on_body = np.isfinite(ground[:, 0])
    assert on_body.tolist() == (line < 4).tolist()
    origin, look = model.image_to_remote_imaging_locus(line - 0.5, sample - 0.5)
    w, x, y, z = isd["body_rotation"]["quaternions"][0]              # J2000 -> body-fixed
    j2000 = look @ quaternion_matrices([x, y, z, w])[0]             # body-fixed -> J2000
    ra = np.degrees(np.arctan2(j2000[:, 1], j2000[:, 0])) % 360.0
    dec = np.degrees(np.arcsin(j2000[:, 2]))
    to_sun = model.sun_position(line, sample)[on_body] - ground[on_body]
    to_camera = origin[on_body] - ground[on_body]
    phase = np.degrees(np.arccos(np.sum(to_sun * to_camera, 1) / np.linalg.norm(to_sun, axis=1)
                                 / np.linalg.norm(to_camera, axis=1)))
    values = np.concatenate([phase, ra, dec]).astype(np.float32).astype(float)
    assert len(values) == 65
    assert values.mean() == pytest.approx(130.22882244403544, abs=1e-6)
    assert values.sum() == pytest.approx(8464.8734588623047, abs=1e-4)
    assert values.std(ddof=1) == pytest.approx(167.45747507650518, abs=1e-4)


# --- distortion: the usgscsm form against ISIS's own map ----------------------------------------------------

def test_mapcam_transverse_fit_removes_distortion_as_isis_within_a_tenth_of_a_pixel():
    # ISIS OsirisRexDistortionMap::SetFocalPlane (iterative, 50 steps), MapCam PAN: OD_K_PAN, OD_CENTER_PAN,
    # CCD_CENTER + 1 origin, pitch 8.5 um (label). Undistorted 2.99 px away at worst without any distortion.
    isd = isd_of(OsirisRexOcams, MAPCAM)
    k = [2.21e-05, 0.000171, 5.96e-05, 0.0, 0.0]
    pitch, origin = 0.0085, 512.5
    x0, y0 = (450.3 - origin) * pitch, (486.2 - origin) * pitch
    dx, dy = (a.ravel() for a in np.meshgrid(*[(np.linspace(0.5, 1024.5, 41) - origin) * pitch] * 2))
    tx, ty = dx.copy(), dy.copy()
    for _ in range(50):
        r = np.hypot(tx - x0, ty - y0)
        dr = k[0] + k[1] * r + k[2] * r * r
        tx, ty = dx - dr * (tx - x0), dy - dr * (ty - y0)
    ux, uy = distortion_from_isd(isd).remove(dx, dy)
    assert np.max(np.hypot(ux - tx, uy - ty)) / pitch < 0.1
    assert np.max(np.hypot(dx - tx, dy - ty)) / pitch > 2.9


def test_cassis_transverse_fit_removes_distortion_as_isis_within_six_tenths_of_a_pixel():
    # ISIS TgoCassisDistortionMap::SetFocalPlane: u = chi . OD_A1_CORR / chi . OD_A3_CORR (the label's inverse
    # coefficients; the fit is to the forward OD_A*_DIST ones), over the CCD (+-10.24 mm). Without any
    # distortion the error would reach 18.4 px.
    isd = isd_of(TgoCassis, CASSIS[0])
    a1 = [0.0037613053094827, -0.013415415606581, -1.86749521007237e-05, 1.0002135268184,
          -4.32362371703953e-04, -9.48065735350123e-04]
    a2 = [9.9842559363676e-05, 0.0037354370795816, -0.013329991887393, -2.15311328389359e-04,
          0.99529601553729, -0.018354271771078]
    a3 = [-3.13320167004204e-05, -7.35655125749807e-06, -1.57664245066771e-05, 0.0037354946543915,
          -0.014167194693093, 1.0]
    dx, dy = (a.ravel() for a in np.meshgrid(*[np.linspace(-10.24, 10.24, 41)] * 2))
    chi = np.stack([dx * dx, dx * dy, dy * dy, dx, dy, np.ones_like(dx)])
    tx, ty = np.asarray(a1) @ chi / (np.asarray(a3) @ chi), np.asarray(a2) @ chi / (np.asarray(a3) @ chi)
    ux, uy = distortion_from_isd(isd).remove(dx, dy)
    assert np.max(np.hypot(ux - tx, uy - ty)) / 0.01 < 0.6
    assert np.max(np.hypot(dx - tx, dy - ty)) / 0.01 > 18.0


def test_nftcam_radtan_is_isis_opencv_model():
    # ISIS OsirisRexTagcamsDistortionMap: x'' = (u - cx) / (fx (1 + A T)), x' = (x - cx) pitch / f, OpenCV
    # radial + tangential on (sample, line); the ISD's y axis is -line, so p1 changes sign (label: NFTCam).
    isd = isd_of(OsirisRexTagcams, NFTCAM)
    k1, k2, k3, p1, p2 = -0.53831, 0.38214, -0.20281, -6.2239e-04, -1.2388e-04
    assert isd["optical_distortion"]["radtan"]["coefficients"] == [k1, k2, -p1, p2, k3]
    scale = 1.0 + 1.9876e-05 * -21.04614                       # OPENCV_OD_A x CameraHeadTemperature
    across, down = 2592.0 / 259.0, 1944.0 / 194.0              # AlphaCube: the cube is the image reduced
    assert isd["focal2pixel_samples"][1] == pytest.approx(3462.53 * scale / 7.61 / across, rel=1e-12)
    assert isd["focal2pixel_lines"][2] == pytest.approx(-3462.532 * scale / 7.61 / down, rel=1e-12)
    assert isd["detector_center"]["sample"] * across == pytest.approx(1310.53 - 0.5)    # OPENCV_OD_C
    assert isd["detector_center"]["line"] * down == pytest.approx(969.487 - 0.5)


# --- footprints ISIS stored -----------------------------------------------------------------------------------

def outline(model, n: int = 40) -> shapely.Polygon:
    """The image's edge on the ground as a lon (0..360) / lat polygon."""
    t = np.linspace(0.0, 1.0, n, endpoint=False)
    lines, samples = model.lines, model.samples
    line = np.concatenate([np.zeros(n), t * lines, np.full(n, lines), (1 - t) * lines])
    sample = np.concatenate([t * samples, np.full(n, samples), (1 - t) * samples, np.zeros(n)])
    lat, lon = lat_lon(model.image_to_ground(line, sample))
    return shapely.Polygon(np.column_stack([lon, lat]))


def iou(a, b) -> float:
    return a.intersection(b).area / a.union(b).area


@pytest.mark.parametrize("path", APOLLO, ids=[p.name for p in APOLLO])
def test_apollo_metric_footprint_matches_the_polygon_isis_stored(path):
    # ISIS footprintinit's polygon of this crop (Polygon "Footprint" in the cube, over a DEM; the model is on
    # the ellipsoid and without ApolloMetricDistortionMap: ~10 px at the frame's edges). The camera looks down
    # -Z: a sign error would mirror the footprint and the overlap would collapse.
    from tests.test_footprints import stored_polygon
    assert iou(stored_polygon(path), outline(sensor_model(isd_of(ApolloMetric, path)))) > 0.94


def test_viking_full_frame_footprint_matches_the_polygon_isis_stored():
    # The cube is a 5 x 5 crop; its ISIS polygon is the whole 1204 x 1056 frame's (footprintinit before the
    # crop), so the ISD is widened back to the frame (its AlphaCube). ISIS also removed the vidicon's reseau
    # distortion, which the ISD cannot (module doc): IoU 0.94.
    from tests.test_footprints import stored_polygon
    isd = isd_of(VikingVis, VIKING)
    isd.update(image_lines=1056, image_samples=1204, starting_detector_line=0.0, starting_detector_sample=0.0)
    assert iou(stored_polygon(VIKING), outline(sensor_model(isd))) > 0.93


def test_apollo_sensor_frame_is_turned_to_look_down_minus_z():
    # ApolloMetricCamera: zDirection -1, origin (ParentSamples / 2, ParentLines / 2) = (11450, 11450) (ISIS),
    # principal point INS_PP (-0.006, -0.002) mm x ITRANS (sample -200, line 200 per mm).
    isd = isd_of(ApolloMetric, APOLLO[0])
    assert isd["focal_length_model"]["focal_length"] == 76.054
    assert isd["instrument_pointing"]["constant_rotation"] == [1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0]
    alpha = (15984.5 - 7996.5) / 500.0                          # AlphaCube: crop from 7996.5, reduced
    assert isd["detector_center"]["sample"] * alpha == pytest.approx(11450 + 1.2 - 0.5)
    assert isd["detector_center"]["line"] * alpha == pytest.approx(11450 - 0.4 - 0.5)
