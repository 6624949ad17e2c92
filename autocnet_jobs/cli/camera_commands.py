"""Camera commands: ``point`` (ISIS ``campt`` for one pixel or ground point) and ``export --format isd``.

``point`` builds the image's camera on the fly (its ISD sidecar, else its instrument driver, else its
georeferencing); no catalogue is read or made. Pixel coordinates are ISIS's: 1-based, (1, 1) the centre of the
first pixel, which is 0-based (0, 0) in the package and CSM (0.5, 0.5).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import numpy as np

from ..errors import AutocnetJobsError
from .options import UsageError, _config

ISIS_OFFSET = 1.0            # ISIS pixel = package (0-based centre) pixel + 1


class PointError(AutocnetJobsError):
    """A point query that has no answer (off the body, not seen): exit 1, one line."""


def add_point_parser(sub, common) -> None:
    pt = sub.add_parser("point", help="ground point of a pixel, or pixel of a ground point (like ISIS campt)")
    pt.add_argument("image", help="the image (its ISD sidecar IMAGE_STEM.json is used when present)")
    pt.add_argument("--sample", type=float, help="ISIS sample (1-based; 1.0 is the centre of the first pixel)")
    pt.add_argument("--line", type=float, help="ISIS line (1-based)")
    pt.add_argument("--lon", type=float, help="longitude, degrees east (planetocentric)")
    pt.add_argument("--lat", type=float, help="planetocentric latitude, degrees")
    pt.add_argument("--band", type=int, default=1)
    pt.add_argument("--json", action="store_true", help="one JSON object with sample, line, lon, lat, radius")
    common(pt)
    pt.set_defaults(func=cmd_point)


def _usage(message: str) -> AutocnetJobsError:
    return UsageError(message)


def _camera(args: argparse.Namespace, settings: dict) -> dict:
    from ..extractors.cameras import camera_model
    from ..extractors.labels import isis3_label
    from ..extractors.reading import open_image

    if not os.path.isfile(args.image):
        raise _usage(f"{args.image}: no such file")
    with open_image(os.path.abspath(args.image)) as ds:
        camera = camera_model(ds, os.path.abspath(args.image), args.band, settings.get("dem"),
                              settings.get("isd_dir"), label=isis3_label(args.image))
    return camera


def point(camera: dict, sample: float | None = None, line: float | None = None, lon: float | None = None,
          lat: float | None = None) -> dict[str, float]:
    """{sample, line, lon, lat, radius} of one ISIS pixel or one ground point; PointError when there is none."""
    from ..extractors.camera.geometry import ecef_to_lonlat
    from ..extractors.cameras import is_sensor, pixel_to_lonlat, sensor_for

    if sample is not None:
        x, y = sample - ISIS_OFFSET, line - ISIS_OFFSET
        if is_sensor(camera):
            lon_, lat_, radius = (float(v[0]) for v in ecef_to_lonlat(sensor_for(camera).ground_points([y], [x])))
        else:
            result = pixel_to_lonlat(camera, [x], [y])
            if result is None:
                raise PointError("the image has no camera model that maps pixels to the ground")
            lon_, lat_, radius = float(result[0][0]), float(result[1][0]), float("nan")
        if not np.isfinite(lon_):
            raise PointError(f"pixel (sample {sample:g}, line {line:g}) does not see the body")
        return {"sample": sample, "line": line, "lon": lon_, "lat": lat_, "radius": radius}
    if not is_sensor(camera):
        raise PointError("ground to image needs a sensor model (an ISD sidecar or an instrument driver)")
    model = sensor_for(camera)
    row, col = model.ground_to_image([lon], [lat])
    if not np.isfinite(row[0]):
        raise PointError(f"ground point (lon {lon:g}, lat {lat:g}) is not seen by the image")
    radius = float(np.linalg.norm(model.surface_points([lon], [lat])[0]))
    return {"sample": float(col[0]) + ISIS_OFFSET, "line": float(row[0]) + ISIS_OFFSET,
            "lon": float(lon), "lat": float(lat), "radius": radius}


def cmd_point(args: argparse.Namespace) -> int:
    pixel = args.sample is not None or args.line is not None
    ground = args.lon is not None or args.lat is not None
    if pixel == ground or (pixel and None in (args.sample, args.line)) or (ground and None in (args.lon, args.lat)):
        raise _usage("give either --sample S --line L or --lon X --lat Y")
    values = [v for v in (args.sample, args.line, args.lon, args.lat) if v is not None]
    if not all(np.isfinite(values)):
        raise _usage("coordinates must be finite numbers")
    camera = _camera(args, _config(args).get("camera", {}))
    if camera.get("type") is None:
        raise _usage(f"{args.image} has no camera model: {camera.get('reason')}")
    try:
        answer = point(camera, args.sample, args.line, args.lon, args.lat)
    except PointError as exc:
        print(f"autocnet-jobs point: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer))
    else:
        print(f"sample {answer['sample']:.6f} line {answer['line']:.6f} lon {answer['lon']:.10f} "
              f"lat {answer['lat']:.10f} radius {answer['radius']:.3f} m")
    return 0


def export_isd(rows: list[dict[str, Any]], out: str | None) -> int:
    """Write each image's ISD as DIR/IMAGE_STEM.json (JSON usgscsm loads); images without one are counted."""
    from ..extractors.camera.isd import write_isd
    from ..extractors.cameras import is_sensor

    if not out:
        raise _usage("--format isd needs --out DIR (one IMAGE_STEM.json per image with a camera)")
    if os.path.exists(out) and not os.path.isdir(out):
        raise _usage(f"--out {out} is a file; --format isd writes a folder")
    os.makedirs(out, exist_ok=True)
    written, stems = 0, set()
    for row in rows:
        camera = row.get("camera")
        if not is_sensor(camera):
            continue
        stem = row["name"].rsplit(".", 1)[0] if "." in row["name"] else row["name"]
        if stem in stems:               # two images of one name from two folders: keep both, apart
            stem = f"{stem}_{row['id']}"
        stems.add(stem)
        write_isd(camera["isd"], os.path.join(out, f"{stem}.json"))
        written += 1
    print(f"{written} ISDs written to {out} ({len(rows) - written} images without a sensor model)")
    return 0
