"""The overlap graph as the catalogue keeps it (issue 26): written by the writer with the images rows.

Truth: an independent brute force over all pairs (tests/test_overlap_geometry.py's Lambert azimuthal equal-area
intersection centred on each pair, pyproj), on a synthetic Mars set of CTX-like strips that cross +-180 and
converge on both poles, written through the real store (Store.write) in two batches on SQLite and PostGIS: every
pair and its area (within 0.5%), none missing or extra. Then a re-extraction replaces an image's pairs, a rebuild
gives the same table, and the read side (networkx graph, CSV/GeoJSON export, query --overlaps) reads it.
"""
from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys

import pytest
import shapely

from autocnet_jobs.catalogue import overlap_queries
from autocnet_jobs.catalogue.store import open_store

from .helpers import write_batches
from .test_overlap_geometry import AREA_RTOL, MARS, _tolerance, bounding_cap, laea_truth, synthetic_mars

MARS_CODE = "IAU_2015:49900"


def _record(i: int, fp) -> dict:
    return {"path": f"/data/syn/{i:03d}.cub", "name": f"{i:03d}.cub", "checksum": "0" * 64, "size": 1, "mtime": 1.0,
            "driver": "ISIS3", "width": 10, "height": 10, "bands": 1, "body": "Mars", "iau_code": MARS_CODE,
            "crs_wkt": None, "footprint_wkb": shapely.to_wkb(fp, hex=True) if fp is not None else None,
            "footprint_source": "camera", "footprint_note": None, "camera": None, "keypoints_path": None,
            "n_keypoints": 0, "extractor": "sift", "extractor_params": {}, "note": None}


@pytest.fixture(scope="module")
def truth():
    fps = synthetic_mars()
    caps = {i: bounding_cap(fp) for i, fp in fps.items()}
    pairs = {}
    for i, j in itertools.combinations(sorted(fps), 2):
        inter, area_i, area_j = laea_truth(fps[i], fps[j], MARS, caps[i], caps[j])
        if inter > _tolerance(area_i, area_j):
            pairs[(_record(i, None)["path"], _record(j, None)["path"])] = inter
    return fps, pairs


def _pairs(url: str) -> dict[tuple[str, str], dict]:
    return {(r["path_a"], r["path_b"]): r for r in overlap_queries.overlaps(url)}


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autocnet_jobs.cli", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_pairs_written_with_the_images_match_the_brute_force(backend, truth, request, tmp_path):
    fps, expected = truth
    url = (f"sqlite:///{tmp_path / 'cat.db'}" if backend == "sqlite" else request.getfixturevalue("fresh_pg_db"))
    ids = sorted(fps)
    half = len(ids) // 2
    write_batches(url, [_record(i, fps[i]) for i in ids[:half]],    # the second batch's pairs with the first
                  [_record(i, fps[i]) for i in ids[half:]])         # come from the spatial index, incrementally
    got = _pairs(url)
    assert set(got) == set(expected), (sorted(set(got) - set(expected))[:5], sorted(set(expected) - set(got))[:5])
    assert len(expected) >= 300
    for key, row in got.items():
        assert row["area_m2"] == pytest.approx(expected[key], rel=AREA_RTOL), key
        assert row["body"] == "Mars" and 0 < row["fraction_a"] <= 1 and 0 < row["fraction_b"] <= 1

    # a re-extraction that lost image 0's footprint: its pairs go, nothing else changes; one that gives image 1
    # image 2's footprint: image 1's pairs become image 2's (and the two overlap wholly)
    write_batches(url, [_record(0, None), _record(1, fps[2])])
    moved = _pairs(url)
    path0, path1, path2 = (_record(i, None)["path"] for i in (0, 1, 2))
    assert not any(path0 in key for key in moved)
    assert {k for k in moved if path1 not in k} == {k for k in got if path0 not in k and path1 not in k}

    def partners_of(path, pairs):
        return {a if b == path else b for a, b in pairs if path in (a, b)}
    assert partners_of(path1, moved) - {path2} == partners_of(path2, moved) - {path1}
    assert moved[(path1, path2)]["fraction_a"] == pytest.approx(1.0, abs=1e-9)

    # a rebuild from the footprints gives the same table
    store = open_store(url)
    store.connect()
    assert store.rebuild_overlaps() == len(moved)
    store.close()
    rebuilt = _pairs(url)
    assert set(rebuilt) == set(moved)
    assert all(rebuilt[k]["area_m2"] == pytest.approx(moved[k]["area_m2"], rel=1e-9) for k in moved)

    # the read side: the graph, the exports, the query
    graph = overlap_queries.overlap_graph(url)
    assert graph.number_of_edges() == len(moved) and path0 not in graph     # no footprint: not a node
    adjacency = overlap_queries.adjacency(url)
    some = next(iter(moved))
    assert some[1] in adjacency[some[0]] and some[0] in adjacency[some[1]]
    out = _cli("export", "--format", "overlaps", "--out", str(tmp_path / "pairs.csv"), "--db", url)
    assert out.returncode == 0, out.stderr
    with open(tmp_path / "pairs.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(moved) and set(rows[0]) == set(overlap_queries.PAIR_COLUMNS)
    out = _cli("export", "--format", "overlaps", "--out", str(tmp_path / "pairs.geojson"), "--db", url)
    assert out.returncode == 0, out.stderr
    features = json.loads((tmp_path / "pairs.geojson").read_text())["features"]
    assert len(features) == len(moved)
    by_key = {(r["path_a"], r["path_b"]): r["geometry"] for r in overlap_queries.overlaps(url, with_geometry=True)}
    for feature in features[:20]:
        key = (feature["properties"]["path_a"], feature["properties"]["path_b"])
        assert shapely.geometry.shape(feature["geometry"]).equals_exact(by_key[key], 1e-9), key
    out = _cli("query", "--overlaps", some[0], "--json", "--db", url)
    assert out.returncode == 0, out.stderr
    partners = json.loads(out.stdout)
    assert some[1] in {p["path"] for p in partners}
    assert len(partners) == graph.degree(some[0])
    out = _cli("overlaps", "--db", url)
    assert out.returncode == 0 and f"{len(moved)} overlapping pairs" in out.stdout and "no partner" in out.stdout


@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_a_writer_killed_mid_run_leaves_no_image_without_its_pairs(backend, request, tmp_path):
    """Issue 26: SIGKILL the writer while images and pairs are being written; after the run every committed
    image has exactly the pairs a recomputation from the stored footprints gives (pairs go in the images rows'
    transaction, so there is no 'between' to repair)."""
    import os
    import signal
    import time

    from autocnet_jobs import ImageAdder

    from . import faults
    from .helpers import config, tiny_files

    n = 240
    folder = tiny_files(tmp_path / "in", n)
    cfg = config(tmp_path)
    if backend == "postgis":
        cfg["database"]["url"] = request.getfixturevalue("fresh_pg_db")
    url = cfg["database"]["url"]
    os.environ["AUTOCNET_TEST_SLOW"] = "0.03"
    killed = []
    with ImageAdder(cfg, process=faults.strip_record, quiet=True) as ia:
        ia.add_images(folder, "cub")
        deadline = time.time() + 120
        while sum(v is True for v in ia.job_status.values()) < n // 3:
            assert time.time() < deadline
            time.sleep(0.05)
        os.kill(ia._tracker.writer.pid, signal.SIGKILL)
        killed.append(True)
        ia.wait(300)
        assert all(v is True for v in ia.job_status.values()) and len(ia.job_status) == n
    written = _pairs(url)
    assert killed and len(written) >= n - 5
    store = open_store(url)
    store.connect()
    store.rebuild_overlaps()
    store.close()
    assert set(_pairs(url)) == set(written)
