"""bench_writer's records: what process_image gives, made up at scale (footprints, cameras, acquisition, job rows)."""
from __future__ import annotations

import json

import benchlib
import shapely

CTX_CUBE = benchlib.DATA_DIR.parent / "cameras" / "ctxTestImage.cub"
LARGE_ISD = benchlib.DATA_DIR.parent / "isds" / "usgscsm" / "ctxLineScan.json"


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


def sensor_camera(which: str) -> dict:
    """A level-1 cube's camera as process_image records it: ``type: csm`` with the ISD (cube: the driver's ISD of
    ctxTestImage.cub through camera_model; large: usgscsm's ctxLineScan.json, as a sidecar ISD is read)."""
    import rasterio

    from autocnet_jobs.extractors.cameras import camera_model

    with rasterio.open(CTX_CUBE) as ds:
        camera = camera_model(ds, str(CTX_CUBE))
    assert camera.get("type") == "csm", camera
    if which == "large":
        camera = dict(camera, isd=json.loads(LARGE_ISD.read_text()), isd_source="sidecar", isd_path=str(LARGE_ISD),
                      driver=None)
    return camera


def with_sensor_cameras(records: list[dict], camera: dict) -> list[dict]:
    """Level-1 records carrying the sensor camera as the writer receives them from a worker: each ISD its own
    (its ephemeris times moved), encoded as JSON text by the worker (extractors.cameras.with_isd_text)."""
    import pickle

    from autocnet_jobs.extractors.cameras import with_isd_text

    isd = pickle.dumps(camera["isd"])
    t0 = float(camera["isd"].get("center_ephemeris_time", 0.0))
    return [with_isd_text(dict(r, crs_wkt=None, camera=dict(
        camera, isd=dict(pickle.loads(isd), center_ephemeris_time=t0 + i, starting_ephemeris_time=t0 + i - 1.5))))
        for i, r in enumerate(records)]


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


def queue_jobs(url: str, records: list[dict]) -> None:
    """The catalogue as a run finds it: the schema, the bodies' spatial references and the CRS registered (a new
    catalogue's first batch does that once; the server-alone reference has them too), and a "queued" job row per
    image, as the tracker writes them at submit time."""
    from autocnet_jobs.catalogue.store import open_store

    prepare_schema(url, records)
    store = open_store(url)
    store.connect()
    store.write([], queued_jobs(records))
    store.close()

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
