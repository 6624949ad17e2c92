"""A map of a catalogue: footprints on a lon/lat grid, coloured by job status, failures listed beside it.

One panel per body (a Moon footprint on a Mars grid would say nothing), a plate carrée grid in planetocentric
east-positive degrees, longitude [-180, 180]. Every polygon part is drawn as its own patch, so a footprint
split at the antimeridian shows as two pieces at the map's edges, never as a band or a line across the map.
Footprints too small to see at this scale get a ring marker too. Failed images and images without a footprint
cannot be drawn; they are listed in the panel on the right with their reasons. Over the footprints, the overlap
graph (views/overlap_view.py): a line per overlapping pair, and the images with no partner outlined in purple.

Rendering uses matplotlib's Agg canvas directly (no pyplot, no global backend switch), so it works headless,
in threads and in notebooks alike.
"""
from __future__ import annotations

import math
import os
import textwrap
from typing import Any, Iterable

import numpy as np

STATUS_COLOURS = {"done": "#1f77b4", "failed": "#d62728", "pending": "#ff7f0e", "no footprint": "#7f7f7f"}
NUMBERED_MAX = 60        # footprints numbered on the map (and keyed in the side panel) up to this many
SMALL_DEGREES = 2.0      # footprints smaller than this (both sides, degrees) also get a ring marker
FONT = 7.5


def catalogue_entries(url: str, body: str | None = None) -> list[dict[str, Any]]:
    """Every image of the catalogue at ``url`` with its job state: image rows joined with job rows on path.

    Keys: name, path, body, state (done | failed | queued | running), footprint, footprint_source,
    footprint_note, n_keypoints, kind, reason, attempts, worker (and error_type, traceback, log where the
    catalogue records them). A job that failed before its image was ever
    read has no image row: it is kept (body None) whatever ``body`` asks for, so no failure is hidden.
    """
    from ..catalogue import queries

    images = {r["path"]: r for r in queries.images(url, body=body)}
    jobs = {r["path"]: r for r in queries.job_rows(url)}
    out = []
    for path in sorted(set(images) | set(jobs)):
        img, job = images.get(path), jobs.get(path)
        if img is None and body is not None and job["state"] != "failed":
            continue  # an image of another body, or not read yet
        e: dict[str, Any] = {"path": path, "name": (img or {}).get("name") or os.path.basename(path),
                             "body": None, "state": job["state"] if job else "done", "footprint": None,
                             "footprint_source": None, "footprint_note": None, "n_keypoints": None,
                             "kind": None, "reason": None, "attempts": 0, "worker": None}
        if img is not None:
            e.update({k: img.get(k) for k in ("body", "footprint", "footprint_source", "footprint_note",
                                              "n_keypoints", "width", "height", "driver", "updated_at")})
        if job is not None:
            e.update(kind=job["error_kind"], reason=job["last_error"], attempts=job["attempts"],
                     worker=job["worker"], error_type=job.get("error_type"), traceback=job.get("traceback"),
                     log=job.get("log"))
        out.append(e)
    return out


def status_of(entry: dict[str, Any]) -> str:
    """done | failed | pending | no footprint: the colour an entry gets."""
    from ..catalogue.queries import JobState

    state = JobState(entry.get("state") or "done")
    if state is JobState.FAILED:
        return "failed"
    if not state.terminal:
        return "pending"
    return "done" if _footprint(entry) is not None else "no footprint"


def plot_footprints(url_or_rows: str | Iterable[dict[str, Any]], body: str | None = None, *,
                    title: str | None = None, dpi: int = 100, numbered: bool | None = None, graph=None,
                    overlaps: bool = True):
    """The footprint map of a catalogue URL (or of rows from :func:`catalogue_entries` / ``queries.images``).

    ``body`` keeps one body (case-insensitive). ``numbered`` labels footprints with numbers keyed in the side
    panel (default: when there are at most 60). ``graph`` is the overlap graph drawn over the footprints (nodes
    the rows' paths; read from the catalogue when given a URL); ``overlaps=False`` draws none. Returns a
    ``matplotlib.figure.Figure`` on an Agg canvas: ``fig.savefig("map.png")``; in a notebook it displays itself.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .overlap_view import draw_overlaps, legend_lines, lonely, read_graph

    if isinstance(url_or_rows, (str, os.PathLike)):
        entries = catalogue_entries(os.fspath(url_or_rows), body)
        if graph is None and overlaps:
            graph = read_graph(os.fspath(url_or_rows), body)
    else:
        entries = [dict(r) for r in url_or_rows]
        if body is not None:
            entries = [e for e in entries if e.get("body") is None and e.get("state") == "failed"
                       or (e.get("body") or "").lower() == body.lower()]
    for e in entries:
        e.setdefault("name", os.path.basename(e.get("path") or "?"))
        e["_status"] = status_of(e)
        e["_fp"] = _footprint(e)
    for i, e in enumerate(entries):
        e.setdefault("path", f"#{i}")
    drawn = sorted((e for e in entries if e["_fp"] is not None), key=lambda e: (e["name"], e["path"]))
    bodies = sorted({e.get("body") or "unknown body" for e in drawn}) or [body or "no footprints"]
    if numbered is None:
        numbered = len(drawn) <= NUMBERED_MAX
    numbers = map_numbers(drawn)
    graph = graph if overlaps else None
    for e in drawn:
        e["_number"] = numbers[e["path"]]
        e["_lonely"] = lonely(graph, e["path"])

    ncols = 1 if len(bodies) == 1 else 2
    nrows = math.ceil(len(bodies) / ncols)
    map_w, map_h, side_w = 6.4, 3.9, 5.6
    fig = Figure(figsize=(map_w * ncols + side_w, max(map_h * nrows, 5.0)), dpi=dpi)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(nrows, ncols + 1, width_ratios=[map_w] * ncols + [side_w],
                            left=0.05, right=0.99, top=0.90, bottom=0.08, wspace=0.22, hspace=0.45)
    for k, name in enumerate(bodies):
        ax = fig.add_subplot(grid[k // ncols, k % ncols])
        mine = [e for e in drawn if (e.get("body") or "unknown body") == name]
        _draw_panel(ax, name, mine, numbered)
        if graph is not None and mine:
            draw_overlaps(ax, mine, graph, len(mine) > NUMBERED_MAX, polygon_paths)
    side = fig.add_subplot(grid[:, ncols])
    extra = legend_lines(drawn, graph, numbered) if graph is not None else []
    _draw_side(side, entries, drawn, numbered, fig.get_figheight() * 0.82, extra)
    counts = {s: sum(e["_status"] == s for e in entries) for s in STATUS_COLOURS}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    fig.suptitle(title or f"Image footprints{f' on {body}' if body else ''}: {len(entries)} images"
                 f"{f' ({summary})' if summary else ''}", fontsize=11)
    for e in entries:
        for key in ("_status", "_fp", "_number", "_lonely"):
            e.pop(key, None)
    return fig


def save_map(url_or_rows, out: str | os.PathLike, body: str | None = None, **kwargs) -> str:
    """Render :func:`plot_footprints` to ``out`` (written to a temp name, then renamed): a PNG, or an SVG where
    ``out`` ends in .svg (its artists' gids become element ids: each image's name)."""
    fig = plot_footprints(url_or_rows, body, **kwargs)
    out = os.fspath(out)
    fmt = "svg" if out.lower().endswith(".svg") else "png"
    tmp = f"{out}.tmp{os.getpid()}.{fmt}"
    fig.savefig(tmp, format=fmt)
    os.replace(tmp, out)
    return out


def map_numbers(entries: Iterable[dict[str, Any]]) -> dict[str, int]:
    """The number each drawable entry carries on a numbered map (by name, then path), keyed by path."""
    drawable = sorted((e for e in entries if _footprint(e) is not None), key=lambda e: (e["name"], e["path"]))
    return {e["path"]: i for i, e in enumerate(drawable, 1)}


def polygon_paths(geom) -> list:
    """One closed matplotlib ``Path`` per polygon part (exterior plus holes); parts are never joined."""
    from matplotlib.path import Path

    from ..extractors.antimeridian import polygons

    paths = []
    for poly in polygons(geom):
        if poly.is_empty:
            continue
        rings = [poly.exterior, *poly.interiors]
        paths.append(Path.make_compound_path(*[Path(np.asarray(r.coords)[:, :2], closed=True) for r in rings]))
    return paths


# ---- drawing ---------------------------------------------------------------------------------------------
def _footprint(entry: dict[str, Any]):
    """The entry's footprint in [-180, 180] (cut and shifted when a caller passes 0-360 data), or None."""
    fp = entry.get("footprint")
    if fp is None or fp.is_empty:
        return None
    minx, _, maxx, _ = fp.bounds
    if minx < -180 or maxx > 180:
        from ..extractors.antimeridian import normalise

        fp = normalise(fp)
    return fp if not fp.is_empty else None


def _draw_panel(ax, body: str, entries: list[dict[str, Any]], numbered: bool) -> None:
    from matplotlib.patches import PathPatch

    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_aspect("equal")
    ax.set_xticks(range(-180, 181, 60))
    ax.set_yticks(range(-90, 91, 30))
    ax.tick_params(labelsize=FONT)
    ax.grid(True, color="#cccccc", linewidth=0.5, zorder=0)
    ax.set_facecolor("#fbfbf8")
    ax.set_xlabel("longitude (°E)", fontsize=FONT)
    ax.set_ylabel("planetocentric latitude (°)", fontsize=FONT)
    ax.set_title(f"{body}: {len(entries)} footprint{'s' if len(entries) != 1 else ''}", fontsize=9)
    if not entries:
        ax.text(0, 0, "no footprints", ha="center", va="center", color="#888888", fontsize=9)
        return
    # Large footprints underneath, small ones on top.
    order = sorted(entries, key=lambda e: -e["_fp"].area)
    if len(order) > NUMBERED_MAX:
        _draw_many(ax, order)
        return
    labels: list[tuple[float, float]] = []
    for z, e in enumerate(order):
        colour = STATUS_COLOURS[e["_status"]]
        fp = e["_fp"]
        alpha = 0.22 if fp.area < 0.1 * 360 * 180 else 0.12  # global maps stack without hiding the rest
        for path in polygon_paths(fp):
            ax.add_patch(PathPatch(path, facecolor=colour, edgecolor=colour, alpha=alpha, linewidth=0,
                                   zorder=2 + z * 0.01, gid=e["name"]))
            ax.add_patch(PathPatch(path, facecolor="none", edgecolor=colour, linewidth=0.9,
                                   zorder=3 + z * 0.01, gid=e["name"]))
        minx, miny, maxx, maxy = fp.bounds
        point = fp.representative_point()
        if maxx - minx < SMALL_DEGREES and maxy - miny < SMALL_DEGREES:
            ax.plot([point.x], [point.y], marker="o", markersize=6, markerfacecolor="none",
                    markeredgecolor=colour, markeredgewidth=1.2, linestyle="none", zorder=5, gid=e["name"])
        if numbered:
            x, y = _free_spot(point.x, point.y, labels)
            ax.annotate(str(e["_number"]), (x, y), xytext=(4, 3), textcoords="offset points", fontsize=6.5,
                        color="#222222", zorder=6, gid=e["name"])


def _draw_many(ax, order: list[dict[str, Any]]) -> None:
    """A large catalogue: one collection of separate paths (and one set of markers) per status, so thousands
    of footprints draw in seconds. Artists carry the gid ``status:<status>``."""
    from matplotlib.collections import PathCollection

    for status, colour in STATUS_COLOURS.items():
        mine = [e for e in order if e["_status"] == status]
        if not mine:
            continue
        paths = [p for e in mine for p in polygon_paths(e["_fp"])]
        ax.add_collection(PathCollection(paths, facecolors=colour, edgecolors=colour, alpha=0.15, linewidths=0.6,
                                         zorder=3, gid=f"status:{status}"), autolim=False)
        small = [e["_fp"].representative_point() for e in mine
                 if max(e["_fp"].bounds[2] - e["_fp"].bounds[0], e["_fp"].bounds[3] - e["_fp"].bounds[1])
                 < SMALL_DEGREES]
        if small:
            ax.plot([p.x for p in small], [p.y for p in small], marker="o", markersize=3, markerfacecolor="none",
                    markeredgecolor=colour, markeredgewidth=0.8, linestyle="none", zorder=5, gid=f"status:{status}")


def _free_spot(x: float, y: float, used: list[tuple[float, float]]) -> tuple[float, float]:
    """A label position near (x, y) at least a few degrees from labels already placed."""
    for step in range(12):
        cand = (x, y - 9.0 * step if y > -45 else y + 9.0 * step)
        if all(abs(cand[0] - u[0]) > 14 or abs(cand[1] - u[1]) > 8 for u in used):
            used.append(cand)
            return cand
    used.append((x, y))
    return x, y


def _draw_side(ax, entries: list[dict[str, Any]], drawn: list[dict[str, Any]], numbered: bool,
               height_in: float, graph_lines: list[tuple[str, str, bool]]) -> None:
    ax.axis("off")
    line_in = FONT * 1.5 / 72.0
    capacity = max(int(height_in / line_in), 10)
    lines: list[tuple[str, str, bool]] = []  # (text, colour, bold)
    counts = {s: sum(e["_status"] == s for e in entries) for s in STATUS_COLOURS}
    for status, colour in STATUS_COLOURS.items():
        if counts[status] or status in ("done", "failed"):
            lines.append((f"\u25a0 {status}: {counts[status]}", colour, True))
    lines += graph_lines
    lines.append(("", "k", False))
    failed = [e for e in entries if e["_status"] == "failed"]
    missing = [e for e in entries if e["_status"] == "no footprint"]
    for heading, group, colour in (("failed images", failed, STATUS_COLOURS["failed"]),
                                   ("images without a footprint", missing, STATUS_COLOURS["no footprint"])):
        if not group:
            continue
        lines.append((f"{heading} ({len(group)})", colour, True))
        for e in group:
            why = e.get("reason") if e["_status"] == "failed" else e.get("footprint_note")
            kind = e.get("kind")
            if e["_status"] == "failed":
                why = f"{kind or 'error'} after {e.get('attempts') or '?'} attempt(s): {why or 'no message'}"
            lines.append((_short(e["name"], 62), "#222222", False))
            for part in textwrap.wrap(_strip_paths(why or "no reason recorded"), 74)[:2]:
                lines.append(("    " + part, "#555555", False))
        lines.append(("", "k", False))
    # A numbered map's key marks the images with no partner (\u25cb) rather than naming them twice.
    key = [(e["_number"], ("\u25cb " if e.get("_lonely") else "") + e["name"], STATUS_COLOURS[e["_status"]])
           for e in drawn] if numbered else []
    if key and capacity - len(lines) < 3:
        key = []  # failures first: the key only where there is room for it
    if len(lines) > capacity:
        left = len(lines) - capacity + 1
        lines = lines[:capacity - 1] + [(f"... {left} more lines (see the report or `autocnet-jobs failed`)",
                                         "#555555", False)]
    step = 1.0 / capacity

    def put(x: float, row: int, text: str, colour: str, bold: bool = False) -> None:
        ax.text(x, 1.0 - row * step, text, transform=ax.transAxes, ha="left", va="top", fontsize=FONT,
                color=colour, fontweight="bold" if bold else "normal")

    for i, (text, colour, bold) in enumerate(lines):
        put(0.0, i, text, colour, bold)
    if not key:
        return
    top = len(lines)
    put(0.0, top, f"footprints ({len(key)})", "#222222", True)
    room = capacity - top - 1
    if len(key) <= room:
        per_column, shown = len(key), key
    elif len(key) <= 2 * room:
        per_column, shown = math.ceil(len(key) / 2), key
    else:
        per_column, shown = room - 1, key[:2 * (room - 1)]
        put(0.0, top + 1 + per_column, f"... and {len(key) - len(shown)} more", "#555555")
    width = 58 if per_column == len(shown) else 30
    for j, (number, name, colour) in enumerate(shown):
        col, row = divmod(j, per_column)
        put(col * 0.5, top + 1 + row, f"{number:>3}  {_short(name, width)}", colour)


def _short(name: str, n: int) -> str:
    return name if len(name) <= n else name[: n // 2 - 1] + "…" + name[-(n - n // 2):]


def _strip_paths(message: str) -> str:
    """Messages name whole paths; beside a map the file name is enough."""
    words = []
    for w in message.split():
        core = w.rstrip(":,;.")
        words.append(os.path.basename(core) + w[len(core):] if core.startswith("/") else w)
    return " ".join(words)
