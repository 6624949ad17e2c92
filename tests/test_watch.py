"""Watching a run: the Dask dashboard, progress (CLI bar, notebook widget/text), the footprint map and the report."""
from __future__ import annotations

import base64
import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image
from shapely.geometry import MultiPolygon, box

from autocnet_jobs import ImageAdder, queries
from autocnet_jobs.views.plot import STATUS_COLOURS, plot_footprints, save_map
from autocnet_jobs.views.progress import ProgressBar
from autocnet_jobs.views.report import write_report

from . import faults
from .conftest import link_images
from .helpers import config, html_tables, tiny_files

CHROMIUM = "/usr/bin/chromium"
DONE_RGB = np.array([int(STATUS_COLOURS["done"][i:i + 2], 16) for i in (1, 3, 5)], float)  # #1f77b4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def task_prefixes(dask_scheduler) -> dict:
    return {name: dict(tp.states) for name, tp in dask_scheduler.task_prefixes.items()}


def dashboard_task_stream(dask_scheduler) -> list[str] | None:
    """Keys in the task-stream plugin the dashboard installs to draw its Task Stream (None before it exists)."""
    plugin = dask_scheduler.plugins.get("task-stream")
    return None if plugin is None else [m["key"] for m in plugin.buffer]


def wait_until(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def png_pixels(data: bytes | Path) -> np.ndarray:
    img = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
    assert img.format == "PNG"
    return np.asarray(img.convert("RGB")).astype(float)


def assert_not_blank(px: np.ndarray, min_ink: float = 0.02) -> None:
    """Real content: brightness varies and a fair share of pixels is not background white."""
    grey = px.mean(axis=2)
    assert grey.std() > 10, f"image looks blank (std {grey.std():.1f})"
    ink = float((grey < 235).mean())
    assert ink > min_ink, f"only {ink:.1%} of the pixels are not white"


# ---- the dashboard ----------------------------------------------------------------------------------------
def test_dashboard_status_page_and_task_stream_during_a_run(tmp_path, capsys):
    port = free_port()
    folder = tiny_files(tmp_path / "in", 4)
    cfg = config(tmp_path, cluster={"dashboard_address": f"127.0.0.1:{port}"})
    with ImageAdder(cfg, process=faults.wait_for_release) as ia:
        link = ia.dashboard_link
        assert urlsplit(link).port == port and urlsplit(link).path == "/status"  # the configured address
        assert f"Dask dashboard: {link}" in capsys.readouterr().out  # printed when the adder starts
        ia.add_images(folder, "cub")
        wait_until(lambda: ia.progress()["running"] >= 1, what="a running job")  # held open by the gate
        with urllib.request.urlopen(link, timeout=60) as r:
            assert r.status == 200
            assert "Dask" in r.read().decode()
        base = link.rsplit("/", 1)[0]
        with urllib.request.urlopen(f"{base}/individual-task-stream", timeout=60) as r:
            assert r.status == 200
        # Our jobs are tasks with the process_image prefix, being processed right now ...
        states = ia.client.run_on_scheduler(task_prefixes)
        assert "process_image" in states, states
        assert states["process_image"]["processing"] >= 1
        # ... and the dashboard's task stream (installed by the page) records them as they finish.
        assert ia.client.run_on_scheduler(dashboard_task_stream) is not None
        (folder / "release").touch()
        ia.wait(timeout=60)
        assert all(v is True for v in ia.job_status.values())
        wait_until(lambda: len(ia.client.run_on_scheduler(dashboard_task_stream)) >= 4, 30, "the task stream")
        keys = ia.client.run_on_scheduler(dashboard_task_stream)
        assert all(re.fullmatch(r"process_image-[0-9a-f]{32}", k) for k in keys), keys


def test_dashboard_on_the_slurm_backend(slurm_env, tmp_path):
    port = free_port()
    cfg = config(tmp_path, cluster={"backend": "slurm", "n_workers": 1, "dashboard_address": f"127.0.0.1:{port}",
                                    "slurm": {"interface": "lo", "memory": "1GB",
                                              "log_directory": str(tmp_path / "logs")}})
    folder = tiny_files(tmp_path / "in", 2)
    with ImageAdder(cfg, process=faults.tiny_record, quiet=True) as ia:
        assert urlsplit(ia.dashboard_link).port == port
        with urllib.request.urlopen(ia.dashboard_link, timeout=60) as r:
            assert r.status == 200
        ia.add_images(folder, "cub")
        ia.wait(timeout=300)
        assert all(v is True for v in ia.job_status.values())
        assert "process_image" in ia.client.run_on_scheduler(task_prefixes)


# ---- progress ---------------------------------------------------------------------------------------------
def test_progress_bar_line_has_counts_and_eta():
    bar = ProgressBar(io.StringIO())
    # A resumed run: 2 of 10 were done before it started and do not count towards the rate.
    assert bar.line({"queued": 8, "running": 0, "writing": 0, "done": 2, "failed": 0}).endswith("eta --:--")
    bar.start -= 10.0  # then 5 more finished in 10 s: the 3 left take about 6 s
    line = bar.line({"queued": 2, "running": 1, "writing": 0, "done": 5, "failed": 2})
    assert "7/10 done=5 failed=2 running=1 queued=2 eta 00:06" in line
    assert bar.line({"queued": 0, "running": 0, "writing": 0, "done": 10, "failed": 0}).endswith("eta 00:00")


def test_show_progress_widget_then_text(tmp_path, monkeypatch):
    import ipywidgets  # noqa: F401 - a test dependency (setup.cfg [test]); the real widgets, not a stand-in
    folder = tiny_files(tmp_path / "in", 3)
    with ImageAdder(config(tmp_path), process=faults.wait_for_release, quiet=True) as ia:
        ia.add_images(folder, "cub")
        view = ia.show_progress(interval=0.1)
        bar, label = view.widget.children
        assert bar.max == 3 and bar.value == 0 and view.thread.is_alive()  # live while the jobs are held
        (folder / "release").touch()
        ia.wait(timeout=60)
        view.join(30)
        assert not view.thread.is_alive()
        assert bar.value == bar.max == 3 and bar.bar_style == "success"
        assert "3/3 done=3 failed=0 running=0 queued=0 eta 00:00" in label.value
        counts = ia.progress()  # still the plain dict
        assert type(counts) is dict and counts["done"] == 3 and set(counts) >= {"queued", "running", "failed"}

        monkeypatch.setitem(sys.modules, "ipywidgets", None)  # not importable: text
        out = io.StringIO()
        text = ia.show_progress(stream=out)
        assert text.widget is None
        assert "3/3 done=3 failed=0 running=0 queued=0 eta 00:00\n" in out.getvalue()


def test_cli_add_shows_the_bar_with_eta(tmp_path):
    images = link_images(tmp_path / "images", ["dawnEqui1.cub"])
    (images / "broken.cub").write_bytes(b"not an image")
    db = f"sqlite:///{tmp_path / 'c.db'}"
    res = subprocess.run([sys.executable, "-m", "autocnet_jobs.cli", "add", str(images), "--ext", "cub",
                          "--db", db, "--output-dir", str(tmp_path / "kps")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("submitted") == 1
    finals = [ln for ln in res.stderr.splitlines() if "eta" in ln]
    assert finals, res.stderr
    assert re.search(r"\] 2/2 done=1 failed=1 running=0 queued=0 eta 00:00$", finals[-1]), finals[-1]


# ---- the map and the report -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """Every sample image ingested once on SQLite; keypoints and links under a temp dir."""
    tmp = tmp_path_factory.mktemp("watch")
    images = link_images(tmp / "images")
    cfg = config(tmp)
    exts = sorted({p.suffix.lstrip(".").lower() for p in images.iterdir()})
    with ImageAdder(cfg, quiet=True) as ia:
        for ext in exts:
            ia.add_images(images, ext)
        ia.wait(timeout=600)
        failures = {p: ia.failure(p) for p in ia.failed_jobs}
        status = ia.job_status
    url = cfg["database"]["url"]
    rows = queries.images(url)
    assert failures, "the samples include an image that cannot be ingested on its own"
    return {"tmp": tmp, "url": url, "images": images, "rows": rows, "failures": failures, "status": status}


def _gids(fig) -> dict[str, list]:
    """Artists of every map panel grouped by gid (the image name they draw)."""
    out: dict[str, list] = {}
    for ax in fig.axes:
        for artist in [*ax.patches, *ax.lines, *ax.texts, *ax.collections]:
            if artist.get_gid():
                out.setdefault(artist.get_gid(), []).append(artist)
    return out


def test_map_png_from_the_samples(ingested, tmp_path):
    fig = plot_footprints(ingested["url"])
    drawn = {r["name"] for r in ingested["rows"] if r["footprint"] is not None}
    undrawn = {r["name"] for r in ingested["rows"] if r["footprint"] is None}
    assert drawn and undrawn  # the samples have both
    gids = _gids(fig)
    assert drawn <= set(gids) and not (undrawn & set(gids))
    bodies = {r["body"] for r in ingested["rows"] if r["footprint"] is not None}
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert sorted(t.split(":")[0] for t in titles) == sorted(bodies)
    side = " ".join(t.get_text() for t in fig.axes[-1].texts)
    for path, f in ingested["failures"].items():
        assert os.path.basename(path) in side and f["kind"] in side
    for name in undrawn:
        assert name in side

    out = save_map(ingested["url"], tmp_path / "map.png")
    assert os.path.getsize(out) > 30_000
    px = png_pixels(Path(out))
    assert px.shape[:2] == (round(fig.get_figheight() * 100), round(fig.get_figwidth() * 100))
    assert_not_blank(px)
    done_edges = (np.abs(px - DONE_RGB).max(axis=2) < 12).sum()
    assert done_edges > 500, "footprints in the 'done' colour are missing"


def test_map_of_one_body(ingested):
    fig = plot_footprints(ingested["url"], body="mars")
    mars = [r for r in ingested["rows"] if r["body"] == "Mars" and r["footprint"] is not None]
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == [f"Mars: {len(mars)} footprints"]
    assert set(_gids(fig)) == {r["name"] for r in mars}


def _x_extents(artists) -> list[tuple[float, float]]:
    out = []
    for a in artists:
        if hasattr(a, "get_path") and not hasattr(a, "get_xdata"):
            xs = a.get_path().vertices[:, 0]
        elif hasattr(a, "get_xdata"):
            xs = np.asarray(a.get_xdata(), float)
        else:
            continue
        out.append((float(xs.min()), float(xs.max())))
    return out


@pytest.mark.parametrize("footprint", [
    MultiPolygon([box(170, -10, 180, 10), box(-180, -10, -165, 10)]),  # split at the antimeridian, as stored
    MultiPolygon([box(170, -10, 195, 10)]),  # the same region in 0-360 (from a caller): cut before drawing
], ids=["split", "0-360"])
def test_antimeridian_footprint_is_two_pieces_not_a_band(footprint, tmp_path):
    rows = [{"name": "wrap.cub", "path": "/x/wrap.cub", "body": "Mars", "state": "done", "footprint": footprint},
            {"name": "centre.cub", "path": "/x/centre.cub", "body": "Mars", "state": "done",
             "footprint": MultiPolygon([box(-5, -5, 5, 5)])}]
    fig = plot_footprints(rows)
    extents = _x_extents(_gids(fig)["wrap.cub"])
    assert extents and all(hi - lo <= 15 + 1e-9 for lo, hi in extents), extents
    assert any(lo >= 170 for lo, _ in extents) and any(hi <= -165 for _, hi in extents), extents
    # In the picture: along the footprint's edges (lat +-10) nothing is drawn between the two pieces.
    fig.savefig(tmp_path / "wrap.png")
    px = png_pixels(tmp_path / "wrap.png")
    ax = next(a for a in fig.axes if a.get_title())
    h = px.shape[0]
    for lat in (10, -10, 0):
        (x0, y), (x1, _) = ax.transData.transform([(-160, lat), (165, lat)])
        row = px[int(round(h - y)), int(x0):int(x1)]
        centre = ax.transData.transform([(-6, lat), (6, lat)])[:, 0].astype(int) - int(x0)
        row = np.delete(row, np.s_[max(centre[0], 0):centre[1]], axis=0)  # the centre footprint is allowed
        blue = (np.abs(row - DONE_RGB).max(axis=1) < 60).sum()
        assert blue == 0, f"{blue} footprint-coloured pixels along lat {lat} between the pieces"


def test_large_catalogue_draws_collections_of_separate_parts():
    rng = np.random.default_rng(7)
    rows = [{"name": f"img{i:04d}.cub", "path": f"/d/img{i:04d}.cub", "body": "Mars",
             "state": "failed" if i % 50 == 0 else "done",
             "footprint": MultiPolygon([box(x, y, x + 0.5, y + 1.5)])}
            for i, (x, y) in enumerate(zip(rng.uniform(-180, 179, 400), rng.uniform(-80, 78, 400)))]
    rows.append({"name": "wrap.cub", "path": "/d/wrap.cub", "body": "Mars", "state": "done",
                 "footprint": MultiPolygon([box(170, -10, 180, 10), box(-180, -10, -165, 10)])})
    fig = plot_footprints(rows)
    ax = next(a for a in fig.axes if a.get_title())
    assert ax.get_title() == "Mars: 401 footprints"
    done = [c for c in ax.collections if c.get_gid() == "status:done"]
    failed = [c for c in ax.collections if c.get_gid() == "status:failed"]
    assert len(done) == len(failed) == 1
    assert len(done[0].get_paths()) == 392 + 2 and len(failed[0].get_paths()) == 8  # the split one: 2 paths
    widths = [np.ptp(p.vertices[:, 0]) for p in done[0].get_paths()]
    assert max(widths) <= 15 + 1e-9


def test_report_html_from_the_samples(ingested, tmp_path):
    out = write_report(ingested["url"], tmp_path / "report.html")
    page = Path(out).read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for name in {r["name"] for r in ingested["rows"]} | {os.path.basename(p) for p in ingested["failures"]}:
        assert name in page, name
    for path, f in ingested["failures"].items():
        assert html_text(f["message"]) in page and f["kind"] in page
    tables = html_tables(page)
    counts = queries.job_counts(ingested["url"])
    assert [text for text, _ in tables["counts"][1][: len(counts)]] == [str(n) for n in counts.values()]
    assert len(tables["images"]) - 1 == len(ingested["status"])
    assert len(tables["failures"]) - 1 == len(ingested["failures"])
    # Self-contained: the map is inline, nothing is fetched.
    assert not re.search(r"<script|<link|src=\"(?!data:)|url\(", page)
    maps = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(maps) == 1
    assert_not_blank(png_pixels(base64.b64decode(maps[0])))


def test_report_screenshot_in_headless_chromium(ingested, tmp_path):
    if not os.path.exists(CHROMIUM):
        msg = f"{CHROMIUM} not installed (Debian package chromium; deploy/run_tests.sh installs it)"
        if os.environ.get("AUTOCNET_REQUIRE_SERVICES") == "1":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    page = write_report(ingested["url"], tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                          "--no-first-run", "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                          "--window-size=1280,1600", Path(page).as_uri()],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    px = png_pixels(shot)
    assert px.shape[:2] == (1600, 1280)
    assert_not_blank(px, min_ink=0.05)
    # The embedded map was decoded and drawn: its footprint fills are a big blue-tinted area, not just text.
    tinted = ((px[..., 2] - px[..., 0] > 25) & (px[..., 2] > 150)).mean()
    assert tinted > 0.01, f"only {tinted:.2%} blue-tinted pixels: the map is not on the page"


def test_cli_plot_and_report(ingested, tmp_path):
    def cli(*args):
        res = subprocess.run([sys.executable, "-m", "autocnet_jobs.cli", *args, "--db", ingested["url"]],
                             capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        return res.stdout

    assert "map written to" in cli("plot", "--out", str(tmp_path / "map.png"))
    assert "map written to" in cli("plot", "--out", str(tmp_path / "mars.png"), "--body", "Mars")
    assert "report written to" in cli("report", "--out", str(tmp_path / "report.html"))
    full, mars = png_pixels(tmp_path / "map.png"), png_pixels(tmp_path / "mars.png")
    assert_not_blank(full)
    assert_not_blank(mars)
    assert mars.shape[1] < full.shape[1]  # one panel instead of one per body
    page = (tmp_path / "report.html").read_text()
    assert all(r["name"] in page for r in ingested["rows"])
    assert not list(tmp_path.glob("*.tmp*"))
    res = subprocess.run([sys.executable, "-m", "autocnet_jobs.cli", "plot"], capture_output=True, text=True)
    assert res.returncode == 2 and "--out" in res.stderr


# ---- helpers ----------------------------------------------------------------------------------------------
def html_text(s: str) -> str:
    import html

    return html.escape(s, quote=True)
