"""``status``, ``failed`` and ``query``: the catalogue read back."""
from __future__ import annotations

import argparse
import json
import os

from .options import UsageError, _acquisition_filters, _config


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
    if args.overlaps:
        from .overlap_commands import query_overlaps
        return query_overlaps(args, _config(args)["database"]["url"])
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
