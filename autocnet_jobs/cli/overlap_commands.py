"""The overlap graph on the command line: ``overlaps --rebuild``, ``query --overlaps``, ``export --format overlaps``
(the pairs), ``overlay`` (AutoCNet's faces) and ``adjacency`` (AutoCNet's ``CandidateGraph.from_adjacency`` JSON)."""
from __future__ import annotations

import argparse
import json
import os

from .arguments import _number
from .options import UsageError, _config


def add_overlaps_parser(sub, common) -> None:
    o = sub.add_parser("overlaps", help="the overlap graph: counts, or --rebuild to recompute every pair")
    o.add_argument("--rebuild", action="store_true",
                   help="recompute every pair from the footprints (a catalogue written before pairs existed)")
    common(o)
    o.set_defaults(func=cmd_overlaps)


def add_query_arguments(q: argparse.ArgumentParser) -> None:
    q.add_argument("--overlaps", metavar="IMAGE", help="the images overlapping IMAGE (a path in the catalogue)")
    q.add_argument("--min-fraction", type=_number, metavar="F",
                   help="with --overlaps: only partners covering at least F (0..1) of IMAGE or of themselves")


def cmd_overlaps(args: argparse.Namespace) -> int:
    from ..catalogue import overlap_queries, queries

    url = _config(args)["database"]["url"]
    queries.require_catalogue(url)
    if args.rebuild:
        from ..catalogue.store import open_store

        store = open_store(url)
        store.connect()
        try:
            n = store.rebuild_overlaps()
        finally:
            store.close()
        print(f"{n} overlapping pairs written")
        return 0
    graph = overlap_queries.overlap_graph(url)
    alone = sorted(n for n in graph.nodes if graph.degree(n) == 0)
    print(f"{graph.number_of_nodes()} images with a footprint, {graph.number_of_edges()} overlapping pairs, "
          f"{len(alone)} with no partner")
    for path in alone:
        print(f"  no partner: {path}")
    return 0


def query_overlaps(args: argparse.Namespace, url: str) -> int:
    from ..catalogue import overlap_queries

    if args.min_fraction is not None and not 0 <= args.min_fraction <= 1:
        raise UsageError(f"--min-fraction {args.min_fraction:g}: give a fraction from 0 to 1")
    image = os.path.abspath(args.overlaps)
    rows = overlap_queries.partners(url, image, args.min_fraction)
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print(f"{r['fraction']:6.1%} {r['partner_fraction']:6.1%} {r['area_m2'] / 1e6:12.3f} km2  {r['path']}")
        print(f"{len(rows)} overlapping images")
    return 0


def export_overlaps(url: str, out: str | None, body: str | None, fmt: str = "overlaps",
                    filters: dict | None = None) -> int:
    """``export --format overlaps|overlay|adjacency``; ``filters`` (the acquisition filters given) select the
    images of an overlay; the pairs and the adjacency are of every image of the body."""
    from ..catalogue import overlap_queries

    if filters and fmt != "overlay":
        raise UsageError(f"--format {fmt} is of every image (of --body); --instrument, --from, ... select the "
                         "images of --format overlay only")
    if fmt == "overlay":
        return _export_overlay(url, out, body, filters or {})
    if fmt == "adjacency":
        return _export_adjacency(url, out, body)
    if not out or not out.lower().endswith((".csv", ".geojson", ".json")):
        raise UsageError("--format overlaps needs --out FILE.csv (one row per pair) or FILE.geojson "
                         "(the intersections)")
    n = overlap_queries.write_pairs(url, out, body=body)
    print(f"{n} overlapping pairs written to {out}")
    return 0


def _export_overlay(url: str, out: str | None, body: str | None, filters: dict) -> int:
    from ..catalogue import queries
    from ..catalogue.overlay import write_overlay

    if not out or not out.lower().endswith((".csv", ".geojson", ".json")):
        raise UsageError("--format overlay needs --out FILE.geojson (a feature per face, with its images) or "
                         "FILE.csv (intersections and WKT, AutoCNet's overlay table)")
    queries.require_catalogue(url)
    paths = None
    if filters:     # a query selects the images; the faces are those of their footprints
        paths = [r["path"] for r in queries.images(url, body=body, with_footprint=False, **filters)]
    n = write_overlay(url, out, body=body, paths=paths)
    print(f"{n} overlay faces written to {out}")
    return 0


def _export_adjacency(url: str, out: str | None, body: str | None) -> int:
    from ..catalogue import overlap_queries, queries

    if not out or not out.lower().endswith(".json"):
        raise UsageError("--format adjacency needs --out FILE.json (image path -> overlapping paths, as "
                         "AutoCNet's CandidateGraph.from_adjacency reads it)")
    queries.require_catalogue(url)
    adjacency = overlap_queries.adjacency(url, body=body)
    tmp = f"{out}.tmp"
    with open(tmp, "w") as f:
        json.dump(adjacency, f, indent=1)
    os.replace(tmp, out)
    print(f"{len(adjacency)} images and their overlapping images written to {out}")
    return 0
