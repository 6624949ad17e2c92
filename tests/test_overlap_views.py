"""The overlap graph in the report and on the map (issue 26 item 4): views/overlap_view.py, report.py, plot.py.

A small catalogue written through the real store (Store.write, which computes the pairs as the writer does) with
pairs known by construction: a chain a-b-c of Mars boxes, a pair across +-180 (e split at the seam, f west of
it), one Mars image (d) and one Moon image (g) overlapping nothing, and one image (h) without a footprint. So the
degrees are a 1, b 2, c 1, d 0, e 1, f 1, g 0; h is no node. The report's tables and the map's file (SVG elements,
PNG pixels) are read back and compared with that, not with what the code computes.
"""
from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import shapely
from PIL import Image
from shapely.geometry import MultiPolygon, box

from autocnet_jobs.views.overlap_view import EDGE_COLOUR, LONELY_COLOUR, edge_segments, half_edges, overlap_summary
from autocnet_jobs.views.plot import plot_footprints, save_map
from autocnet_jobs.views.report import render_report, write_report

from .helpers import html_tables, write_batches

MARS, MOON = "IAU_2015:49900", "IAU_2015:30100"
FOOTPRINTS = {
    "a": ("Mars", box(0, 0, 20, 20)),
    "b": ("Mars", box(15, 10, 35, 30)),          # overlaps a and c
    "c": ("Mars", box(30, 25, 50, 45)),          # overlaps b only
    "d": ("Mars", box(-100, -40, -80, -20)),     # nothing near it
    "e": ("Mars", MultiPolygon([box(170, -60, 180, -40), box(-180, -60, -175, -40)])),  # split at +-180
    "f": ("Mars", box(-178, -55, -160, -45)),    # overlaps e's western part
    "g": ("Moon", box(0, 0, 20, 20)),            # a's place, but another body: no partner
    "h": ("Mars", None),                         # no footprint: no node, never "no partner"
}
DEGREES = {"a": 1, "b": 2, "c": 1, "d": 0, "e": 1, "f": 1, "g": 0}
LONELY = ["d", "g"]


def path(k: str) -> str:
    return f"/data/views/{k}.cub"


def _multi(fp):
    """Footprints are stored as MULTIPOLYGON (the store's column type on PostGIS)."""
    return fp if isinstance(fp, MultiPolygon) else MultiPolygon([fp])


def _record(k: str, body: str, fp) -> dict:
    return {"path": path(k), "name": f"{k}.cub", "checksum": "0" * 64, "size": 1, "mtime": 1.0, "driver": "ISIS3",
            "width": 10, "height": 10, "bands": 1, "body": body, "iau_code": MARS if body == "Mars" else MOON,
            "crs_wkt": None, "footprint_wkb": shapely.to_wkb(_multi(fp), hex=True) if fp is not None else None,
            "footprint_source": "camera" if fp is not None else None,
            "footprint_note": None if fp is not None else "no camera", "camera": None, "keypoints_path": None,
            "n_keypoints": 0, "extractor": "sift", "extractor_params": {}, "note": None}


def write_catalogue(url: str) -> str:
    write_batches(url, [_record(k, body, fp) for k, (body, fp) in FOOTPRINTS.items()])
    return url


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory) -> str:
    return write_catalogue(f"sqlite:///{tmp_path_factory.mktemp('views') / 'cat.db'}")


# ---- the summary (the report's numbers) ---------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_summary_has_the_known_degrees_and_lonely_images(backend, request, sqlite_url):
    url = sqlite_url if backend == "sqlite" else write_catalogue(request.getfixturevalue("fresh_pg_db"))
    s = overlap_summary(url)
    assert s["degree"] == {path(k): d for k, d in DEGREES.items()}
    assert s["pairs"] == 3 and s["images"] == 7
    assert (s["min"], s["median"], s["max"]) == (0, 1, 2)
    assert s["no_partner"] == [path(k) for k in LONELY]
    mars = overlap_summary(url, body="mars")
    assert mars["no_partner"] == [path("d")] and mars["images"] == 6 and mars["pairs"] == 3


# ---- the report ------------------------------------------------------------------------------------------------
def test_report_shows_pairs_degrees_and_the_images_with_no_partner(sqlite_url, tmp_path):
    page = Path(write_report(sqlite_url, tmp_path / "report.html")).read_text(encoding="utf-8")
    tables = html_tables(page)
    head, row = ([c for c, _ in r] for r in tables["overlaps"])
    stats = dict(zip(head, row))
    assert stats == {"overlapping pairs": "3", "images with a footprint": "7", "partners min": "0",
                     "partners median": "1", "partners max": "2", "with no partner": "2"}
    lonely = tables["no-partner"][1:]
    assert [r[1][0] for r in lonely] == [path(k) for k in LONELY]
    assert [r[0][0] for r in lonely] == [f"{k}.cub" for k in LONELY]
    assert f"Images with no partner ({len(LONELY)})" in page
    # Each image's degree in the image table: the "partners" column; empty for h (no footprint, no node).
    images = tables["images"]
    columns = [c for c, _ in images[0]]
    col, name = columns.index("partners"), columns.index("image")
    got = {r[name][0].split(".cub")[0]: r[col] for r in images[1:]}
    assert {k: v for k, (v, _) in got.items()} == {**{k: str(d) for k, d in DEGREES.items()}, "h": ""}
    assert {k for k, (_, cls) in got.items() if "lonely" in cls} == set(LONELY)
    # Still one self-contained page.
    assert not re.search(r"<script|<link|src=\"(?!data:)|url\(", page)


def test_report_of_one_body(sqlite_url):
    tables = html_tables(render_report(sqlite_url, body="Mars"))
    assert [r[1][0] for r in tables["no-partner"][1:]] == [path("d")]
    assert dict(zip(*([c for c, _ in r] for r in tables["overlaps"])))["overlapping pairs"] == "3"


def test_report_and_map_without_an_overlaps_table(sqlite_url, tmp_path):
    # A catalogue older than the graph has no overlaps table (schema 6 added it): its views show no graph
    # rather than failing. (A real version 5 file cannot be viewed before its upgrade: it has no cameras table.)
    shutil.copy(sqlite_url.removeprefix("sqlite:///"), tmp_path / "old.db")
    with sqlite3.connect(tmp_path / "old.db") as conn:
        conn.execute("DROP TABLE overlaps")
    url = f"sqlite:///{tmp_path / 'old.db'}"
    page = render_report(url)
    assert "predates the overlap graph" in page and "overlaps --rebuild" in page
    assert "no-partner" not in page
    assert not [c for ax in plot_footprints(url).axes for c in ax.collections if c.get_gid() == "overlaps"]


def test_report_when_every_image_has_a_partner(tmp_path):
    url = f"sqlite:///{tmp_path / 'tied.db'}"
    write_batches(url, [_record(k, *FOOTPRINTS[k]) for k in "abc"])
    page = render_report(url)
    assert "Images with no partner (0)" in page and "Every image with a footprint overlaps another" in page
    assert html_tables(page)["overlaps"][1][-1][0] == "0"


# ---- the map ---------------------------------------------------------------------------------------------------
def _svg_groups(svg: Path) -> dict[str, list[ET.Element]]:
    ns = "{http://www.w3.org/2000/svg}"
    out: dict[str, list[ET.Element]] = {}
    for g in ET.parse(svg).getroot().iter(f"{ns}g"):
        if g.get("id"):
            out.setdefault(g.get("id"), []).append(g)
    return out


def _strokes(groups: list[ET.Element]) -> set[str]:
    styles = " ".join(el.get("style") or "" for g in groups for el in g.iter())
    return {s.lower() for s in re.findall(r"stroke:\s*(#[0-9a-fA-F]{6})", styles)}


def _edge_paths(groups: list[ET.Element]) -> int:
    """The path elements stroked in the edge colour among an image's groups (its halves of its edges)."""
    return sum(1 for g in groups for el in g.iter("{http://www.w3.org/2000/svg}path")
               if EDGE_COLOUR in (el.get("style") or "").lower())


def test_map_svg_has_the_edges_and_marks_the_lonely_images(sqlite_url, tmp_path):
    out = Path(save_map(sqlite_url, tmp_path / "map.svg"))
    groups = _svg_groups(out)
    assert "h.cub" not in groups                                        # no footprint, nothing drawn
    for k, degree in DEGREES.items():
        g = groups[f"{k}.cub"]
        # An image's half of each of its edges (the one across +-180 may be cut in two at the seam) ...
        assert degree <= _edge_paths(g) <= 2 * degree, (k, _edge_paths(g))
        # ... and the lonely colour on the images with no partner only.
        assert (LONELY_COLOUR in _strokes(g)) == (k in LONELY), k
    assert "overlapping pairs: 3" in out.read_text()                    # the legend (svg keeps the text)


def _halves(fig) -> dict[str, list[np.ndarray]]:
    ax = next(a for a in fig.axes if a.get_title().startswith("Mars"))
    out: dict[str, list[np.ndarray]] = {}
    for c in ax.collections:
        if c.get_gid() and c.get_gid().endswith(".cub") and hasattr(c, "get_segments"):
            out.setdefault(c.get_gid()[0], []).extend(np.asarray(s) for s in c.get_segments())
    return out


def test_map_edges_join_the_partners_and_split_at_the_seam(sqlite_url):
    halves = _halves(plot_footprints(sqlite_url, body="Mars"))
    fps = {k: fp for k, (body, fp) in FOOTPRINTS.items() if body == "Mars" and fp is not None}
    assert set(halves) == {k for k, d in DEGREES.items() if d and k in fps}
    for k, segs in halves.items():
        assert all(np.ptp(s[:, 0]) < 30 for s in segs), k               # never a line across the map
        starts = [s[0] for s in segs]
        assert all(fps[k].buffer(1e-9).contains(shapely.Point(p)) for p in starts), k   # from inside the image

    def meets(k1: str, k2: str) -> bool:
        """Whether an edge of k1 and one of k2 end at the same point off the seam (the edge's middle)."""
        ends1 = {tuple(np.round(s[-1], 9)) for s in halves.get(k1, []) if abs(s[-1][0]) != 180}
        ends2 = {tuple(np.round(s[-1], 9)) for s in halves.get(k2, []) if abs(s[-1][0]) != 180}
        return bool(ends1 & ends2)

    pairs = {frozenset((k1, k2)) for k1 in halves for k2 in halves if k1 < k2 and meets(k1, k2)}
    assert pairs == {frozenset("ab"), frozenset("bc"), frozenset("ef")}
    # e-f crosses +-180: one of the two halves is cut there, at the same latitude on both edges of the map.
    seam = [s for k in "ef" for s in halves[k] if 180 in np.abs(s[:, 0])]
    assert len(seam) == 2 and seam[0][-1][1] == pytest.approx(seam[1][0][1])


def test_edge_segments_the_short_way_round():
    assert edge_segments((10, 0), (20, 10)) == [[(10, 0), (20, 10)]]
    assert half_edges((170, 0), (-150, 10)) == ([[(170, 0), (180.0, 2.5)], [(-180.0, 2.5), (-170.0, 5.0)]],
                                                [[(-150, 10), (-170.0, 5.0)]])
    west, east = edge_segments((-175, 0), (175, 10))
    assert west == [(-175, 0), (-180.0, 5.0)] and east == [(180.0, 5.0), (175, 10)]
    east, west = edge_segments((170, -10), (-170, 10))
    assert east == [(170, -10), (180.0, 0.0)] and west == [(-180.0, 0.0), (-170, 10)]


def _colour_pixels(png: Path, colour: str, tol: int = 30) -> int:
    rgb = np.asarray([int(colour[i:i + 2], 16) for i in (1, 3, 5)], float)
    px = np.asarray(Image.open(png).convert("RGB"), float)
    return int((np.abs(px - rgb).max(axis=2) < tol).sum())


def test_map_png_has_the_layer_and_overlaps_false_leaves_it_out(sqlite_url, tmp_path):
    with_graph = Path(save_map(sqlite_url, tmp_path / "with.png", body="Mars"))
    without = Path(save_map(sqlite_url, tmp_path / "without.png", body="Mars", overlaps=False))
    assert _colour_pixels(with_graph, EDGE_COLOUR) > 100
    assert _colour_pixels(with_graph, LONELY_COLOUR) > 100
    assert _colour_pixels(without, EDGE_COLOUR) == 0 and _colour_pixels(without, LONELY_COLOUR) == 0


def test_large_map_draws_the_graph_as_collections():
    rows = [{"name": f"img{i:03d}.cub", "path": f"/d/img{i:03d}.cub", "body": "Mars", "state": "done",
             "footprint": MultiPolygon([box(-170 + 4 * i, 0, -170 + 4 * i + 3, 3)])} for i in range(80)]
    graph = nx.Graph()
    graph.add_nodes_from(r["path"] for r in rows)
    graph.add_edges_from((rows[i]["path"], rows[i + 1]["path"]) for i in range(0, 70))
    fig = plot_footprints(rows, graph=graph)
    ax = next(a for a in fig.axes if a.get_title())
    (edges,) = [c for c in ax.collections if c.get_gid() == "overlaps"]
    assert len(edges.get_segments()) == 70
    (lonely,) = [c for c in ax.collections if c.get_gid() == "no partner"]
    assert len(lonely.get_paths()) == 9                                   # images 71..79
    side = " ".join(t.get_text() for t in fig.axes[-1].texts)
    assert "no partner (cannot be tied): 9" in side and "img079.cub" in side


def test_cli_plot_svg_and_report(sqlite_url, tmp_path):
    for args in (("plot", "--out", str(tmp_path / "map.svg")), ("report", "--out", str(tmp_path / "r.html"))):
        res = subprocess.run([sys.executable, "-m", "autocnet_jobs.cli", *args, "--db", sqlite_url],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
    assert _edge_paths(_svg_groups(tmp_path / "map.svg")["b.cub"]) == 2
    assert [r[1][0] for r in html_tables((tmp_path / "r.html").read_text())["no-partner"][1:]] == \
        [path(k) for k in LONELY]
