"""Mars drivers (MRO CTX, HiRISE, MARCI; MGS MOC; Odyssey THEMIS IR) on real ISIS cubes.

Truth is ISIS's. No ISIS gtest pins SetImage -> lat/lon on these cubes (the CTX, MOC, THEMIS, HiRISE and MARCI
unitTests use cubes of ISIS's test-data area we do not have), so these are checked against what ISIS itself
wrote into them and against ISIS's formulas:

* ``spiceinit`` stores its cache time range (``CkTableStartTime``/``EndTime``), which ISIS's camera computes
  from the cube's first and last line over every band: the drivers' clock, TDI, band and framelet timing must
  land on it.
* the detector -> focal plane chain of each ISIS camera class (constants typed here from its source) must give
  the same focal plane point as usgscsm's ``computeDistortedFocalPlaneCoordinates`` on the driver's ISD.
* ISIS's distortion maps, written out here, against the ISD's usgscsm distortion.
* ISIS gtests: ``FunctionalTestCtxcalCameraComparison`` (I/F factor from the camera's Sun distance),
  ``UnitTestMarciCameraPhocubeBandChange`` (a BLUE-only BandBin keeps detector row 709).
ISIS pixels are 1-based centres: CSM = ISIS - 0.5.
"""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from autocnet_jobs.extractors.camera import sensor_model
from autocnet_jobs.extractors.camera.distortion import distortion_from_isd
from autocnet_jobs.extractors.camera.drivers import MissingConstant, cube_isd, driver_for
from autocnet_jobs.extractors.camera.drivers.base import IsisCube, utc_to_et
from autocnet_jobs.extractors.camera.drivers.mgs import MgsMocWideAngle
from autocnet_jobs.extractors.camera.drivers.mro import MroCtx, MroHirise, MroMarci
from autocnet_jobs.extractors.camera.drivers.odyssey import OdyThemisIr
from autocnet_jobs.extractors.isis_tables import numbers
from autocnet_jobs.extractors.labels import isis3_label
from tests.camera_data import ALE_ISDS, CAMERA_DIR, usgscsm_isd
from tests.conftest import DATA_DIR

CTX = CAMERA_DIR / "ctxTestImage.cub"
MOC = CAMERA_DIR / "mocImage.cub"
THM = CAMERA_DIR / "thmIR.cub"
THM_CROP = DATA_DIR / "I52634011RDR_crop.cub"
HIRISE = DATA_DIR / "ESP_014038_1415_RED0.30421_33069.boulder_shift.before.cub"
K14 = CAMERA_DIR / "K14_059003_3475_MA_00N112W_cropped.cub"
P12 = CAMERA_DIR / "P12_005901_3391_MA_00N096W_cropped.cub"


def cube(path, edits: dict | None = None) -> IsisCube:
    """The cube, its label copied and edited first when ``edits`` = {group: {keyword: value}} is given."""
    label = isis3_label(str(path))
    if edits:
        label = copy.deepcopy(label)
        for group, keys in edits.items():
            label.find(group).keywords.update(keys)
    return IsisCube(str(path), label)


def table_times(path, name: str = "InstrumentPointing") -> tuple[float, float]:
    """(CkTableStartTime, CkTableEndTime) spiceinit wrote: ISIS's own first and last time of the cube."""
    block = next(b for b in isis3_label(str(path)).findall("Table") if b.get("Name", "").strip('"') == name)
    return numbers(block.get("CkTableStartTime"))[0], numbers(block.get("CkTableEndTime"))[0]


def grid(model, lines: int, samples: int, line_offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    line, sample = np.meshgrid(np.linspace(0.5, lines - 0.5, 10) + line_offset,
                               np.linspace(0.5, samples - 0.5, 10), indexing="ij")
    return line.ravel(), sample.ravel()


def usgscsm_focal(isd: dict, line_in_detector: float, sample: np.ndarray) -> np.ndarray:
    """usgscsm computeDistortedFocalPlaneCoordinates (Utilities.cpp) of CSM image samples on the ISD."""
    tl, ts = isd["focal2pixel_lines"], isd["focal2pixel_samples"]
    det_s = sample * isd["detector_sample_summing"] + isd["starting_detector_sample"]
    t1 = line_in_detector - isd["detector_center"]["line"] - tl[0]
    t2 = det_s - isd["detector_center"]["sample"] - ts[0]
    det = tl[1] * ts[2] - tl[2] * ts[1]
    return np.column_stack([(ts[2] * t1 - tl[2] * t2) / det, (-ts[1] * t1 + tl[1] * t2) / det])


def isis_focal(path, sample: np.ndarray, start_detector: float, summing: float, origin: tuple[float, float],
               line: float | np.ndarray, ik: int) -> np.ndarray:
    """ISIS's chain for 1-based cube samples: AlphaCube, CameraDetectorMap (summing, starting detector sample),
    CameraFocalPlaneMap (origin, TRANSX/TRANSY of NAIF code ``ik``); ``line`` is the ISIS detector line."""
    label = isis3_label(str(path))
    alpha = label.find("AlphaCube")
    s0, s1, beta = (float(alpha.get(k)) for k in ("AlphaStartingSample", "AlphaEndingSample", "BetaSamples")) \
        if alpha is not None else (0.5, 1.5, 1.0)
    parent = s0 + (s1 - s0) / beta * (sample - 0.5)
    det = (parent - 1.0) * summing + summing / 2.0 + 0.5 + (start_detector - 1.0)
    keys = label.find("NaifKeywords").keywords
    tx, ty = numbers(keys[f"INS{ik}_TRANSX"]), numbers(keys[f"INS{ik}_TRANSY"])
    cs, cl = det - origin[0], np.broadcast_to(np.asarray(line, float) - origin[1], det.shape)
    return np.column_stack([tx[0] + tx[1] * cs + tx[2] * cl, ty[0] + ty[1] * cs + ty[2] * cl])


# --- every cube: the driver, the ISD, the model, round trips, ground sample distance --------------------------

# (cube, band, driver, (low, high) ground sample distance in metres and its source)
LINE_SCANNERS = [
    (CTX, 1, MroCtx, (4.5, 7.5)),            # CTX ~6 m/pixel from ~290 km (Malin et al. 2007, JGR 112, E05S04)
    (HIRISE, 1, MroHirise, (0.2, 0.35)),     # HiRISE 0.25-0.32 m at bin 1 (McEwen et al. 2007); label 0.2526 m
    (MOC, 1, MgsMocWideAngle, (525.0, 2100.0)),   # slant x pitch/f x 4 summing = 525 m; up to 4x off-axis
    (THM, 1, OdyThemisIr, (85.0, 115.0)),    # THEMIS IR 100 m/pixel (Christensen et al. 2004, SSR 110)
    (THM, 10, OdyThemisIr, (85.0, 115.0)),
    (THM_CROP, 1, OdyThemisIr, (85.0, 115.0)),
]


@pytest.mark.parametrize("path, band, cls, gsd", LINE_SCANNERS, ids=lambda v: getattr(v, "name", None))
def test_line_scanner_round_trip_and_gsd(path, band, cls, gsd):
    assert driver_for(cube(path)) is cls
    isd = cube_isd(str(path), band)                     # HiRISE: the projected cube's level-1 image
    model = sensor_model(isd)
    line, sample = grid(model, model.lines, model.samples)
    xyz = model.image_to_ground(line, sample)
    assert np.isfinite(xyz).all()                       # every pixel of these cubes sees Mars
    line2, sample2 = model.ground_to_image(xyz)
    assert np.max(np.abs(line2 - line)) < 0.01 and np.max(np.abs(sample2 - sample)) < 0.01
    assert gsd[0] < model.ground_sample_distance() < gsd[1]


def test_registry_finds_marci_and_a_crop_inside_a_framelet_gets_the_whole_framelets_and_its_offset():
    for path in (K14, P12):
        assert driver_for(cube(path)) is MroMarci
        with pytest.raises(MissingConstant, match="whole framelets"):    # no exact ISD of the cube alone
            MroMarci(cube(path)).isd()
        isd = cube_isd(str(path))                  # what the pipeline uses: the framelets around it, and the crop
        crop = isd["image_crop"]
        assert crop["lines"] == cube(path).dimensions[0] and crop["line_offset"] > 0
        assert isd["image_lines"] >= crop["lines"] + crop["line_offset"]


def test_marci_p12_round_trip_and_gsd():
    # P12's two lines lie in one framelet: usgscsm's framelet search is trivial and inverts exactly
    for band in range(1, 6):
        isd, offset = MroMarci(cube(P12), band).framelet_isd(pad=0)
        assert offset == 7 and isd["image_lines"] == 16
        model = sensor_model(isd)
        line, sample = grid(model, 2, 50, offset)
        line2, sample2 = model.ground_to_image(model.image_to_ground(line, sample))
        assert np.max(np.abs(line2 - line)) < 0.01 and np.max(np.abs(sample2 - sample)) < 0.01
        # MARCI VIS ~1 km/pixel at nadir, summing 1 (Malin et al. 2001); this crop is 390 px off axis
        assert 1000.0 < model.ground_sample_distance() < 10000.0


def test_marci_whole_image_isd_times_and_fit():
    # K14 as marci2isis wrote it, before the crop: 512 x 10640, alpha = cube. isd() then describes the cube
    # itself, framelet k (time-reversed) at ISIS's etStart + (1330 - 1 - k + offset) x 2.6 s
    whole = {"Dimensions": {"Samples": "512", "Lines": "10640"},
             "AlphaCube": {"AlphaStartingSample": "0.5", "AlphaStartingLine": "0.5", "AlphaEndingSample": "512.5",
                           "AlphaEndingLine": "10640.5", "BetaSamples": "512", "BetaLines": "10640"}}
    start, end = table_times(K14)
    for band, framelet, expected in ((1, 1330, start), (5, 0, end)):
        isd = MroMarci(cube(K14, whole), band).isd()
        assert (isd["image_lines"], isd["image_samples"]) == (10640, 512)
        t = isd["starting_ephemeris_time"] + isd["exposure_duration"] / 2 + (1330 - 1 - framelet) * 2.6
        assert t == pytest.approx(expected, abs=1e-5)
        # MarciDistortionMap out to the detector's edge (4x): the best usgscsm fit is off by ~70 px there
        assert 10.0 < isd["distortion_fit_max_error_pixels"] < 100.0


def marci_round_trip(band: int) -> tuple[np.ndarray, np.ndarray]:
    """(pixel error, ground error in GSD) of K14's 10 x 10 grid through image -> ground -> image -> ground."""
    isd, offset = MroMarci(cube(K14), band).framelet_isd()
    model = sensor_model(isd)
    line, sample = grid(model, 10, 10, offset)
    xyz = model.image_to_ground(line, sample)
    line2, sample2 = model.ground_to_image(xyz)
    ground = np.linalg.norm(model.image_to_ground(line2, sample2) - xyz, axis=1) / model.ground_sample_distance()
    return np.hypot(line2 - line, sample2 - sample), ground


@pytest.mark.parametrize("band", [1, 2, 3, 4, 5])
def test_marci_k14_round_trip_on_the_ground(band):
    # K14's lines span two framelets whose footprints overlap, so a ground point is imaged twice; ground ->
    # image returns the framelet where it is nearest the framelet's middle (usgscsm's search, which our
    # push-frame model runs through the distortion: MARCI's x1.36 here moves BLUE's rows by ~18), which for 4
    # of K14's 10 lines is the neighbour: another image line of the same ground point.
    pixel, ground = marci_round_trip(band)
    assert np.max(ground) < 0.01
    assert np.sum(pixel < 0.01) >= 60


# --- ISIS's own times: the SPICE cache range spiceinit computed from ISIS's camera --------------------------

def test_ctx_times_match_isis_cache_range():
    # CTXCamera.cpp: etStart = clock time, line rate = LineExposureDuration x SpatialSumming, 4096 alpha lines
    d = MroCtx(cube(CTX))
    start, end = table_times(CTX)
    assert d.ephemeris_start_time == pytest.approx(start, abs=1e-5)      # label values carry 5 decimals
    assert d.ephemeris_start_time + 4096 * d.line_exposure_duration == pytest.approx(end, abs=1e-5)


def test_hirise_times_match_isis_cache_range():
    # HiriseCamera.cpp: clock (-74999) - unbinned (Tdi/2 - 0.5) + unbinned (Summing/2 - 0.5); 45000 alpha lines
    d = MroHirise(cube(HIRISE))
    start, end = table_times(HIRISE)
    assert d.ephemeris_start_time == pytest.approx(start, abs=1e-5)
    assert d.ephemeris_start_time + 45000 * d.line_exposure_duration == pytest.approx(end, abs=1e-5)


def test_moc_times_match_isis_cache_range():
    # MocLabels.cpp: line rate = LineExposureDuration x DowntrackSumming / 1000; the cube has 20 lines
    d = MgsMocWideAngle(cube(MOC))
    start, end = table_times(MOC)
    assert d.ephemeris_start_time == pytest.approx(start, abs=1e-5)
    assert d.ephemeris_start_time + 20 * d.line_exposure_duration == pytest.approx(end, abs=1e-5)


def test_themis_band_times_match_isis_cache_range():
    # ThemisIrCamera.cpp: band start = clock + (detector line - 0.5) x 33.2871 ms; the cache spans band 1's first
    # line (filter 1, line 8.5) to band 10's last (filter 10, line 231.5)
    start, end = table_times(THM)
    assert OdyThemisIr(cube(THM), 1).isd()["starting_ephemeris_time"] == pytest.approx(start, abs=1e-5)
    isd10 = OdyThemisIr(cube(THM), 10).isd()
    assert isd10["starting_ephemeris_time"] + 5 * isd10["line_scan_rate"][0][2] == pytest.approx(end, abs=1e-5)
    # the I52634011 crop (band 9 of a 10-band original) keeps the original's range: filters 1 and 10, 3600 lines
    start, end = table_times(THM_CROP)
    first = OdyThemisIr(cube(THM_CROP, {"BandBin": {"FilterNumber": "1"}}))
    last = OdyThemisIr(cube(THM_CROP, {"BandBin": {"FilterNumber": "10"}}))
    assert first.ephemeris_start_time == pytest.approx(start, abs=1e-5)
    assert last.ephemeris_start_time + 3600 * last.line_exposure_duration == pytest.approx(end, abs=1e-5)


def test_marci_framelet_times_match_isis_cache_range():
    # K14 was spiceinit'd whole (10640 lines, 1330 framelets of 8, DataFlipped: reversed order). ISIS's range
    # runs from BLUE (framelet offset -4 x 2) at line 10640.5, one framelet past the last, to NIR (offset 0) at
    # the first framelet. The ISD's framelet j is original framelet f0 + j, j counted in time-reversed order.
    start, end = table_times(K14)
    for band, original_framelet, expected in ((1, 1330, start), (5, 0, end)):
        isd, offset = MroMarci(cube(K14), band).framelet_isd()
        f0 = (99 - offset) / 8                          # AlphaStartingLine 99.5 -> CSM line 99
        n = isd["image_lines"] / 8
        t = (isd["starting_ephemeris_time"] + isd["exposure_duration"] / 2
             + (n - 1 - (original_framelet - f0)) * isd["interframe_delay"])
        assert t == pytest.approx(expected, abs=1e-5)


# --- ISIS's detector -> focal plane chain against usgscsm's on the ISD ----------------------------------------

def test_focal_plane_matches_isis_line_scanners():
    samples = np.array([1.0, 7.5, 20.0])
    # CTXCamera.cpp: SetStartingDetectorSample(SampleFirstPixel + 1), origin (BORESIGHT_SAMPLE, BORESIGHT_LINE),
    # detector line offset 0
    isd = MroCtx(cube(CTX)).isd()
    isis = isis_focal(CTX, samples, 480 + 1, 1, (2543.46099, 0.430442527), 0.0, -74021)
    assert np.allclose(usgscsm_focal(isd, isd["starting_detector_line"], samples - 0.5), isis, atol=1e-9)
    # HiriseCamera.cpp: channel 2 (stitched) starts at detector 1, origin (1024.5, 0), offset -64 + Tdi / 2,
    # TRANSX/Y of CCD -74600 (CpmmNumber 0 -> CCD 0); ITRANSS/L and TRANSX/Y are inverses to ~1e-5 px
    isd = MroHirise(cube(HIRISE)).isd()
    samples = np.array([1.0, 1024.5, 2048.0])
    isis = isis_focal(HIRISE, samples, 1, 1, (1024.5, 0.0), -64 + 128 / 2, -74600)
    assert np.allclose(usgscsm_focal(isd, isd["starting_detector_line"], samples - 0.5), isis, atol=0.012 * 1e-3)
    # MocWideAngleCamera.cpp (red): starting detector FirstLineSample, summing 4, origin 1674.65, offset 6.7785
    isd = MgsMocWideAngle(cube(MOC)).isd()
    samples = np.array([1.0, 7.5, 20.0])
    isis = isis_focal(MOC, samples, 673, 4, (1674.65, 0.0), 6.7785, -94032)
    assert np.allclose(usgscsm_focal(isd, isd["starting_detector_line"], samples - 0.5), isis, atol=1e-9)
    # ThemisIrCamera.cpp: origin 160.5 - Kirk's sample offset, line offset 120.5 - band line + Kirk's line offset
    for band, filt in ((1, 1), (10, 10)):
        isd = OdyThemisIr(cube(THM), band).isd()
        samples = np.array([1.0, 5.5, 10.0])
        s_off = (0.021, 0.027, 0.005, 0.005, 0.0, -0.007, -0.012, -0.039, -0.045, 0.0)[filt - 1]
        l_off = (-0.076, -0.098, -0.089, -0.022, 0.0, -0.020, -0.005, -0.069, 0.025, 0.0)[filt - 1]
        line = 120.5 - (8.5, 24.5, 50.5, 76.5, 102.5, 128.5, 154.5, 180.5, 205.5, 231.5)[filt - 1] + l_off
        isis = isis_focal(THM, samples, 1, 1, (160.5 - s_off, 0.0), line, -53031)
        assert np.allclose(usgscsm_focal(isd, isd["starting_detector_line"], samples - 0.5), isis, atol=1e-9)


def test_focal_plane_matches_isis_marci():
    # MarciCamera.cpp + PushFrameCameraDetectorMap: summing 2, detector line = band first row + (framelet line
    # - 1) x 2 + 1.5, origin (512.5, 768.5), TRANSX/Y of -74400; K14 cube sample 1 is alpha sample 100
    isd, _ = MroMarci(cube(K14), 1).framelet_isd()
    samples = np.array([1.0, 5.5, 10.0])
    for framelet_line in (1.0, 4.5, 8.0):                        # ISIS 1-based line within the framelet
        isis_line = 709 + (framelet_line - 1.0) * 2 + 1.5
        isis = isis_focal(K14, samples, 1, 2, (512.5, 768.5), isis_line, -74400)
        ours = usgscsm_focal(isd, (framelet_line - 0.5) * 2 + isd["starting_detector_line"], samples - 0.5)
        assert np.allclose(ours, isis, atol=1e-9)


# --- distortion: ISIS's maps against the ISD's usgscsm model -------------------------------------------------

def test_themis_distortion_is_isis_exactly():
    # ThemisIrDistortionMap.cpp, band filter 10: k = 0.9877, alpha1 = 0.00447623, alpha2 = 0.00107556
    k, a1, a2 = 0.9877, 0.00447623, 0.00107556
    dist = distortion_from_isd(OdyThemisIr(cube(THM), 10).isd())
    dx, dy = np.meshgrid(np.linspace(-8, 8, 9), np.linspace(-6, 6, 7))
    ux, uy = dist.remove(dx.ravel(), dy.ravel())
    root = np.sqrt((1.0 + a1) ** 2 + 4.0 * a2 * dy.ravel())
    assert np.allclose(ux, dx.ravel() / k, atol=1e-9)
    assert np.allclose(uy, 2.0 * dy.ravel() / (1.0 + a1 + root), atol=1e-6 * 0.05)   # usgscsm Newton 1e-6 mm


def moc_wa_red_remove(dx, dy, f=11.20537656):
    """MocWideAngleDistortionMap::SetFocalPlane, red (scale 1), written from the ISIS source."""
    coefs = (0.9993258, 0.4655529, -0.1548756, 1.827967, -3.057435, 2.226331)
    s = np.hypot(dx, dy)
    ang = np.arctan(s / f)
    angp = np.polyval(coefs[::-1], ang * ang) * ang
    return dx * f * np.tan(angp) / s, dy * f * np.tan(angp) / s


def test_moc_wa_distortion_fit_reproduces_isis():
    isd = MgsMocWideAngle(cube(MOC)).isd()
    assert isd["distortion_fit_max_error_pixels"] < 0.01
    dist = distortion_from_isd(isd)
    xy = usgscsm_focal(isd, isd["starting_detector_line"], np.linspace(0.0, 20.0, 41))
    ux, uy = dist.remove(xy[:, 0], xy[:, 1])
    ix, iy = moc_wa_red_remove(xy[:, 0], xy[:, 1])
    assert np.max(np.hypot(ux - ix, uy - iy)) / 0.007 < 0.01         # pixels of 7 um
    # the whole 640-sample image (summing 4, out to 60 degrees off axis): no usgscsm model follows ISIS's field
    # angle polynomial there; the best fit (radtan) is off by 18 detector pixels at the far edge
    whole = MgsMocWideAngle(cube(MOC, {"Dimensions": {"Samples": "640"}, "AlphaCube": {"AlphaEndingSample": "640.5",
                                                                                      "BetaSamples": "640"}}))
    assert whole.isd()["distortion_fit_max_error_pixels"] < 25.0


def test_marci_distortion_fit_reproduces_isis():
    k, pitch = (0.997322, 2.84786e-06, -6.67752e-12, 1.43076e-16), 0.009   # INS-74410_DISTORTION_COEFFS
    for path in (K14, P12):
        isd, _ = MroMarci(cube(path), 1).framelet_isd()
        assert isd["distortion_fit_max_error_pixels"] < 0.05
        xy = usgscsm_focal(isd, isd["starting_detector_line"] + 8, np.linspace(0.0, 10.0, 21))
        r2 = (xy[:, 0] ** 2 + xy[:, 1] ** 2) / pitch ** 2               # MarciDistortionMap::SetFocalPlane
        scale = k[0] + r2 * k[1] + r2 ** 2 * k[2] + r2 ** 3 * k[3]
        # ISIS's undistorted point, distorted again by the ISD's model: back on the detector within 0.05 px
        dx, dy = distortion_from_isd(isd).apply(xy[:, 0] * scale, xy[:, 1] * scale)
        assert np.max(np.hypot(dx - xy[:, 0], dy - xy[:, 1])) / pitch < 0.05


# --- ISIS gtests -----------------------------------------------------------------------------------------------

def test_ctxcal_iof_from_sun_distance():
    # ISIS isis/tests/FunctionalTestsCtxcal.cpp FunctionalTestCtxcalCameraComparison: iof = 1.86764430855461e-04
    # = 1 / (LineExposureDuration (1.880) x w0 (3660.5) x (2.07e8 / d)^2), d the camera's Sun distance (km) at
    # the label's StartTime (ctxcal.cpp)
    isd = cube_isd(str(CTX))
    model = sensor_model(isd)
    line = (utc_to_et("2006-11-19T06:16:39.003") - isd["starting_ephemeris_time"]) / isd["line_scan_rate"][0][2]
    d = np.linalg.norm(model.sun_position(np.array([line]), np.array([0.5]))) / 1000.0
    assert 1.0 / (1.880 * 3660.5 * (2.07e8 / d) ** 2) == pytest.approx(1.86764430855461e-04, rel=1e-10)


def test_marci_blue_only_bandbin_keeps_blue_rows():
    # ISIS isis/tests/UnitTestMarciCam.cpp UnitTestMarciCameraPhocubeBandChange: a phocube BandBin with
    # FilterName = BLUE and 5 bands; bands 1 and 4 both use BLUE's first detector line, 709
    edited = {"BandBin": {"FilterName": "BLUE"}}
    for band in (1, 4):
        isd, _ = MroMarci(cube(P12, edited), band).framelet_isd()
        assert isd["starting_detector_line"] == 709


# --- CTX conventions against ALE's and usgscsm's CTX ISDs ----------------------------------------------------

def test_ctx_fields_as_ale_and_usgscsm_write_them():
    ours = MroCtx(cube(CTX)).isd()
    # ALE's ISD of an ISIS CTX cube (ALE tests/pytests/data/isds/ctx_isis_isd.json), same IK constants
    ale = json.loads((ALE_ISDS / "ctx_isis_isd.json").read_text())
    for key in ("focal2pixel_lines", "focal2pixel_samples", "detector_center", "focal_length_model",
                "optical_distortion", "name_sensor", "name_model"):
        assert ours[key] == ale[key], key
    # usgscsm tests/data/ctxLineScan.json: the same constants, rounded to 6 digits
    csm = usgscsm_isd("ctxLineScan")
    assert ours["detector_center"]["sample"] == pytest.approx(csm["detector_center"]["sample"], abs=1e-2)
    assert ours["detector_center"]["line"] == pytest.approx(csm["detector_center"]["line"], abs=1e-6)
    assert ours["focal_length_model"]["focal_length"] == pytest.approx(352.927, abs=1e-3)
    assert np.allclose(ours["optical_distortion"]["radial"]["coefficients"],
                       csm["optical_distortion"]["radial"]["coefficients"], rtol=1e-5)
    # this cube: 20 x 20 crop starting at alpha (1, 1) of a 4080-sample image whose first pixel is detector
    # sample 480 (SampleFirstPixel), no summing; CTX lines 1.88 ms apart
    assert (ours["starting_detector_sample"], ours["detector_sample_summing"]) == (480.0, 1.0)
    assert ours["line_scan_rate"][0][2] == pytest.approx(1.880e-3)
    assert (ours["image_lines"], ours["image_samples"]) == (20, 20)


def test_ctx_spatial_summing_scales_samples_and_line_time():
    # CTXCamera.cpp: SetDetectorSampleSumming(SpatialSumming), lineRate = LineExposureDuration x SpatialSumming
    isd = MroCtx(cube(CTX, {"Instrument": {"SpatialSumming": "2"}})).isd()
    assert isd["detector_sample_summing"] == isd["detector_line_summing"] == 2.0
    assert isd["line_scan_rate"][0][2] == pytest.approx(2 * 1.880e-3)


# --- HiRISE: the projected cube's level-1 image ------------------------------------------------------------

def test_hirise_projected_area_lies_in_the_level1_image():
    # the cube is cam2map output (Mapping group) of a 2048 x 2648 level-1 crop (AlphaCube beta); the ISD is that
    # level-1 image's, and the projected area's corners (Mapping Minimum/Maximum Latitude/Longitude) fall in it
    isd = MroHirise(cube(HIRISE)).isd()
    assert (isd["image_lines"], isd["image_samples"]) == (2648, 2048)
    model = sensor_model(isd)
    a, c = model.semi_major, model.semi_minor
    lat = np.radians([-38.071074298218, -38.068153296676])
    lon = np.radians([224.02186759612, 224.02518747173])
    r = a * c / np.sqrt((c * np.cos(lat)) ** 2 + (a * np.sin(lat)) ** 2)
    xyz = np.column_stack([r * np.cos(lat) * np.cos(lon), r * np.cos(lat) * np.sin(lon), r * np.sin(lat)])
    line, sample = model.ground_to_image(xyz)
    assert ((0 < line) & (line < 2648) & (0 < sample) & (sample < 2048)).all()
    # ISIS's resolution there (Mapping PixelResolution 0.25256 m, on its MOLA shape model) within 1%
    mid = model.image_to_ground(np.array([line.mean(), line.mean()]), np.array([sample.mean(), sample.mean() + 1]))
    assert np.linalg.norm(mid[1] - mid[0]) == pytest.approx(0.25256115148608, rel=0.01)


def test_moc_variable_summing_has_no_isd():
    with pytest.raises(MissingConstant, match="variable summing"):
        MgsMocWideAngle(cube(MOC, {"Instrument": {"CrosstrackSumming": "13"}})).isd()
