"""Acquisition metadata and viewing angles of the real sample images, against independent references.

Label values are hand-read from the labels and each is checked here against ``pvl``'s reading of the same label
(not the package's label reader). Serial numbers are composed by hand from ISIS's ``*SerialNumber.trn`` rules
(DOI-USGS/ISIS3 ``isis/appdata/serialnumbers``): the file and keywords are named beside each. Angles are computed
here with spiceypy's math (quaternions to matrices, axis-angle interpolation, ray-ellipsoid intersection, surface
normal, vector separation; no kernels) from the camera dict's tables; only the centre pixel's look direction and
time come from the sensor model, whose rays test_camera_cubes checks against spiceypy.
"""
from __future__ import annotations

import datetime as dt
import struct

import numpy as np
import pvl
import pytest
import rasterio
import spiceypy

from autocnet_jobs.extractors.acquisition import acquisition, utc_iso, viewing_geometry
from autocnet_jobs.extractors.cameras import camera_model, sensor_for

from tests.conftest import sample

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

# name -> (expected acquisition(), {(group, keyword): value pvl must read from the label})
ISIS3 = {
    # Apollo15MetricSerialNumber.trn: SpacecraftName -> APOLLO15 (any value), InstrumentId, StartTime
    "AS15-M-0297_crop.cub": (
        {"spacecraft": "APOLLO 15", "instrument": "METRIC", "product_id": None,
         "start_time": "1971-07-31T01:25:02.243Z", "stop_time": None, "target": "MOON",
         "serial_number": "APOLLO15/METRIC/1971-07-31T01:25:02.243"},
        {("Instrument", "SpacecraftName"): "APOLLO 15", ("Instrument", "InstrumentId"): "METRIC",
         ("Instrument", "StartTime"): "1971-07-31T01:25:02.243", ("Instrument", "TargetName"): "MOON"}),
    "AS15-M-0298_crop.cub": (
        {"spacecraft": "APOLLO 15", "instrument": "METRIC", "product_id": None,
         "start_time": "1971-07-31T01:25:27.457Z", "stop_time": None, "target": "MOON",
         "serial_number": "APOLLO15/METRIC/1971-07-31T01:25:27.457"},
        {("Instrument", "StartTime"): "1971-07-31T01:25:27.457"}),
    # LroNacSerialNumber.trn: SpacecraftName -> LRO, SpacecraftClockStartCount, InstrumentId
    "M143947267L.cal.echo.crop.cub": (
        {"spacecraft": "LUNAR RECONNAISSANCE ORBITER", "instrument": "NACL", "product_id": "M143947267LE",
         "start_time": "2010-11-09T13:06:40.356Z", "stop_time": "2010-11-09T13:06:59.409Z", "target": "MOON",
         "serial_number": "LRO/1/311000800:22516/NACL"},
        {("Instrument", "SpacecraftName"): "LUNAR RECONNAISSANCE ORBITER",
         ("Instrument", "SpacecraftClockStartCount"): "1/311000800:22516", ("Instrument", "InstrumentId"): "NACL",
         ("Instrument", "StartTime"): "2010-11-09T13:06:40.356", ("Instrument", "StopTime"): "2010-11-09T13:06:59.409",
         ("Archive", "ProductId"): "M143947267LE"}),
    # MroHiriseSerialNumber.trn: SpacecraftName -> MRO, InstrumentId, ObservationStartCount, CcdId, ChannelNumber
    "no_change_before.cub": (
        {"spacecraft": "MARS RECONNAISSANCE ORBITER", "instrument": "HIRISE", "product_id": "ESP_012024_1440_RED8_0",
         "start_time": "2009-02-18T09:56:36.299Z", "stop_time": "2009-02-18T09:56:39.499Z", "target": "Mars",
         "serial_number": "MRO/HIRISE/919418217:49925/RED8/2"},
        {("Instrument", "ObservationStartCount"): "919418217:49925", ("Instrument", "CcdId"): "RED8",
         ("Instrument", "ChannelNumber"): "2", ("Instrument", "TargetName"): "Mars",
         ("Archive", "ProductId"): "ESP_012024_1440_RED8_0"}),
    "ESP_014038_1415_RED0.30421_33069.boulder_shift.before.cub": (
        {"spacecraft": "MARS RECONNAISSANCE ORBITER", "instrument": "HIRISE", "product_id": "ESP_014038_1415_RED0_0",
         "start_time": "2009-07-25T08:19:59.590Z", "stop_time": "2009-07-25T08:20:03.114Z", "target": "Mars",
         "serial_number": "MRO/HIRISE/932977221:56513/RED0/2"},
        {("Instrument", "ObservationStartCount"): "932977221:56513", ("Instrument", "CcdId"): "RED0",
         ("Instrument", "ChannelNumber"): "2"}),
    # Viking2CameraASerialNumber.trn: SpacecraftName VIKING_ORBITER_2 -> Viking2, InstrumentId, SpacecraftClockCount
    "F704b51.lev1_slo_crop.cub": (
        {"spacecraft": "VIKING_ORBITER_2", "instrument": "VISUAL_IMAGING_SUBSYSTEM_CAMERA_A", "product_id": "704B51",
         "start_time": "1978-07-23T05:05:14Z", "stop_time": None, "target": "MARS",
         "serial_number": "Viking2/VISUAL_IMAGING_SUBSYSTEM_CAMERA_A/60266504"},
        {("Instrument", "SpacecraftName"): "VIKING_ORBITER_2", ("Instrument", "SpacecraftClockCount"): "60266504",
         ("Instrument", "StartTime"): "1978-07-23T05:05:14", ("Archive", "ProductId"): "704B51"}),
    # OdysseyThemisSerialNumber.trn: MARS_ODYSSEY -> Odyssey, InstrumentId (THEMIS-IR -> themis, else as is),
    # SpacecraftClockCount, Framelets (optional; an IR cube has none)
    "I52634011RDR_crop.cub": (
        {"spacecraft": "MARS_ODYSSEY", "instrument": "THEMIS_IR", "product_id": "I52634011RDR",
         "start_time": "2013-10-25T19:52:14.401Z", "stop_time": "2013-10-25T19:54:14.401Z", "target": "MARS",
         "serial_number": "Odyssey/THEMIS_IR/1067198448.076"},
        {("Instrument", "InstrumentId"): "THEMIS_IR", ("Instrument", "SpacecraftClockCount"): "1067198448.076",
         ("Instrument", "StopTime"): "2013-10-25T19:54:14.401"}),
    # MgsMocSerialNumber.trn: "MARS GLOBAL SURVEYOR" -> MGS, SpacecraftClockCount, InstrumentId, BandBin FilterName
    "e0902065.cal.sub.cub": (
        {"spacecraft": "MARS GLOBAL SURVEYOR", "instrument": "MOC-WA", "product_id": "E09/02065",
         "start_time": "2001-10-26T05:21:32.38Z", "stop_time": "2001-10-26T05:22:11.01Z", "target": "Mars",
         "serial_number": "MGS/688540926:0/MOC-WA/RED"},
        {("Instrument", "SpacecraftClockCount"): "688540926:0", ("Instrument", "InstrumentId"): "MOC-WA",
         ("BandBin", "FilterName"): "RED", ("Archive", "ProductId"): "E09/02065"}),
}
WITH_CAMERA = ["AS15-M-0297_crop.cub", "AS15-M-0298_crop.cub", "M143947267L.cal.echo.crop.cub",
               "F704b51.lev1_slo_crop.cub", "I52634011RDR_crop.cub"]


def _same(pvl_value, text: str) -> bool:
    """pvl turns times into datetimes and counts into numbers; compare them with the label text as written."""
    if isinstance(pvl_value, dt.datetime):
        return pvl_value.replace(tzinfo=None) == dt.datetime.fromisoformat(text)
    return str(pvl_value) == text


def _acquire(name: str) -> tuple[dict, dict]:
    path = str(sample(name))
    with rasterio.open(path) as ds:
        camera = camera_model(ds, path)
        return acquisition(path, ds, camera), camera


@pytest.mark.parametrize("name", sorted(ISIS3))
def test_isis3_acquisition_matches_the_label(name: str) -> None:
    expected, label_values = ISIS3[name]
    label = pvl.load(str(sample(name)))["IsisCube"]
    for (group, key), text in label_values.items():
        assert _same(label[group][key], text), (name, group, key, label[group][key])
    got, _ = _acquire(name)
    assert got == expected


def test_missions_and_instruments_covered() -> None:
    """The acceptance floor: at least 5 cubes of at least 3 missions, each with a serial number."""
    missions = {e["spacecraft"] for e, _ in ISIS3.values() if e["serial_number"]}
    assert len(ISIS3) >= 5 and len(missions) >= 3


def test_pds3_and_isis2_labels() -> None:
    """PDS3 keywords (times normalised to Z), an ISIS2 label's per-band sequence, UNK as unknown."""
    got, _ = _acquire("PSP_001446_1790_BG12_0.IMG")
    label = pvl.load(str(sample("PSP_001446_1790_BG12_0.IMG")))
    assert _same(label["TIME_PARAMETERS"]["START_TIME"], "2006-11-17T03:27:53.118")
    assert label["PRODUCT_ID"] == "PSP_001446_1790_BG12_0"
    assert got == {"spacecraft": "MARS RECONNAISSANCE ORBITER", "instrument": "HIRISE",
                   "product_id": "PSP_001446_1790_BG12_0", "start_time": "2006-11-17T03:27:53.118Z",
                   "stop_time": "2006-11-17T03:27:54.792Z", "target": "MARS", "serial_number": None}
    isis2, _ = _acquire("3083_med_isis2_cropped.cub")
    assert (isis2["spacecraft"], isis2["instrument"], isis2["target"]) == ("LUNAR_ORBITER_3",
                                                                          "80_MM_FOCAL_LENGTH_CAMERA", "MOON")
    assert isis2["start_time"] == "1967-02-17T21:09:27.610Z"
    kaguya, _ = _acquire("MI_MAP_03_N51E124N50E125SC_cropped.lbl")       # START_TIME = UNK
    assert kaguya["start_time"] is None and kaguya["instrument"] == "MI"
    tif, _ = _acquire("RGB.byte.tif")
    assert set(tif.values()) == {None}


def test_utc_iso_forms() -> None:
    assert utc_iso("2015-170T16:15:46.345") == "2015-06-19T16:15:46.345Z"       # day of year
    assert utc_iso("2006-11-19T04:01:27.976Z") == "2006-11-19T04:01:27.976Z"
    assert utc_iso("2016-12-31T23:59:60.5") == "2016-12-31T23:59:60.5Z"         # a leap second
    for bad in ("UNK", "2009-02-30T00:00:00", "2009-02-18", "2015-366T00:00:00", None):
        assert utc_iso(bad) is None


# ---- viewing geometry --------------------------------------------------------------------------------------

def _rotation(isd: dict, et: float) -> np.ndarray:
    """J2000 -> frame at ``et``: spiceypy q2m of the records, axis-angle interpolation, then the constant part."""
    times, quats = np.asarray(isd["ephemeris_times"]), np.asarray(isd["quaternions"])
    mats = [spiceypy.q2m(q) for q in quats]                 # an ISD's quaternions are SPICE's w, x, y, z
    if len(times) == 1:
        m = mats[0]
    else:
        i = int(np.clip(np.searchsorted(times, et) - 1, 0, len(times) - 2))
        u = (et - times[i]) / (times[i + 1] - times[i])
        axis, angle = spiceypy.raxisa(spiceypy.mxmt(mats[i + 1], mats[i]))
        m = spiceypy.mxm(spiceypy.axisar(axis, angle * u), mats[i])
    if "constant_rotation" in isd:
        m = spiceypy.mxm(np.reshape(isd["constant_rotation"], (3, 3)), m)
    return np.asarray(m)


def _position(isd: dict, et: float) -> np.ndarray:
    """Position at ``et``: cubic Hermite between records where velocities are given, else linear."""
    times, pos = np.asarray(isd["ephemeris_times"]), np.asarray(isd["positions"], float)
    if len(times) == 1:
        return pos[0] + np.asarray(isd["velocities"][0]) * (et - times[0]) if "velocities" in isd else pos[0]
    i = int(np.clip(np.searchsorted(times, et) - 1, 0, len(times) - 2))
    h = times[i + 1] - times[i]
    t = (et - times[i]) / h
    if "velocities" not in isd:
        return pos[i] + t * (pos[i + 1] - pos[i])
    vel = np.asarray(isd["velocities"], float)
    h00, h10, h01, h11 = 2 * t**3 - 3 * t**2 + 1, t**3 - 2 * t**2 + t, -2 * t**3 + 3 * t**2, t**3 - t**2
    return h00 * pos[i] + h10 * h * vel[i] + h01 * pos[i + 1] + h11 * h * vel[i + 1]


def spice_angles(camera: dict) -> dict[str, float]:
    """Incidence, emission and phase (degrees) at the centre pixel with spiceypy's math from the camera's tables
    (the centre pixel's look direction and time from the sensor model, as the module docstring says)."""
    sensor = sensor_for(camera)
    lines, samples = sensor.size()
    _, direction, et = sensor.look([(lines - 1) / 2.0], [(samples - 1) / 2.0])
    et = float(et[0])
    isd = camera["isd"]                                     # J2000 km tables, as ISIS stored them
    body = _rotation(isd["body_rotation"], et)
    a, c = isd["radii"]["semimajor"], isd["radii"]["semiminor"]
    craft = body @ _position(isd["instrument_position"], et)
    ground = np.asarray(spiceypy.surfpt(craft, direction[0], a, a, c))
    normal = np.asarray(spiceypy.surfnm(a, a, c, ground))
    sun = body @ _position(isd["sun_position"], et)
    return {"incidence": np.degrees(spiceypy.vsep(normal, sun - ground)),
            "emission": np.degrees(spiceypy.vsep(normal, craft - ground)),
            "phase": np.degrees(spiceypy.vsep(sun - ground, craft - ground))}


@pytest.mark.parametrize("name", WITH_CAMERA)
def test_viewing_angles_match_spice_math(name: str) -> None:
    _, camera = _acquire(name)
    got = viewing_geometry(camera)
    for key, degrees in spice_angles(camera).items():
        assert abs(got[key] - degrees) < 0.5, (name, key, got[key], degrees)
    # Sanity that the numbers are angles of a lit, seen surface (daytime images looking down).
    assert 0 < got["incidence"] < 90 and 0 <= got["emission"] < 45 and 0 < got["phase"] < 180


def test_no_angles_without_a_sensor_model() -> None:
    for name in ("no_change_before.cub", "RGB.byte.tif"):      # map-projected / georeferenced: no sensor model
        _, camera = _acquire(name)
        assert camera.get("type") in ("affine", None)
        assert viewing_geometry(camera) == {"incidence": None, "emission": None, "phase": None}
    assert viewing_geometry(None) == {"incidence": None, "emission": None, "phase": None}


def _camera_statistics(name: str) -> dict[str, tuple[float, float]]:
    """(minimum, maximum) per quantity of the cube's ISIS CameraStatistics table (``camstats attach=yes``), read
    with pvl and struct: Name (20 chars) then Minimum, Maximum, Average, StandardDeviation (little-endian)."""
    path = sample(name)
    table = [v for k, v in pvl.load(str(path)).items() if k == "Table" and v["Name"] == "CameraStatistics"][0]
    with open(path, "rb") as f:
        f.seek(table["StartByte"] - 1)
        data = f.read(table["Bytes"])
    size = len(data) // table["Records"]
    out = {}
    for i in range(table["Records"]):
        record = data[i * size:(i + 1) * size]
        low, high, _, _ = struct.unpack("<4d", record[20:52])
        out[record[:20].rstrip(b"\0 ").decode()] = (low, high)
    return out


@pytest.mark.parametrize("name", ["F704b51.lev1_slo_crop.cub", "I52634011RDR_crop.cub"])
def test_viewing_angles_within_isis_camstats_of_the_original_image(name: str) -> None:
    """These 5x5 crops keep the CameraStatistics ISIS computed on the whole original image (on its DEM): the
    crop's angles are ISIS's at one place of that image, so within ISIS's range (0.5 degree for the ellipsoid)."""
    _, camera = _acquire(name)
    got = viewing_geometry(camera)
    stats = _camera_statistics(name)
    for key, isis_name in (("incidence", "IncidenceAngle"), ("emission", "EmissionAngle"), ("phase", "PhaseAngle")):
        low, high = stats[isis_name]
        assert low - 0.5 <= got[key] <= high + 0.5, (name, key, got[key], (low, high))
