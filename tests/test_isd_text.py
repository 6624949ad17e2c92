"""A record's ISD travels as JSON text (extractors.cameras.with_isd_text, applied on the worker) and is stored as
that text, not encoded a second time: the cameras row reads back as the ISD itself, on SQLite and PostGIS."""
from __future__ import annotations

import json

import pytest
import rasterio
from sqlalchemy import create_engine, text

from autocnet_jobs.extractors.cameras import camera_model, with_isd_text
from tests.camera_data import CAMERA_DIR
from tests.faults import strip_record
from tests.helpers import write_batches

CTX = CAMERA_DIR / "ctxTestImage.cub"


def _ctx_camera() -> dict:
    with rasterio.open(CTX) as ds:
        camera = camera_model(ds, str(CTX))
    assert camera["type"] == "csm" and isinstance(camera["isd"], dict)
    return camera


def test_with_isd_text_encodes_only_a_sensor_cameras_isd():
    camera = _ctx_camera()
    record = {"path": "/x.cub", "camera": camera}
    out = with_isd_text(record)
    assert isinstance(out["camera"]["isd"], str) and json.loads(out["camera"]["isd"]) == camera["isd"]
    assert isinstance(record["camera"]["isd"], dict)                   # the caller's record is left as it was
    assert with_isd_text(out) == out                                   # text stays text
    affine = {"path": "/y.tif", "camera": {"type": "affine", "transform": [1, 0, 0, 0, -1, 0]}}
    assert with_isd_text(affine) is affine and with_isd_text({"path": "/z", "camera": None})["camera"] is None


@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_an_isd_sent_as_text_is_stored_as_the_isd(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path}/cat.db" if backend == "sqlite" else request.getfixturevalue("fresh_pg_db")
    camera = _ctx_camera()
    paths = [tmp_path / f"img{i}.cub" for i in range(3)]
    for p in paths:
        p.write_bytes(b"")
    records = [dict(strip_record(str(p), {}), camera=camera) for p in paths]
    records[1] = with_isd_text(records[1])
    write_batches(url, records)
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT i.path, c.isd FROM cameras c JOIN images i ON i.id = c.image_id "
                                 "ORDER BY i.path")).all()
    engine.dispose()
    assert [p for p, _ in rows] == [str(p) for p in paths]
    for _, isd in rows:
        assert (json.loads(isd) if isinstance(isd, str) else isd) == camera["isd"]
