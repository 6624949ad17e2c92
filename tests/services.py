"""Pytest fixtures for the real services that ``deploy/run_tests.sh`` starts: PostGIS and a single-node Slurm.

Loaded as a plugin (``python -m pytest -p tests.services``, as ``deploy/run_tests.sh`` does). The services are
found through environment variables the run script exports; when one is missing the test is skipped with the
command to run, or fails when ``AUTOCNET_REQUIRE_SERVICES=1`` (CI), so a broken service never hides as a skip.

Fixtures:
    postgis_url      session  SQLAlchemy URL (postgresql+psycopg://...) of the ``autocnet_test`` database
    postgis_restart  function ``PostgresControl``: stop()/start()/restart()/stopped() the server mid-test;
                     the server is running again after the test whatever happened
    fresh_pg_db      function URL of a new, empty database with PostGIS, dropped afterwards
    slurm_env        session  ``SlurmEnv`` (conf, rundir); ``SLURM_CONF`` is set in ``os.environ`` so
                     sbatch/squeue and dask-jobqueue use the private cluster
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NoReturn

import pytest
from sqlalchemy.engine import make_url

RUN_HINT = "bash deploy/run_tests.sh"


def _unavailable(what: str, detail: str) -> NoReturn:
    msg = f"{what} not available ({detail}); run the tests with `{RUN_HINT}`, which starts it"
    if os.environ.get("AUTOCNET_REQUIRE_SERVICES") == "1":
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at database ``name``."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://...``) as a libpq URI for ``psycopg.connect``."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgis_url() -> str:
    url = os.environ.get("AUTOCNET_TEST_PG_URL")
    if not url:
        _unavailable("PostGIS", "$AUTOCNET_TEST_PG_URL is not set")
    return url


class PostgresControl:
    """Stops and starts the test PostgreSQL through the control script ``$AUTOCNET_PG_CTL``.

    ``start()`` returns once the server accepts connections (same port, same data).
    """

    def __init__(self, ctl: str, url: str):
        self.ctl = ctl
        self.url = url

    def _run(self, action: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.ctl, action], capture_output=True, text=True, timeout=120)

    def stop(self) -> None:
        res = self._run("stop")
        if res.returncode:
            raise RuntimeError(f"stopping PostgreSQL failed: {res.stderr.strip()}")

    def start(self) -> None:
        res = self._run("start")
        if res.returncode:
            raise RuntimeError(f"starting PostgreSQL failed: {res.stderr.strip()}")

    def restart(self) -> None:
        self.stop()
        self.start()

    def is_running(self) -> bool:
        return self._run("status").returncode == 0

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """``with pg.stopped(): ...`` — the server is down inside the block and up again after it."""
        self.stop()
        try:
            yield
        finally:
            self.start()


@pytest.fixture
def postgis_restart(postgis_url: str) -> Iterator[PostgresControl]:
    ctl = os.environ.get("AUTOCNET_PG_CTL")
    if not ctl or not os.access(ctl, os.X_OK):
        _unavailable("PostgreSQL control", "$AUTOCNET_PG_CTL is not set or not executable")
    control = PostgresControl(ctl, postgis_url)
    yield control
    # Whatever the test did, later tests need the server.
    if not control.is_running():
        control.start()


def _admin_connect(url: str, wait: float = 0.0):
    import psycopg

    deadline = time.monotonic() + wait
    while True:
        try:
            return psycopg.connect(libpq_url(with_database(url, "postgres")), autocommit=True, connect_timeout=10)
        except psycopg.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def fresh_pg_db(postgis_url: str) -> Iterator[str]:
    name = f"autocnet_t_{uuid.uuid4().hex[:12]}"
    with _admin_connect(postgis_url) as conn:
        # deploy/postgis/start.sh makes a postgis template; copying it is much faster than CREATE EXTENSION.
        has_template = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'autocnet_template'").fetchone()
        if has_template:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE autocnet_template')
    url = with_database(postgis_url, name)
    if not has_template:
        import psycopg

        with _admin_connect(postgis_url) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    yield url
    try:
        # The test may have stopped the server; postgis_restart brings it back, so wait a little.
        with _admin_connect(postgis_url, wait=30) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as exc:  # a leftover database in a throwaway cluster must not fail the test
        warnings.warn(f"could not drop test database {name}: {exc}")


@dataclass(frozen=True)
class SlurmEnv:
    conf: Path    # slurm.conf of the private cluster (also in os.environ["SLURM_CONF"])
    rundir: Path  # its state, spool and log files


@pytest.fixture(scope="session")
def slurm_env() -> SlurmEnv:
    conf = os.environ.get("SLURM_CONF")
    if not conf:
        _unavailable("Slurm", "$SLURM_CONF is not set")
    if not Path(conf).is_file():
        _unavailable("Slurm", f"SLURM_CONF={conf} does not exist")
    if shutil.which("sbatch") is None:
        _unavailable("Slurm", "sbatch is not on PATH")
    os.environ["SLURM_CONF"] = conf
    rundir = Path(os.environ.get("AUTOCNET_SLURM_RUNDIR") or Path(conf).parent)
    return SlurmEnv(conf=Path(conf), rundir=rundir)
