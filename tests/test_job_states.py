"""The job_states table users read with SQL says the truth at the end of a run (issue 25 item 2).

Before, after a run that ended ``done 17`` PostGIS job_states still held 9 rows ``queued`` and 8 ``running`` for
those images (the jobs view hid them, a GIS tool reading the table did not). A committed image's job row now goes
in the images row's transaction; a failed one stays, with its reason.
"""
from __future__ import annotations

import sqlite3

import psycopg
import pytest

from autocnet_jobs import ImageAdder

from . import faults
from .helpers import config, tiny_files
from .services import libpq_url


def _rows(url: str, sql: str) -> list[tuple]:
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        return [tuple(r) for r in conn.execute(sql).fetchall()]


@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_job_states_holds_no_row_for_a_finished_image(backend, request, tmp_path):
    folder = tiny_files(tmp_path / "in", 17)
    (folder / "raise-bad.cub").write_bytes(b"x")                  # faults.soak raises for "raise" names
    cfg = config(tmp_path, cluster={"maxfailures": 1})
    if backend == "postgis":
        cfg["database"]["url"] = request.getfixturevalue("fresh_pg_db")
    url = cfg["database"]["url"]
    with ImageAdder(cfg, process=faults.soak, quiet=True) as ia:
        assert len(ia.add_images(folder, "cub")) == 18
        ia.wait(120)
        assert sum(v is True for v in ia.job_status.values()) == 17 and len(ia.failed_jobs) == 1
    states = _rows(url, "SELECT path, state FROM job_states")
    assert [(p.rsplit("/", 1)[-1], s) for p, s in states] == [("raise-bad.cub", "failed")]
    assert _rows(url, "SELECT count(*) FROM images") == [(17,)]
    view = dict(_rows(url, "SELECT state, count(*) FROM jobs GROUP BY state"))
    assert view == {"done": 17, "failed": 1}
