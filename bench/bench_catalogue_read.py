"""The catalogue's read side for planetary tools (issue 18): an acquisition query and the STAC and AutoCNet exports.

Query: instrument + acquisition time range + lon/lat box + resolution bound, as a mapper selects images
(``queries.images(url, bbox=..., instrument=..., acquired_from=..., acquired_to=..., resolution=...)``), on SQLite
and PostGIS, median of ``--repeat`` runs. Baseline in the same run: what a user did before these filters existed,
every row of the box (``queries.images(url, bbox=...)``, index-backed) filtered in Python; both must give the same
rows. Exports: STAC items/s of ``export --format stac`` (the write_stac call on the rows), AutoCNet rows/s of
``export --format autocnet`` on PostGIS.

Records are benchlib's synthetic ones (Mars, the Moon, Mercury; footprints anywhere) with acquisition values added
here: 8 instruments, start times spread over 2006-2026, resolution 0.25-100 m/pixel, incidence 0-90°.

    .venv/bin/python bench/bench_catalogue_read.py [--rows 20000] [--vertices 64] [--repeat 5] [--json out.json]

PostGIS: $AUTOCNET_TEST_PG_URL, else a private server started (and stopped) by this script.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone

import numpy as np

import benchlib

INSTRUMENTS = ["HIRISE", "CTX", "NACL", "NACR", "MOC-WA", "THEMIS_IR", "MDIS-NAC", "METRIC"]
T0 = datetime(2006, 1, 1, tzinfo=timezone.utc)


def records(n: int, vertices: int) -> list[dict]:
    rng = np.random.default_rng(1)
    out = benchlib.make_records(n, vertices=vertices, shape="level1")
    for i, rec in enumerate(out):
        start = T0 + timedelta(seconds=float(rng.uniform(0, 20 * 365.25 * 86400)))
        rec.update(instrument=INSTRUMENTS[i % len(INSTRUMENTS)], spacecraft="BENCH ORBITER",
                   start_time=start.isoformat().replace("+00:00", "Z"),
                   stop_time=(start + timedelta(seconds=10)).isoformat().replace("+00:00", "Z"),
                   resolution=float(10 ** rng.uniform(np.log10(0.25), 2)), incidence=float(rng.uniform(0, 90)),
                   emission=float(rng.uniform(0, 30)), phase=float(rng.uniform(0, 120)), product_id=f"P{i:07d}",
                   target=rec["body"], serial_number=f"BENCH/{i:07d}")
    return out


QUERY = {"bbox": (-60.0, -30.0, 0.0, 30.0), "instrument": "HIRISE",
         "acquired_from": datetime(2010, 1, 1, tzinfo=timezone.utc),
         "acquired_to": datetime(2015, 1, 1, tzinfo=timezone.utc), "resolution": (None, 10.0)}


def python_filter(rows: list[dict]) -> set[str]:
    q = QUERY
    return {r["path"] for r in rows if r["instrument"] and r["instrument"].lower() == q["instrument"].lower()
            and r["start_time"] is not None and q["acquired_from"] <= r["start_time"] < q["acquired_to"]
            and r["resolution"] is not None and r["resolution"] <= q["resolution"][1]}


def timed(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--vertices", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    benchlib.add_repo_to_path()
    from autocnet_jobs import queries
    from autocnet_jobs.catalogue.exports.autocnet import export_autocnet
    from autocnet_jobs.catalogue.exports.stac import write_stac
    from autocnet_jobs.catalogue.store import open_store

    info = benchlib.machine()
    recs = records(args.rows, args.vertices)
    scratch = benchlib.scratch_dir("bench-read-")
    pg = benchlib.ScratchDatabase(benchlib.postgis_url(), "read")
    results = []
    try:
        for backend, url in (("sqlite", f"sqlite:///{scratch / 'cat.db'}"), ("postgis", pg.url)):
            store = open_store(url)
            store.connect()
            for i in range(0, len(recs), 500):
                store.write(recs[i:i + 500], [])
            store.close()
            ours_s, ours = timed(lambda: queries.images(url, **QUERY), args.repeat)
            base_s, box_rows = timed(lambda: queries.images(url, bbox=QUERY["bbox"]), args.repeat)
            expected = python_filter(box_rows)
            same = {r["path"] for r in ours} == expected
            results.append({"backend": backend, "what": "query: instrument + time + box + resolution",
                            "method": "ours: filters in SQL", "rows": len(ours), "ms": ours_s * 1e3,
                            "ratio": base_s / ours_s, "same": same})
            results.append({"backend": backend, "what": "query: instrument + time + box + resolution",
                            "method": "baseline: box query, rest in Python", "rows": len(box_rows),
                            "ms": base_s * 1e3, "ratio": 1.0, "same": same})
            rows = queries.images(url)
            t = time.perf_counter()
            write_stac(rows, scratch / f"stac-{backend}")
            stac_s = time.perf_counter() - t
            results.append({"backend": backend, "what": "export --format stac", "method": "write_stac, all rows",
                            "rows": len(rows), "ms": stac_s * 1e3, "rate": len(rows) / stac_s})
            if backend == "postgis":
                with queries.connect(url) as conn:
                    t = time.perf_counter()
                    counts = export_autocnet(conn, "acn_bench", body="Mars")
                    acn_s = time.perf_counter() - t
                results.append({"backend": backend, "what": "export --format autocnet", "method": "Mars, 3 tables",
                                "rows": counts["images"], "ms": acn_s * 1e3, "rate": counts["images"] / acn_s})
    finally:
        pg.drop()
    print(f"Catalogue read benchmark: {args.rows} records, {args.vertices}-vertex footprints; "
          f"{benchlib.machine_line(info)}")
    print(benchlib.table(results, [("backend", "backend", ""), ("what", "what", ""), ("method", "method", ""),
                                   ("rows", "rows", ","), ("ms", "time ms", ",.1f"), ("rate", "rows/s", ",.0f"),
                                   ("ratio", "vs baseline", ".1f"), ("same", "same rows", "")]))
    benchlib.write_json(args.json, {"machine": info, "args": vars(args), "results": results})
    return 0 if all(r.get("same", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
