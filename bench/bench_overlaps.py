"""The overlap graph at archive scale (issue 26): our full build and incremental add against AutoCNet's SQL.

Data: synthetic CTX-like footprints on Mars, 30 km x 300 km strips along near-polar ground tracks (inclination
93 deg, ascending and descending), 20 vertices each, in the planetocentric lon/lat the catalogue stores (split at
+-180 where they cross it). Strip centres are spread uniformly over a band |lat| <= 30 deg and a longitude range
centred on 180 whose width grows with the count, so every size has the same density: each strip overlaps about
``--overlaps`` (50) others at every size (past ~100k the band is full and the strips shrink instead: 9.5 km x
95 km at 1M).

Ours, per backend (SQLite file, PostGIS) and size:
  * **stream**: the images written through the store (``Store.write``, batches of 500, one transaction each) with
    their pairs, as the writer does while images arrive; images/s of the whole write;
  * **rebuild**: ``rebuild_overlaps()`` over the same catalogue (every pair recomputed);
  * **add 1**: one more image written into the catalogue of that size (``--adds`` of them, median time): the
    incremental path, which must not depend on the catalogue's size (issue 26: within 2x from 10k to 100k).
AutoCNet's two statements on the same PostGIS data (DOI-USGS/Autocnet ``autocnet/sql.py``, commit 15a21fd):
``from_database_composite`` with ``formatInput = SELECT * FROM images`` (the pairs, fetched) and
``compute_overlaps_sql`` (polygonize the union of all exterior rings, intersect each face with the images, keep
faces of >1 image in ``overlay``), run verbatim in a schema ``autocnet`` holding ``images(id, path, geom)`` (a copy of
our images' footprints, GiST-indexed as AutoCNet's model does) and ``overlay(id, intersections, geom)``; only the
schema is ours. Timed out after ``--autocnet-timeout`` seconds: at a size where they do not finish the table says
so. Figures: images/s = images / seconds; ratio = ours over AutoCNet's composite + overlay at the same size.

Checks in the same run: our pairs against AutoCNet's composite pairs (ours drop touches: area < 1 m^2 or < 1e-6 of
the smaller footprint), and our areas of a sample of pairs against pyproj's geodesic polygon area (densified).

``--million``: a child process builds a 1M-footprint SQLite catalogue through the same stream and reports its
peak RSS (issue 26: within 2 GB).

    .venv/bin/python bench/bench_overlaps.py [--sizes 1000,10000] [--backends sqlite,postgis]
        [--autocnet-sizes 1000] [--autocnet-timeout 600] [--rebuild-max N] [--adds 20] [--overlaps 50]
        [--million] [--json out.json]

The default run takes ~2 minutes here. The acceptance run (~25 minutes; AutoCNet's overlay alone takes ~6 min at
10k): ``--sizes 1000,3000,10000,100000 --autocnet-sizes 1000,3000,10000 --autocnet-timeout 1500
--rebuild-max 10000``; ``--million`` adds ~1 hour.
"""
from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib
import numpy as np
import shapely

benchlib.add_repo_to_path()
from tests.autocnet_sql import COMPUTE_OVERLAPS_SQL, FROM_DATABASE_COMPOSITE  # noqa: E402

MARS = (3396190.0, 3376200.0)
R_MEAN = 3389500.0
BAND = 30.0                  # |lat| of the strip centres
STRIP_W, STRIP_L = 30e3, 300e3
SIDE = 10                    # vertices along each long side (20 per strip)
TARGET_BUILD_RATIO = 10.0    # issue 26: full build >= 10x AutoCNet's composite + overlay
TARGET_ADD_RATIO = 2.0       # add 1 at 100k within 2x of add 1 at 10k
TARGET_MILLION_MB = 2048


# ---- synthetic CTX-like strips -------------------------------------------------------------------------------
def _layout(n: int, overlaps: float) -> tuple[float, float]:
    """(longitude span in degrees, strip scale) giving ``n`` strips about ``overlaps`` overlaps each."""
    band_area_per_deg = 2 * math.pi * R_MEAN ** 2 * 2 * math.sin(math.radians(BAND)) / 360.0
    span = n * 4 * STRIP_W * STRIP_L / (overlaps * band_area_per_deg)
    return (span, 1.0) if span <= 360 else (360.0, math.sqrt(360.0 / span))


def strips(n: int, overlaps: float = 50, seed: int = 0, lon0: float | None = None, layout_n: int | None = None) -> list:
    """``n`` stored footprints (MultiPolygons), see the module docstring, laid out for a set of ``layout_n`` (n);
    ``lon0``: all centred within a degree of it instead."""
    from autocnet_jobs.extractors.antimeridian import clean, normalise, ring_region

    rng = np.random.default_rng(seed)
    span, scale = _layout(layout_n or n, overlaps)
    lon = 180.0 + rng.uniform(-span / 2, span / 2, n) if lon0 is None else np.full(n, lon0) + rng.uniform(-1, 1, n)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n) * math.sin(math.radians(BAND))))
    c = np.stack([np.cos(np.radians(lat)) * np.cos(np.radians(lon)),
                  np.cos(np.radians(lat)) * np.sin(np.radians(lon)), np.sin(np.radians(lat))], axis=1)
    north = np.stack([-np.sin(np.radians(lat)) * np.cos(np.radians(lon)),
                      -np.sin(np.radians(lat)) * np.sin(np.radians(lon)), np.cos(np.radians(lat))], axis=1)
    east = np.cross(north, c)
    # ground-track azimuth of a 93 deg orbit (Clairaut: cos i = cos lat sin az), ascending or descending
    az = np.arcsin(np.clip(math.cos(math.radians(93.0)) / np.cos(np.radians(lat)), -1, 1))
    az = np.where(rng.random(n) < 0.5, az, math.pi - az)
    d = north * np.cos(az)[:, None] + east * np.sin(az)[:, None]
    w = np.cross(c, d)
    s = np.linspace(-0.5, 0.5, SIDE) * STRIP_L * scale / R_MEAN
    half = 0.5 * STRIP_W * scale / R_MEAN
    along = c[:, None, :] + np.tan(s)[None, :, None] * d[:, None, :]
    left = along + math.tan(half) * w[:, None, :]
    right = along - math.tan(half) * w[:, None, :]
    ring = np.concatenate([right, left[:, ::-1]], axis=1)
    ring /= np.linalg.norm(ring, axis=2, keepdims=True)
    rlon = np.degrees(np.arctan2(ring[..., 1], ring[..., 0]))
    rlat = np.degrees(np.arcsin(ring[..., 2]))
    rlon = np.concatenate([rlon, rlon[:, :1]], axis=1)
    rlat = np.concatenate([rlat, rlat[:, :1]], axis=1)
    crosses = np.ptp(rlon, axis=1) > 180
    out = list(shapely.multipolygons(shapely.polygons(np.stack([rlon, rlat], axis=2))[:, None]))
    for k in np.flatnonzero(crosses):
        out[k] = clean(normalise(ring_region(rlon[k], rlat[k])))
    return out


def record(i: int, fp, prefix: str = "/data/ctx") -> dict:
    name = f"S{i:07d}_XN.cal.cub"
    return {"path": f"{prefix}/{name}", "name": name, "checksum": "0" * 64, "size": 1, "mtime": 1.0,
            "driver": "ISIS3", "width": 5000, "height": 50000, "bands": 1, "body": "Mars",
            "iau_code": "IAU_2015:49900", "crs_wkt": None, "footprint_wkb": shapely.to_wkb(fp, hex=True),
            "footprint_source": "camera", "footprint_note": None, "camera": None, "keypoints_path": None,
            "n_keypoints": 0, "extractor": "sift", "extractor_params": {}, "note": None}


# ---- ours --------------------------------------------------------------------------------------------------
def _read(store, sql: str) -> list:
    """Rows of a query on the store's connection, its transaction ended (the store begins its own)."""
    from sqlalchemy import text

    try:
        return store.conn.execute(text(sql)).all()
    finally:
        store.conn.rollback()


def _count(store) -> int:
    return _read(store, 'SELECT count(*) FROM "overlaps"')[0][0]


def build(url: str, n: int, overlaps: float, batch: int = 500, seed: int = 0):
    """The stream: ``n`` strips written through the store with their pairs. Returns (open store, seconds)."""
    from autocnet_jobs.catalogue.store import open_store

    store = open_store(url)
    store.connect()
    seconds = 0.0
    for start in range(0, n, 10_000):              # made 10k at a time (untimed), written in batches
        count = min(10_000, n - start)
        recs = [record(start + i, fp) for i, fp in
                enumerate(strips(count, overlaps, seed=seed * 7919 + start, layout_n=n))]
        for k in range(0, count, batch):
            t0 = time.perf_counter()
            store.write(recs[k:k + batch], [])
            seconds += time.perf_counter() - t0
    return store, seconds


def add_one(store, n: int, adds: int, overlaps: float) -> tuple[float, float]:
    """Median seconds and mean pairs of writing one more image, ``adds`` times, into the catalogue of ``n``."""
    before = _count(store)
    times = []
    for j, fp in enumerate(strips(adds, overlaps, seed=12345, lon0=180.0, layout_n=n)):
        t0 = time.perf_counter()
        store.write([record(10_000_000 + j, fp, prefix="/data/new")], [])
        times.append(time.perf_counter() - t0)
    return statistics.median(times), (_count(store) - before) / adds


# AutoCNet's two statements: tests/autocnet_sql.py (their one home, the source named there).
def autocnet(url: str, timeout_s: float) -> dict:
    """AutoCNet's composite (pairs fetched) and overlay statements on a copy of our images' footprints in schema
    ``autocnet``; seconds each (None: timed out), and the composite's pairs."""
    import psycopg

    out: dict = {"composite_s": None, "overlay_s": None, "composite_pairs": None, "overlay_faces": None}
    with psycopg.connect(benchlib.libpq(url), autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS autocnet CASCADE")
        con.execute("CREATE SCHEMA autocnet")
        con.execute("CREATE TABLE autocnet.images AS SELECT id, path, footprint AS geom FROM public.images")
        con.execute("ALTER TABLE autocnet.images ADD PRIMARY KEY (id)")
        con.execute("CREATE INDEX ON autocnet.images USING gist (geom)")
        con.execute("CREATE TABLE autocnet.overlay (id serial PRIMARY KEY, intersections integer[], geom geometry)")
        con.execute("ANALYZE autocnet.images")
        con.execute("SET search_path = autocnet, public")
        con.execute(f"SET statement_timeout = {int(timeout_s * 1000)}")
        try:
            t0 = time.perf_counter()
            rows = con.execute(FROM_DATABASE_COMPOSITE.format(formatInput="SELECT * FROM images")).fetchall()
            out["composite_s"] = time.perf_counter() - t0
            out["composite_pairs"] = {(r[0], r[2]) for r in rows}
        except psycopg.errors.QueryCanceled:
            pass
        try:
            t0 = time.perf_counter()
            con.execute(COMPUTE_OVERLAPS_SQL)
            out["overlay_s"] = time.perf_counter() - t0
            out["overlay_faces"] = con.execute("SELECT count(*) FROM overlay").fetchone()[0]
        except psycopg.errors.QueryCanceled:
            pass
        con.execute("DROP SCHEMA autocnet CASCADE")
    return out


def area_check(store, sample: int = 300) -> float:
    """Worst relative difference of our stored areas from pyproj's geodesic polygon area (rings densified to 0.01
    deg, planetocentric latitude converted) over a sample of pairs."""
    import pyproj

    from autocnet_jobs.catalogue import overlap_geometry as og

    geom = "ST_AsBinary(geom)" if store.postgis else "geom"
    rows = _read(store, f'SELECT area_m2, {geom} FROM "overlaps" ORDER BY image_a, image_b LIMIT {sample}')
    geod = pyproj.Geod(a=MARS[0], b=MARS[1])
    worst = 0.0
    for area, wkb in rows:
        truth = 0.0
        for p in og.polygons(shapely.from_wkb(bytes(wkb))):
            c = np.asarray(shapely.segmentize(p, 0.01).exterior.coords)
            truth += abs(geod.polygon_area_perimeter(c[:, 0], og.geodetic_latitude(c[:, 1], MARS))[0])
        worst = max(worst, abs(area / truth - 1))
    return worst


def our_pairs(store) -> set:
    return set(map(tuple, _read(store, 'SELECT image_a, image_b FROM "overlaps"')))


# ---- a million: peak memory in a child -------------------------------------------------------------------------
def million_child(n: int, overlaps: float) -> None:
    folder = tempfile.mkdtemp(prefix="bench-overlaps-1m-")
    store, seconds = build(f"sqlite:///{folder}/cat.db", n, overlaps)
    pairs = _count(store)
    store.close()
    print(json.dumps({"n": n, "seconds": seconds, "pairs": pairs,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    for f in Path(folder).iterdir():
        f.unlink()
    Path(folder).rmdir()


# ---- main ----------------------------------------------------------------------------------------------------
def run_size(backend: str, n: int, args, acn_sizes: set, rows: list, notes: list) -> None:
    if backend == "sqlite":
        url, scratch = f"sqlite:///{benchlib.scratch_dir('bench-overlaps-')}/cat.db", None
    else:
        scratch = benchlib.ScratchDatabase(benchlib.postgis_url(), "overlaps")
        url = scratch.url
    try:
        store, build_s = build(url, n, args.overlaps)
        pairs = _count(store)
        rows.append({"backend": backend, "n": n, "method": "ours: stream (Store.write with pairs)", "s": build_s,
                     "rate": n / build_s, "pairs": pairs})
        if n <= args.rebuild_max:
            t0 = time.perf_counter()
            store.rebuild_overlaps()
            rebuild_s = time.perf_counter() - t0
            rows.append({"backend": backend, "n": n, "method": "ours: rebuild_overlaps()", "s": rebuild_s,
                         "rate": n / rebuild_s, "pairs": _count(store)})
        ours = our_pairs(store) if backend == "postgis" and n in acn_sizes else None
        worst = area_check(store)
        notes.append(f"{backend} {n:,}: area vs pyproj geodesic, worst of 300 pairs {worst:.1e} (target < 5e-3)")
        if backend == "postgis" and n in acn_sizes:
            acn = autocnet(url, args.autocnet_timeout)
            total = (None if acn["composite_s"] is None or acn["overlay_s"] is None
                     else acn["composite_s"] + acn["overlay_s"])
            for key, label in (("composite_s", "AutoCNet: from_database_composite"),
                               ("overlay_s", "AutoCNet: compute_overlaps_sql")):
                rows.append({"backend": backend, "n": n, "method": label, "s": acn[key],
                             "rate": n / acn[key] if acn[key] else None,
                             "pairs": len(acn["composite_pairs"]) if key == "composite_s" and acn[key]
                             else acn["overlay_faces"] if acn[key] else None,
                             "note": None if acn[key] else f"timed out at {args.autocnet_timeout:.0f} s"})
            rows.append({"backend": backend, "n": n, "method": "AutoCNet: composite + overlay", "s": total,
                         "rate": n / total if total else None, "ratio": total / build_s if total else None,
                         "note": None if total else f"> {args.autocnet_timeout:.0f} s"})
            if acn["composite_pairs"] is not None:
                extra = ours - acn["composite_pairs"]
                theirs = acn["composite_pairs"]
                notes.append(f"postgis {n:,}: our pairs {len(ours):,}, AutoCNet composite {len(theirs):,} "
                             f"({len(theirs - ours):,} touches/slivers not ours), ours not in it: {len(extra)}")
        add_s, add_pairs = add_one(store, n, args.adds, args.overlaps)
        rows.append({"backend": backend, "n": n, "method": f"ours: add 1 image (median of {args.adds})",
                     "s": add_s, "rate": 1 / add_s, "pairs": add_pairs})
        store.close()
    finally:
        if scratch is not None:
            scratch.drop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--backends", default="sqlite,postgis")
    ap.add_argument("--autocnet-sizes", default="1000")
    ap.add_argument("--autocnet-timeout", type=float, default=600)
    ap.add_argument("--rebuild-max", type=int, default=10**9, help="rebuild only up to this size")
    ap.add_argument("--adds", type=int, default=20)
    ap.add_argument("--overlaps", type=float, default=50)
    ap.add_argument("--million", action="store_true")
    ap.add_argument("--million-n", type=int, default=1_000_000)
    ap.add_argument("--child-million", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.child_million:
        return million_child(args.child_million, args.overlaps)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    acn_sizes = {int(s) for s in args.autocnet_sizes.split(",") if s}
    info = benchlib.machine()
    print(f"Overlaps benchmark: CTX-like strips on Mars, ~{args.overlaps:.0f} overlaps each; "
          f"{benchlib.machine_line(info)}")
    rows: list[dict] = []
    notes: list[str] = []
    for backend in args.backends.split(","):
        for n in sizes:
            run_size(backend, n, args, acn_sizes, rows, notes)
            print(f"  done: {backend} {n:,}", flush=True)
    if args.million:
        child = subprocess.run([sys.executable, __file__, "--child-million", str(args.million_n), "--overlaps",
                                str(args.overlaps)], capture_output=True, text=True, check=True)
        m = json.loads(child.stdout.strip().splitlines()[-1])
        rows.append({"backend": "sqlite", "n": m["n"], "method": "ours: stream, child process", "s": m["seconds"],
                     "rate": m["n"] / m["seconds"], "pairs": m["pairs"],
                     "note": f"peak RSS {m['peak_rss_mb']:,.0f} MB"})
        notes.append(f"1M footprints: peak RSS {m['peak_rss_mb']:,.0f} MB vs 2,048 MB: "
                     f"{benchlib.verdict(m['peak_rss_mb'] <= TARGET_MILLION_MB)}")
    print(benchlib.table(rows, [("backend", "backend", ""), ("n", "images", ",d"), ("method", "method", ""),
                                ("s", "time s", ",.3f"), ("rate", "images/s", ",.0f"), ("pairs", "pairs", ",.0f"),
                                ("ratio", "AutoCNet / ours", ",.1f"), ("note", "note", "")]))
    for note in notes:
        print(note)
    verdicts(rows)
    benchlib.write_json(args.json, {"machine": info, "args": vars(args), "rows": rows, "notes": notes})


def verdicts(rows: list[dict]) -> None:
    for r in rows:
        if r.get("ratio"):
            print(f"full build at {r['n']:,} on PostGIS: {r['ratio']:.1f}x AutoCNet's composite + overlay vs target "
                  f"{TARGET_BUILD_RATIO:.0f}x: {benchlib.verdict(r['ratio'] >= TARGET_BUILD_RATIO)}")
    adds = {(r["backend"], r["n"]): r["s"] for r in rows if r["method"].startswith("ours: add 1")}
    for backend in ("sqlite", "postgis"):
        if (backend, 10_000) in adds and (backend, 100_000) in adds:
            ratio = adds[(backend, 100_000)] / adds[(backend, 10_000)]
            print(f"add 1 image on {backend}: 100k / 10k = {ratio:.2f} vs target <= {TARGET_ADD_RATIO:.0f}: "
                  f"{benchlib.verdict(ratio <= TARGET_ADD_RATIO)}")


if __name__ == "__main__":
    main()
