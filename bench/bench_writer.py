"""Writer throughput: images/s into PostGIS and SQLite through our writer vs the replaced system's way.

Ours: the writer process's own loop (``autocnet_jobs.catalogue.writer.writer_main``, run in this process with its
inbox filled beforehand): batches of ``database.batch_size``, one transaction each, the next batch encoded while
the server writes this one (pipelined), with the job rows already in the table as "queued", as they are in a run
(the tracker writes them at submit), so each committed image also deletes its job row. Reference rows, same run:
the same store without the pipeline (``store.write`` one batch after another); the server alone, replaying our
own rows (images and cameras) as binary COPY bytes made beforehand; and a bare COPY of (path, EWKB). Baseline:
what the replaced system did, one database connection per image, one INSERT, commit, close (done generously:
the raw driver with a pre-encoded EWKB, not an ORM session).

Records look like ``process_image`` output: every column filled (the acquisition ones too), the extractor
settings as JSON, and a footprint MultiPolygon of ``--vertices`` vertices (one in ten split at 180° into two
parts), or ``--vertices realistic`` (default): the samples' own footprints as process_image now gives them,
simplified to a tenth of a pixel (5 to ~1,200 vertices, median 5), each moved to a random place. ``--shape
mapped`` is a map-projected image's record: CRS WKT, and an affine camera model carrying it again (the store
keeps the WKT once, in the crs table). ``--shape level1`` is a level-1 cube's: no CRS, and a sensor camera with
its ISD as process_image makes it (``--isd cube``: the ctxTestImage.cub driver's, 16 KB of JSON; ``--isd
large``: usgscsm's ctxLineScan.json, 35 KB), which goes to the cameras table. Both shapes run by default.

After ours, the images row's stored size is measured (``pg_column_size`` of the row, averaged over the records,
with and without its camera column and footprint).

The overlap graph's pairs (issue 26), which the writer also computes and writes in each batch's transaction, are
left out of every row above (``write_overlaps`` made a no-op here, in the writer process too): they cost far more
than the rows themselves, and grow with the catalogue (the samples' footprints include whole-body ones, which
overlap every image of their body). One more row measures ours with them, over the first ``--overlap-rows``.

    .venv/bin/python bench/bench_writer.py [--rows 10000] [--vertices realistic] [--shape mapped,level1]
                                           [--isd cube] [--baseline-rows 500] [--backends postgis,sqlite]
                                           [--json out.json]

PostGIS: $AUTOCNET_TEST_PG_URL, else a private server started (and stopped) by this script.
"""
from __future__ import annotations

import argparse
import os
import queue
import sys
import time
import warnings

import benchlib
from writer_baselines import baseline_postgis, baseline_sqlite, ceiling_postgis, server_alone_postgis
from writer_records import (
    prepare_schema,
    queue_jobs,
    realistic_footprints,
    sensor_camera,
    with_acquisition,
    with_footprints,
    with_sensor_cameras,
)

TARGET_ROWS_PER_S = 30_000   # issue 25: images/s into PostGIS, the full indexed schema
TARGET_SERVER_FRACTION = 0.8  # ... and at least this fraction of the server alone with the same rows
TARGET_ROW_BYTES = 1024      # issue 25: the images row's average stored size, without its camera
TARGET_RATIO = 20.0          # issue 3: against the replaced system's one connection per image
# Put in front of the writer process's PYTHONPATH: the same no-op write_overlaps as in this process.
_NO_PAIRS = """try:
    from autocnet_jobs.catalogue.store import base as _base, overlaps as _overlaps
    _overlaps.OverlapWriter.write_overlaps = lambda self, entries, replace=True: 0
    _overlaps.record_entries = _base.record_entries = lambda records, ids: []
except ImportError:
    pass
"""
_WRITE_OVERLAPS = {}


def overlap_pairs(on: bool) -> None:
    """The writer's overlap pairs (issue 26) on or off, in this process and in writer processes started after."""
    try:
        from autocnet_jobs.catalogue.store import base, overlaps
    except ImportError:  # a package without them
        return
    cls = overlaps.OverlapWriter
    _WRITE_OVERLAPS.setdefault("on", (cls.write_overlaps, overlaps.record_entries))
    write, entries = _WRITE_OVERLAPS["on"]
    if not on:  # the footprints decoded for the pairs (record_entries) are left out too
        write, entries = (lambda self, entries, replace=True: 0), (lambda records, ids: [])
    cls.write_overlaps, overlaps.record_entries, base.record_entries = write, entries, entries
    if "dir" not in _WRITE_OVERLAPS:
        site = benchlib.scratch_dir("bench-writer-site-")
        (site / "sitecustomize.py").write_text(_NO_PAIRS)
        _WRITE_OVERLAPS["dir"] = str(site)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != _WRITE_OVERLAPS["dir"]]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths if on else [_WRITE_OVERLAPS["dir"], *paths])


def pair_count(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as con:
        n = con.execute(text('SELECT count(*) FROM "overlaps"')).scalar()
    engine.dispose()
    return n
class _Outbox:
    """The writer's outbox: notes when it is ready (connected) and which paths it acknowledged."""

    def __init__(self):
        self.ready_at: float | None = None
        self.committed = 0
        self.other: list[tuple] = []

    def put(self, msg: tuple) -> None:
        if msg[0] == "ready":
            self.ready_at = time.perf_counter()
        elif msg[0] == "committed":
            self.committed += len(msg[1])
        else:
            self.other.append(msg)


def ours(url: str, records: list[dict], batch_size: int) -> dict:
    """The writer process's loop, run here: its inbox holds every batch and a stop; timed from its "ready" (the
    connection open) to its return (every batch committed)."""
    from autocnet_jobs.catalogue.writer import writer_main

    queue_jobs(url, records)
    inbox: queue.Queue = queue.Queue()
    for i in range(0, len(records), batch_size):
        inbox.put(("write", records[i:i + batch_size], []))
    inbox.put(("stop",))
    outbox = _Outbox()
    cpu0 = time.process_time()
    writer_main(url, batch_size, 3600.0, inbox, outbox)
    seconds = time.perf_counter() - outbox.ready_at
    assert outbox.committed == len(records) and not outbox.other, (outbox.committed, outbox.other[:3])
    return {"seconds": seconds, "client_cpu_s": time.process_time() - cpu0}


def ours_process(url: str, records: list[dict], batch_size: int) -> dict:
    """Reference: the writer as a run has it, its own process (WriterProcess), the records pickled to it over its
    pipe by this process (the adder's part); timed from the first batch sent to the acknowledgement of a sync sent
    after the last (every batch committed)."""
    from autocnet_jobs.catalogue.writer import WriterProcess

    queue_jobs(url, records)
    writer = WriterProcess({"url": url, "batch_size": batch_size, "flush_interval": 3600.0})
    writer.start()
    try:
        t0 = time.perf_counter()
        for i in range(0, len(records), batch_size):
            writer.send(("write", records[i:i + batch_size], []))
        writer.send(("sync", "end"))
        committed = 0
        while True:
            msg = writer.outbox.get(timeout=600)
            if msg[0] == "committed":
                committed += len(msg[1])
            elif msg[0] == "synced":
                break
            else:
                raise RuntimeError(f"writer said {msg}")
        seconds = time.perf_counter() - t0
    finally:
        writer.stop()
        writer.release()
    assert committed == len(records), committed
    return {"seconds": seconds}


def ours_sequential(url: str, records: list[dict], batch_size: int) -> dict:
    """Reference: the same store without the pipeline, store.write one batch after another."""
    from autocnet_jobs.catalogue.store import open_store

    queue_jobs(url, records)
    store = open_store(url)
    store.connect()
    cpu0, t0 = time.process_time(), time.perf_counter()
    for i in range(0, len(records), batch_size):
        store.write(records[i:i + batch_size], [])
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    store.close()
    return {"seconds": seconds, "client_cpu_s": cpu}


def row_sizes(url: str) -> dict:
    """Average stored bytes of an images row (pg_column_size of the whole row: in line and out of line, as
    stored, compressed where it is), without its camera column, without its footprint too; and a cameras row."""
    import psycopg

    with psycopg.connect(benchlib.libpq(url)) as con:
        row, no_camera, no_camera_fp, median = con.execute(
            "SELECT avg(pg_column_size(i.*)), avg(pg_column_size(i.*) - coalesce(pg_column_size(i.camera), 0)), "
            "avg(pg_column_size(i.*) - coalesce(pg_column_size(i.camera), 0) - coalesce(pg_column_size(i.footprint), "
            "0)), percentile_cont(0.5) WITHIN GROUP (ORDER BY pg_column_size(i.*) - coalesce(pg_column_size("
            "i.camera), 0)) FROM images i").fetchone()
        camera = con.execute("SELECT avg(pg_column_size(c.*)) FROM cameras c").fetchone()[0]
    return {"row": float(row), "no_camera": float(no_camera), "no_camera_fp": float(no_camera_fp),
            "median_no_camera": float(median), "cameras_row": float(camera) if camera is not None else None}




def count_rows(url: str, table: str = "images") -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as con:
        n = con.execute(text(f"SELECT count(*) FROM {table}")).scalar()
    engine.dispose()
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--vertices", default="realistic",
                    help="footprint vertices, or 'realistic' (the samples' simplified footprints); a comma list "
                         "runs each")
    ap.add_argument("--shape", default="mapped,level1",
                    help="record shape, a comma list runs each: 'mapped' (a map-projected image: CRS WKT and an "
                         "affine camera carrying it again) or 'level1' (a level-1 cube: no CRS, a sensor camera "
                         "with its ISD)")
    ap.add_argument("--isd", default="cube", choices=("cube", "large"),
                    help="the level-1 records' ISD: 'cube' (ctxTestImage.cub's driver ISD, 16 KB of JSON) or "
                         "'large' (usgscsm's ctxLineScan.json, 35 KB)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: database.batch_size of the config")
    ap.add_argument("--baseline-rows", type=int, default=500,
                    help="rows for the per-image baseline (its rate does not depend on the count; at ~50 rows/s "
                         "into PostGIS all 10k would take 3-4 minutes alone)")
    ap.add_argument("--overlap-rows", type=int, default=500,
                    help="records for the row of ours with the overlap pairs (issue 26) on, PostGIS; 0: none")
    ap.add_argument("--backends", default="postgis,sqlite")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning, module="pyproj")
    warnings.filterwarnings("ignore", message="Dataset has no geotransform")
    from autocnet_jobs import config

    overlap_pairs(False)
    batch = args.batch_size or config.defaults()["database"]["batch_size"]
    base_n = min(args.baseline_rows, args.rows)
    backends = args.backends.split(",")
    info = benchlib.machine()
    pg = benchlib.postgis_url() if "postgis" in backends else None
    tmp = benchlib.scratch_dir("bench-writer-")
    results, sizes = [], []
    cases = [(shape, v) for shape in args.shape.split(",") for v in args.vertices.split(",")]
    shapes = realistic_footprints() if "realistic" in args.vertices.split(",") else None
    camera = sensor_camera(args.isd) if "level1" in args.shape.split(",") else None
    for shape, vertices in cases:
        records = benchlib.make_records(args.rows, vertices=512 if vertices == "realistic" else int(vertices),
                                        shape=shape)
        if vertices == "realistic":
            records = with_footprints(records, shapes)
        if shape == "level1":
            records = with_sensor_cameras(records, camera)
        records = with_acquisition(records)
        wkb_kb = sum(len(r["footprint_wkb"]) for r in records) / 2 / len(records) / 1024
        for backend in backends:
            # Each method into a database of its own: a table that another method filled and emptied again is
            # slower to write (its dead rows and grown indexes; the server alone measured half its rate so).
            dbs: list = []
            url_base = _new_db(backend, pg, dbs, tmp, "base")
            try:
                prepare_schema(url_base, records)
                if backend == "postgis":
                    b = baseline_postgis(url_base, records[:base_n])
                else:
                    b = baseline_sqlite(url_base.removeprefix("sqlite:///"), records[:base_n])
                assert count_rows(url_base) == base_n
                # Each timed method twice, alternated, each time into a new database; the faster run is kept.
                methods = [("ours", ours), ("proc", ours_process), ("seq", ours_sequential)]
                if backend == "postgis":
                    methods += [("srv", server_alone_postgis),
                                ("srvjobs", lambda u, r, b: server_alone_postgis(u, r, b, same_statements=True))]
                runs: dict[str, list[dict]] = {name: [] for name, _ in methods}
                size = None
                for attempt in range(2):
                    for name, fn in methods:
                        url = _new_db(backend, pg, dbs, tmp, f"{name}{attempt}")
                        runs[name].append(fn(url, records, batch))
                        assert count_rows(url) == args.rows
                        if shape == "level1":
                            assert count_rows(url, "cameras") == args.rows
                        if name == "ours" and attempt == 0 and backend == "postgis":
                            size = row_sizes(url)
                best = {name: min(r, key=lambda x: x["seconds"]) for name, r in runs.items()}
                o, s, p, srv, srvjobs = best["ours"], best["seq"], best["proc"], best.get("srv"), best.get("srvjobs")
                c = ceiling_postgis(_new_db(backend, pg, dbs, tmp, "copy"), records, batch) \
                    if backend == "postgis" else None
                pairs = None
                if backend == "postgis" and args.overlap_rows:
                    url = _new_db(backend, pg, dbs, tmp, "pairs")
                    overlap_pairs(True)
                    try:
                        pairs = ours(url, records[:args.overlap_rows], batch)
                    finally:
                        overlap_pairs(False)
                    pairs["pairs"] = pair_count(url)
            finally:
                for db in dbs:
                    db.drop()
            b_rate = base_n / b["seconds"]
            common = {"backend": backend, "shape": shape, "vertices": vertices, "wkb_kb": wkb_kb}
            results.append({**common, "method": "baseline: 1 connection + INSERT + commit per image",
                            "rows": base_n, "seconds": b["seconds"], "rows_per_s": b_rate, "ratio": 1.0})

            def row(method: str, name: str, r: dict) -> dict:
                rate = args.rows / r["seconds"]
                return {**common, "method": method, "rows": args.rows, "seconds": r["seconds"], "rows_per_s": rate,
                        "ratio": rate / b_rate, "client_cpu_s": r.get("client_cpu_s"),
                        "of_server": srv["seconds"] / r["seconds"] if srv and not name.startswith("srv") else None,
                        "of_same": srvjobs["seconds"] / r["seconds"] if srvjobs and not name.startswith("srv")
                        else None,
                        "all_seconds": [x["seconds"] for x in runs[name]]}

            results.append(row(f"ours: the writer's loop, batches of {batch}, pipelined", "ours", o))
            results.append(row("reference: the writer process, records sent over its pipe", "proc", p))
            results.append(row("reference: Store.write batch after batch (no pipeline)", "seq", s))
            if pairs:
                n = min(args.overlap_rows, args.rows)
                method = f"reference: ours + overlap pairs (issue 26), {pairs['pairs']:,} pairs"
                results.append({**common, "method": method,
                                "rows": n, "seconds": pairs["seconds"], "rows_per_s": n / pairs["seconds"],
                                "ratio": n / pairs["seconds"] / b_rate, "client_cpu_s": pairs["client_cpu_s"]})
            if srv:
                results.append(row("reference: server alone, our rows pre-encoded", "srv", srv))
            if srvjobs:
                results.append(row("reference: server alone, same statements (job rows deleted)", "srvjobs", srvjobs))
            if c:
                results.append({**common, "method": "reference: COPY (path, EWKB) only, bare table",
                                "rows": args.rows, "seconds": c["seconds"], "rows_per_s": args.rows / c["seconds"],
                                "ratio": args.rows / c["seconds"] / b_rate})
            if size:
                sizes.append({**common, **size})
    print(f"Writer benchmark: {args.rows} records, batch {batch}, level-1 ISD {args.isd}; "
          f"{benchlib.machine_line(info)}")
    print(benchlib.table(results, [("backend", "backend", ""), ("shape", "shape", ""), ("vertices", "vertices", ""),
                                   ("wkb_kb", "WKB KiB", ".1f"), ("method", "method", ""), ("rows", "rows", ",d"),
                                   ("seconds", "time s", ".2f"), ("client_cpu_s", "client CPU s", ".2f"),
                                   ("rows_per_s", "images/s", ",.0f"),
                                   ("ratio", "vs baseline", ".1f"), ("of_server", "of server alone", ".2f"),
                                   ("of_same", "of same statements", ".2f")]))
    if sizes:
        print("Stored bytes per row, PostGIS, after ours (pg_column_size, average over the records):")
        print(benchlib.table(sizes, [("shape", "shape", ""), ("vertices", "vertices", ""),
                                     ("row", "images row", ",.0f"), ("no_camera", "without camera", ",.0f"),
                                     ("median_no_camera", "median without camera", ",.0f"),
                                     ("no_camera_fp", "without camera and footprint", ",.0f"),
                                     ("cameras_row", "cameras row", ",.0f")]))
    checks = []
    for r in results:
        if r["method"].startswith("ours:") and r["backend"] == "postgis":
            size = next(s for s in sizes if (s["shape"], s["vertices"]) == (r["shape"], r["vertices"]))
            of_server, of_same = r.get("of_server") or 0.0, r.get("of_same") or 0.0
            ok_rate, ok_ratio = r["rows_per_s"] >= TARGET_ROWS_PER_S, r["ratio"] >= TARGET_RATIO
            ok_server, ok_size = of_server >= TARGET_SERVER_FRACTION, size["no_camera"] <= TARGET_ROW_BYTES
            checks.append({"shape": r["shape"], "vertices": r["vertices"], "rate_target_met": ok_rate,
                           "server_fraction": of_server, "server_target_met": ok_server,
                           "same_statements_fraction": of_same,
                           "row_bytes": size["no_camera"], "row_target_met": ok_size, "ratio_target_met": ok_ratio})
            print(f"PostGIS, {r['shape']}, {r['vertices']} vertices: {r['rows_per_s']:,.0f} images/s vs target "
                  f"{TARGET_ROWS_PER_S:,}: {benchlib.verdict(ok_rate)}; {of_server:.2f} of the server alone vs "
                  f"target {TARGET_SERVER_FRACTION}: {benchlib.verdict(ok_server)} ({of_same:.2f} of it doing the "
                  f"same statements); images row "
                  f"{size['no_camera']:,.0f} B without its camera vs target {TARGET_ROW_BYTES:,}: "
                  f"{benchlib.verdict(ok_size)}; {r['ratio']:.1f}x the baseline vs target {TARGET_RATIO:.0f}x: "
                  f"{benchlib.verdict(ok_ratio)}")
    benchlib.write_json(args.json, {"benchmark": "writer", "machine": info, "rows": args.rows, "batch_size": batch,
                                    "isd": args.isd, "results": results, "row_sizes": sizes, "targets": checks})
    return 0


def _new_db(backend: str, pg: str | None, dbs: list, tmp, label: str) -> str:
    """A new database (PostGIS, dropped at the end of the case) or SQLite file for one method's run."""
    if backend == "postgis":
        db = benchlib.ScratchDatabase(pg, label)
        dbs.append(db)
        return db.url
    return f"sqlite:///{tmp}/{label}_{time.monotonic_ns()}.db"


if __name__ == "__main__":
    sys.exit(main())
