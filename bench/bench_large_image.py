"""Peak memory and time of process_image on a 20,000 x 20,000 image (tiled) against a full-frame baseline.

Why: OpenCV's SIFT holds a float pyramid of the (doubled) image, about 250 bytes per pixel, so extracting a
large image in one piece does not fit a worker; ``extractor.tile_size`` bounds it. This builds a tiled uint8
GeoTIFF (written block by block from the texture of a real HiRISE sample, so building it needs little memory) in
a temp folder, runs one ``process_image`` per case in a fresh subprocess and reads that process's peak RSS:

* baseline: a smaller image (default 4096 x 4096) extracted full frame (``tile_size`` >= its size: the whole band
  is read and handed to OpenCV at once);
* large: the big image with the configured ``tile_size`` (or each of ``--tile-sizes``).

    .venv/bin/python bench/bench_large_image.py [--size 20000] [--baseline-size 4096] [--tile-sizes 2048,1024]
                                                [--json FILE] [--workdir DIR] [--keep]

Nothing is written into the repository or the shared data folder (temp folder, removed unless ``--keep``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA_DIR = Path(os.environ.get("AUTOCNET_TEST_DATA", REPO.parent / "shared" / "data" / "images")).resolve()
TEXTURE = "ESP_014038_1415_RED0.30421_33069.boulder_shift.before.cub"
BLOCK = 512
TARGET_RSS_MB = 1024


def texture_block() -> np.ndarray:
    """A BLOCK x BLOCK uint8 crop of a real HiRISE image (robust 8-bit stretch of its valid pixels)."""
    from autocnet_jobs.extractors.reading import open_image, read_band_8bit
    from rasterio.windows import Window

    with open_image(str(DATA_DIR / TEXTURE)) as ds:
        img, _ = read_band_8bit(ds, 1, Window(0, 0, BLOCK, BLOCK))
    return img


def build_geotiff(path: str, size: int) -> float:
    """Write a size x size tiled uint8 GeoTIFF on Mars (equirectangular), one 512 x 512 block at a time.

    Blocks are the texture mirrored in alternate columns/rows, so the image has no artificial steps at block
    edges. Returns the seconds it took.
    """
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    start = time.perf_counter()
    base = texture_block()
    variants = {(i, j): base[:: -1 if i else 1, :: -1 if j else 1].copy() for i in (0, 1) for j in (0, 1)}
    with rasterio.open(DATA_DIR / "no_change_before.cub") as src:
        crs, origin = src.crs, (src.transform.c, src.transform.f)   # Mars equirectangular, metres
    profile = dict(driver="GTiff", width=size, height=size, count=1, dtype="uint8", tiled=True,
                   blockxsize=BLOCK, blockysize=BLOCK, crs=crs, transform=from_origin(*origin, 0.25, 0.25),
                   BIGTIFF="IF_SAFER")
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, BLOCK):
            for col in range(0, size, BLOCK):
                h, w = min(BLOCK, size - row), min(BLOCK, size - col)
                block = variants[((row // BLOCK) % 2, (col // BLOCK) % 2)]
                dst.write(block[:h, :w], 1, window=Window(col, row, w, h))
    return time.perf_counter() - start


def child(image: str, tile_size: int, out_dir: str) -> None:
    """Run one process_image and print its record summary, wall time and this process's peak RSS as JSON."""
    from autocnet_jobs import config
    from autocnet_jobs.extractors.features import tile_spans
    from autocnet_jobs.extractors.pipeline import process_image

    settings = config.job_settings(config.load({"extractor": {"tile_size": tile_size},
                                                "output": {"dir": out_dir, "always": True}}))
    start = time.perf_counter()
    rec = process_image(image, settings)
    seconds = time.perf_counter() - start
    ext = rec["extractor_params"]
    tiles = len(tile_spans(rec["width"], ext["tile_size"], ext["tile_overlap"])) * \
        len(tile_spans(rec["height"], ext["tile_size"], ext["tile_overlap"]))
    print(json.dumps({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "n_keypoints": rec["n_keypoints"], "tiles": tiles, "footprint_source": rec["footprint_source"],
                      "width": rec["width"], "height": rec["height"]}))


def run_case(label: str, image: str, tile_size: int, out_dir: str) -> dict:
    cmd = [sys.executable, __file__, "--child", image, "--tile-size", str(tile_size), "--out", out_dir]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO))
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(case=label, tile_size=tile_size,
                  mpx_per_s=result["width"] * result["height"] / 1e6 / result["seconds"])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--baseline-size", type=int, default=4096)
    parser.add_argument("--tile-sizes", default=None, help="comma-separated; default: the configured tile_size")
    parser.add_argument("--json", help="write the results here as JSON")
    parser.add_argument("--workdir", help="temp folder for the images (default: a new one under $TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="do not delete the work folder")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--tile-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.tile_size, args.out)
        return 0

    from autocnet_jobs import config
    tile_sizes = ([int(t) for t in args.tile_sizes.split(",")] if args.tile_sizes
                  else [config.load()["extractor"]["tile_size"]])
    work = Path(args.workdir or tempfile.mkdtemp(prefix="autocnet-bench-")).resolve()
    for forbidden in (REPO, DATA_DIR.parent.parent):
        if work == forbidden or forbidden in work.parents:
            raise SystemExit(f"--workdir {work} is inside {forbidden}; use a temp folder")
    work.mkdir(parents=True, exist_ok=True)
    try:
        small, big = str(work / f"baseline_{args.baseline_size}.tif"), str(work / f"large_{args.size}.tif")
        build = {"baseline": build_geotiff(small, args.baseline_size), "large": build_geotiff(big, args.size)}
        rows = [run_case(f"baseline {args.baseline_size}^2 full frame", small, args.baseline_size, str(work / "kps"))]
        for tile in tile_sizes:
            rows.append(run_case(f"large {args.size}^2 tiled", big, tile, str(work / "kps")))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    base = rows[0]
    print(f"python {platform.python_version()}, {os.cpu_count()} cores; OpenCV threads 1; "
          f"images built in {build['baseline']:.1f} s + {build['large']:.1f} s")
    print(f"{'case':32} {'tile':>6} {'tiles':>6} {'keypoints':>9} {'time s':>8} {'Mpx/s':>7} {'peak RSS MB':>12}"
          f" {'RSS vs baseline':>16}")
    for r in rows:
        r["rss_ratio_vs_baseline"] = r["peak_rss_mb"] / base["peak_rss_mb"]
        r["pixel_ratio_vs_baseline"] = r["width"] * r["height"] / (base["width"] * base["height"])
        print(f"{r['case']:32} {r['tile_size']:>6} {r['tiles']:>6} {r['n_keypoints']:>9} {r['seconds']:>8.1f} "
              f"{r['mpx_per_s']:>7.2f} {r['peak_rss_mb']:>12.0f} {r['rss_ratio_vs_baseline']:>15.2f}x")
    for r in rows[1:]:
        verdict = "meets" if r["peak_rss_mb"] < TARGET_RSS_MB else "MISSES"
        print(f"tile {r['tile_size']}: {r['pixel_ratio_vs_baseline']:.1f}x the pixels of the baseline in "
              f"{r['rss_ratio_vs_baseline']:.2f}x its peak memory; {verdict} the {TARGET_RSS_MB} MB target")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"size": args.size, "baseline_size": args.baseline_size, "build_seconds": build,
                       "target_rss_mb": TARGET_RSS_MB, "cases": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
