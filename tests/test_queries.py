"""Spatial queries on both backends, against expectations worked out by hand from the sample footprints.

What each sample covers (README of the sample data, MANIFEST.tsv): the Moon global maps (WAC_GLD100, ldem_4,
ulcn2005 downsampled) and the Vesta DTM span every longitude; the Mars polar stereographic GeoTIFF covers the
north cap from about 42°N; e0902065 (Mars) straddles lon 0 at 0.5–2.6°N; the Apollo 15 metric crops lie near
145°E, 20°S on the Moon; dawnEqui1 (Vesta) spans about -3.2..2.6° lon at 1–12°S.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import shapely

from autocnet_jobs import queries
from autocnet_jobs.catalogue.store import open_store

from .services import _admin_connect, with_database

GLOBAL_MOON = {"WAC_GLD100_V1.0_GLOBAL_with_LOLA_30M_POLE.16bit.reduced.cub", "ldem_4_reduced.cub",
               "ulcn2005_lpo_downsampled.cub"}
GLOBAL_VESTA = {"vest64_dtm_specialpixels_downsampled.cub"}
MARS_NORTH_CAP = {"Mars_MGS_MOLA_ClrShade_MAP2_90.0N0.0_POLA.tif"}


@pytest.fixture(scope="module")
def pg_catalogue(sample_run, postgis_url):
    """The SQLite sample catalogue's rows written into a fresh PostGIS database through the PostGIS store."""
    name = "autocnet_queries_test"
    with _admin_connect(postgis_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE autocnet_template')
    url = with_database(postgis_url, name)
    records = []
    for r in queries.images(sample_run["cfg"]["database"]["url"]):
        rec = {k: v for k, v in r.items() if k not in ("id", "srid", "created_at", "updated_at", "footprint")}
        rec["footprint_wkb"] = shapely.to_wkb(r["footprint"], hex=True) if r["footprint"] is not None else None
        rec["extractor_params"] = {}
        records.append(rec)
    store = open_store(url)
    store.connect()
    store.write(records, [])
    store.close()
    yield url
    with _admin_connect(postgis_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgis"])
def url(request, sample_run):
    if request.param == "sqlite":
        return sample_run["cfg"]["database"]["url"]
    return request.getfixturevalue("pg_catalogue")


def names(rows) -> set[str]:
    return {r["name"] for r in rows}


def test_box_across_the_antimeridian(url):
    rows = queries.images(url, bbox=(170, -90, -170, 90))
    assert names(rows) == GLOBAL_MOON | GLOBAL_VESTA | MARS_NORTH_CAP
    # The index-backed path (R*Tree or GiST) gives the same answer.
    assert {p.rsplit("/", 1)[1] for p in queries.intersecting(url, 170, -90, -170, 90)} == names(rows)


def test_box_across_the_prime_meridian_on_mars(url):
    assert names(queries.images(url, bbox=(-1, 0, 2, 3), body="Mars")) == {"e0902065.cal.sub.cub"}
    assert names(queries.images(url, bbox=(-1, 0, 2, 3), body="mars")) == {"e0902065.cal.sub.cub"}


def test_apollo_box_and_overlapping_image(url, sample_run):
    apollo = {"AS15-M-0297_crop.cub", "AS15-M-0298_crop.cub"}
    assert names(queries.images(url, bbox=(143, -22, 147, -18), body="Moon")) == apollo | GLOBAL_MOON
    target = str(sample_run["images"] / "AS15-M-0297_crop.cub")
    assert names(queries.images(url, overlapping=target)) == {"AS15-M-0298_crop.cub"} | GLOBAL_MOON


def test_geometry_and_time_filters(url):
    dawn = shapely.box(-3, -10, 2, -2)
    assert names(queries.images(url, geometry=dawn, body="Vesta")) >= {"dawnEqui1.cub"}
    assert "dawnEqui1.cub" not in names(queries.images(url, geometry=dawn, body="Mars"))
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert queries.images(url, since=future) == []
    assert len(queries.images(url, since=datetime(2000, 1, 1, tzinfo=timezone.utc))) == len(queries.images(url))


def test_geojson_export_round_trips(url, tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "all.geojson"
    cli = str(Path(sys.executable).with_name("autocnet-jobs"))
    res = subprocess.run([cli, "export", "--format", "geojson", "--out", str(out), "--db", url],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    rows = queries.images(url)
    assert len(doc["features"]) == len(rows)
    by_name = {f["properties"]["name"]: f for f in doc["features"]}
    for r in rows:
        geom = by_name[r["name"]]["geometry"]
        if r["footprint"] is None:
            assert geom is None
        else:
            assert shapely.geometry.shape(geom).equals(r["footprint"])


def test_intersecting_on_postgis_uses_the_gist_index(pg_catalogue):
    from sqlalchemy import text

    with queries.connect(pg_catalogue) as conn:
        srids = queries._footprint_srids(conn)
    assert srids == sorted(
        {0} | {r["srid"] for r in queries.images(pg_catalogue) if r["srid"] is not None})
    with queries.connect(pg_catalogue) as conn:
        conn.execute(text("SET enable_seqscan = off"))  # a catalogue of 26 rows would be scanned; a large one not
        where, params = queries._box_filter(conn, True, [(170, -90, 180, 90)])
        plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN SELECT path FROM images WHERE " + where), params))
    assert "images_footprint_gist" in plan, plan


def test_geopackage_export_reads_back_with_gdal(url, tmp_path):
    # Read back by GDAL (pyogrio), not by our own code: layers per body, each in its body's CRS.
    import subprocess
    import sys
    from pathlib import Path

    import warnings

    import numpy as np
    import pyogrio
    from pyproj import CRS

    out = tmp_path / "all.gpkg"
    cli = str(Path(sys.executable).with_name("autocnet-jobs"))
    res = subprocess.run([cli, "export", "--out", str(out), "--db", url], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    rows = {r["path"]: r for r in queries.images(url)}
    seen = {}
    for layer, geom_type in pyogrio.list_layers(out):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # GDAL's "non-conformant content" warnings fail it
            meta, _, geoms, fields = pyogrio.raw.read(out, layer=layer)
        assert geom_type == "MultiPolygon" and meta["geometry_type"] == "MultiPolygon"
        paths = list(fields[meta["fields"].tolist().index("path")])
        bodies = {rows[p]["body"] for p in paths}
        assert len(bodies) == 1, (layer, bodies)
        body = bodies.pop()
        codes = {rows[p]["iau_code"] for p in paths}
        if body:
            assert layer == f"footprints_{body.lower()}"
            assert CRS.from_user_input(meta["crs"]).equals(CRS.from_user_input(codes.pop()), ignore_axis_order=True)
        for p, wkb in zip(paths, geoms):
            seen[p] = wkb
            fp = rows[p]["footprint"]
            assert (wkb is None) == (fp is None), p
            if fp is not None:
                assert shapely.from_wkb(wkb).equals_exact(fp, 0), p
        info = pyogrio.read_info(out, layer=layer)
        assert info["features"] == len(paths)
        created = fields[meta["fields"].tolist().index("created_at")]
        assert created.dtype.kind == "M" and not np.isnat(created).any(), created[:3]  # parsed as datetimes
    assert set(seen) == set(rows)
    assert {"footprints_mars", "footprints_moon", "footprints_vesta"} <= {n for n, _ in pyogrio.list_layers(out)}
    # GDAL finds the spatial index and answers a box query with it, as the catalogue's own index does.
    assert pyogrio.read_info(out, layer="footprints_moon")["capabilities"]["fast_spatial_filter"]
    _, _, _, fields = pyogrio.raw.read(out, layer="footprints_moon", bbox=(143, -22, 147, -18), columns=["path"])
    moon = {p for p, r in rows.items() if r["body"] == "Moon"}
    assert set(fields[0]) == set(queries.intersecting(url, 143, -22, 147, -18)) & moon


def test_cli_query_box_and_overlap(url, sample_run):
    import json
    import subprocess
    import sys
    from pathlib import Path

    cli = str(Path(sys.executable).with_name("autocnet-jobs"))

    def query(*args: str) -> set[str]:
        res = subprocess.run([cli, "query", *args, "--json", "--db", url], capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stderr
        return {f["properties"]["name"] for f in json.loads(res.stdout)["features"]}

    assert query("--bbox", "170", "-90", "-170", "90") == GLOBAL_MOON | GLOBAL_VESTA | MARS_NORTH_CAP
    target = str(sample_run["images"] / "AS15-M-0297_crop.cub")
    assert query("--overlapping", target) == {"AS15-M-0298_crop.cub"} | GLOBAL_MOON
    assert query("--wkt", "POLYGON((-3 -10, 2 -10, 2 -2, -3 -2, -3 -10))", "--body", "Vesta") == \
        names(queries.images(url, geometry=shapely.box(-3, -10, 2, -2), body="Vesta"))
