"""``export``: GeoJSON, GeoPackage, STAC, AutoCNet's tables and ISD files."""
from __future__ import annotations

import argparse
import json
import os

from .arguments import _out_file
from .camera_commands import export_isd
from .options import UsageError, _acquisition_filters, _config


def cmd_export(args: argparse.Namespace) -> int:
    from ..catalogue import queries
    from ..catalogue.exports.files import replaced_when_written

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
    if args.bbox is not None and fmt != "overlay":
        raise UsageError(f"--bbox selects the images of --format overlay, not {fmt} (see autocnet-jobs query --bbox)")
    if fmt in ("overlaps", "overlay", "adjacency"):
        from .overlap_commands import export_overlaps
        return export_overlaps(url, args.out, args.body, fmt, _acquisition_filters(args), args.bbox)
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
        with replaced_when_written(args.out) as f:
            f.write(doc)
        print(f"{len(rows)} images written to {args.out}")
    else:
        print(doc)
    return 0


def _export_autocnet(args: argparse.Namespace, url: str) -> int:
    from ..catalogue import queries
    from ..catalogue.exports import autocnet
    from ..catalogue.overlay import overlay

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
            counts = autocnet.export_autocnet(conn, args.schema, body=args.body,
                                              faces=lambda body: overlay(url, body=body))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"AutoCNet tables in schema {args.schema}: " + ", ".join(f"{k}: {v} rows" for k, v in counts.items()))
    return 0
