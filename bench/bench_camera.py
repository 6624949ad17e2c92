"""What level-1 camera models cost per image: camera + camera footprint + keypoint ground points vs the whole job.

For every sample image (not the detached PDS label and its data file), in one process (one OpenCV thread, warmed
up, like a worker), ``--repeat`` times, median:

* whole: ``process_image(path, settings)``, the complete per-image job (read, SIFT, footprint, camera, keypoint
  file), the baseline in the same run;
* camera: the parts the camera models add, timed alone on the same image: ``camera_model`` (label, SPICE tables,
  the model dict and its resolution), the footprint traced through the camera (also made where a current ISIS
  polygon wins, for the IoU note) and ``pixel_to_lonlat`` of the image's keypoints.

Reports each level-1 cube's share and the share over the whole sample set; target: <= 10% of the sample set's
per-image time (issue 13).

    .venv/bin/python bench/bench_camera.py [--repeat 5] [--dem PATH] [--json out.json]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import benchlib

os.environ.setdefault("OMP_NUM_THREADS", "1")
TARGET = 0.10
UNREADABLE = {"MI_MAP_03_N51E124N50E125SC_cropped.img", "MI_MAP_03_N51E124N50E125SC_cropped.lbl"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dem", default=None, help="camera.dem for the level-1 cubes (default: the ellipsoid)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    benchlib.add_repo_to_path()
    warnings.filterwarnings("ignore")
    import cv2
    import rasterio

    from autocnet_jobs import config
    from autocnet_jobs.extractors.cameras import camera_model, is_sensor, pixel_to_lonlat
    from autocnet_jobs.extractors.footprints import _camera_footprint
    from autocnet_jobs.extractors.keypoint_file import read_keypoints
    from autocnet_jobs.extractors.pipeline import process_image

    cv2.setNumThreads(1)
    scratch = benchlib.scratch_dir("bench_camera")
    cfg = config.load({"output": {"dir": str(scratch), "always": True}, "camera": {"dem": args.dem}})
    settings = config.job_settings(cfg)
    paths = [p for p in sorted(benchlib.DATA_DIR.iterdir()) if p.name not in UNREADABLE]
    process_image(str(paths[0]), settings)                                     # warm-up

    rows, whole_total, camera_total = [], 0.0, 0.0
    for path in paths:
        whole, camera_t = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            record = process_image(str(path), settings)
            whole.append(time.perf_counter() - t)
            kps = read_keypoints(record["keypoints_path"])["keypoints"]
            with rasterio.open(path) as ds:
                t = time.perf_counter()
                camera = camera_model(ds, str(path), 1, args.dem)
                if is_sensor(camera):
                    _camera_footprint(ds, 1, None, camera)
                    if len(kps):
                        pixel_to_lonlat(camera, kps["x"].astype(float), kps["y"].astype(float))
                camera_t.append(time.perf_counter() - t if is_sensor(camera) else 0.0)
        w, c = statistics.median(whole), statistics.median(camera_t)
        whole_total += w
        camera_total += c
        if c > 0:
            rows.append({"image": path.name, "model": record["camera"]["type"], "keypoints": len(kps),
                         "whole_ms": w * 1e3, "camera_ms": c * 1e3, "share": c / w})
    print(benchlib.machine_line())
    print(f"{len(paths)} sample images, median of {args.repeat}; camera.dem = {args.dem}")
    print(benchlib.table(rows, [("image", "image", "s"), ("model", "model", "s"), ("keypoints", "kps", "d"),
                                ("whole_ms", "whole job ms", ".1f"), ("camera_ms", "camera parts ms", ".1f"),
                                ("share", "share", ".1%")]))
    share = camera_total / whole_total
    print(f"sample set: whole jobs {whole_total:.2f} s, camera parts {camera_total * 1e3:.0f} ms -> {share:.1%} "
          f"of the per-image time (target <= {TARGET:.0%}): {benchlib.verdict(share <= TARGET)}")
    benchlib.write_json(args.json, {"rows": rows, "whole_s": whole_total, "camera_s": camera_total,
                                    "share": share, "machine": benchlib.machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
