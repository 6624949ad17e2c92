"""When, by what and of what an image was taken, and how it was lit: pure functions of the label and camera.

Mappers select images by instrument, acquisition time and illumination, and join them with ISIS control networks
by ISIS serial number; the catalogue's footprint answers only "where". :func:`acquisition` reads what the label
states (ISIS3 ``Instrument``/``Archive`` groups, PDS3 / ISIS2 keywords) and never guesses: a value the label does
not give is None. :func:`viewing_geometry` gives the incidence, emission and phase angles at the image centre from
a framing or line-scan camera dict.

ISIS serial numbers are composed as ISIS's ``SerialNumber::Compose`` does (isis/src/base/objs/SerialNumber/
SerialNumber.cpp): the spacecraft name picks a mission (``appdata/translations/MissionName2DataDir.trn``), the
instrument id an instrument (``appdata/translations/Instruments.trn``), and the file
``<Mission><Instrument>SerialNumber.trn`` lists the keywords joined with ``/``, each through its own ``Translation``
pairs (output, input; input ``*`` matches any value, output ``*`` keeps it; inputs compare case-insensitively,
PvlTranslationTable::Translate). A keyword that is missing or has no translation makes ISIS answer "Unknown": here
None. Only the missions of the sample images are in the table below, from DOI-USGS/ISIS3 commit
7ca57fa91efb62be48d7890347b8f9184f5b9711 (``isis/appdata/serialnumbers/*SerialNumber.trn``, last changed in
98a24a70b346c2f70995bea01d10e140ceb785ad).
"""
from __future__ import annotations

import datetime as _dt
import os
import re
from typing import Any

import numpy as np

from .camera.geometry import angle_deg, ellipsoid_normal
from .cameras import is_sensor, sensor_for
from .labels import UNREAD, Block, label_of, pds3_keyword
from .record import ACQUISITION_KEYS, VIEWING_KEYS

ANY = (("*", "*"),)      # Translation = (*, *): the label's value as it is

# MissionName2DataDir.trn / Instruments.trn entries (output, input) for the sample missions.
MISSIONS = (("Apollo15", "APOLLO 15"), ("Apollo15", "APOLLO15"), ("Lro", "LUNAR RECONNAISSANCE ORBITER"),
            ("Mgs", "MARSGLOBALSURVEYOR"), ("Mgs", "MARS GLOBAL SURVEYOR"), ("Mro", "MARS RECONNAISSANCE ORBITER"),
            ("Mro", "Mars_Reconnaissance_Orbiter"), ("Odyssey", "MARS_ODYSSEY"), ("Viking2", "VIKING_ORBITER_2"))
INSTRUMENTS = (("Metric", "METRIC"), ("Nac", "NACL"), ("Nac", "NACR"), ("Nac", "NARROW_ANGLE_CAMERA"),
               ("Moc", "MOC-WA"), ("Moc", "MOC-NA"), ("Hirise", "HIRISE"), ("Themis", "THEMIS-IR"),
               ("Themis", "THEMIS_IR"), ("Themis", "THEMIS-VIS"), ("Themis", "THEMIS_VIS"),
               ("CameraA", "VISUAL_IMAGING_SUBSYSTEM_CAMERA_A"))
# <Mission><Instrument>SerialNumber.trn: (group, keyword, translations, optional) per Keyword1, Keyword2, ...
SERIAL_RULES: dict[str, tuple[tuple[str, str, tuple[tuple[str, str], ...], bool], ...]] = {
    "Apollo15Metric": (("Instrument", "SpacecraftName", (("APOLLO15", "*"),), False),
                       ("Instrument", "InstrumentId", ANY, False),
                       ("Instrument", "StartTime", ANY, False)),
    "LroNac": (("Instrument", "SpacecraftName", (("LRO", "LUNAR RECONNAISSANCE ORBITER"), ("*", "*")), False),
               ("Instrument", "SpacecraftClockStartCount", ANY, False),
               ("Instrument", "InstrumentId", ANY, False)),
    "MgsMoc": (("Instrument", "SpacecraftName", (("MGS", "MARSGLOBALSURVEYOR"), ("MGS", "MARS GLOBAL SURVEYOR"),
                                                 ("*", "*")), False),
               ("Instrument", "SpacecraftClockCount", ANY, False),
               ("Instrument", "InstrumentId", ANY, False),
               ("BandBin", "FilterName", ANY, False)),
    "MroHirise": (("Instrument", "SpacecraftName", (("MRO", "MARS RECONNAISSANCE ORBITER"),), False),
                  ("Instrument", "InstrumentId", ANY, False),
                  ("Instrument", "ObservationStartCount", ANY, False),
                  ("Instrument", "CcdId", ANY, False),
                  ("Instrument", "ChannelNumber", ANY, False)),
    "OdysseyThemis": (("Instrument", "SpacecraftName", (("Odyssey", "MARS_ODYSSEY"), ("*", "*")), False),
                      ("Instrument", "InstrumentId", (("themis", "THEMIS-IR"), ("*", "*")), False),
                      ("Instrument", "SpacecraftClockCount", ANY, False),
                      ("Instrument", "Framelets", ANY, True)),
    "Viking2CameraA": (("Instrument", "SpacecraftName", (("Viking2", "VIKING_ORBITER_2"), ("*", "*")), False),
                       ("Instrument", "InstrumentId", ANY, False),
                       ("Instrument", "SpacecraftClockCount", ANY, False)),
}

# Values labels use for "not known".
_UNKNOWN = {"", "N/A", "NA", "NULL", "NONE", "UNK", "UNKNOWN", "-9999", "-9998"}
_TIME = re.compile(r"^(\d{4})-(?:(\d{2})-(\d{2})|(\d{3}))T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z)?$", re.I)


def acquisition(path: str, ds: Any = None, camera: dict | None = None, label=UNREAD) -> dict[str, Any]:
    """spacecraft, instrument, product_id, start_time, stop_time, target, serial_number of one image.

    Values are the label's own text (times as UTC ISO-8601 ending in Z); None where the label does not say. ``ds``
    (the open rasterio dataset) lets a PDS3 product whose label is a detached file GDAL opened be read;
    ``camera`` is not needed for any of these (the angles come from :func:`viewing_geometry`).
    """
    label = label_of(path, label)
    if label is not None:
        return _from_isis3(label)
    for candidate in _pds3_candidates(path, ds):
        if pds3_keyword(candidate, "PDS_VERSION_ID") or pds3_keyword(candidate, "ODL_VERSION_ID") \
                or pds3_keyword(candidate, "RECORD_TYPE"):
            return _from_pds3(candidate)
    return dict.fromkeys(ACQUISITION_KEYS)


def _from_isis3(label: Block) -> dict[str, Any]:
    inst, archive = label.find("Instrument"), label.find("Archive")
    get = (lambda block, key: _known(block.get(key)) if block is not None else None)
    return {"spacecraft": get(inst, "SpacecraftName"), "instrument": get(inst, "InstrumentId"),
            "product_id": get(archive, "ProductId"), "start_time": utc_iso(get(inst, "StartTime")),
            "stop_time": utc_iso(get(inst, "StopTime")), "target": get(inst, "TargetName"),
            "serial_number": isis_serial_number(label)}


def _pds3_candidates(path: str, ds) -> list[str]:
    """The image file itself, then any other file GDAL opened with it (a detached ``.lbl``)."""
    files = [path]
    for other in (getattr(ds, "files", None) or []):
        if os.path.abspath(other) != os.path.abspath(path):
            files.append(other)
    return files


def _from_pds3(label_path: str) -> dict[str, Any]:
    def get(*keys: str) -> str | None:
        for key in keys:
            value = _known(pds3_keyword(label_path, key))
            if value is not None:
                return value
        return None
    return {"spacecraft": get("SPACECRAFT_NAME", "INSTRUMENT_HOST_NAME", "MISSION_NAME"),
            "instrument": get("INSTRUMENT_ID"), "product_id": get("PRODUCT_ID"),
            "start_time": utc_iso(get("START_TIME")), "stop_time": utc_iso(get("STOP_TIME")),
            "target": get("TARGET_NAME"),
            "serial_number": None}   # ISIS composes serial numbers from a cube's label, not from PDS3 keywords


def _known(value: str | None) -> str | None:
    """A label value, or None for the "unknown" placeholders. A sequence (an ISIS2 label gives one value per band)
    is its one value when every element agrees, else None: which one would be a guess."""
    if value is None:
        return None
    value = value.strip()
    if value.startswith("("):
        items = {v.strip().strip('"').strip() for v in value.strip("()").split(",")}
        if not value.endswith(")") or len(items) != 1:
            return None
        value = items.pop()
    value = value.strip('"').strip()
    return None if value.upper() in _UNKNOWN else value


def utc_iso(text: str | None) -> str | None:
    """A label time (calendar or day-of-year form, UTC, optional Z) as ``YYYY-MM-DDTHH:MM:SS[.fff]Z``.

    Fractional seconds are kept as written; anything that is not such a time is None.
    """
    if not text:
        return None
    m = _TIME.match(text.strip())
    if not m:
        return None
    year, month, day, doy, hour, minute, second, fraction, _ = m.groups()
    try:
        if doy is not None:
            date = _dt.date(int(year), 1, 1) + _dt.timedelta(days=int(doy) - 1)
            if date.year != int(year):
                return None
        else:
            date = _dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
    second = second or "00"
    if int(hour) > 23 or int(minute) > 59 or int(second) > 60:     # 60: a leap second
        return None
    return f"{date.isoformat()}T{hour}:{minute}:{second}{fraction or ''}Z"


def _translate(value: str, pairs) -> str | None:
    """PvlTranslationTable::Translate: the first pair whose input matches (case-insensitive) or is ``*``."""
    for output, given in pairs:
        if given.lower() == value.lower():
            return output
        if given == "*":
            return value if output == "*" else output
    return None


def isis_serial_number(label: Block) -> str | None:
    """The serial number ISIS gives the cube of this label, or None where ISIS would say "Unknown" or where the
    mission is not in :data:`SERIAL_RULES`."""
    inst = label.find("Instrument")
    if inst is None:
        return None
    spacecraft, instrument = _known(inst.get("SpacecraftName")), _known(inst.get("InstrumentId"))
    if spacecraft is None or instrument is None:
        return None
    mission, name = _translate(spacecraft, MISSIONS), _translate(instrument, INSTRUMENTS)
    rules = SERIAL_RULES.get(f"{mission}{name}") if mission and name else None
    if rules is None:
        return None
    parts = []
    for group, key, pairs, optional in rules:
        block = label.find(group)
        value = None if block is None else _known(block.get(key))
        if value is None:
            if optional:
                continue
            return None
        value = _translate(value, pairs)
        if value is None:
            return None
        parts.append(value)
    return "/".join(parts)


def viewing_geometry(camera: dict | None) -> dict[str, float | None]:
    """Incidence, emission and phase angles (degrees) at the image centre of a framing or line-scan camera.

    At the centre pixel's ground point (on the ellipsoid, or the DEM the camera names), against the ellipsoid's
    surface normal there (ISIS's default, non-local angles): incidence between the normal and the sun, emission
    between the normal and the spacecraft, phase between sun and spacecraft. The sun is ``sun_position`` at the
    centre pixel's time, rotated into the body frame by ``body_rotation``. All None for another camera, one
    without a sun position, or when the centre ray misses the body.
    """
    none = dict.fromkeys(VIEWING_KEYS)
    if not is_sensor(camera) or not camera["isd"].get("sun_position"):
        return none
    sensor = sensor_for(camera)
    lines, samples = sensor.size()
    line, sample = [(lines - 1) / 2.0], [(samples - 1) / 2.0]
    origin, _, et = sensor.look(line, sample)
    ground = sensor.ground_points(line, sample)[0]
    if not np.isfinite(ground).all():
        return none
    sun = sensor.sun_position(line, sample)[0]
    normal = ellipsoid_normal(ground, (sensor.a, sensor.a, sensor.c))
    to_sun, to_craft = sun - ground, origin[0] - ground
    return {"incidence": float(angle_deg(normal, to_sun)), "emission": float(angle_deg(normal, to_craft)),
            "phase": float(angle_deg(to_sun, to_craft))}


def resolution(camera: dict | None) -> float | None:
    """Metres per pixel at the image centre: the mean of a sensor model's ``ground_sample_distance_m`` (across,
    along); for a map-projected image the projection's pixel size in metres (a projected CRS's pixel size times
    its linear unit; a geographic CRS's pixel, in degrees, measured on its ellipsoid at the centre). None when
    unknown."""
    if is_sensor(camera):
        gsd = [g for g in camera.get("ground_sample_distance_m") or [] if g is not None and np.isfinite(g) and g > 0]
        return float(np.mean(gsd)) if len(gsd) == 2 else None
    if not camera or camera.get("type") != "affine" or not camera.get("crs_wkt"):
        return None
    import pyproj

    a, b, c, d, e, f = camera["transform"]
    try:
        crs = pyproj.CRS.from_wkt(camera["crs_wkt"])
    except pyproj.exceptions.CRSError:
        return None
    if crs.is_geographic:
        ellipsoid = crs.ellipsoid
        if ellipsoid is None:
            return None
        geod = pyproj.Geod(a=ellipsoid.semi_major_metre, b=ellipsoid.semi_minor_metre)
        col, row = camera["width"] / 2.0, camera["height"] / 2.0
        lon, lat = c + a * col + b * row, f + d * col + e * row
        _, _, across = geod.inv(lon, lat, lon + a, lat + d)
        _, _, along = geod.inv(lon, lat, lon + b, lat + e)
        return float((across + along) / 2.0)
    units = {axis.unit_conversion_factor for axis in crs.axis_info[:2]}
    if len(units) != 1:
        return None
    return float((np.hypot(a, d) + np.hypot(b, e)) / 2.0 * units.pop())
