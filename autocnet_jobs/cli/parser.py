"""The ``autocnet-jobs`` argument parser: one subcommand per command module's function."""
from __future__ import annotations

import argparse

from .arguments import _extension, _int_range, _number, _out_file, _Parser, _since, _wkt
from .camera_commands import add_point_parser
from .exporting import cmd_export
from .ingest import cmd_add, cmd_retry
from .options import _acquisition_arguments
from .overlap_commands import add_overlaps_parser, add_query_arguments
from .reading import cmd_failed, cmd_query, cmd_status
from .views import cmd_plot, cmd_report


def build_parser(description: str | None = None) -> argparse.ArgumentParser:
    p = _Parser(prog="autocnet-jobs", description=description)
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
    add_query_arguments(q)
    q.add_argument("--json", action="store_true")
    common(q)
    q.set_defaults(func=cmd_query)

    e = sub.add_parser("export", help="write the catalogue with footprints")
    e.add_argument("--format", choices=["geojson", "gpkg", "stac", "autocnet", "isd", "overlaps", "overlay",
                                        "adjacency"], default=None,
                   help="geojson (one collection, lon/lat), gpkg (GeoPackage: one layer per body in its CRS), stac "
                        "(a static STAC catalog in the folder --out), autocnet (AutoCNet's images, keypoints and "
                        "cameras tables in the PostGIS schema --schema), isd (each camera as ISD JSON usgscsm "
                        "loads, --out DIR/IMAGE_STEM.json), overlaps (the overlapping pairs: --out FILE.csv or "
                        "FILE.geojson), overlay (AutoCNet's overlay faces: --out FILE.geojson or FILE.csv) or "
                        "adjacency (AutoCNet's adjacency JSON: --out FILE.json); default: from the --out extension, "
                        "else geojson")
    e.add_argument("--out", help="output file, or folder for stac (default: stdout; required for gpkg and stac)")
    e.add_argument("--schema", help="PostGIS schema the autocnet format writes its tables into (created if missing)")
    e.add_argument("--body")
    e.add_argument("--bbox", nargs=4, type=_number, metavar=("MINLON", "MINLAT", "MAXLON", "MAXLAT"),
                   help="with --format overlay: only the images whose footprint meets this lon/lat box")
    _acquisition_arguments(e)
    common(e)
    e.set_defaults(func=cmd_export)

    add_point_parser(sub, common)
    add_overlaps_parser(sub, common)

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
