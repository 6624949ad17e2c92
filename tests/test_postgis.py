"""The PostGIS backend against the real PostGIS that deploy/run_tests.sh starts."""
from __future__ import annotations

import os
import signal
import threading
import time

import psycopg
import pytest
import shapely

from autocnet_jobs import ImageAdder, queries
from autocnet_jobs.catalogue import schema as models
from autocnet_jobs.errors import DatabaseUnavailable
from autocnet_jobs.catalogue.store.postgis import APPLICATION_NAME

from . import faults
from .helpers import config, tiny_files
from .services import libpq_url


def pg(tmp_path, url, **sections):
    cfg = config(tmp_path, **sections)
    cfg["database"]["url"] = url
    return cfg


def sql(url: str, query: str, *args):
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        return conn.execute(query, args).fetchall()


def test_samples_into_postgis_equal_the_sqlite_run(sample_run, fresh_pg_db, tmp_path):
    """Same images, same rows, footprints and SRIDs on both backends; one connection during the run."""
    images = sample_run["images"]
    seen: list[list[tuple]] = []
    stop = threading.Event()

    def watch():  # one monitoring connection for the whole run (a closed one lingers in pg_stat_activity)
        # Client backends only: an autovacuum worker busy with this database is listed with its datname too.
        with psycopg.connect(libpq_url(fresh_pg_db), autocommit=True) as conn:
            while not stop.is_set():
                seen.append(conn.execute("SELECT pid, application_name, backend_start, state FROM pg_stat_activity"
                                         " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                                         " AND backend_type = 'client backend'").fetchall())
                time.sleep(0.1)

    with ImageAdder(pg(tmp_path, fresh_pg_db), quiet=True) as ia:
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        for ext in sample_run["exts"]:
            ia.add_images(images, ext)
        ia.wait(600)
        stop.set()
        watcher.join()
        assert ia.job_status == sample_run["status"]
    assert seen  # exactly one connection, throughout the run (the sample that is not names who else was there)
    assert all(len(sample) == 1 for sample in seen), next(s for s in seen if len(s) != 1)
    lite = {r["path"]: r for r in queries.images(sample_run["cfg"]["database"]["url"])}
    post = {r["path"]: r for r in queries.images(fresh_pg_db)}
    assert set(lite) == set(post)
    for path, a in lite.items():
        b = post[path]
        for col in ("name", "checksum", "size", "driver", "width", "height", "bands", "body", "iau_code", "srid",
                    "footprint_source", "footprint_note", "n_keypoints", "extractor"):
            assert a[col] == b[col], (path, col)
        for col in ("spacecraft", "instrument", "product_id", "target", "serial_number"):
            assert a[col] == b[col], (path, col)
        for col in models.TIME_COLUMNS:  # text on SQLite, timestamptz on PostGIS: the same instant
            assert models.sqlite_time(a[col]) == models.sqlite_time(b[col]), (path, col)
        for col in ("incidence", "emission", "phase", "resolution"):
            assert a[col] == b[col] or a[col] == pytest.approx(b[col], rel=1e-12), (path, col)
        if a["footprint"] is None:
            assert b["footprint"] is None
        else:
            assert shapely.equals_exact(a["footprint"], b["footprint"], tolerance=1e-9), path
    # Every planetary SRID used is registered in spatial_ref_sys with its IAU authority code.
    rows = sql(fresh_pg_db, "SELECT DISTINCT i.srid, ST_SRID(i.footprint), s.auth_name, s.auth_srid, i.iau_code "
                            "FROM images i LEFT JOIN spatial_ref_sys s ON s.srid = i.srid WHERE i.footprint IS NOT NULL")
    assert rows
    for srid, geom_srid, auth, auth_srid, iau in rows:
        assert srid == geom_srid and auth is not None
        assert f"{auth}:{auth_srid}".upper() == iau.upper()
    assert {"Mars", "Moon", "Vesta"} <= {r["body"] for r in post.values()}


def test_ingesting_twice_keeps_one_row_and_force_updates_in_place(fresh_pg_db, tmp_path):
    folder = tiny_files(tmp_path / "in", 30)
    cfg = pg(tmp_path, fresh_pg_db)
    with ImageAdder(cfg, process=faults.tiny_record, quiet=True) as ia:
        assert len(ia.add_images(folder, "cub")) == 30
        ia.wait(120)
    before = dict(sql(fresh_pg_db, "SELECT path, id FROM images"))
    with ImageAdder(cfg, process=faults.tiny_record, quiet=True) as ia:
        assert ia.add_images(folder, "cub") == []
        target = str(folder / "img00003.cub")
        assert ia.add_image(target, force=True)
        ia.wait(120)
    after = dict(sql(fresh_pg_db, "SELECT path, id FROM images"))
    assert after == before
    assert sql(fresh_pg_db, "SELECT count(*), count(DISTINCT path) FROM images")[0] == (30, 30)
    created, updated = sql(fresh_pg_db, "SELECT created_at, updated_at FROM images WHERE path = %s", target)[0]
    assert updated > created


def _run_with_fault(cfg, folder, fault, n):
    """Run n slow no-op images; call fault() once a third of them are done; return the final status."""
    os.environ["AUTOCNET_TEST_SLOW"] = "0.05"
    with ImageAdder(cfg, process=faults.slow_record, quiet=True) as ia:
        ia.add_images(folder, "cub")
        deadline = time.time() + 120
        while sum(v is True for v in ia.job_status.values()) < n // 3:
            assert time.time() < deadline
            time.sleep(0.05)
        fault(ia)
        ia.wait(300)
        return ia.job_status, ia.failed_jobs


def test_postgres_stopped_mid_run_loses_nothing(fresh_pg_db, postgis_restart, tmp_path):
    n = 300
    folder = tiny_files(tmp_path / "in", n)

    def outage(ia):
        postgis_restart.stop()
        time.sleep(3)
        assert not all(v is True for v in ia.job_status.values())  # the run really was interrupted
        postgis_restart.start()

    status, failed = _run_with_fault(pg(tmp_path, fresh_pg_db), folder, outage, n)
    assert failed == [] and len(status) == n and all(v is True for v in status.values())
    assert sql(fresh_pg_db, "SELECT count(*), count(DISTINCT path) FROM images")[0] == (n, n)
    assert sql(fresh_pg_db, "SELECT count(*) FROM jobs WHERE state = 'done'")[0][0] == n


def test_writer_killed_mid_run_loses_nothing(fresh_pg_db, tmp_path):
    n = 300
    folder = tiny_files(tmp_path / "in", n)
    killed = []

    def kill_writer(ia):
        pid = ia._tracker.writer.pid
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    status, failed = _run_with_fault(pg(tmp_path, fresh_pg_db), folder, kill_writer, n)
    assert killed and failed == [] and len(status) == n and all(v is True for v in status.values())
    assert sql(fresh_pg_db, "SELECT count(*), count(DISTINCT path) FROM images")[0] == (n, n)


def test_unreachable_database_is_an_error_before_any_job(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    url = f"postgresql+psycopg://autocnet:secret-pw@127.0.0.1:{port}/nowhere"
    t = time.time()
    with pytest.raises(DatabaseUnavailable) as err:
        ImageAdder(pg(tmp_path, url), quiet=True)
    assert "secret-pw" not in str(err.value) and "***" in str(err.value)
    assert time.time() - t < 60


def test_only_our_writer_connection_is_named(fresh_pg_db, tmp_path):
    with ImageAdder(pg(tmp_path, fresh_pg_db), process=faults.tiny_record, quiet=True) as ia:
        names = sql(fresh_pg_db, "SELECT application_name FROM pg_stat_activity WHERE datname = current_database()"
                                 " AND pid <> pg_backend_pid()")
        assert names == [(APPLICATION_NAME,)]
        assert ia.callback_uri


FIVE_GIB = 5 * 2**30


@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_files_over_2_gib_and_a_version_2_catalogue_is_upgraded(backend, request, tmp_path):
    # Schema version 2 kept file sizes in 32-bit columns: a 5 GiB image could not be recorded.
    from autocnet_jobs.catalogue.store import open_store

    url = f"sqlite:///{tmp_path / 'cat.db'}" if backend == "sqlite" else request.getfixturevalue("fresh_pg_db")
    (tmp_path / "a.cub").write_bytes(b"x")
    (tmp_path / "b.cub").write_bytes(b"x")
    small = faults.tiny_record(str(tmp_path / "a.cub"), {})
    big = dict(faults.tiny_record(str(tmp_path / "b.cub"), {}), size=FIVE_GIB)
    store = open_store(url)
    store.connect()
    store.write([small], [])
    if backend == "postgis":  # make it a version 2 catalogue, as the previous release created it
        store.conn.exec_driver_sql("DROP VIEW jobs")  # a view would pin the column types
        for table in ("images", "job_states"):
            store.conn.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN size TYPE integer")
    store.conn.exec_driver_sql("UPDATE schema_info SET version = 2")
    store.conn.commit()
    store.close()

    store = open_store(url)
    store.connect()  # upgrades
    store.write([big], [])
    version = store.conn.exec_driver_sql("SELECT version FROM schema_info").scalar()
    store.close()
    rows = {r["path"]: r for r in queries.images(url)}
    assert version == models.SCHEMA_VERSION
    assert rows[big["path"]]["size"] == FIVE_GIB and rows[small["path"]]["size"] == 1
    status = {p: s for p, s, *_ in _jobs(url)}
    assert status == {small["path"]: "done", big["path"]: "done"}


def _jobs(url: str) -> list[tuple]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as con:
        rows = con.execute(text("SELECT path, state, size FROM jobs")).fetchall()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_large_text_is_stored_lz4_compressed_on_insert_and_upsert(fresh_pg_db, tmp_path):
    # pglz, PostgreSQL's default, made the server a third slower on rows carrying a camera model and CRS WKT
    # (bench/README.md). A first ingest is copied straight in; a re-ingest goes through the staging table,
    # whose compression the rows keep: both must end up lz4.
    from autocnet_jobs.catalogue.store import open_store

    (tmp_path / "a.cub").write_bytes(b"x")
    wkt = "PROJCRS[" + ", ".join(f'"axis {i}"' for i in range(600)) + "]"  # ~8 KB of compressible text
    camera = {"type": None, "reason": wkt}
    record = dict(faults.tiny_record(str(tmp_path / "a.cub"), {}), crs_wkt=wkt, camera=camera)
    failed = {"path": str(tmp_path / "b.cub"), "state": "failed", "attempts": 3, "traceback": wkt}
    store = open_store(fresh_pg_db)
    store.connect()
    stored = []
    for _ in range(2):  # insert, then upsert of the same path
        store.write([record], [failed])
        stored.append(store.conn.exec_driver_sql(
            "SELECT (SELECT pg_column_compression(wkt) FROM crs), pg_column_compression(camera), "
            "(SELECT pg_column_compression(traceback) FROM jobs WHERE state = 'failed') FROM images").one())
        store.conn.commit()
    store.close()
    assert stored == [("lz4", "lz4", "lz4")] * 2
    assert queries.images(fresh_pg_db)[0]["camera"] == camera
