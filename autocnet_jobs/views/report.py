"""One self-contained HTML page about a catalogue: job counts, failures with reasons, the overlap graph (pairs,
partners per image, the images no control network can tie), the footprint map and a table of images. No
external files, scripts or fonts: the map is embedded as a base64 PNG, so the page can be mailed, attached to
a ticket or opened from a compute node's scratch space as is.
"""
from __future__ import annotations

import base64
import html
import io
import os
from datetime import datetime, timezone
from typing import Any

from .overlap_view import LONELY_COLOUR, read_graph, summary
from .plot import NUMBERED_MAX, STATUS_COLOURS, catalogue_entries, map_numbers, plot_footprints, status_of

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 24px 32px;
       color: #1d1d1d; background: #ffffff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 3px; }
.meta { color: #555; margin: 0 0 12px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #d8d8d8; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.counts td, .counts th { min-width: 64px; }
.reason { white-space: pre-wrap; font-family: "DejaVu Sans Mono", monospace; font-size: 12px; max-width: 70em; }
details summary { cursor: pointer; color: #444; font-family: system-ui, sans-serif; }
.path { color: #666; font-size: 12px; word-break: break-all; }
.status { font-weight: 600; white-space: nowrap; }
img.map { max-width: 100%; height: auto; border: 1px solid #ddd; }
.none { color: #777; }
td.bounds { white-space: nowrap; font-variant-numeric: tabular-nums; font-size: 12px; }
"""
_CSS += f".lonely {{ color: {LONELY_COLOUR}; font-weight: 600; }}\nh3 {{ font-size: 15px; margin: 16px 0 6px; }}\n"


def write_report(url: str, out_html: str | os.PathLike, *, body: str | None = None, title: str | None = None,
                 dpi: int = 100) -> str:
    """Write the report of the catalogue at ``url`` to ``out_html`` (temp name, then renamed); return the path."""
    out = os.fspath(out_html)
    page = render_report(url, body=body, title=title, dpi=dpi)
    tmp = f"{out}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, out)
    return out


def render_report(url: str, *, body: str | None = None, title: str | None = None, dpi: int = 100) -> str:
    """The report page as a string."""
    from ..catalogue import queries

    entries = catalogue_entries(url, body)
    counts = queries.job_counts(url)
    graph = read_graph(url, body)
    fig = plot_footprints(entries, body, dpi=dpi, graph=graph)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    numbers = map_numbers(entries) if sum(e["footprint"] is not None for e in entries) <= NUMBERED_MAX else {}
    for e in entries:
        e["_status"] = status_of(e)
    failed = [e for e in entries if e["state"] == "failed"]
    title = title or "autocnet_jobs ingestion report"
    when = datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M %Z")

    parts = [f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
             f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n",
             f"<h1>{_e(title)}</h1>\n<p class=\"meta\">catalogue <code>{_e(queries.safe_url(url))}</code>"
             f"{f' &middot; body {_e(body)}' if body else ''} &middot; {len(entries)} images &middot; "
             f"generated {_e(when)}</p>\n"]

    parts.append("<h2 id=\"counts\">Counts</h2>\n<table class=\"counts\"><tr>")
    states = list(counts)
    parts.append("".join(f"<th>{_e(s)}</th>" for s in states) + "<th>total</th><th>with footprint</th>"
                 "<th>without footprint</th></tr>\n<tr>")
    with_fp = sum(e["footprint"] is not None for e in entries)
    no_fp = sum(e["_status"] == "no footprint" for e in entries)
    parts.append("".join(f"<td class=\"num\">{counts[s]}</td>" for s in states)
                 + f"<td class=\"num\">{sum(counts.values())}</td><td class=\"num\">{with_fp}</td>"
                 f"<td class=\"num\">{no_fp}</td></tr></table>\n")
    if body:
        parts.append(f"<p class=\"meta\">Counts are for the whole run; the tables below are for {_e(body)}.</p>\n")

    parts.append(f"<h2 id=\"failures\">Failures ({len(failed)})</h2>\n")
    if failed:
        parts.append("<table class=\"failures\"><tr><th>image</th><th>error</th><th>attempts</th><th>worker</th>"
                     "<th>reason</th></tr>\n")
        for e in failed:
            parts.append(f"<tr><td>{_e(e['name'])}<div class=\"path\">{_e(e['path'])}</div></td>"
                         f"<td class=\"status\" style=\"color:{STATUS_COLOURS['failed']}\">{_e(e['kind'] or '')}"
                         f"{_small(e.get('error_type'))}</td>"
                         f"<td class=\"num\">{_e(e['attempts'])}</td><td>{_e(e['worker'] or '')}"
                         f"{_small(e.get('log') and 'log: ' + e['log'])}</td>"
                         f"<td class=\"reason\">{_e(e['reason'] or 'no message recorded')}{_traceback(e)}</td></tr>\n")
        parts.append("</table>\n")
    else:
        parts.append("<p class=\"none\">No image failed.</p>\n")

    parts.append(_overlaps_section(graph, entries))

    parts.append("<h2 id=\"map\">Map</h2>\n"
                 f"<img class=\"map\" alt=\"footprint map of {len(entries)} images\" "
                 f"width=\"{int(fig.get_figwidth() * dpi)}\" height=\"{int(fig.get_figheight() * dpi)}\" "
                 f"src=\"data:image/png;base64,{png}\">\n")

    parts.append(f"<h2 id=\"images\">Images ({len(entries)})</h2>\n<table class=\"images\"><tr>"
                 + ("<th>map #</th>" if numbers else "")
                 + "<th>image</th><th>body</th><th>status</th><th>footprint</th><th>partners</th>"
                 "<th>lon/lat bounds</th><th>keypoints</th><th>size (px)</th></tr>\n")
    for e in entries:
        colour = STATUS_COLOURS[e["_status"]]
        parts.append("<tr>" + (f"<td class=\"num\">{numbers.get(e['path'], '')}</td>" if numbers else "")
                     + f"<td>{_e(e['name'])}<div class=\"path\">{_e(e['path'])}</div></td>"
                     f"<td>{_e(e['body'] or '')}</td>"
                     f"<td class=\"status\" style=\"color:{colour}\">{_e(e['_status'])}</td>"
                     f"<td>{_footprint_cell(e)}</td>{_partners_cell(graph, e['path'])}"
                     f"<td class=\"bounds\">{_bounds(e)}</td>"
                     f"<td class=\"num\">{'' if e['n_keypoints'] is None else e['n_keypoints']}</td>"
                     f"<td class=\"num\">{_size(e)}</td></tr>\n")
    parts.append("</table>\n</body>\n</html>\n")
    return "".join(parts)


def _overlaps_section(graph, entries: list[dict[str, Any]]) -> str:
    """Pairs, partners per image (min, median, max) and, by path, the images with a footprint and no partner."""
    if graph is None:
        return ("<h2 id=\"overlaps\">Overlaps</h2>\n<p class=\"none\">This catalogue predates the overlap graph "
                "(schema 6): <code>autocnet-jobs overlaps --rebuild</code> computes its pairs.</p>\n")
    s = summary(graph)
    names = {e["path"]: e["name"] for e in entries}
    stat = ["" if s[k] is None else f"{s[k]:g}" for k in ("min", "median", "max")]
    parts = ["<h2 id=\"overlaps\">Overlaps</h2>\n<table class=\"overlaps\"><tr><th>overlapping pairs</th>"
             "<th>images with a footprint</th><th>partners min</th><th>partners median</th><th>partners max</th>"
             "<th>with no partner</th></tr>\n<tr>"
             + "".join(f"<td class=\"num\">{v}</td>" for v in (s["pairs"], s["images"], *stat, len(s["no_partner"])))
             + "</tr></table>\n",
             f"<h3 id=\"no-partner\">Images with no partner ({len(s['no_partner'])})</h3>\n"]
    if s["no_partner"]:
        parts.append("<p class=\"meta\">No other footprint overlaps these: a control network cannot tie them.</p>\n"
                     "<table class=\"no-partner\"><tr><th>image</th><th>path</th></tr>\n")
        parts += [f"<tr><td class=\"lonely\">{_e(names.get(p, p.rsplit('/', 1)[-1]))}</td><td class=\"path\">"
                  f"{_e(p)}</td></tr>\n" for p in s["no_partner"]]
        parts.append("</table>\n")
    else:
        parts.append("<p class=\"none\">Every image with a footprint overlaps another.</p>\n")
    return "".join(parts)


def _partners_cell(graph, path: str) -> str:
    """The image's degree in the overlap graph; empty where it has no footprint (no node) or there is no graph."""
    if graph is None or path not in graph:
        return "<td class=\"num\"></td>"
    n = graph.degree(path)
    return f"<td class=\"num{' lonely' if n == 0 else ''}\">{n}</td>"


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _small(text: str | None) -> str:
    return f"<div class=\"path\">{_e(text)}</div>" if text else ""


def _traceback(e: dict[str, Any]) -> str:
    tb = e.get("traceback")
    return f"<details><summary>traceback</summary>{_e(tb)}</details>" if tb else ""


def _footprint_cell(e: dict[str, Any]) -> str:
    source, note = e.get("footprint_source"), e.get("footprint_note")
    if e["footprint"] is None:
        if e["state"] == "failed":
            return "<span class=\"none\">not read</span>"
        return f"<span class=\"none\">none</span>{': ' + _e(note) if note else ''}"
    parts = len(getattr(e["footprint"], "geoms", [e["footprint"]]))
    text = _e(source or "")
    if parts > 1:
        text += f" ({parts} parts)"
    if note:
        text += f"<div class=\"path\">{_e(note)}</div>"
    return text


def _bounds(e: dict[str, Any]) -> str:
    if e["footprint"] is None:
        return ""
    x0, y0, x1, y1 = e["footprint"].bounds
    return f"lon {x0:.3f} &hellip; {x1:.3f}<br>lat {y0:.3f} &hellip; {y1:.3f}"


def _size(e: dict[str, Any]) -> str:
    w, h = e.get("width"), e.get("height")
    return f"{w}&times;{h}" if w and h else ""
