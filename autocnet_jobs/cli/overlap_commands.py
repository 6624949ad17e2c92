"""The overlap graph on the command line: ``overlaps --rebuild``, ``query --overlaps``, ``export --format overlaps``
(the pairs), ``overlay`` (AutoCNet's faces) and ``adjacency`` (AutoCNet's ``CandidateGraph.from_adjacency`` JSON)."""
from __future__ import annotations

import argparse
import json
import os

from .arguments import _number, _quantity
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
    same = q.add_mutually_exclusive_group()
    same.add_argument("--same-instrument", dest="same_instrument", action="store_const", const=True,
                      help="with --overlaps: only partners taken by IMAGE's instrument (and spacecraft)")
    same.add_argument("--different-instrument", dest="same_instrument", action="store_const", const=False,
                      help="with --overlaps: only partners taken by another instrument (both known)")
    q.add_argument("--max-time-gap", type=_quantity, metavar="SECONDS",
                   help="with --overlaps: only partners acquired at most SECONDS apart (start times)")
    q.add_argument("--min-convergence", type=_quantity, metavar="DEG",
                   help="with --overlaps: only partners whose views converge by at least DEG degrees at the "
                        "overlap's centre (stereo; pairs without two cameras are left out)")
    q.add_argument("--max-convergence", type=_quantity, metavar="DEG",
                   help="with --overlaps: only partners whose views converge by at most DEG degrees")
    q.add_argument("--max-incidence-diff", type=_quantity, metavar="DEG",
                   help="with --overlaps: only partners whose solar incidence at the overlap's centre differs "
                        "from IMAGE's by at most DEG degrees (illumination match)")


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
    filters = pair_filters(args)
    image = os.path.abspath(args.overlaps)
    rows = overlap_queries.partners(url, image, args.min_fraction, **filters)
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print(f"{r['fraction']:6.1%} {r['partner_fraction']:6.1%} {r['area_m2'] / 1e6:12.3f} km2 "
                  f"{_degrees(r['convergence_deg'])} {_degrees(r['incidence_diff_deg'])}  {r['path']}")
        print(f"{len(rows)} overlapping images (columns: fraction of IMAGE, of the partner, area, convergence, "
              "incidence difference)")
    return 0


def pair_filters(args: argparse.Namespace) -> dict:
    """overlap_queries.partners' filters from the query flags, checked."""
    for flag, value, high in (("--max-time-gap", args.max_time_gap, None),
                              ("--min-convergence", args.min_convergence, 180.0),
                              ("--max-convergence", args.max_convergence, 180.0),
                              ("--max-incidence-diff", args.max_incidence_diff, 180.0)):
        if value is not None and (value < 0 or (high is not None and value > high)):
            unit = "seconds, 0 or more" if high is None else "degrees from 0 to 180"
            raise UsageError(f"{flag} {value:g}: give {unit}")
    if None not in (args.min_convergence, args.max_convergence) and args.min_convergence > args.max_convergence:
        raise UsageError(f"--min-convergence {args.min_convergence:g} is above --max-convergence "
                         f"{args.max_convergence:g}")
    return {"same_instrument": args.same_instrument, "max_time_gap_s": args.max_time_gap,
            "min_convergence": args.min_convergence, "max_convergence": args.max_convergence,
            "max_incidence_diff": args.max_incidence_diff}


def _degrees(value: float | None) -> str:
    return f"{value:6.2f}°" if value is not None else "     -"


def export_overlaps(url: str, out: str | None, body: str | None, fmt: str = "overlaps",
                    filters: dict | None = None, bbox: list[float] | None = None) -> int:
    """``export --format overlaps|overlay|adjacency``; ``filters`` (the acquisition filters given) select the
    images of an overlay; the pairs and the adjacency are of every image of the body."""
    from ..catalogue import overlap_queries

    if filters and fmt != "overlay":
        raise UsageError(f"--format {fmt} is of every image (of --body); --instrument, --from, ... select the "
                         "images of --format overlay only")
    if fmt == "overlay":
        return _export_overlay(url, out, body, filters or {}, bbox)
    if fmt == "adjacency":
        return _export_adjacency(url, out, body)
    if not out or not out.lower().endswith((".csv", ".geojson", ".json")):
        raise UsageError("--format overlaps needs --out FILE.csv (one row per pair) or FILE.geojson "
                         "(the intersections)")
    n = overlap_queries.write_pairs(url, out, body=body)
    print(f"{n} overlapping pairs written to {out}")
    return 0


def _export_overlay(url: str, out: str | None, body: str | None, filters: dict, bbox: list[float] | None) -> int:
    from ..catalogue import queries
    from ..catalogue.overlay import write_overlay

    if not out or not out.lower().endswith((".csv", ".geojson", ".json")):
        raise UsageError("--format overlay needs --out FILE.geojson (a feature per face, with its images) or "
                         "FILE.csv (intersections and WKT, AutoCNet's overlay table)")
    queries.require_catalogue(url)
    paths = None
    if filters:     # a query selects the images; the faces are those of their footprints
        paths = [r["path"] for r in queries.images(url, body=body, with_footprint=False, **filters)]
    if bbox is not None and not (-180 <= bbox[0] < bbox[2] <= 180 and -90 <= bbox[1] < bbox[3] <= 90):
        raise UsageError("--bbox MINLON MINLAT MAXLON MAXLAT: lon in [-180, 180], lat in [-90, 90], min < max")
    n = write_overlay(url, out, body=body, paths=paths, bbox=tuple(bbox) if bbox is not None else None)
    print(f"{n} overlay faces written to {out}")
    return 0


def _export_adjacency(url: str, out: str | None, body: str | None) -> int:
    from ..catalogue import overlap_queries, queries
    from ..catalogue.exports.files import replaced_when_written

    if not out or not out.lower().endswith(".json"):
        raise UsageError("--format adjacency needs --out FILE.json (image path -> overlapping paths, as "
                         "AutoCNet's CandidateGraph.from_adjacency reads it)")
    queries.require_catalogue(url)
    adjacency = overlap_queries.adjacency(url, body=body)
    with replaced_when_written(out) as f:
        json.dump(adjacency, f, indent=1)
    print(f"{len(adjacency)} images and their overlapping images written to {out}")
    return 0
