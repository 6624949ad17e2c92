"""bench_writer's reference rows: the replaced system's one connection per image, and the server alone."""
from __future__ import annotations

import io
import json
import sqlite3
import time

import benchlib
import shapely

IMAGE_COLS = ("name", "path", "checksum", "size", "mtime", "driver", "width", "height", "bands", "body",
              "iau_code", "srid", "footprint_source", "footprint_note", "camera", "keypoints_path",
              "n_keypoints", "extractor", "extractor_params", "note")


def baseline_postgis(url: str, records: list[dict]) -> dict:
    """One connection, one INSERT and one commit per image (psycopg, EWKB encoded per image; the camera whole in
    the row, as the replaced system kept it)."""
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
    from autocnet_jobs.catalogue.store.postgis_copy import ewkb

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


def server_alone_postgis(url: str, records: list[dict], batch_size: int, same_statements: bool = False) -> dict:
    """Reference, not a competitor: what the server alone takes for our rows. Our writer writes them once
    (untimed); each batch's images and cameras rows are read back as binary COPY bytes and the tables emptied
    (TRUNCATE: fresh tables and indexes); the timed part replays those bytes into ``images`` and ``cameras``
    (same schema, indexes, storage), in the same batches, one transaction each. No client work is left to
    optimise away: a writer on one connection cannot beat this.

    ``same_statements``: the replay also does what our writer asks of the server besides the COPYs, in the same
    statement: each image's queued job row deleted (queued beforehand, as in ours), the batch's sequence numbers
    and ids taken. Then what separates ours from this is only our client's work."""
    import psycopg

    from autocnet_jobs.catalogue.store import open_store

    store = open_store(url)
    store.connect()
    for i in range(0, len(records), batch_size):
        store.write(records[i:i + batch_size], [])
    store.close()
    with psycopg.connect(benchlib.libpq(url)) as con:
        image_cols = ", ".join(r[0] for r in con.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'images'::regclass AND attnum > 0 AND NOT "
            "attisdropped AND attname NOT IN ('created_at', 'updated_at') ORDER BY attnum").fetchall())
        ids = [r[0] for r in con.execute("SELECT id FROM images ORDER BY id").fetchall()]
        batches = []
        for i in range(0, len(ids), batch_size):
            lo, hi = ids[i], ids[min(i + batch_size, len(ids)) - 1]
            data = []
            for sql in (f"COPY (SELECT {image_cols} FROM images WHERE id BETWEEN {lo} AND {hi} ORDER BY id) "
                        "TO STDOUT (FORMAT BINARY)",
                        f"COPY (SELECT image_id, model, isd FROM cameras WHERE image_id BETWEEN {lo} AND {hi} "
                        "ORDER BY image_id) TO STDOUT (FORMAT BINARY)"):
                buf = io.BytesIO()
                with con.cursor().copy(sql) as copy:
                    for block in copy:
                        buf.write(block)
                data.append(buf.getvalue())
            batches.append(data)
        con.execute("TRUNCATE images, cameras")
        con.commit()
        paths = [[r["path"] for r in records[i:i + batch_size]] for i in range(0, len(records), batch_size)]
        if same_statements:
            from writer_records import queued_jobs

            store = open_store(url)
            store.connect()
            store.write([], queued_jobs(records))
            store.close()
            sequence = con.execute("SELECT pg_get_serial_sequence('images', 'id')").fetchone()[0]
        t0 = time.perf_counter()
        for (images, cameras), batch_paths in zip(batches, paths):
            if same_statements:   # our writer's first statement of a batch (store/postgis.py _write_encoded)
                n = len(batch_paths)
                con.execute("WITH c AS (UPDATE job_clock SET seq = seq + %s RETURNING seq), "
                            "d AS (DELETE FROM job_states WHERE path = ANY(%s)) SELECT (SELECT seq FROM c), "
                            "ARRAY(SELECT nextval(%s::regclass) FROM generate_series(1, %s)), %s",
                            (n, batch_paths, sequence, n, None), binary=True).fetchone()
            with con.cursor().copy(f"COPY images ({image_cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(images)
            if len(cameras) > 21:  # more than the empty file's header and trailer
                with con.cursor().copy("COPY cameras (image_id, model, isd) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(cameras)
            con.commit()
        seconds = time.perf_counter() - t0
        n = con.execute("SELECT count(*) FROM images").fetchone()[0]
        left = con.execute("SELECT count(*) FROM job_states").fetchone()[0]
    assert n == len(records) and left == 0, (n, left)
    return {"seconds": seconds}


def baseline_sqlite(path: str, records: list[dict]) -> dict:
    """One sqlite3 connection, one INSERT and one commit per image (same WAL settings as ours)."""
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
