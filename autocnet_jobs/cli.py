"""``autocnet-jobs``: the command line over the same engine as ImageAdder."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from . import config as config_mod
from .errors import AutocnetJobsError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except AutocnetJobsError as exc:
        print(f"autocnet-jobs: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("autocnet-jobs: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="autocnet-jobs", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", help="YAML config file (default: $autocnet_config, else built-in defaults)")
        sp.add_argument("--db", help="database URL, overrides database.url")

    a = sub.add_parser("add", help="ingest every DIR/*.EXT (with -r, in subfolders too) and wait for the run to finish")
    a.add_argument("directory")
    a.add_argument("--ext", required=True, help="file extension, matched case-insensitively (cub, img, tif)")
    a.add_argument("--force", action="store_true", help="re-extract images already in the catalogue")
    a.add_argument("--recursive", "-r", action="store_true", help="also the images in DIR's subfolders")
    a.add_argument("--workers", type=int, help="overrides cluster.n_workers")
    a.add_argument("--output-dir", help="write every keypoint file here (sets output.dir and output.always)")
    a.add_argument("--strict", action="store_true", help="exit 1 when any image failed")
    a.add_argument("--no-progress", action="store_true")
    common(a)
    a.set_defaults(func=cmd_add)

    r = sub.add_parser("retry", help="resubmit the failed images of the catalogue with a fresh budget")
    r.add_argument("--workers", type=int)
    r.add_argument("--no-progress", action="store_true")
    r.add_argument("--strict", action="store_true")
    r.add_argument("--output-dir")
    common(r)
    r.set_defaults(func=cmd_retry)

    s = sub.add_parser("status", help="job counts (and per-image detail) from the catalogue")
    s.add_argument("--detail", action="store_true", help="one line per image")
    s.add_argument("--json", action="store_true")
    common(s)
    s.set_defaults(func=cmd_status)

    f = sub.add_parser("failed", help="failed images with their reasons")
    f.add_argument("--json", action="store_true")
    f.add_argument("--traceback", action="store_true", help="print each failure's traceback")
    common(f)
    f.set_defaults(func=cmd_failed)

    q = sub.add_parser("query", help="images whose footprint intersects a box, a geometry or another image")
    q.add_argument("--bbox", nargs=4, type=float, metavar=("MINLON", "MINLAT", "MAXLON", "MAXLAT"),
                   help="lon/lat box; MINLON > MAXLON crosses 180°")
    q.add_argument("--wkt", help="a lon/lat geometry as WKT")
    q.add_argument("--overlapping", help="path of an image in the catalogue")
    q.add_argument("--body")
    q.add_argument("--since", help="ISO date/time: only images added since")
    q.add_argument("--json", action="store_true")
    common(q)
    q.set_defaults(func=cmd_query)

    e = sub.add_parser("export", help="write the catalogue with footprints")
    e.add_argument("--format", choices=["geojson", "gpkg"], default=None,
                   help="geojson (one collection, lon/lat) or gpkg (GeoPackage: one layer per body in its CRS); "
                        "default: from the --out extension, else geojson")
    e.add_argument("--out", help="output file (default: stdout; required for gpkg)")
    e.add_argument("--body")
    common(e)
    e.set_defaults(func=cmd_export)

    m = sub.add_parser("plot", help="map of the footprints (PNG), coloured by status, failed images listed")
    m.add_argument("--out", required=True, help="output PNG file")
    m.add_argument("--body", help="only this body (e.g. Mars)")
    m.add_argument("--dpi", type=int, default=100)
    common(m)
    m.set_defaults(func=cmd_plot)

    h = sub.add_parser("report", help="one self-contained HTML page: counts, failures, the map, every image")
    h.add_argument("--out", required=True, help="output HTML file")
    h.add_argument("--body", help="only this body (e.g. Mars)")
    common(h)
    h.set_defaults(func=cmd_report)
    return p


def _config(args: argparse.Namespace) -> dict[str, Any]:
    cfg = config_mod.load(args.config)
    overrides: dict[str, Any] = {}
    if getattr(args, "db", None):
        overrides.setdefault("database", {})["url"] = args.db
    if getattr(args, "workers", None):
        overrides.setdefault("cluster", {})["n_workers"] = args.workers
    if getattr(args, "output_dir", None):
        overrides["output"] = {"dir": os.path.abspath(args.output_dir), "always": True}
    if overrides:
        _deep_update(cfg, overrides)
        cfg = config_mod.load(cfg)
    return cfg


def _deep_update(base: dict, new: dict) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = v


def cmd_add(args: argparse.Namespace) -> int:
    from .adder import ImageAdder

    with ImageAdder(_config(args)) as ia:
        submitted = ia.add_images(args.directory, args.ext, force=args.force, recursive=args.recursive)
        skipped = list(ia.skipped.values())
        n_failed = skipped.count("failed")
        failed_before = f", {n_failed} failed before, not retried (use retry)" if n_failed else ""
        print(f"{len(submitted)} images submitted, {skipped.count('done')} already in the catalogue{failed_before}")
        return _finish(ia, args)


def cmd_retry(args: argparse.Namespace) -> int:
    from .adder import ImageAdder

    with ImageAdder(_config(args)) as ia:
        submitted = ia.retry_failed()
        print(f"{len(submitted)} failed images resubmitted")
        return _finish(ia, args)


def _finish(ia, args: argparse.Namespace) -> int:
    from .progress import ProgressBar

    bar = None if args.no_progress else ProgressBar(sys.stderr)
    while True:
        counts = ia.progress()
        if bar:
            bar.update(counts)
        try:
            ia.wait(timeout=0.5)
            break
        except TimeoutError:
            continue
    if bar:
        bar.update(ia.progress(), final=True)
    _summary(ia)
    return 1 if args.strict and ia.failed_jobs else 0


def _summary(ia) -> None:
    counts = ia.progress()
    print(f"\n{'state':<10}{'images':>8}")
    for state in ("done", "failed"):
        print(f"{state:<10}{counts[state]:>8}")
    if ia.failed_jobs:
        print("\nfailed images:")
        for path in ia.failed_jobs:
            f = ia.failure(path)
            print(f"  {os.path.basename(path)}: {f['kind']} after {f['attempts']} attempt(s): {f['message']}")


def cmd_status(args: argparse.Namespace) -> int:
    from . import queries

    url = _config(args)["database"]["url"]
    counts = queries.job_counts(url)
    rows = queries.job_rows(url) if args.detail else []
    if args.json:
        print(json.dumps({"counts": counts, "jobs": rows}, default=str, indent=1))
        return 0
    print("  ".join(f"{k}: {v}" for k, v in counts.items()))
    for r in rows:
        err = f"  {r['error_kind']}: {r['last_error']}" if r["error_kind"] else ""
        print(f"{r['state']:<8} attempts={r['attempts']} {r['path']}{err}")
    return 0


def cmd_failed(args: argparse.Namespace) -> int:
    from . import queries

    rows = queries.job_rows(_config(args)["database"]["url"], state="failed")
    if args.json:
        print(json.dumps(rows, default=str, indent=1))
        return 0
    for r in rows:
        print(f"{r['path']}\n    {r['error_kind']} ({r['error_type']}) after {r['attempts']} attempt(s) "
              f"on {r['worker']}: {r['last_error']}")
        if r["log"]:
            print(f"    worker log: {r['log']}")
        if args.traceback and r["traceback"]:
            print("    " + r["traceback"].rstrip().replace("\n", "\n    "))
    print(f"{len(rows)} failed")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from datetime import datetime

    import shapely

    from . import queries

    rows = queries.images(_config(args)["database"]["url"], bbox=tuple(args.bbox) if args.bbox else None,
                          geometry=shapely.from_wkt(args.wkt) if args.wkt else None,
                          overlapping=os.path.abspath(args.overlapping) if args.overlapping else None,
                          body=args.body, since=datetime.fromisoformat(args.since) if args.since else None)
    if args.json:
        print(json.dumps(queries.to_geojson(rows), default=str))
    else:
        for r in rows:
            print(f"{r['body'] or '-':<8} {r['path']}")
        print(f"{len(rows)} images")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from . import queries

    rows = queries.images(_config(args)["database"]["url"], body=args.body)
    fmt = args.format or ("gpkg" if (args.out or "").lower().endswith(".gpkg") else "geojson")
    if fmt == "gpkg":
        from .gpkg import write_gpkg

        if not args.out:
            print("error: --format gpkg needs --out FILE (a GeoPackage cannot go to stdout)", file=sys.stderr)
            return 2
        layers = write_gpkg(rows, args.out)
        print(f"{len(rows)} images written to {args.out} ({', '.join(f'{k}: {v}' for k, v in layers.items())})")
        return 0
    doc = json.dumps(queries.to_geojson(rows), default=str)
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(doc)
        os.replace(tmp, args.out)
        print(f"{len(rows)} images written to {args.out}")
    else:
        print(doc)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .plot import save_map

    print(f"map written to {save_map(_config(args)['database']['url'], args.out, args.body, dpi=args.dpi)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    print(f"report written to {write_report(_config(args)['database']['url'], args.out, body=args.body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
