"""Schema version 4, 5 and 6 catalogues upgraded in place to version 7 (issue 16 item 4, issue 18 item 1, issue 25,
issue 26 item 5).

The version 4 catalogues are real ones, made by the version 4 package itself on sample images (tests/data/
make_v4_catalogues.py says how): a SQLite file, and a PostGIS database as ``pg_dump --inserts`` wrote it. What
they held is read from them here before the upgrade, with plain SQL, and compared with what the upgraded
catalogue says: each distinct CRS WKT once in the crs table and referenced by its images, the camera JSON without
the CRS, a done job's attempts and worker in its images row, the other jobs as they were (a failed forced re-run
still ranked above its older images row), the new columns present and NULL, and a new record written after.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import psycopg
import pytest

from autocnet_jobs import queries
from autocnet_jobs.catalogue import schema
from autocnet_jobs.catalogue.store import open_store

from . import faults
from .services import libpq_url

DATA = Path(__file__).parent / "data"


def _snapshot(query) -> dict:
    """What a version 4 catalogue holds, through plain SQL (``query(sql) -> rows``)."""
    images = {p: (wkt, json.loads(cam) if isinstance(cam, str) else cam)
              for p, wkt, cam in query("SELECT path, crs_wkt, camera FROM images")}
    jobs = {r[0]: r for r in query("SELECT path, state, attempts, worker, last_error FROM jobs")}
    return {"images": images, "jobs": jobs}


def _check_upgraded(url: str, before: dict, query) -> None:
    store = open_store(url)
    store.connect()                      # upgrades
    known = store.known()
    (tmp_record,) = [faults.tiny_record(__file__, {})]
    store.write([dict(tmp_record, spacecraft="MRO", start_time="2009-02-18T09:56:36.299Z")], [])
    store.close()
    assert query("SELECT version FROM schema_info") == [(schema.SCHEMA_VERSION,)] and schema.SCHEMA_VERSION == 7
    # the CRS: once per distinct WKT, referenced by each image that had it
    wkts = {wkt for wkt, _ in before["images"].values() if wkt}
    assert len(wkts) >= 2
    crs = dict(query("SELECT id, wkt FROM crs"))
    assert sorted(crs.values()) == sorted(wkts)
    for path, crs_id, camera in query("SELECT path, crs_id, camera FROM images"):
        if path == tmp_record["path"]:
            continue
        wkt, old_camera = before["images"][path]
        assert (crs[crs_id] if crs_id is not None else None) == wkt, path
        camera = json.loads(camera) if isinstance(camera, str) else camera
        assert camera == {k: v for k, v in old_camera.items() if k not in ("crs_wkt", "geographic_crs_wkt")}
    assert any("crs_wkt" in cam for _, cam in before["images"].values())
    columns = {r[0] for r in query("SELECT * FROM images LIMIT 0", names=True)}
    assert "crs_wkt" not in columns and set(schema.ACQUISITION_COLUMNS) <= columns
    # the jobs: the view reads what the version 4 table held
    jobs = {r[0]: r for r in query("SELECT path, state, attempts, worker, last_error FROM jobs")}
    assert jobs.pop(tmp_record["path"])[1] == "done"
    assert jobs == before["jobs"]
    failed = [p for p, r in before["jobs"].items() if r[1] == "failed"]
    assert len(failed) == 2 and all(known[p]["state"] == "failed" for p in failed)
    assert {r[1] for r in before["jobs"].values()} == {"done", "failed", "queued"}
    # the new record's acquisition columns, read back
    (row,) = [r for r in queries.images(url) if r["path"] == tmp_record["path"]]
    assert row["spacecraft"] == "MRO" and row["instrument"] is None


def _sqlite_catalogue(tmp_path: Path, name: str):
    """(URL, query) of a copy of the committed SQLite catalogue ``name``; query(sql, names=False) -> rows, or the
    result's column names."""
    db = tmp_path / "catalogue.db"
    shutil.copy(DATA / name, db)

    def query(sql: str, names: bool = False):
        con = sqlite3.connect(db)
        cur = con.execute(sql)
        rows = [(d[0],) for d in cur.description] if names else cur.fetchall()
        con.close()
        return rows

    return f"sqlite:///{db}", query


def _postgis_catalogue(url: str, name: str):
    """query(sql, names=False) of the database ``url`` restored from the committed dump ``name``."""
    dump = "\n".join(line for line in (DATA / name).read_text().splitlines()
                     if not line.startswith("\\"))          # psql's \restrict lines: not SQL
    with psycopg.connect(libpq_url(url), autocommit=True) as con:
        con.execute(dump)

    def query(sql: str, names: bool = False):
        with psycopg.connect(libpq_url(url), autocommit=True) as con:
            cur = con.execute(sql)
            return [(d.name,) for d in cur.description] if names else [tuple(r) for r in cur.fetchall()]

    return query


def test_a_version_4_sqlite_file_is_upgraded(tmp_path: Path) -> None:
    url, query = _sqlite_catalogue(tmp_path, "catalogue_v4.db")
    before = _snapshot(query)
    assert query("SELECT version FROM schema_info") == [(4,)]
    _check_upgraded(url, before, query)
    index_names = {r[0] for r in query("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert set(schema.ACQUISITION_INDEXES) <= index_names


def test_a_version_4_postgis_database_is_upgraded(fresh_pg_db: str) -> None:
    query = _postgis_catalogue(fresh_pg_db, "catalogue_v4_postgis.sql")
    before = _snapshot(query)
    assert query("SELECT version FROM schema_info") == [(4,)]
    _check_upgraded(fresh_pg_db, before, query)
    indexes = {r[0] for r in query("SELECT indexname FROM pg_indexes WHERE tablename = 'images'")}
    assert set(schema.ACQUISITION_INDEXES) <= indexes
    kinds = dict(query("SELECT relname, relkind::text FROM pg_class WHERE relname IN ('jobs', 'job_states')"))
    assert kinds == {"jobs": "v", "job_states": "r"}


# --- version 5 -> 6: the sensor cameras move into the cameras table ------------------------------------------

def _v5_cameras(query) -> dict:
    """path -> camera JSON of a version 5 catalogue, through plain SQL."""
    return {p: (json.loads(cam) if isinstance(cam, str) else cam)
            for p, cam in query("SELECT path, camera FROM images")}


def _check_v6(url: str, before: dict, query) -> None:
    from autocnet_jobs.extractors.camera.drivers import cube_isd

    from .camera_data import CAMERA_DIR
    store = open_store(url)
    store.connect()                      # upgrades
    (record,) = [faults.tiny_record(__file__, {})]
    isd = cube_isd(str(CAMERA_DIR / "ctxTestImage.cub"))
    camera = {"type": "csm", "model": isd["name_model"], "isd_source": "driver", "isd": isd}
    store.write([dict(record, camera=camera)], [])
    store.close()
    assert query("SELECT version FROM schema_info") == [(schema.SCHEMA_VERSION,)]
    sensors = {p for p, cam in before.items() if cam and cam["type"] in ("framing", "line_scan")}
    assert len(sensors) == 2
    moved = {p: (model, json.loads(isd) if isinstance(isd, str) else isd) for p, model, isd in query(
        "SELECT i.path, c.model, c.isd FROM cameras c JOIN images i ON i.id = c.image_id")}
    assert set(moved) == sensors | {record["path"]}
    for path in sensors:                 # the whole version 5 camera, as it was, in the cameras table
        assert moved[path] == (before[path]["name_model"], before[path])
    assert moved[record["path"]] == (isd["name_model"], isd)
    rows = {p: (json.loads(cam) if isinstance(cam, str) else cam) for p, cam in query(
        "SELECT path, camera FROM images")}
    for path in sensors:                 # the images row keeps a small part
        assert rows[path]["type"] == before[path]["type"] and "instrument_pointing" not in rows[path]
        assert len(json.dumps(rows[path])) < 1024
    assert rows[record["path"]] == {k: v for k, v in camera.items() if k != "isd"}
    # readers see each camera as it was written (an affine one with its CRS put back from the crs table)
    read = {r["path"]: r["camera"] for r in queries.images(url)}
    assert {p: {k: v for k, v in read[p].items() if k not in schema.CAMERA_CRS_KEYS} for p in before} == before
    assert read["/data/v5/test.jp2"]["crs_wkt"]
    assert read[record["path"]] == camera


def test_a_version_5_sqlite_file_is_upgraded(tmp_path: Path) -> None:
    url, query = _sqlite_catalogue(tmp_path, "catalogue_v5.db")
    assert query("SELECT version FROM schema_info") == [(5,)]
    _check_v6(url, _v5_cameras(query), query)


def test_a_version_5_postgis_database_is_upgraded(fresh_pg_db: str) -> None:
    query = _postgis_catalogue(fresh_pg_db, "catalogue_v5_postgis.sql")
    assert query("SELECT version FROM schema_info") == [(5,)]
    _check_v6(fresh_pg_db, _v5_cameras(query), query)


# --- version 6 -> 7: the overlap pairs' angle columns -------------------------------------------------------

def _check_v7(url: str, query) -> None:
    """The version 6 pair (the two Apollo 15 Metric frames, both with cameras) keeps its row and gets the angle
    columns, NULL; ``rebuild_overlaps`` then fills them with pair_angles' values from the stored cameras."""
    from autocnet_jobs.catalogue import overlap_queries, pair_angles

    before = query('SELECT image_a, image_b, area_m2, fraction_a, fraction_b FROM "overlaps"')
    assert len(before) == 1
    store = open_store(url)
    store.connect()                      # upgrades
    store.close()
    assert query("SELECT version FROM schema_info") == [(schema.SCHEMA_VERSION,)] and schema.SCHEMA_VERSION == 7
    assert query('SELECT image_a, image_b, area_m2, fraction_a, fraction_b FROM "overlaps"') == before
    assert query('SELECT convergence_deg, incidence_diff_deg FROM "overlaps"') == [(None, None)]
    (pair,) = overlap_queries.overlaps(url)
    assert pair["convergence_deg"] is None and pair["incidence_diff_deg"] is None
    store = open_store(url)
    store.connect()
    assert store.rebuild_overlaps() == 1
    store.close()
    isds = {i: json.loads(isd) if isinstance(isd, str) else isd
            for i, isd in query("SELECT image_id, isd FROM cameras")}
    (pair,) = overlap_queries.overlaps(url, with_geometry=True)
    a, b = before[0][:2]
    (lon,), (lat,) = pair_angles.centres([pair["geometry"]])
    expected = pair_angles.pair_angles_isd(isds[a], isds[b], lon, lat)
    assert 10 < expected.convergence_deg < 30              # a stereo pair: test_pair_angles checks the values
    assert pair["convergence_deg"] == pytest.approx(expected.convergence_deg, abs=1e-9)
    assert pair["incidence_diff_deg"] == pytest.approx(expected.incidence_diff_deg, abs=1e-9)
    # opened again: nothing to upgrade, nothing lost
    store = open_store(url)
    store.connect()
    store.close()
    assert query('SELECT convergence_deg FROM "overlaps"')[0][0] == pytest.approx(expected.convergence_deg)


def test_a_version_6_sqlite_file_is_upgraded(tmp_path: Path) -> None:
    url, query = _sqlite_catalogue(tmp_path, "catalogue_v6.db")
    assert query("SELECT version FROM schema_info") == [(6,)]
    _check_v7(url, query)


def test_a_version_6_postgis_database_is_upgraded(fresh_pg_db: str) -> None:
    query = _postgis_catalogue(fresh_pg_db, "catalogue_v6_postgis.sql")
    assert query("SELECT version FROM schema_info") == [(6,)]
    _check_v7(fresh_pg_db, query)
