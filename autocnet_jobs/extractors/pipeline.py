"""One image in, one plain record out: the function every worker (Dask task, Slurm job, test) runs.

The record travels over a Pyro5 serpent channel to the tracker and then to the database writer, so it holds only
plain JSON-safe Python values (no numpy scalars, no bytes, no NaN). Bad input raises a typed ImageError; the
keypoint file is written atomically and only after everything else about the image succeeded, so a failed
attempt leaves no keypoint file behind and a retry starts clean.
"""
from __future__ import annotations

import os

import numpy as np
import rasterio
import shapely
from shapely.geometry import MultiPolygon, Polygon

from ..errors import NoSuchBand
from .acquisition import acquisition, resolution, viewing_geometry
from .cameras import camera_model, pixel_to_lonlat
from .features import effective_settings, extract_features
from .footprints import compute_footprint
from .keypoint_file import keypoints_path_for, write_keypoints
from .labels import isis3_label
from .reading import file_checksum, open_image
from .record import RECORD_KEYS, plain

# GDAL's block cache defaults to 5% of RAM and would keep every block of a huge image it has read; tiles are
# read once, so a small cache bounds memory without costing speed. (GDAL reads this at its first cache use.)
GDAL_CACHEMAX_MB = 128


def process_image(path: str, settings: dict) -> dict:
    """Extract keypoints, camera and footprint of the image at ``path``; return its record (see RECORD_KEYS).

    ``settings`` is ``config.job_settings(cfg)``: {"reading": {"band", "nodata"}, "extractor": {...}, "output": {...},
    "camera": {"dem"}}.
    """
    path = os.path.abspath(path)
    band = settings.get("reading", {}).get("band", 1)
    nodata = settings.get("reading", {}).get("nodata")
    extractor = effective_settings(settings.get("extractor", {}))
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHEMAX_MB):
        with open_image(path) as ds:
            if not isinstance(band, int) or not 1 <= band <= ds.count:
                raise NoSuchBand(f"{path} has {ds.count} band(s) but band {band!r} was asked for (reading.band): "
                                 f"set reading.band to a number from 1 to {ds.count}")
            st = os.stat(path)
            kps_path = keypoints_path_for(path, settings.get("output", {}))  # fail before the expensive part
            checksum = file_checksum(path)
            keypoints, descriptors, note = extract_features(ds, band, extractor, nodata)
            cam = settings.get("camera", {})
            label = isis3_label(path)          # parsed once, handed to everything that reads it
            camera = camera_model(ds, path, band, cam.get("dem"), cam.get("isd_dir"), label)
            footprint = compute_footprint(ds, path, band, nodata, camera, label)
            lonlat = _lonlat(camera, keypoints)
            acquired = acquisition(path, ds, camera, label)
            width, height, count, driver = ds.width, ds.height, ds.count, ds.driver
    attrs = {"extractor": extractor["method"], "parameters": extractor, "image_width": width,
             "image_height": height, "source_checksum": checksum, "source_path": path, "band": band,
             "note": note or ""}
    kps_path = write_keypoints(kps_path, keypoints, descriptors, attrs, lonlat)  # may be the alternate name
    record = {
        "path": path, "name": os.path.basename(path), "checksum": checksum, "size": st.st_size,
        "mtime": st.st_mtime, "driver": driver, "width": width, "height": height, "bands": count,
        "body": footprint.body, "iau_code": footprint.iau_code, "crs_wkt": footprint.crs_wkt,
        "footprint_wkb": _hex_wkb(footprint.geometry), "footprint_source": footprint.source,
        "footprint_note": footprint.note, "camera": camera, "keypoints_path": kps_path,
        "n_keypoints": len(keypoints), "extractor": extractor["method"], "extractor_params": extractor,
        "note": note, **acquired, **viewing_geometry(camera), "resolution": resolution(camera),
    }
    return {key: plain(record[key]) for key in RECORD_KEYS}


def _lonlat(camera: dict, keypoints: np.ndarray) -> np.ndarray | None:
    """(N, 2) lon/lat of every keypoint through the camera model, or None without a camera."""
    if not camera or camera.get("type") is None or len(keypoints) == 0:
        return None
    result = pixel_to_lonlat(camera, keypoints[:, 0].astype(np.float64), keypoints[:, 1].astype(np.float64))
    if result is None:
        return None
    lon, lat = result
    return np.column_stack([np.asarray(lon, np.float64), np.asarray(lat, np.float64)])


def _hex_wkb(geometry) -> str | None:
    """Hex WKB of a 2D MultiPolygon without SRID (the writer adds the body's SRID), or None."""
    if geometry is None or geometry.is_empty:
        return None
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon([geometry])
    return shapely.to_wkb(geometry, hex=True, output_dimension=2, include_srid=False)
