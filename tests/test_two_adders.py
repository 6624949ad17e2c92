"""Two adders started together on one new catalogue (issue 25 item 1).

Seen before: two ``autocnet-jobs add`` on an empty PostGIS database, one ended ``cannot open database ...
UniqueViolation ... pg_type_typname_nsp_index ... CREATE TABLE images``. Schema creation (and upgrade) now runs
under a lock (PostgreSQL: an advisory lock; SQLite: its write lock taken first); both runs end with every image
done and one row per image.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys

import psycopg
import pytest

from .conftest import link_images
from .services import libpq_url

IMAGES = ["RGB.byte.tif", "test.jp2", "Mars_MGS_MOLA_ClrShade_MAP2_90.0N0.0_POLA.tif", "dawnEqui1.cub"]


def _count(url: str) -> tuple[int, int]:
    sql = "SELECT count(*), count(DISTINCT path) FROM images"
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return con.execute(sql).fetchone()
        finally:
            con.close()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        return tuple(conn.execute(sql).fetchone())


@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_two_adders_on_a_new_catalogue_both_finish(backend, request, tmp_path):
    folder = link_images(tmp_path / "images", IMAGES)
    url = (f"sqlite:///{tmp_path / 'cat.db'}" if backend == "sqlite"
           else request.getfixturevalue("fresh_pg_db"))
    runs = [subprocess.Popen([sys.executable, "-m", "autocnet_jobs.cli", "add", str(folder), "--ext", ext,
                              "--db", url, "--workers", "1", "--output-dir", str(tmp_path / f"kps{i}"),
                              "--no-progress", "--strict"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
            for i, ext in enumerate(("tif", "tif"))]
    outs = [p.communicate(timeout=300) for p in runs]
    for p, (out, err) in zip(runs, outs):
        assert p.returncode == 0, err[-2000:]
        assert "cannot open database" not in err
    n = sum(name.endswith(".tif") for name in IMAGES)
    assert n == 2 and _count(url) == (n, n)            # the .tif images, once each


def _open_at(url: str, start: float, out) -> None:
    """Open the catalogue (its schema made if new) at wall-clock ``start``; put the error text or None."""
    import time

    from autocnet_jobs.catalogue.store import open_store
    time.sleep(max(0.0, start - time.time()))
    try:
        store = open_store(url)
        store.connect()
        store.close()
        out.put(None)
    except Exception as exc:  # the test reports what went wrong
        out.put(f"{type(exc).__name__}: {exc}"[:300])


@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_schema_creation_races_are_serialised(backend, request, tmp_path):
    """Four writers opening one new catalogue at the same instant, five times: each opens it, no error."""
    import multiprocessing as mp
    import time

    from .services import with_database
    ctx = mp.get_context("spawn")
    errors = []
    for round_ in range(5):
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / f'race{round_}.db'}"
        else:
            base = request.getfixturevalue("postgis_url")
            name = f"autocnet_race_{round_}_{abs(hash(str(tmp_path))) % 10**6}"
            with psycopg.connect(libpq_url(base), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name}")
                conn.execute(f"CREATE DATABASE {name}")
            url = with_database(base, name)
            with psycopg.connect(libpq_url(url), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION postgis")      # as a site's database has it
        out = ctx.Queue()
        start = time.time() + 2.0
        procs = [ctx.Process(target=_open_at, args=(url, start, out)) for _ in range(4)]
        for p in procs:
            p.start()
        errors += [e for e in (out.get(timeout=60) for _ in procs) if e]
        for p in procs:
            p.join(30)
        if backend == "postgis":
            with psycopg.connect(libpq_url(base), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    assert errors == []


def test_a_new_sqlite_catalogue_opens_while_another_connection_holds_its_write_lock(tmp_path):
    """The cause of a CI failure of the race above, made deterministic: on a new (rollback-journal) file, switching
    to WAL needs the write lock, and SQLite answers "database is locked" at once, busy_timeout or not, while another
    connection holds it. Opening the catalogue waits for the lock instead."""
    import threading
    import time

    from autocnet_jobs.catalogue.store import open_store
    path = tmp_path / "cat.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE other_writer (x)")
    other.execute("BEGIN")
    other.execute("INSERT INTO other_writer VALUES (1)")              # holds the write (RESERVED) lock
    release = threading.Timer(0.5, other.execute, ("COMMIT",))
    release.start()
    started = time.monotonic()
    store = open_store(f"sqlite:///{path}")
    try:
        store.connect()
        assert store.conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        store.close()
        release.join()
        other.close()
    assert time.monotonic() - started >= 0.4                          # it did wait for the other writer
