"""``autocnet-jobs``: the command line over the same engine as ImageAdder.

A user error (an argument that cannot be used, a missing folder or catalogue, a config or database problem) ends
with exit code 2 and one line saying what is wrong and what is accepted, found before any cluster is started;
the commands that only read never create a catalogue.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .. import config as config_mod
from ..errors import AutocnetJobsError, ConfigError
from .arguments import _extension, _int_range, _number, _one_line, _out_file, _Parser, _quantity, _since, _wkt
from .camera_commands import add_point_parser, export_isd

READ_ONLY = ("status", "failed", "query", "export", "plot", "report")


class UsageError(AutocnetJobsError):
    """A command-line value that cannot be used; the message says what is accepted."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command in READ_ONLY:
            from ..catalogue import queries

            url = _config(args)["database"]["url"]
            queries.require_catalogue(url)
            if getattr(args, "body", None):
                _check_body(args.body, queries.bodies(url))
        return args.func(args)
    except AutocnetJobsError as exc:
        print(f"autocnet-jobs: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("autocnet-jobs: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def _check_body(body: str, present: list[str]) -> None:
    """A --body no image is of is a typo more often than not: say which bodies the catalogue has."""
    if body.lower() not in {b.lower() for b in present}:
        raise UsageError(f"--body {body}: no image of that body in the catalogue; it has "
                         f"{', '.join(present) or 'no image of a known body'}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="autocnet-jobs", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", help="YAML config file (default: $autocnet_config, else built-in defaults)")
        sp.add_argument("--db", help="database URL, or a path to an SQLite file (.db, .sqlite, .gpkg); overrides "
                                     "database.url")

    workers = _int_range(1)
    a = sub.add_parser("add", help="ingest every DIR/*.EXT (with -r, in subfolders too) and wait for the run to finish")
    a.add_argument("directory")
    a.add_argument("--ext", required=True, type=_extension,
                   help="file extension, matched case-insensitively (cub, img, tif)")
    a.add_argument("--force", action="store_true", help="re-extract images already in the catalogue")
    a.add_argument("--recursive", "-r", action="store_true", help="also the images in DIR's subfolders")
    a.add_argument("--workers", type=workers, help="overrides cluster.n_workers")
    a.add_argument("--output-dir", help="write every keypoint file here (sets output.dir and output.always)")
    a.add_argument("--strict", action="store_true", help="exit 1 when any image failed")
    a.add_argument("--no-progress", action="store_true")
    common(a)
    a.set_defaults(func=cmd_add)

    r = sub.add_parser("retry", help="resubmit the failed images of the catalogue with a fresh budget")
    r.add_argument("--workers", type=workers)
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
    q.add_argument("--bbox", nargs=4, type=_number, metavar=("MINLON", "MINLAT", "MAXLON", "MAXLAT"),
                   help="lon/lat box in degrees, longitude -180..180; MINLON > MAXLON crosses 180°")
    q.add_argument("--wkt", type=_wkt, help="a lon/lat geometry as WKT")
    q.add_argument("--overlapping", help="path of an image in the catalogue")
    q.add_argument("--body")
    q.add_argument("--since", type=_since,
                   help="only images added to the catalogue since (ingest time, not acquisition time: see --from "
                        "and --to): ISO date or date-time (UTC unless an offset is given), or an age such as 12h or 2d")
    _acquisition_arguments(q)
    q.add_argument("--json", action="store_true")
    common(q)
    q.set_defaults(func=cmd_query)

    e = sub.add_parser("export", help="write the catalogue with footprints")
    e.add_argument("--format", choices=["geojson", "gpkg", "stac", "autocnet", "isd"], default=None,
                   help="geojson (one collection, lon/lat), gpkg (GeoPackage: one layer per body in its CRS), stac "
                        "(a static STAC catalog in the folder --out), autocnet (AutoCNet's images, keypoints and "
                        "cameras tables in the PostGIS schema --schema) or isd (each camera as ISD JSON usgscsm "
                        "loads, --out DIR/IMAGE_STEM.json); default: from the --out extension, else geojson")
    e.add_argument("--out", help="output file, or folder for stac (default: stdout; required for gpkg and stac)")
    e.add_argument("--schema", help="PostGIS schema the autocnet format writes its tables into (created if missing)")
    e.add_argument("--body")
    _acquisition_arguments(e)
    common(e)
    e.set_defaults(func=cmd_export)

    add_point_parser(sub, common)

    m = sub.add_parser("plot", help="map of the footprints (PNG), coloured by status, failed images listed")
    m.add_argument("--out", required=True, type=_out_file, help="output PNG file")
    m.add_argument("--body", help="only this body (e.g. Mars)")
    m.add_argument("--dpi", type=_int_range(10, 1200), default=100)
    common(m)
    m.set_defaults(func=cmd_plot)

    h = sub.add_parser("report", help="one self-contained HTML page: counts, failures, the map, every image")
    h.add_argument("--out", required=True, type=_out_file, help="output HTML file")
    h.add_argument("--body", help="only this body (e.g. Mars)")
    common(h)
    h.set_defaults(func=cmd_report)
    return p


def _acquisition_arguments(p: argparse.ArgumentParser) -> None:
    """The acquisition filters of ``query`` and ``export`` (queries.ACQUISITION_FILTERS)."""
    p.add_argument("--instrument", help="instrument id as the label gives it (HIRISE, NACL, METRIC), any case")
    p.add_argument("--spacecraft", help="spacecraft name as the label gives it (MARS RECONNAISSANCE ORBITER), any case")
    p.add_argument("--from", dest="acquired_from", type=_since, metavar="T",
                   help="acquired at or after T (the image's start time; UTC unless an offset is given)")
    p.add_argument("--to", dest="acquired_to", type=_since, metavar="T",
                   help="acquired before T (the image's start time; a date means its midnight, UTC)")
    for name, unit in (("resolution", "metres per pixel at the image centre"),
                       ("incidence", "solar incidence angle at the centre, degrees"),
                       ("emission", "emission angle at the centre, degrees"),
                       ("phase", "phase angle at the centre, degrees")):
        p.add_argument(f"--{name}", nargs=2, type=_quantity, metavar=("MIN", "MAX"),
                       help=f"{unit}, from MIN to MAX inclusive (images that do not say are left out)")


def _acquisition_filters(args: argparse.Namespace) -> dict[str, Any]:
    """The acquisition filters given, checked (a bad range is a UsageError naming the option)."""
    from ..catalogue import queries

    given = {k: getattr(args, k, None) for k in queries.ACQUISITION_FILTERS}
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items() if v is not None}
    try:
        queries.acquisition_filter(False, **given)
    except ValueError as exc:
        raise UsageError(str(exc).replace("the acquisition time range", "--from/--to: the range")) from None
    return given


def _config(args: argparse.Namespace) -> dict[str, Any]:
    """The effective config: --config (else $autocnet_config, else defaults) with the command-line overrides."""
    if "_cfg" in vars(args):
        return args._cfg
    cfg = config_mod.load(args.config)
    overrides: dict[str, Any] = {}
    if getattr(args, "db", None) is not None:
        overrides.setdefault("database", {})["url"] = args.db
    if getattr(args, "workers", None) is not None:
        overrides.setdefault("cluster", {})["n_workers"] = args.workers
    if getattr(args, "output_dir", None):
        overrides["output"] = {"dir": os.path.abspath(args.output_dir), "always": True}
    if overrides:
        _deep_update(cfg, overrides)
        try:
            cfg = config_mod.load(cfg)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(" in <dict>", " (from the command line)")) from None
    args._cfg = cfg
    return cfg


def _deep_update(base: dict, new: dict) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = v


def _check_directory(directory: str) -> None:
    if not os.path.isdir(directory):
        what = "does not exist" if not os.path.exists(directory) else "is not a directory"
        raise UsageError(f"cannot add images from {directory!r}: it {what}; give the folder holding the images")


def _check_new_catalogue(url: str) -> None:
    """A SQLite catalogue that ``add`` would create needs an existing folder (found now, not by the writer)."""
    from ..catalogue import queries

    path = queries.sqlite_file(url)
    if path is not None and os.path.isdir(path):
        raise UsageError(f"the catalogue {path} is a folder; give a file name: --db sqlite:///FILE")
    if path is not None and not os.path.isdir(os.path.dirname(path)):
        raise UsageError(f"cannot create the catalogue {path}: the folder {os.path.dirname(path)} does not exist "
                         "(--db / database.url)")


def cmd_add(args: argparse.Namespace) -> int:
    from ..adder import ImageAdder

    cfg = _config(args)
    _check_directory(args.directory)
    _check_new_catalogue(cfg["database"]["url"])
    if not _has_images(args.directory, args.ext, args.recursive):  # nothing to do: no cluster for it (as retry)
        where = f"{args.directory} or its subfolders" if args.recursive else args.directory
        print(f"0 images submitted: no file in {where} matches *.{args.ext}")
        return 0
    with ImageAdder(cfg) as ia:
        submitted = ia.add_images(args.directory, args.ext, force=args.force, recursive=args.recursive)
        skipped = list(ia.skipped.values())
        n_failed = skipped.count("failed")
        failed_before = f", {n_failed} failed before, not retried (use retry)" if n_failed else ""
        print(f"{len(submitted)} images submitted, {skipped.count('done')} already in the catalogue{failed_before}")
        return _finish(ia, args)


def _has_images(directory: str, ext: str, recursive: bool) -> bool:
    from ..adder import has_images

    try:
        return has_images(directory, ext, recursive)
    except OSError as exc:  # a folder that cannot be listed (permissions): a user error, found before a cluster
        raise UsageError(f"cannot add images from {directory!r}: it cannot be listed ({exc.strerror})") from None


def cmd_retry(args: argparse.Namespace) -> int:
    from ..adder import ImageAdder
    from ..catalogue import queries

    cfg = _config(args)
    url = cfg["database"]["url"]
    queries.require_catalogue(url)
    if not queries.job_counts(url)["failed"]:  # nothing to resubmit: no cluster for it
        print("0 failed images resubmitted (none in the catalogue)")
        return 0
    with ImageAdder(cfg) as ia:
        submitted = ia.retry_failed()
        print(f"{len(submitted)} failed images resubmitted")
        return _finish(ia, args)


def _finish(ia, args: argparse.Namespace) -> int:
    from ..views.progress import ProgressBar

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
            print(f"  {os.path.basename(path)}: {f['kind']} after {f['failures']} attempt(s): {f['message']}")


def cmd_status(args: argparse.Namespace) -> int:
    from ..catalogue import queries

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
    from ..catalogue import queries

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
    from ..catalogue import queries

    if args.bbox:
        try:
            queries.bbox_geometry(*args.bbox)
        except ValueError as exc:
            raise UsageError(f"--bbox: {exc}") from None
    rows = queries.images(_config(args)["database"]["url"], bbox=tuple(args.bbox) if args.bbox else None,
                          geometry=args.wkt, body=args.body, since=args.since,
                          overlapping=os.path.abspath(args.overlapping) if args.overlapping else None,
                          **_acquisition_filters(args))
    if args.json:
        print(json.dumps(queries.to_geojson(rows), default=str))
    else:
        for r in rows:
            print(f"{r['body'] or '-':<8} {r['path']}")
        print(f"{len(rows)} images")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..catalogue import queries

    fmt = args.format or ("gpkg" if (args.out or "").lower().endswith(".gpkg") else "geojson")
    url = _config(args)["database"]["url"]
    if fmt == "autocnet":
        return _export_autocnet(args, url)
    if args.schema:
        raise UsageError(f"--schema is for --format autocnet, not {fmt}")
    if fmt in ("gpkg", "stac") and not args.out:
        what = "FILE.gpkg (a GeoPackage" if fmt == "gpkg" else "DIR (a STAC catalog is a folder of files; it"
        raise UsageError(f"--format {fmt} needs --out {what} cannot go to stdout)")
    if args.out and fmt not in ("stac", "isd"):
        try:
            _out_file(args.out)
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"--out: {exc}") from None
    rows = queries.images(url, body=args.body, **_acquisition_filters(args))
    if fmt == "isd":
        return export_isd(rows, args.out)
    if fmt == "stac":
        from ..catalogue.exports.stac import write_stac

        try:
            counts = write_stac(rows, args.out)
        except ValueError as exc:
            raise UsageError(f"--out: {exc}") from None
        print(f"{len(rows)} images written to {os.path.join(args.out, 'catalog.json')} as {len(counts)} STAC "
              f"collections ({', '.join(f'{k}: {v}' for k, v in counts.items())})")
        return 0
    if fmt == "gpkg":
        from ..catalogue.exports.gpkg import write_gpkg

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


def _export_autocnet(args: argparse.Namespace, url: str) -> int:
    from ..catalogue import queries
    from ..catalogue.exports import autocnet

    if not queries.is_postgis(url):
        raise UsageError("--format autocnet writes AutoCNet's tables into a PostGIS schema; this catalogue is "
                         f"{queries.safe_url(url)} (give --db postgresql+psycopg://...)")
    if not args.schema:
        raise UsageError("--format autocnet needs --schema NAME (the PostGIS schema of the AutoCNet project)")
    if args.out:
        raise UsageError("--format autocnet writes into the database (--schema), not to --out")
    if _acquisition_filters(args):
        raise UsageError("--format autocnet exports every image of the body (an AutoCNet project selects its own); "
                         "drop --instrument, --from, ... or use another format")
    try:
        with queries.connect(url) as conn:
            counts = autocnet.export_autocnet(conn, args.schema, body=args.body)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"AutoCNet tables in schema {args.schema}: " + ", ".join(f"{k}: {v} rows" for k, v in counts.items()))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from ..views.plot import save_map

    print(f"map written to {save_map(_config(args)['database']['url'], args.out, args.body, dpi=args.dpi)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..views.report import write_report

    print(f"report written to {write_report(_config(args)['database']['url'], args.out, body=args.body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
