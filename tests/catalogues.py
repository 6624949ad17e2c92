"""Catalogues built from the SQLite sample run for tests that need the same rows elsewhere: a PostGIS copy written
through the real PostGIS store (its COPY upsert, spatial references and views), and the samples' bodies as the
sample data's MANIFEST.tsv states them (an independent reference, not our own output)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import timezone
from typing import Iterator

import shapely

from autocnet_jobs import queries
from autocnet_jobs.catalogue.schema import TIME_COLUMNS
from autocnet_jobs.catalogue.store import open_store

from .conftest import DATA_DIR
from .services import _admin_connect, with_database


def records_of(url: str) -> list[dict]:
    """The catalogue's image rows as records the writer takes (what ``process_image`` returned for them)."""
    records = []
    for r in queries.images(url):
        rec = {k: v for k, v in r.items() if k not in ("id", "srid", "created_at", "updated_at", "footprint")}
        rec["footprint_wkb"] = shapely.to_wkb(r["footprint"], hex=True) if r["footprint"] is not None else None
        rec["extractor_params"] = {}
        rec["crs_wkt"] = (r["camera"] or {}).get("crs_wkt")      # the read side puts it back in the camera
        for key in TIME_COLUMNS:  # a record carries UTC ISO-8601 text, as extractors.acquisition writes it
            if rec.get(key) is not None:
                rec[key] = rec[key].astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        records.append(rec)
    return records


@contextmanager
def postgis_copy(sqlite_url: str, postgis_url: str, name: str) -> Iterator[str]:
    """A new PostGIS database ``name`` (with this process's id: test runs side by side do not share it) holding the
    rows of ``sqlite_url``, written by the PostGIS store; dropped afterwards. Yields its URL."""
    name = f"{name}_{os.getpid()}"
    with _admin_connect(postgis_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE autocnet_template')
    url = with_database(postgis_url, name)
    store = open_store(url)
    store.connect()
    try:
        store.write(records_of(sqlite_url), [])
    finally:
        store.close()
    try:
        yield url
    finally:
        with _admin_connect(postgis_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manifest_bodies() -> dict[str, str]:
    """File name -> body, from the sample data's MANIFEST.tsv."""
    lines = (DATA_DIR.parent / "MANIFEST.tsv").read_text().splitlines()
    head = lines[0].split("\t")
    col = head.index("body")
    return {f[0]: f[col] for f in (line.split("\t") for line in lines[1:] if line.strip()) if len(f) > col}
