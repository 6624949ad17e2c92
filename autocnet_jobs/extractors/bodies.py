"""Which body an image shows, and the IAU_2015 geographic CRS PROJ has for it.

``body_of(ds, path)`` looks, in order, at
1. the image's CRS: an EPSG (or other Earth-only authority) CRS or datum means Earth; an IAU_2015 CRS names
   its body; otherwise the datum, ellipsoid and CRS names are searched for a body name (GDAL writes planetary
   CRSs as e.g. ``D_Mars``, ``Mars_localRadius``, ``Equirectangular MARS``);
2. the ISIS3 label: ``Mapping/TargetName``, then ``Instrument/TargetName``;
3. a PDS3 / ISIS2 label's ``TARGET_NAME``;
4. last, the CRS ellipsoid's radius, when it matches exactly one IAU_2015 body within 0.1 % (a GeoTIFF whose
   ellipsoid is only called "unknown").

Names are returned as PROJ spells them ("Mars", "Moon", "Vesta", "Earth"). The code is the CRS footprints and
keypoint lon/lat are stored in: for every body but Earth its ``Sphere / Ocentric`` geographic CRS (IAU_2015 code
``<NAIF id>00``, e.g. ``IAU_2015:49900`` for Mars, ``IAU_2015:30100`` for the Moon), planetocentric latitude
being what that CRS means (the IAU/USGS convention); for Earth ``EPSG:4326``, geodetic WGS84, as GeoJSON
(RFC 7946) and every Earth tool expect. A target PROJ does not know is returned by its label name with code None.
"""
from __future__ import annotations

import functools
import re

import pyproj
from pyproj.database import query_crs_info

from .labels import UNREAD, label_of, pds3_keyword

_EARTH_AUTHORITIES = ("EPSG", "ESRI", "OGC")
EARTH = "Earth"
EARTH_CODE = "EPSG:4326"              # the CRS Earth's lon/lat are stored in ...
SCHEMA3_EARTH_CODE = "IAU_2015:39900"  # ... and was, planetocentric, up to catalogue schema version 3
_PDS_DRIVERS = ("PDS", "ISIS2", "VICAR", "PDS4")


def _norm(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower()).strip() + " "


@functools.lru_cache(maxsize=1)
def _iau_bodies() -> dict[str, tuple[str, str, float]]:
    """Normalised body name -> (PROJ's name, "IAU_2015:<code>", mean radius in m) for every IAU_2015 body."""
    bodies: dict[str, tuple[str, str, float]] = {}
    for info in query_crs_info(auth_name="IAU_2015"):
        if not info.code.endswith("00") or "Sphere" not in info.name:
            continue
        name = info.name.split(" (2015)")[0].strip()
        radius = pyproj.CRS.from_authority("IAU_2015", info.code).ellipsoid.semi_major_metre
        bodies[_norm(name).strip()] = (name, f"IAU_2015:{info.code}", radius)
    return bodies


def iau_body(name: str | None) -> tuple[str | None, str | None]:
    """(PROJ's body name, IAU_2015 code) for a body or target name found anywhere in ``name``."""
    if not name:
        return None, None
    text = _norm(name)
    best = None
    for key, (proper, code, _r) in _iau_bodies().items():
        if f" {key} " in text and (best is None or len(key) > len(best[0])):
            best = (key, proper, code)
    return _stored(best[1], best[2]) if best else (None, None)


def _crs_names(crs: pyproj.CRS) -> list[str]:
    names = []
    for obj in (crs.datum, crs.ellipsoid, crs.geodetic_crs, crs):
        if obj is not None and getattr(obj, "name", None):
            names.append(obj.name)
    return names


def _authority(obj) -> str | None:
    """The authority named in an object's own definition (no database lookup, so no guessing)."""
    if obj is None:
        return None
    doc = obj.to_json_dict()
    ids = doc.get("ids") or ([doc["id"]] if "id" in doc else [])
    return ids[0].get("authority") if ids else None


def body_from_crs(crs: pyproj.CRS | None) -> tuple[str | None, str | None]:
    """(body, IAU_2015 code) from a CRS's authority and names; (None, None) when it does not say."""
    if crs is None:
        return None, None
    if _authority(crs) == "IAU_2015" or _authority(crs.geodetic_crs) == "IAU_2015":
        body, code = iau_body(crs.name)
        if body:
            return body, code
    for obj in (crs, crs.geodetic_crs, crs.datum):
        if _authority(obj) in _EARTH_AUTHORITIES:
            return iau_body("Earth")
    for name in _crs_names(crs):
        body, code = iau_body(name)
        if body:
            return body, code
    return None, None


def body_from_radius(crs: pyproj.CRS | None, tolerance: float = 1e-3) -> tuple[str | None, str | None]:
    """(body, code) when the CRS ellipsoid's semi-major axis matches exactly one IAU_2015 body."""
    if crs is None or crs.ellipsoid is None:
        return None, None
    a = crs.ellipsoid.semi_major_metre
    hits = [(proper, code) for proper, code, r in _iau_bodies().values() if abs(a - r) <= tolerance * r]
    return _stored(*hits[0]) if len(hits) == 1 else (None, None)


def _stored(body: str, code: str) -> tuple[str, str]:
    """(body, the code of the CRS its lon/lat are stored in): EPSG:4326 for Earth, else the IAU code."""
    return (body, EARTH_CODE) if body == EARTH else (body, code)


def is_earth(crs: pyproj.CRS) -> bool:
    """Whether a CRS is on Earth, from the CRS alone (its authority and names, else its radius)."""
    body, _ = body_from_crs(crs)
    return (body or body_from_radius(crs)[0]) == EARTH


def _label_target(ds, path: str, label=UNREAD) -> str | None:
    label = label_of(path, label)
    if label is not None:
        for group in ("Mapping", "Instrument"):
            block = label.find(group)
            target = block.get("TargetName") if block is not None else None
            if target:
                return target
        return None
    if getattr(ds, "driver", None) in _PDS_DRIVERS or str(path).lower().endswith((".lbl", ".img", ".cub")):
        return pds3_keyword(path, "TARGET_NAME")
    return None


def _to_pyproj(ds) -> pyproj.CRS | None:
    if ds is None or ds.crs is None:
        return None
    try:
        return pyproj.CRS.from_wkt(ds.crs.to_wkt())
    except pyproj.exceptions.CRSError:
        return None


def body_of(ds, path: str, label=UNREAD) -> tuple[str | None, str | None]:
    """(body name, IAU_2015 geographic CRS code) of an open image; (None, None) when nothing says."""
    crs = _to_pyproj(ds)
    body, code = body_from_crs(crs)
    if body:
        return body, code
    target = _label_target(ds, str(path), label)
    if target:
        body, code = iau_body(target)
        return (body, code) if body else (target.strip().title(), None)
    return body_from_radius(crs)
