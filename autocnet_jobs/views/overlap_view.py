"""The overlap graph in what people look at (issue 26): its summary for the report, its layer on the map.

The graph is the catalogue's (``catalogue.overlap_queries.overlap_graph``: a node per image with a footprint, an
edge per overlapping pair). The summary says how well the images tie together: pairs, partners per image, and the
images with no partner, which a control network cannot tie. On the map an edge is a line between the two
footprints' anchor points and an image with no partner is outlined and ringed in its own colour.
"""
from __future__ import annotations

import statistics
from typing import Any, Callable, Iterable

EDGE_COLOUR = "#2ca02c"      # no status uses green: an edge never reads as a footprint's state
LONELY_COLOUR = "#9467bd"    # purple outline and ring: an image with no partner
LONELY_LISTED = 12           # images with no partner named beside an unnumbered (large) map, at most


def read_graph(url: str, body: str | None = None):
    """The catalogue's overlap graph (networkx), or None for a catalogue older than the ``overlaps`` table
    (schema 6): a view of such a catalogue shows no graph rather than failing."""
    from sqlalchemy import inspect

    from ..catalogue import overlap_queries, queries

    with queries.connect(url) as conn:
        if not inspect(conn).has_table("overlaps"):
            return None
    return overlap_queries.overlap_graph(url, body=body)


def summary(graph) -> dict[str, Any]:
    """The graph in numbers, JSON-ready: ``images`` (with a footprint), ``pairs``, ``min``/``median``/``max``
    partners per image (None without images), ``degree`` (path -> partners) and ``no_partner`` (paths, sorted)."""
    degree = {path: int(d) for path, d in sorted(graph.degree())}
    values = list(degree.values())
    return {"images": len(degree), "pairs": graph.number_of_edges(),
            "min": min(values) if values else None,
            "median": statistics.median(values) if values else None,
            "max": max(values) if values else None,
            "degree": degree, "no_partner": [p for p, d in degree.items() if d == 0]}


def overlap_summary(url: str, body: str | None = None) -> dict[str, Any] | None:
    """:func:`summary` of the catalogue at ``url`` (of one body), or None where it has no ``overlaps`` table."""
    graph = read_graph(url, body)
    return None if graph is None else summary(graph)


def lonely(graph, path: str) -> bool:
    """Whether ``path`` is an image of the graph with no partner (False where the graph does not know it)."""
    return graph is not None and path in graph and graph.degree(path) == 0


def anchor(fp) -> tuple[float, float]:
    """Where a footprint's edges meet: a point inside its largest part (a footprint split at +-180 is two parts;
    their joint centroid would fall in the middle of the map, far from both)."""
    part = max(getattr(fp, "geoms", [fp]), key=lambda p: p.area)
    point = part.representative_point()
    return float(point.x), float(point.y)


def edge_segments(p: tuple[float, float], q: tuple[float, float]) -> list[list[tuple[float, float]]]:
    """The line from ``p`` to ``q`` the short way round in longitude: two segments, one at each edge of the map,
    when that way crosses +-180 (a pair across the seam must not draw a line across the whole map)."""
    (x0, y0), (x1, y1) = p, q
    if abs(x1 - x0) <= 180:
        return [[p, q]]
    shifted = x1 - 360 if x1 > x0 else x1 + 360          # q seen from p's side of the seam
    seam = -180.0 if shifted < x0 else 180.0
    t = (seam - x0) / (shifted - x0)
    y = y0 + t * (y1 - y0)
    return [[p, (seam, y)], [(-seam, y), q]]


def half_edges(p: tuple[float, float], q: tuple[float, float]) -> tuple[list, list]:
    """An edge cut at its middle (the short way round): (the segments from ``p`` to the middle, those from ``q``
    to it), so each half is drawn as its own image's artist."""
    (x0, y0), (x1, y1) = p, q
    if abs(x1 - x0) > 180:
        x1 = x1 - 360 if x1 > x0 else x1 + 360
    mx = (x0 + x1) / 2
    middle = ((mx + 180) % 360 - 180 if abs(mx) > 180 else mx, (y0 + y1) / 2)
    return edge_segments(p, middle), edge_segments(q, middle)


def draw_overlaps(ax, entries: list[dict[str, Any]], graph, many: bool,
                  paths_of: Callable[[Any], list]) -> None:
    """The graph's layer on one map panel: its edges among ``entries`` and the images with no partner outlined
    and ringed in LONELY_COLOUR. Each artist belongs to one image and carries its name as gid, as every artist
    of an image on the map does: an edge is two halves, each image's from its anchor to the edge's middle. On a
    large map, as the footprints there, one collection of whole edges (gid ``overlaps``) and one of the images
    with no partner (gid ``no partner``). ``paths_of`` makes a footprint's matplotlib paths (the map's own)."""
    from matplotlib.collections import LineCollection, PathCollection
    from matplotlib.patches import PathPatch

    anchors = {e["path"]: anchor(e["_fp"]) for e in entries}
    edges = [(a, b) for a, b in graph.edges if a in anchors and b in anchors]
    style = {"colors": EDGE_COLOUR, "linewidths": 0.8, "alpha": 0.85, "zorder": 4}
    if many and edges:
        segments = [seg for a, b in edges for seg in edge_segments(anchors[a], anchors[b])]
        ax.add_collection(LineCollection(segments, gid="overlaps", **style), autolim=False)
    elif edges:
        halves: dict[str, list] = {}
        for a, b in edges:
            from_a, from_b = half_edges(anchors[a], anchors[b])
            halves.setdefault(a, []).extend(from_a)
            halves.setdefault(b, []).extend(from_b)
        for e in entries:
            if e["path"] in halves:
                ax.add_collection(LineCollection(halves[e["path"]], gid=e["name"], **style), autolim=False)
    alone = [e for e in entries if lonely(graph, e["path"])]
    if not alone:
        return
    if many:
        paths = [p for e in alone for p in paths_of(e["_fp"])]
        ax.add_collection(PathCollection(paths, facecolors="none", edgecolors=LONELY_COLOUR, linewidths=1.0,
                                         zorder=4.5, gid="no partner"), autolim=False)
        ax.plot([anchors[e["path"]][0] for e in alone], [anchors[e["path"]][1] for e in alone], marker="o",
                markersize=5, markerfacecolor="none", markeredgecolor=LONELY_COLOUR, linestyle="none", zorder=5,
                gid="no partner")
        return
    for e in alone:
        for path in paths_of(e["_fp"]):
            ax.add_patch(PathPatch(path, facecolor="none", edgecolor=LONELY_COLOUR, linewidth=1.4,
                                   linestyle="--", zorder=4.5, gid=e["name"]))
        x, y = anchors[e["path"]]
        ax.plot([x], [y], marker="o", markersize=9, markerfacecolor="none", markeredgecolor=LONELY_COLOUR,
                markeredgewidth=1.4, linestyle="none", zorder=5, gid=e["name"])


def legend_lines(drawn: Iterable[dict[str, Any]], graph, numbered: bool) -> list[tuple[str, str, bool]]:
    """The side panel's lines for the graph: the pairs and the images with no partner (named here when the map
    is not numbered; a numbered map marks them in its key instead). (text, colour, bold) as the panel takes."""
    drawn = list(drawn)
    paths = {e["path"] for e in drawn}
    pairs = sum(1 for a, b in graph.edges if a in paths and b in paths)
    alone = sorted((e for e in drawn if lonely(graph, e["path"])), key=lambda e: (e["name"], e["path"]))
    lines = [(f"\u2014 overlapping pairs: {pairs}", EDGE_COLOUR, True),
             (f"\u25cb no partner (cannot be tied): {len(alone)}", LONELY_COLOUR, True)]
    if alone and not numbered:
        lines += [("    " + e["name"], "#222222", False) for e in alone[:LONELY_LISTED]]
        if len(alone) > LONELY_LISTED:
            lines.append((f"    ... and {len(alone) - LONELY_LISTED} more (see the report)", "#555555", False))
    return lines
