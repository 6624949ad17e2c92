"""Camera models: how an image's pixels map to the body, as a plain dict that can cross the wire.

``camera_model(ds, path)`` returns, the first source found winning:

* a **sensor model** (``{"type": "csm", ...}``) from an image support data (ISD) document: (a) a sidecar
  ``IMAGE_STEM.json`` beside the image or in ``camera.isd_dir`` (ALE's isd_generate writes that name), else
  (b) the ISD an instrument driver (:mod:`.camera.drivers`) builds from a level-1 ISIS cube's attached SPICE::

      {"type": "csm", "model": "USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL", "isd": {...the ISD...},
       "isd_source": "sidecar" | "driver", "isd_path": <sidecar path> | None, "driver": "mro.CtxDriver" | None,
       "ground_sample_distance_m": [across, along], "dem": <path, when camera.dem is set>}

  evaluated by :func:`sensor_for` (the four generic models of :mod:`.camera`, usgscsm's conventions);

* (c) for a georeferenced image (a CRS and a non-identity geotransform)::

      {"type": "affine", "crs_wkt": <native CRS WKT>, "transform": [a, b, c, d, e, f],   # GDAL order
       "geographic_crs_wkt": <the CRS's own geographic CRS>, "width": int, "height": int,
       "rpcs": {...}}          # only when GDAL exposes RPCs

* for any other image, the first answer of the installed camera plug-ins (below), else
  ``{"type": None, "reason": "..."}`` saying why there is no model (a CRS PROJ cannot invert also lands here,
  with the CRS and geotransform kept for information; a level-1 cube names the constant or driver it lacks).

Every value is a plain str / int / float / list / dict / None, so the dict goes through JSON, serpent
(Pyro5) and database JSON columns unchanged.

``pixel_to_lonlat(camera, x, y)`` evaluates an ``"affine"`` or sensor model: ``x`` = column, ``y`` = row, in pixels,
with (0, 0) the **centre** of the top-left pixel (the OpenCV / keypoint convention; GDAL's geotransform puts
(0, 0) at the pixel's corner, so 0.5 is added here; CSM's puts it at the corner too). It returns east-positive
lon and lat in degrees, lon in [-180, 180], latitude planetocentric (geodetic WGS84 on Earth) - the footprint's
conventions - or None for a model it cannot evaluate.

Camera plug-ins
---------------
Images without georeferencing (level-1 ISIS cubes, PDS EDRs) need a sensor model this package does not
carry. Any installed distribution can provide one through an entry point in the group
``autocnet_jobs.cameras``::

    # pyproject.toml of the plug-in
    [project.entry-points."autocnet_jobs.cameras"]
    csm = "my_cameras.csm:camera_for"

The object named is a callable ``camera_for(path: str) -> dict | None``. For an image without georeferencing
the plug-ins are tried in order of entry-point name; the first one returning a dict wins (its ``"type"``
defaults to the entry point's name and ``"plugin"`` records which plug-in answered). A plug-in returns None
for images it does not handle; an exception or a non-serialisable answer is recorded in the final
``reason`` and the next plug-in is tried. ``pixel_to_lonlat`` returns None for plug-in models.
"""
from __future__ import annotations

import functools
import json
import os
from importlib.metadata import entry_points

import numpy as np

from ..errors import IsdError
from .camera.drivers import IsisCube, MissingConstant, driver_for, driver_isd, supported
from .camera.ground import GroundModel
from .camera.isd import check_isd, load_isd, sidecar_path
from .dem import dem_sampler
from .labels import UNREAD, label_of
from .lonlat import LonLatTransformer, NotInvertible, is_georeferenced, pixel_to_native
from .record import plain

ENTRY_POINT_GROUP = "autocnet_jobs.cameras"


def camera_model(ds, path: str, band: int = 1, dem: str | None = None, isd_dir: str | None = None,
                 label=UNREAD) -> dict:
    """The camera model of the open dataset ``ds`` (opened from ``path``) as a plain dict.

    ``band`` picks band-dependent constants (THEMIS IR); ``dem`` (``camera.dem``) is the terrain rays meet;
    ``isd_dir`` (``camera.isd_dir``) a folder of ISD sidecars; ``label`` the image's parsed ISIS label, when the
    caller has it. Raises CameraDataError when a level-1 cube's SPICE is garbled, IsdError for a bad sidecar.
    """
    reasons = []
    sidecar = sidecar_path(path, isd_dir)
    if sidecar is not None:
        isd = load_isd(sidecar)
        if (int(isd["image_lines"]), int(isd["image_samples"])) != (ds.height, ds.width):
            raise IsdError(f"{sidecar}: ISD keys 'image_lines', 'image_samples' are {isd['image_lines']} x "
                           f"{isd['image_samples']} but the image has {ds.height} lines x {ds.width} samples; "
                           f"the sidecar belongs to another image")
        return _sensor_camera(isd, "sidecar", dem, isd_path=str(sidecar))
    label = label_of(path, label)
    if label is not None and label.find("Kernels") is not None and label.find("Mapping") is None:
        cube = IsisCube(str(path), label)
        driver = driver_for(cube)
        if driver is None:
            reasons.append(f"no camera driver for {cube.keyword('Instrument', 'SpacecraftName') or '?'} "
                           f"{cube.keyword('Instrument', 'InstrumentId') or '?'} (drivers: {', '.join(supported())})")
        else:
            try:
                isd = check_isd(driver_isd(driver(cube, band)))
            except MissingConstant as exc:
                reasons.append(f"no camera model: the {driver.__module__.rsplit('.', 1)[-1]} driver is missing {exc}")
            else:
                return _sensor_camera(isd, "driver", dem,
                                      driver=f"{driver.__module__.rsplit('.', 1)[-1]}.{driver.__name__}")
    if is_georeferenced(ds):
        return _affine_camera(ds)
    found = _plugin_camera(str(path), reasons)
    if found is not None:
        return found
    reasons.append(_no_model_reason(ds, str(path), label))
    out = {"type": None, "reason": "; ".join(reasons)}
    if ds.rpcs is not None:
        out["rpcs"] = plain(ds.rpcs.to_dict())
    return out


def _sensor_camera(isd: dict, source: str, dem: str | None, isd_path: str | None = None,
                   driver: str | None = None) -> dict:
    camera = {"type": "csm", "model": isd["name_model"], "isd_source": source, "isd_path": isd_path,
              "driver": driver, "isd": isd}
    if dem:
        camera["dem"] = os.path.abspath(dem)
    gsd = sensor_for(camera).ground_sample_distance()
    camera["ground_sample_distance_m"] = [g if np.isfinite(g) else None for g in gsd]
    return plain(camera)


def with_isd_text(record: dict) -> dict:
    """``record`` with its sensor camera's ISD as JSON text (catalogue.schema.json_text stores it as is): done
    once in the worker that made it, so neither the callback channel nor the one writer encodes an ISD's
    hundreds of floats per image (bench_writer: 90% of the writer's work on level-1 records)."""
    camera = record.get("camera")
    if not is_sensor(camera) or not isinstance(camera.get("isd"), dict):
        return record
    return {**record, "camera": {**camera, "isd": json.dumps(camera["isd"], ensure_ascii=False,
                                                             separators=(",", ":"))}}


def is_sensor(camera: dict | None) -> bool:
    """True for a physical sensor model (an ISD) :func:`sensor_for` can evaluate."""
    return bool(camera) and camera.get("type") == "csm"


def body_radius_m(camera: dict) -> float:
    """The semi-major axis (metres) of a sensor camera's body."""
    radii = camera["isd"]["radii"]
    return float(radii["semimajor"]) * (1.0 if radii.get("unit", "km").lower() in ("m", "meters", "metres") else 1000.0)


def sensor_for(camera: dict) -> GroundModel:
    """The GroundModel of a sensor camera dict, with its DEM when it names one (cached per ISD object)."""
    key = id(camera["isd"])
    cached = _MODELS.get(key)
    if cached is not None and cached[0] is camera["isd"] and cached[1] == camera.get("dem"):
        return cached[2]
    model = GroundModel(camera["isd"], dem_sampler(camera.get("dem"), body_radius_m(camera) / 1000.0))
    _MODELS.clear()                 # one image at a time per worker: keep only the last
    _MODELS[key] = (camera["isd"], camera.get("dem"), model)
    return model


_MODELS: dict = {}


def _affine_camera(ds) -> dict:
    wkt = ds.crs.to_wkt()
    transform = [float(v) for v in tuple(ds.transform)[:6]]
    try:
        tr = _transformer(wkt)
    except NotInvertible as exc:
        return {"type": None, "reason": str(exc), "crs_wkt": wkt, "transform": transform,
                "width": int(ds.width), "height": int(ds.height)}
    camera = {
        "type": "affine",
        "crs_wkt": wkt,
        "transform": transform,
        "geographic_crs_wkt": tr.geographic.to_wkt(),
        "width": int(ds.width),
        "height": int(ds.height),
    }
    if ds.rpcs is not None:
        camera["rpcs"] = plain(ds.rpcs.to_dict())
    return camera


def _plugin_camera(path: str, reasons: list[str]) -> dict | None:
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            result = ep.load()(path)
        except Exception as exc:   # a broken plug-in must not fail the image; the reason is kept
            reasons.append(f"camera plug-in {ep.name!r} failed: {type(exc).__name__}: {exc}")
            continue
        if result is None:
            continue
        if not isinstance(result, dict):
            reasons.append(f"camera plug-in {ep.name!r} returned {type(result).__name__}, not a dict")
            continue
        result = plain(result, strict=True)
        try:
            json.dumps(result)
        except (TypeError, ValueError) as exc:
            reasons.append(f"camera plug-in {ep.name!r} returned a dict that is not JSON-safe: {exc}")
            continue
        result.setdefault("type", ep.name)
        result.setdefault("plugin", ep.name)
        return result
    return None


def _no_model_reason(ds, path: str, label=UNREAD) -> str:
    names = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    plugins = (f"no installed camera plug-in ({', '.join(names)}) handled it" if names else
               f"no camera plug-in is installed (entry point group {ENTRY_POINT_GROUP!r})")
    return f"{georeference_problem(ds, path, label)}; {plugins}"


def georeference_problem(ds, path: str, label=UNREAD) -> str:
    """What an image lacks for an affine model, in a phrase (the camera's and the footprint's reason)."""
    if ds.crs is not None:
        return "the image has a CRS but no geotransform"
    if not ds.transform.is_identity:
        return "the image has a geotransform but no CRS"
    if ds.gcps and ds.gcps[0]:
        return "the image has only ground control points, which are not used"
    if ds.rpcs is not None:
        return "the image has RPCs but no geotransform or CRS; RPCs are not used"
    label = label_of(path, label)
    if label is not None and label.find("Kernels") is not None:
        return "a level-1 ISIS cube (SPICE attached) without georeferencing"
    return "the image has no georeferencing"


@functools.lru_cache(maxsize=32)
def _transformer(crs_wkt: str) -> LonLatTransformer:
    return LonLatTransformer(crs_wkt)


def pixel_to_lonlat(camera: dict, x, y) -> tuple[np.ndarray, np.ndarray] | None:
    """(lon, lat) in degrees for pixel coordinates x (column), y (row); None when the model can't say.

    (0, 0) is the centre of the top-left pixel. Longitude is in [-180, 180], latitude planetocentric
    (geodetic WGS84 on Earth); NaN where the projection or camera has no answer.
    """
    if is_sensor(camera):
        return sensor_for(camera).image_to_ground(np.asarray(y, float), np.asarray(x, float))
    if not camera or camera.get("type") != "affine":
        return None
    try:
        tr = _transformer(camera["crs_wkt"])
    except NotInvertible:
        return None
    x = np.asarray(x, dtype=float) + 0.5
    y = np.asarray(y, dtype=float) + 0.5
    return tr(*pixel_to_native(camera["transform"], x, y))
