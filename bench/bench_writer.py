"""Writer throughput: rows/s into PostGIS and SQLite through our Store vs the replaced system's way.

Ours: the writer process's path (``autocnet_jobs.catalogue.store.open_store(url)``, ``connect()``, then
``store.write(records, [])`` in batches of ``database.batch_size``, one transaction per batch), with the job rows
already in the table as "queued", as they are in a run (the tracker writes them at submit), so every record also
turns its job row to "done". Baseline, measured in the same run on the same server and schema: what the replaced
system did, one database connection per image, one INSERT, commit, close (done generously: the raw driver
with a pre-encoded EWKB, not an ORM session).

Records look like ``process_image`` output: every column filled (the acquisition ones too), the extractor
settings as JSON, and a footprint MultiPolygon of ``--vertices`` vertices (one in ten split at 180° into two
parts), or ``--vertices realistic`` (default): the samples' own footprints as process_image now gives them,
simplified to a tenth of a pixel (5 to ~1,200 vertices, median 5), each moved to a random place. ``--shape
mapped`` (default) is a map-projected image's record: CRS WKT, and an affine camera model carrying it again (the
store keeps the WKT once, in the crs table). ``--shape level1`` is a level-1 ISIS cube's: no CRS, no camera model.

    .venv/bin/python bench/bench_writer.py [--rows 10000] [--vertices realistic] [--shape mapped]
                                           [--baseline-rows 2000] [--backends postgis,sqlite] [--json out.json]

PostGIS: $AUTOCNET_TEST_PG_URL, else a private server started (and stopped) by this script.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
import warnings

import shapely

import benchlib

TARGET_ROWS_PER_S = 30_000   # issue 16: into PostGIS, map-projected records with realistic footprints
TARGET_COPY_FRACTION = 0.8   # ... and at least this fraction of the COPY (path, EWKB) reference's rate
TARGET_RATIO = 20.0          # issue 3: against the replaced system's one connection per image


def realistic_footprints() -> list[str]:
    """Hex WKB of every sample footprint process_image gives now (simplified), for realistic records."""
    import glob

    import rasterio

    from autocnet_jobs.extractors.cameras import camera_model
    from autocnet_jobs.extractors.footprints import compute_footprint

    out = []
    for path in sorted(glob.glob(str(benchlib.DATA_DIR / "*"))):
        try:
            with rasterio.open(path) as ds:
                fp = compute_footprint(ds, path, 1, None, camera_model(ds, path))
        except Exception:  # noqa: BLE001 - the samples GDAL cannot open on their own (a detached label's data)
            continue
        if fp.geometry is not None:
            out.append(fp.geometry)
    return out


def with_footprints(records: list[dict], shapes: list, seed: int = 1) -> list[dict]:
    """The records with the sample footprints in turn, each moved by a random offset that keeps it in range."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for i, rec in enumerate(records):
        geom = shapes[i % len(shapes)]
        x0, y0, x1, y1 = geom.bounds
        dx = float(rng.uniform(-180 - x0, 180 - x1)) if x1 - x0 < 359 else 0.0
        dy = float(rng.uniform(-90 - y0, 90 - y1)) if y1 - y0 < 179 else 0.0
        moved = shapely.transform(geom, lambda c: c + (dx, dy))
        out.append(dict(rec, footprint_wkb=shapely.to_wkb(moved, hex=True, output_dimension=2, include_srid=False)))
    return out


def with_acquisition(records: list[dict]) -> list[dict]:
    """The acquisition columns a real record of a camera or map-projected cube has."""
    return [dict(r, spacecraft="MARS RECONNAISSANCE ORBITER", instrument="HIRISE", product_id=f"ESP_{i:06d}_1440",
                 start_time=f"2009-02-18T09:{i // 60 % 60:02d}:{i % 60:02d}.299Z",
                 stop_time=f"2009-02-18T09:{i // 60 % 60:02d}:{i % 60:02d}.499Z", target="Mars",
                 serial_number=f"MRO/HIRISE/{919418217 + i}:49925/RED8/2", incidence=45.0 + i % 30,
                 emission=1.0 + i % 10, phase=50.0 + i % 40, resolution=0.25 + i % 7)
            for i, r in enumerate(records)]


def queued_jobs(records: list[dict]) -> list[dict]:
    return [{"path": r["path"], "state": "queued", "attempts": 0, "size": r["size"], "mtime": r["mtime"]}
            for r in records]


def ours(url: str, records: list[dict], batch_size: int) -> dict:
    from autocnet_jobs.catalogue.store import open_store

    store = open_store(url)
    t0 = time.perf_counter()
    store.connect()  # creates the schema on first use
    connect_s = time.perf_counter() - t0
    store.write([], queued_jobs(records))  # what the tracker wrote at submit time
    cpu0, t0 = time.process_time(), time.perf_counter()
    for i in range(0, len(records), batch_size):
        store.write(records[i:i + batch_size], [])
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    store.close()
    return {"seconds": seconds, "client_cpu_s": cpu, "connect_s": connect_s, "batches": -(-len(records) // batch_size)}


def ours_two_writes(url: str, records: list[dict], batch_size: int) -> dict:
    """Reference for the schema 5 decision: our writer as schema 4 had it, each record also turning its job row
    to "done" (a second row written per image), in the same transaction as the image rows."""
    from autocnet_jobs.catalogue.store import open_store

    store = open_store(url)
    store.connect()
    store.write([], queued_jobs(records))
    t0 = time.perf_counter()
    for i in range(0, len(records), batch_size):
        batch = records[i:i + batch_size]
        with store.conn.begin():
            store._upsert_images(batch, range(i, i + len(batch)), {})
            store._upsert_jobs([dict(j, state="done", seq=i) for j in queued_jobs(batch)])
    seconds = time.perf_counter() - t0
    store.close()
    return {"seconds": seconds}


def prepare_schema(url: str, records: list[dict]) -> None:
    """The same tables, indexes and spatial references as ours, for the baseline to insert into."""
    from autocnet_jobs.catalogue.store import open_store

    store = open_store(url)
    store.connect()
    store.write(records[:1], [])  # registers the bodies' SRIDs; the row is deleted again
    # TRUNCATE, not DELETE, on PostgreSQL: no dead row or index entry left to slow down the next writes. SQLite
    # has no TRUNCATE (the default run died on it, issue 25): DELETE, which SQLite makes a truncate when it can.
    if store.postgis:
        store.conn.exec_driver_sql("TRUNCATE images, job_states, cameras")
    else:
        for table in ("images", "job_states", "cameras"):
            store.conn.exec_driver_sql(f"DELETE FROM {table}")
    store.conn.commit()
    store.close()


IMAGE_COLS = ("name", "path", "checksum", "size", "mtime", "driver", "width", "height", "bands", "body",
              "iau_code", "srid", "footprint_source", "footprint_note", "camera", "keypoints_path",
              "n_keypoints", "extractor", "extractor_params", "note")


def baseline_postgis(url: str, records: list[dict]) -> dict:
    """One connection, one INSERT and one commit per image (psycopg, EWKB encoded per image)."""
    import json

    import psycopg

    from autocnet_jobs.catalogue.schema import srid_for

    dsn = benchlib.libpq(url)
    geoms = [shapely.from_wkb(bytes.fromhex(r["footprint_wkb"])) for r in records]  # the job holds a geometry
    sql = (f"INSERT INTO images ({', '.join(IMAGE_COLS)}, footprint) VALUES "
           f"({', '.join(['%s'] * len(IMAGE_COLS))}, %s::geometry)")
    t0 = time.perf_counter()
    for rec, geom in zip(records, geoms):
        srid = srid_for(rec["iau_code"]) or 0
        values = [rec.get(c) for c in IMAGE_COLS]
        values[IMAGE_COLS.index("srid")] = srid
        values[IMAGE_COLS.index("camera")] = json.dumps(rec["camera"])
        values[IMAGE_COLS.index("extractor_params")] = json.dumps(rec["extractor_params"])
        ewkb = shapely.to_wkb(shapely.set_srid(geom, srid), hex=True, include_srid=True)
        with psycopg.connect(dsn) as con:  # commits on leaving the block, then closes
            con.execute(sql, [*values, ewkb])
    return {"seconds": time.perf_counter() - t0}


def ceiling_postgis(url: str, records: list[dict], batch_size: int) -> dict:
    """Reference, not a competitor: binary COPY of only (path, footprint EWKB) into a bare logged table with no
    index, in the same batches. What moving the footprint bytes alone costs on this machine."""
    import psycopg

    from autocnet_jobs.catalogue.schema import srid_for
    from autocnet_jobs.catalogue.store.postgis import ewkb

    rows = [(r["path"], ewkb(r["footprint_wkb"], srid_for(r["iau_code"]) or 0)) for r in records]
    with psycopg.connect(benchlib.libpq(url)) as con:
        con.execute("CREATE TABLE ceiling (path text, footprint bytea)")
        con.execute("ALTER TABLE ceiling ALTER COLUMN footprint SET STORAGE EXTERNAL")
        con.commit()
        t0 = time.perf_counter()
        for i in range(0, len(rows), batch_size):
            with con.cursor().copy("COPY ceiling (path, footprint) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "bytea"])
                for row in rows[i:i + batch_size]:
                    copy.write_row(row)
            con.commit()
        seconds = time.perf_counter() - t0
        con.execute("DROP TABLE ceiling")
    return {"seconds": seconds}


def server_alone_postgis(url: str, records: list[dict], batch_size: int) -> dict:
    """Reference, not a competitor: what the server alone takes for our rows. The image rows are encoded into
    binary COPY bytes beforehand (untimed); the timed part replays those bytes into our ``images`` table (same
    schema, indexes, storage), in the same batches, one commit each. No client work is left to optimise away:
    a writer on one connection cannot beat this."""
    import io

    import psycopg

    from autocnet_jobs.catalogue.store import open_store
    from autocnet_jobs.catalogue.store.postgis import _BYTEA, _IMAGE_COLS

    prepare_schema(url, records)  # empties the tables the baseline and the reference wrote
    store = open_store(url)  # the rows as ours writes them (crs ids, times, the camera without its CRS)
    store.connect()
    with store.conn.begin():
        rows = list(store._image_tuples(records, range(len(records)), {}))
    store.close()
    cols = ", ".join(_IMAGE_COLS)
    with psycopg.connect(benchlib.libpq(url)) as con:
        types = dict(con.execute("SELECT attname, CASE WHEN atttypid::regtype::text = 'geometry' THEN %s "
                                 "WHEN atttypid::regtype::text = 'json' THEN 25 "
                                 "ELSE atttypid::int END FROM pg_attribute WHERE attrelid = 'images'::regclass "
                                 "AND attnum > 0 AND NOT attisdropped", (_BYTEA,)).fetchall())
        con.execute(f"CREATE TEMP TABLE encode AS SELECT {cols} FROM images WITH NO DATA")
        batches = []
        for i in range(0, len(records), batch_size):
            with con.cursor().copy(f"COPY encode ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types([types[c] for c in _IMAGE_COLS])
                for row in rows[i:i + batch_size]:
                    copy.write_row(row)
            buf = io.BytesIO()
            with con.cursor().copy(f"COPY encode ({cols}) TO STDOUT (FORMAT BINARY)") as copy:
                for data in copy:
                    buf.write(data)
            batches.append(buf.getvalue()[:-2])  # psycopg adds the end-of-data marker itself
            con.execute("TRUNCATE encode")
        con.commit()
        t0 = time.perf_counter()
        for data in batches:
            with con.cursor().copy(f"COPY images ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(data)
            con.commit()
        seconds = time.perf_counter() - t0
        n = con.execute("SELECT count(*) FROM images").fetchone()[0]
    assert n == len(records), n
    return {"seconds": seconds}


def baseline_sqlite(path: str, records: list[dict]) -> dict:
    """One sqlite3 connection, one INSERT and one commit per image (same WAL settings as ours)."""
    import json

    from autocnet_jobs.catalogue.schema import srid_for

    geoms = [shapely.from_wkb(bytes.fromhex(r["footprint_wkb"])) for r in records]
    cols = (*IMAGE_COLS, "footprint", "minx", "miny", "maxx", "maxy")
    sql = f"INSERT INTO images ({', '.join(cols)}) VALUES ({', '.join(['?'] * len(cols))})"
    t0 = time.perf_counter()
    for rec, geom in zip(records, geoms):
        values = [rec.get(c) for c in IMAGE_COLS]
        values[IMAGE_COLS.index("srid")] = srid_for(rec["iau_code"])
        values[IMAGE_COLS.index("camera")] = json.dumps(rec["camera"])
        values[IMAGE_COLS.index("extractor_params")] = json.dumps(rec["extractor_params"])
        con = sqlite3.connect(path)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA busy_timeout=10000")
        con.execute(sql, [*values, shapely.to_wkb(geom), *geom.bounds])
        con.commit()
        con.close()
    return {"seconds": time.perf_counter() - t0}


def count_rows(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as con:
        n = con.execute(text("SELECT count(*) FROM images")).scalar()
    engine.dispose()
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--vertices", default="realistic",
                    help="footprint vertices, or 'realistic' (the samples' simplified footprints); a comma list "
                         "runs each")
    ap.add_argument("--shape", default="mapped",
                    help="record shape, a comma list runs each: 'mapped' (a map-projected image: CRS WKT and an "
                         "affine camera carrying it again) or 'level1' (a level-1 ISIS cube: no CRS, no camera "
                         "model, as the samples' are)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: database.batch_size of the config")
    ap.add_argument("--baseline-rows", type=int, default=2000,
                    help="rows for the per-image baseline (its rate does not depend on the count; at ~50 rows/s "
                         "into PostGIS all 10k would take 3-4 minutes alone)")
    ap.add_argument("--backends", default="postgis,sqlite")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning, module="pyproj")
    from autocnet_jobs import config

    batch = args.batch_size or config.defaults()["database"]["batch_size"]
    base_n = min(args.baseline_rows, args.rows)
    backends = args.backends.split(",")
    info = benchlib.machine()
    pg = benchlib.postgis_url() if "postgis" in backends else None
    tmp = benchlib.scratch_dir("bench-writer-")
    results = []
    cases = [(shape, v) for shape in args.shape.split(",") for v in args.vertices.split(",")]
    shapes = realistic_footprints() if "realistic" in args.vertices.split(",") else None
    for shape, vertices in cases:
        records = benchlib.make_records(args.rows, vertices=512 if vertices == "realistic" else int(vertices),
                                        shape=shape)
        if vertices == "realistic":
            records = with_footprints(records, shapes)
        records = with_acquisition(records)
        wkb_kb = sum(len(r["footprint_wkb"]) for r in records) / 2 / len(records) / 1024
        for backend in backends:
            if backend == "postgis":
                # Each method into a database of its own: a table that another method filled and emptied again
                # is slower to write (its dead rows and grown indexes; the server alone measured half its rate so).
                dbs = [benchlib.ScratchDatabase(pg, name) for name in ("ours", "base", "two", "srv", "copy")]
                url_ours, url_base, url_two, url_srv, url_copy = (db.url for db in dbs)
            else:
                dbs = []
                url_ours = f"sqlite:///{tmp}/ours_{shape}_{vertices}.db"
                url_base = f"sqlite:///{tmp}/base_{shape}_{vertices}.db"
            try:
                prepare_schema(url_base, records)
                if backend == "postgis":
                    b = baseline_postgis(url_base, records[:base_n])
                else:
                    b = baseline_sqlite(url_base.removeprefix("sqlite:///"), records[:base_n])
                o = ours(url_ours, records, batch)
                assert count_rows(url_ours) == args.rows and count_rows(url_base) == base_n
                two = ours_two_writes(url_two, records, batch) if backend == "postgis" else None
                c = ceiling_postgis(url_copy, records, batch) if backend == "postgis" else None
                srv = server_alone_postgis(url_srv, records, batch) if backend == "postgis" else None
            finally:
                for db in dbs:
                    db.drop()
            b_rate, o_rate = base_n / b["seconds"], args.rows / o["seconds"]
            common = {"backend": backend, "shape": shape, "vertices": vertices, "wkb_kb": wkb_kb}
            results.append({**common, "method": "baseline: 1 connection + INSERT + commit per image",
                            "rows": base_n, "seconds": b["seconds"], "rows_per_s": b_rate, "ratio": 1.0})
            results.append({**common, "method": f"ours: Store.write, batches of {batch}", "rows": args.rows,
                            "seconds": o["seconds"], "rows_per_s": o_rate, "ratio": o_rate / b_rate,
                            "client_cpu_s": o["client_cpu_s"], "connect_s": o["connect_s"]})
            if two:
                results.append({**common, "method": "reference: ours + the done job row (schema 4's 2 writes)",
                                "rows": args.rows, "seconds": two["seconds"], "rows_per_s": args.rows / two["seconds"],
                                "ratio": args.rows / two["seconds"] / b_rate})
            if srv:
                results.append({**common, "method": "reference: server alone, our rows pre-encoded, images only",
                                "rows": args.rows, "seconds": srv["seconds"],
                                "rows_per_s": args.rows / srv["seconds"], "ratio": args.rows / srv["seconds"] / b_rate})
            if c:
                results.append({**common, "method": "reference: COPY (path, EWKB) only, bare table",
                                "rows": args.rows, "seconds": c["seconds"], "rows_per_s": args.rows / c["seconds"],
                                "ratio": args.rows / c["seconds"] / b_rate})
                ours_row = next(r for r in reversed(results) if r["method"].startswith("ours"))
                ours_row["of_copy"] = o_rate / (args.rows / c["seconds"])
                if srv:
                    ours_row["of_server"] = o_rate / (args.rows / srv["seconds"])
                    next(r for r in reversed(results) if r["method"].startswith("reference: server"))["of_copy"] = (
                        c["seconds"] / srv["seconds"])
    print(f"Writer benchmark: {args.rows} records, batch {batch}; {benchlib.machine_line(info)}")
    print(benchlib.table(results, [("backend", "backend", ""), ("shape", "shape", ""), ("vertices", "vertices", ""),
                                   ("wkb_kb", "WKB KiB", ".1f"), ("method", "method", ""), ("rows", "rows", ",d"),
                                   ("seconds", "time s", ".2f"), ("client_cpu_s", "client CPU s", ".2f"),
                                   ("rows_per_s", "rows/s", ",.0f"),
                                   ("ratio", "vs baseline", ".1f"), ("of_copy", "of COPY ref", ".2f"),
                                   ("of_server", "of server alone", ".2f")]))
    checks = []
    for r in results:
        if r["method"].startswith("ours") and r["backend"] == "postgis":
            ok_rate, ok_ratio = r["rows_per_s"] >= TARGET_ROWS_PER_S, r["ratio"] >= TARGET_RATIO
            of_copy = r.get("of_copy", 0.0)
            ok_copy = of_copy >= TARGET_COPY_FRACTION
            checks.append({"shape": r["shape"], "vertices": r["vertices"], "rate_target_met": ok_rate,
                           "ratio_target_met": ok_ratio, "copy_fraction": of_copy, "copy_target_met": ok_copy})
            print(f"PostGIS, {r['shape']}, {r['vertices']} vertices: {r['rows_per_s']:,.0f} rows/s vs target "
                  f"{TARGET_ROWS_PER_S:,}: {benchlib.verdict(ok_rate)}; {of_copy:.2f} of the COPY (path, EWKB) "
                  f"reference vs target {TARGET_COPY_FRACTION}: {benchlib.verdict(ok_copy)}; {r['ratio']:.1f}x the "
                  f"baseline vs target {TARGET_RATIO:.0f}x: {benchlib.verdict(ok_ratio)}; "
                  f"{r.get('of_server', 0.0):.2f} of the "
                  f"server alone with our rows (no target)")
    benchlib.write_json(args.json, {"benchmark": "writer", "machine": info, "rows": args.rows, "batch_size": batch,
                                    "results": results, "targets": checks})
    return 0


if __name__ == "__main__":
    sys.exit(main())
