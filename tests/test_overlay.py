"""AutoCNet's ``overlay`` faces (issue 26 item 3): catalogue/overlay.py, ``export --format overlay|adjacency``.

Reference: AutoCNet's own statement, ``compute_overlaps_sql`` from DOI-USGS/Autocnet ``autocnet/sql.py`` (commit
59ea17e68d5356610223afbe349560b547573fea), run on PostGIS over the same footprints. On SQLite, where that SQL
cannot run, the truth is shapely's overlay operations (intersection of the images of a face's set minus the union
of the others), not the polygonizer our code uses.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from sqlalchemy import text

from autocnet_jobs.catalogue import overlap_queries
from autocnet_jobs.catalogue import overlay as overlay_module
from autocnet_jobs.catalogue.overlay import MIN_AREA, overlay
from autocnet_jobs.catalogue.queries import connect

from .autocnet_sql import COMPUTE_OVERLAPS_SQL
from .helpers import write_batches
from .test_overlap_geometry import circle, orbit_strip

MARS, MOON = "IAU_2015:49900", "IAU_2015:30100"

# AutoCNet's compute_overlaps_sql (tests/autocnet_sql.py, verbatim) but for the footprint column: AutoCNet's images.geom is our images.footprint (both lon/lat MULTIPOLYGONs). Its ``overlay``
# table is made below as AutoCNet's model has it (intersections int[], geom), a temporary table; the SRID is the
# footprints' own (one body), which ST_Area ignores (planar, square degrees, as AutoCNet's).
AUTOCNET_COMPUTE_OVERLAPS_SQL = (COMPUTE_OVERLAPS_SQL.replace("images.geom", "images.footprint")
                                 .replace("(ST_DUMP(geom))", "(ST_DUMP(footprint))"))


def _record(name: str, fp, iau_code: str = MARS, body: str = "Mars", **extra) -> dict:
    return {"path": f"/data/syn/{name}.cub", "name": f"{name}.cub", "checksum": "0" * 64, "size": 1, "mtime": 1.0,
            "driver": "ISIS3", "width": 10, "height": 10, "bands": 1, "body": body, "iau_code": iau_code,
            "crs_wkt": None, "footprint_wkb": shapely.to_wkb(fp, hex=True), "footprint_source": "camera",
            "footprint_note": None, "camera": None, "keypoints_path": None, "n_keypoints": 0, "extractor": "sift",
            "extractor_params": {}, "note": None, **extra}


def _write(url: str, records: list[dict]) -> dict[str, int]:
    write_batches(url, records)
    return {n: d["id"] for n, d in overlap_queries.overlap_graph(url).nodes(data=True)}


def reference_set() -> list[dict]:
    """~20 Mars footprints clear of +-180: CTX-like strips side by side near 30E crossed by strips of other orbits
    (faces seen by up to 5 images), discs around 100W with an annulus (a footprint with a hole) and a two-part
    footprint, and one image overlapping nothing."""
    rng = np.random.default_rng(263)
    recs = [_record(f"ctx{k:02d}", orbit_strip(30 + rng.uniform(-0.8, 0.8), 92.5, rng.uniform(15, 25),
                                               rng.uniform(40, 55))) for k in range(10)]
    recs += [_record(f"cross{k}", orbit_strip(20 + 4 * k, incl, 20, 60, half_width=0.4))
             for k, incl in enumerate((60, 120, 70))]
    recs += [_record(f"disc{k}", circle(-100 + 1.6 * np.cos(a), 10 + 1.6 * np.sin(a), 1.5))
             for k, a in enumerate(np.linspace(0, 2 * np.pi, 4, endpoint=False))]
    ring = circle(-100, 10, 3.2).geoms[0]
    recs.append(_record("annulus", MultiPolygon([Polygon(ring.exterior, [circle(-100, 10, 1.0).geoms[0].exterior])])))
    recs.append(_record("twoparts", MultiPolygon([box(-104.5, 6, -102, 8), box(-98, 12, -95.5, 14)])))
    recs.append(_record("alone", MultiPolygon([box(-60, -40, -58, -38)])))
    # a frame (a footprint with a hole) and an image across it whose only face has its interior point in the
    # hole: AutoCNet's rule (intersection area) says the frame sees it, a point-in-polygon test would not
    recs.append(_record("frame", MultiPolygon([box(100, -30, 110, -20).difference(box(102, -28, 108, -22))])))
    recs.append(_record("inframe", MultiPolygon([box(101, -29, 109, -21)])))
    return recs


def test_overlay_matches_autocnets_compute_overlaps_sql_on_postgis(fresh_pg_db):
    url = fresh_pg_db
    ids = _write(url, reference_set())
    ours = overlay(url)
    with connect(url) as conn:
        conn.execute(text("CREATE TEMP TABLE overlay (id SERIAL PRIMARY KEY, intersections INTEGER[], "
                          "geom geometry)"))
        conn.execute(text(AUTOCNET_COMPUTE_OVERLAPS_SQL))
        theirs = [(sorted(r.intersections), shapely.from_wkb(bytes(r.wkb))) for r in
                  conn.execute(text("SELECT intersections, ST_AsBinary(geom) AS wkb FROM overlay"))]

    assert len(theirs) >= 40 and max(len(s) for s, _ in theirs) >= 4      # a set worth comparing
    assert ids["/data/syn/alone.cub"] not in {i for s, _ in theirs for i in s}
    assert len(ours) == len(theirs)
    assert sorted(f["intersections"] for f in ours) == sorted(s for s, _ in theirs)
    tree = shapely.STRtree([g for _, g in theirs])
    for face in ours:
        # the reference face holding our face's interior point: same images, same area within 0.1 %
        hits = tree.query(shapely.point_on_surface(face["geom"]), predicate="within")
        assert len(hits) == 1, face["intersections"]
        ref_set, ref_geom = theirs[hits[0]]
        assert face["intersections"] == ref_set
        assert face["area"] == pytest.approx(ref_geom.area, rel=1e-3)
        assert shapely.symmetric_difference(face["geom"], ref_geom).area < 1e-3 * ref_geom.area
    frame, inframe = ids["/data/syn/frame.cub"], ids["/data/syn/inframe.cub"]
    assert [f["area"] for f in ours if f["intersections"] == sorted((frame, inframe))] == [pytest.approx(64)]
    assert all(f["paths"] == [p for i in f["intersections"] for p, j in ids.items() if j == i] for f in ours)


def _exactly(footprints: dict[int, object], members: list[int]):
    """The region seen by exactly ``members`` among ``footprints``, by shapely's overlay operations."""
    inside = shapely.intersection_all([footprints[i] for i in members])
    others = [g for i, g in footprints.items() if i not in members]
    return inside.difference(shapely.union_all(others)) if others else inside


def test_overlay_faces_are_the_regions_seen_by_exactly_their_images_on_sqlite(tmp_path):
    """Also: a pair across +-180 (footprints split at the antimeridian) gives a face on each side; an image
    with no partner gives none."""
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    fps = {"a": MultiPolygon([box(10, 0, 14, 4)]), "b": MultiPolygon([box(12, 2, 16, 6)]),
           "c": MultiPolygon([box(11, 1, 15, 3)]), "d": circle(13, 3, 1.8),
           "e": MultiPolygon([box(170, 0, 180, 5), box(-180, 0, -175, 5)]),
           "f": MultiPolygon([box(175, 2, 180, 8), box(-180, 2, -170, 8)]),
           "alone": MultiPolygon([box(60, 60, 61, 61)])}
    ids = _write(url, [_record(k, g) for k, g in fps.items()])
    by_id = {ids[f"/data/syn/{k}.cub"]: g for k, g in fps.items()}
    faces = overlay(url)
    assert faces and all(len(f["intersections"]) > 1 and f["area"] > MIN_AREA for f in faces)
    assert ids["/data/syn/alone.cub"] not in {i for f in faces for i in f["intersections"]}

    region = {i: g for i, g in by_id.items() if g.bounds[0] < 20 and g.bounds[2] < 20}      # a, b, c, d
    sets: dict[tuple, list] = {}
    for f in faces:
        sets.setdefault(tuple(f["intersections"]), []).append(f["geom"])
    a, b, c, d, e, f_ = (ids[f"/data/syn/{k}.cub"] for k in "abcdef")
    assert tuple(sorted((a, b, c, d))) in sets                     # the four see one region together
    for members, geoms in sets.items():
        if e in members:
            continue
        truth = _exactly(region, list(members))
        got = shapely.union_all(geoms)
        assert shapely.symmetric_difference(got, truth).area < 1e-6, members
    # every region seen by two or more is covered: the union of all pairwise intersections
    pairwise = shapely.union_all([region[i].intersection(region[j]) for i in region for j in region if i < j])
    assert shapely.symmetric_difference(shapely.union_all([g for m, gs in sets.items() if e not in m
                                                           for g in gs]), pairwise).area < 1e-6
    # across +-180: two faces, one each side of the seam, both seen by e and f, 3 x 5 degrees each
    seam = sorted((g.bounds for g in sets[tuple(sorted((e, f_)))]))
    assert seam == [pytest.approx((-180, 2, -175, 5)), pytest.approx((175, 2, 180, 5))]
    assert [f["area"] for f in faces if f["intersections"] == sorted((e, f_))] == [pytest.approx(15)] * 2


def test_overlay_of_a_selection_by_body_box_and_paths(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    recs = [_record(f"m{k}", MultiPolygon([box(10 + k, 0, 12.5 + k, 3)])) for k in range(3)]          # Mars 10-15E
    recs += [_record(f"w{k}", MultiPolygon([box(-50 + k, 20, -48.5 + k, 22)])) for k in range(2)]     # Mars 50W
    recs += [_record(f"l{k}", MultiPolygon([box(10 + k, 0, 12.5 + k, 3)]), MOON, "Moon") for k in range(2)]
    ids = _write(url, recs)
    named = {p.rsplit("/", 1)[1][:-4]: i for p, i in ids.items()}

    def images_of(faces):
        return {i for f in faces for i in f["intersections"]}

    everything = overlay(url)
    assert images_of(everything) == set(named.values())
    assert all(f["body"] == "Moon" for f in everything if named["l0"] in f["intersections"])
    # Moon footprints lie where Mars's do, but no face mixes bodies
    assert not any({named["l0"], named["m0"]} <= set(f["intersections"]) for f in everything)
    assert images_of(overlay(url, body="moon")) == {named["l0"], named["l1"]}
    mars_east = overlay(url, body="Mars", bbox=(9, -1, 20, 4))
    assert images_of(mars_east) == {named["m0"], named["m1"], named["m2"]}
    assert shapely.union_all([f["geom"] for f in mars_east]).bounds == pytest.approx((11, 0, 13.5, 3))
    # a narrow box meets m0 and m1 only: their face, whole (the box selects images, it does not clip faces)
    narrow = overlay(url, body="Mars", bbox=(11.2, -1, 11.4, 4))
    assert [(f["intersections"], f["geom"].bounds) for f in narrow] == [
        (sorted((named["m0"], named["m1"])), pytest.approx((11, 0, 12.5, 3)))]
    two = overlay(url, paths=["/data/syn/m0.cub", "/data/syn/m2.cub"])
    assert [f["intersections"] for f in two] == [sorted((named["m0"], named["m2"]))]
    assert two[0]["geom"].bounds == pytest.approx((12, 0, 12.5, 3))
    assert overlay(url, paths=["/data/syn/m0.cub", "/data/syn/w0.cub"]) == []
    # a long list of paths is read in chunks (SQLite's parameter limit): one path per query, same answer
    monkeypatch.setattr(overlay_module, "PATHS_PER_QUERY", 1)
    chunked = overlay(url, paths=[f"/data/syn/m{k}.cub" for k in range(3)])
    assert [(f["intersections"], f["geom"].wkb) for f in chunked] == [(f["intersections"], f["geom"].wkb)
                                                                     for f in mars_east]
    assert overlay(url, bbox=(100, 50, 110, 60)) == []


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autocnet_jobs.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_export_overlay_and_adjacency_files(tmp_path):
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    recs = [_record(f"m{k}", MultiPolygon([box(10 + k, 0, 12.5 + k, 3)]), instrument="CTX" if k else "HIRISE")
            for k in range(3)]
    recs.append(_record("alone", MultiPolygon([box(60, 60, 61, 61)]), instrument="CTX"))
    ids = _write(url, recs)
    expected = overlay(url)

    out = _cli("export", "--format", "overlay", "--out", str(tmp_path / "faces.geojson"), "--db", url)
    assert out.returncode == 0, out.stderr
    assert f"{len(expected)} overlay faces" in out.stdout
    features = json.loads((tmp_path / "faces.geojson").read_text())["features"]
    assert [f["properties"]["intersections"] for f in features] == [f["intersections"] for f in expected]
    assert [f["properties"]["paths"] for f in features] == [f["paths"] for f in expected]
    for feature, face in zip(features, expected):
        assert shapely.geometry.shape(feature["geometry"]).equals_exact(face["geom"], 1e-12)

    out = _cli("export", "--format", "overlay", "--out", str(tmp_path / "faces.csv"), "--db", url)
    assert out.returncode == 0, out.stderr
    with open(tmp_path / "faces.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["intersections", "geom"]
    assert [r["intersections"] for r in rows] == ["{" + ",".join(map(str, f["intersections"])) + "}"
                                                  for f in expected]
    assert all(shapely.from_wkt(r["geom"]).equals_exact(f["geom"], 1e-12) for r, f in zip(rows, expected))

    # a query selects the images: without the HIRISE image m0, only m1 and m2's face
    out = _cli("export", "--format", "overlay", "--instrument", "ctx", "--out", str(tmp_path / "ctx.geojson"),
               "--db", url)
    assert out.returncode == 0, out.stderr
    features = json.loads((tmp_path / "ctx.geojson").read_text())["features"]
    m1, m2 = ids["/data/syn/m1.cub"], ids["/data/syn/m2.cub"]
    assert [f["properties"]["intersections"] for f in features] == [[m1, m2]]

    # ... and a box: 12.6..13 E meets m1 and m2, not m0 (10..12.5 E)
    out = _cli("export", "--format", "overlay", "--bbox", "12.6", "0", "13", "1", "--out",
               str(tmp_path / "box.geojson"), "--db", url)
    assert out.returncode == 0, out.stderr
    features = json.loads((tmp_path / "box.geojson").read_text())["features"]
    assert [f["properties"]["intersections"] for f in features] == [[m1, m2]]

    out = _cli("export", "--format", "adjacency", "--out", str(tmp_path / "adjacency.json"), "--db", url)
    assert out.returncode == 0, out.stderr
    adjacency = json.loads((tmp_path / "adjacency.json").read_text())
    assert adjacency == {"/data/syn/alone.cub": [], "/data/syn/m0.cub": ["/data/syn/m1.cub", "/data/syn/m2.cub"],
                         "/data/syn/m1.cub": ["/data/syn/m0.cub", "/data/syn/m2.cub"],
                         "/data/syn/m2.cub": ["/data/syn/m0.cub", "/data/syn/m1.cub"]}

    for args, says in ((["--format", "overlay"], "--format overlay needs --out"),
                       (["--format", "overlay", "--out", str(tmp_path / "x.txt")], "--format overlay needs --out"),
                       (["--format", "adjacency", "--out", str(tmp_path / "x.csv")], "FILE.json"),
                       (["--format", "adjacency", "--instrument", "ctx", "--out", str(tmp_path / "x.json")],
                        "--format overlay only"),
                       (["--format", "overlaps", "--bbox", "0", "0", "1", "1", "--out", str(tmp_path / "x.csv")],
                        "--bbox selects the images of --format overlay"),
                       (["--format", "overlay", "--bbox", "5", "0", "1", "1", "--out", str(tmp_path / "y.csv")],
                        "--bbox MINLON MINLAT MAXLON MAXLAT")):
        out = _cli("export", *args, "--db", url)
        assert out.returncode == 2 and says in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
