"""Smoke tests of the real services started by deploy/run_tests.sh (fixtures in tests/services.py)."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.services import libpq_url


def _postgis_version(url: str) -> str:
    with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
        return conn.execute("SELECT postgis_version()").fetchone()[0]


def test_postgis_answers_through_psycopg(postgis_url):
    assert _postgis_version(postgis_url).startswith("3.")


def test_postgis_answers_through_sqlalchemy(postgis_url):
    engine = sa.create_engine(postgis_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT postgis_version()")).scalar().startswith("3.")
            area = conn.execute(sa.text("SELECT ST_Area(ST_GeomFromText('POLYGON((0 0,2 0,2 1,0 1,0 0))'))")).scalar()
            assert area == pytest.approx(2.0)
    finally:
        engine.dispose()


def test_fresh_pg_db_is_new_empty_and_spatial(postgis_url, fresh_pg_db):
    assert fresh_pg_db != postgis_url
    with psycopg.connect(libpq_url(fresh_pg_db)) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert tables <= {"spatial_ref_sys"}
        assert conn.execute("SELECT postgis_version()").fetchone()[0].startswith("3.")


def test_fresh_pg_db_is_dropped_afterwards(postgis_url):
    # Runs the fixture by hand to see its teardown.
    from tests.services import fresh_pg_db

    gen = fresh_pg_db.__wrapped__(postgis_url)
    url = next(gen)
    name = sa.engine.make_url(url).database
    with pytest.raises(StopIteration):
        next(gen)
    with psycopg.connect(libpq_url(postgis_url)) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone()[0] == 0


def test_postgis_restart_stop_refuses_then_start_answers(postgis_url, postgis_restart):
    assert postgis_restart.is_running()
    postgis_restart.stop()
    assert not postgis_restart.is_running()
    with pytest.raises(psycopg.OperationalError, match="(?i)refused|could not connect"):
        _postgis_version(postgis_url)
    postgis_restart.start()
    assert _postgis_version(postgis_url).startswith("3.")


def _run(*cmd: str, timeout: float = 30) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout).stdout


def test_slurm_node_is_idle(slurm_env):
    assert _run("sinfo", "-h", "-o", "%t").split() == ["idle"]


def test_slurm_sbatch_job_runs_to_completion(slurm_env, tmp_path: Path):
    out = tmp_path / "job-%j.out"
    job_id = _run(
        "sbatch", "--parsable", "--chdir", str(tmp_path), "--output", str(out), "--time", "1",
        "--wrap", "echo hello from job $SLURM_JOB_ID on $SLURMD_NODENAME",
    ).strip().split(";")[0]
    deadline = time.monotonic() + 60
    while _run("squeue", "-h", "-j", job_id, "-o", "%T").strip():
        assert time.monotonic() < deadline, f"job {job_id} still queued/running after 60 s"
        time.sleep(0.2)
    state = _run("scontrol", "show", "job", job_id)
    assert "JobState=COMPLETED" in state and "ExitCode=0:0" in state, state
    text = (tmp_path / f"job-{job_id}.out").read_text()
    assert text.strip() == f"hello from job {job_id} on localhost"
    assert _run("squeue", "-h").strip() == ""
