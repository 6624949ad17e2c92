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

from .catalogues import postgis_copy

GLOBAL_MOON = {"WAC_GLD100_V1.0_GLOBAL_with_LOLA_30M_POLE.16bit.reduced.cub", "ldem_4_reduced.cub",
               "ulcn2005_lpo_downsampled.cub"}
GLOBAL_VESTA = {"vest64_dtm_specialpixels_downsampled.cub"}
MARS_NORTH_CAP = {"Mars_MGS_MOLA_ClrShade_MAP2_90.0N0.0_POLA.tif"}


@pytest.fixture(scope="module")
def pg_catalogue(sample_run, postgis_url):
    """The SQLite sample catalogue's rows written into a fresh PostGIS database through the PostGIS store."""
    with postgis_copy(sample_run["cfg"]["database"]["url"], postgis_url, "autocnet_queries_test") as url:
        yield url


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


# ---- acquisition queries (issue 18 item 2), on both backends ----------------------------------------------------
# Hand-read from the ISIS labels' Instrument groups: InstrumentId, SpacecraftName and StartTime of the samples that
# have one. The two Apollo 15 Metric frames were taken 25 s apart; the two HiRISE crops in February and July 2009.
APOLLO = {"AS15-M-0297_crop.cub", "AS15-M-0298_crop.cub"}
HIRISE_2009 = {"no_change_before.cub", "ESP_014038_1415_RED0.30421_33069.boulder_shift.before.cub"}
UTC = timezone.utc


def test_instrument_time_range_and_box_together(url):
    box = (143, -22, 147, -18)  # the Apollo crops and the global Moon maps (above)
    assert names(queries.images(url, bbox=box, instrument="metric")) == APOLLO
    first_frame = dict(acquired_from=datetime(1971, 7, 31, 1, 25, tzinfo=UTC),
                       acquired_to=datetime(1971, 7, 31, 1, 25, 10, tzinfo=UTC))
    assert names(queries.images(url, bbox=box, instrument="METRIC", **first_frame)) == {"AS15-M-0297_crop.cub"}
    # --to is exclusive: a bound at 0297's own start time leaves it out; --from is inclusive.
    at_0297 = datetime(1971, 7, 31, 1, 25, 2, 243000, tzinfo=UTC)
    assert names(queries.images(url, bbox=box, instrument="METRIC", acquired_to=at_0297)) == set()
    assert names(queries.images(url, bbox=box, instrument="METRIC", acquired_from=at_0297)) == APOLLO
    # The same query with an instrument the box has no image of, and with another spacecraft.
    assert queries.images(url, bbox=box, instrument="HIRISE") == []
    assert names(queries.images(url, spacecraft="apollo 15")) == APOLLO


def test_time_range_alone_and_with_a_naive_bound(url):
    in_2009 = queries.images(url, instrument="HiRISE", acquired_from=datetime(2009, 1, 1),
                             acquired_to=datetime(2010, 1, 1))
    assert names(in_2009) == HIRISE_2009
    # ESP_014038 lies near 224°E (-136°), 38°S; no_change_before near 129°E, 36°S (their Mapping groups).
    assert names(queries.images(url, instrument="HIRISE", acquired_from=datetime(2009, 1, 1),
                                bbox=(-137, -39, -135, -37))) == HIRISE_2009 - {"no_change_before.cub"}
    rows = {r["name"]: r for r in in_2009}
    assert rows["no_change_before.cub"]["start_time"] == datetime(2009, 2, 18, 9, 56, 36, 299000, tzinfo=UTC)


def test_resolution_and_angle_ranges(url):
    every = queries.images(url)
    with_res = [r for r in every if r["resolution"] is not None]
    assert with_res, "no sample has a resolution"
    fine = names(queries.images(url, resolution=(None, 1.0)))
    # The HiRISE map crops are 0.25 m/pixel (PixelResolution in their Mapping groups); the global maps km-scale.
    assert HIRISE_2009 <= fine and "ldem_4_reduced.cub" not in fine
    assert fine == {r["name"] for r in with_res if r["resolution"] <= 1.0}
    lit = [r for r in every if r["incidence"] is not None]
    assert lit, "no sample has an incidence angle"
    low, high = sorted(r["incidence"] for r in lit)[0], sorted(r["incidence"] for r in lit)[-1]
    assert names(queries.images(url, incidence=(low, high))) == {r["name"] for r in lit}
    assert names(queries.images(url, incidence=(low, low))) == {r["name"] for r in lit if r["incidence"] == low}
    assert names(queries.images(url, emission=(0, 90))) == {r["name"] for r in every if r["emission"] is not None}


def test_acquisition_filter_is_pure_and_checks_its_ranges():
    terms = queries.acquisition_filter(False, instrument="CTX", acquired_from=datetime(2020, 1, 1),
                                       resolution=(None, 6), incidence=(40, 70))
    sql = " AND ".join(t for t, _ in terms)
    params = {k: v for _, p in terms for k, v in p.items()}
    assert sql == ("lower(instrument) = lower(:instrument) AND start_time >= :acquired_from AND "
                   "resolution <= :resolution_high AND incidence >= :incidence_low AND incidence <= :incidence_high")
    assert params["acquired_from"] == "2020-01-01T00:00:00.000000Z"   # SQLite: the store's fixed-width text
    pg = dict(queries.acquisition_filter(True, acquired_from=datetime(2020, 1, 1))[0][1])
    assert pg["acquired_from"] == datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="low end"):
        queries.acquisition_filter(False, incidence=(70, 40))
    with pytest.raises(ValueError, match="before"):
        queries.acquisition_filter(False, acquired_from=datetime(2021, 1, 1), acquired_to=datetime(2020, 1, 1))


def test_naive_times_are_utc_and_aware_ones_converted_by_one_helper():
    """schema.as_utc is the one home of "naive means UTC": the query bounds, the time columns and both exports
    give the same instant for a naive, a UTC and a +02:00 time (utc_datetime once kept an aware time's offset)."""
    from autocnet_jobs.catalogue import schema
    from autocnet_jobs.catalogue.exports import gpkg, stac

    expected = datetime(2020, 1, 1, 12, 30, 0, 250000, tzinfo=UTC)
    plus2 = datetime(2020, 1, 1, 14, 30, 0, 250000, tzinfo=timezone(timedelta(hours=2)))
    for t in (expected.replace(tzinfo=None), expected, plus2):
        assert schema.as_utc(t) == expected and schema.as_utc(t).tzinfo is UTC, t
        assert schema.utc_datetime(t) == expected and schema.utc_datetime(t).tzinfo is UTC, t
        assert schema.sqlite_time(t) == "2020-01-01T12:30:00.250000Z", t
        assert stac._iso(t) == "2020-01-01T12:30:00.250000Z", t
        assert gpkg._value(t, "DATETIME") == "2020-01-01T12:30:00.250Z", t
        pg = dict(queries.acquisition_filter(True, acquired_from=t)[0][1])
        assert pg["acquired_from"] == expected and pg["acquired_from"].tzinfo is UTC, t
    assert schema.sqlite_time(None) is None and schema.utc_datetime(None) is None  # callers pass None here only

def test_cli_acquisition_query(url):
    import json
    import subprocess
    import sys
    from pathlib import Path

    cli = str(Path(sys.executable).with_name("autocnet-jobs"))
    res = subprocess.run([cli, "query", "--instrument", "metric", "--from", "1971-07-31T01:25",
                          "--to", "1971-07-31T01:25:10", "--bbox", "143", "-22", "147", "-18", "--json", "--db", url],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert {f["properties"]["name"] for f in json.loads(res.stdout)["features"]} == {"AS15-M-0297_crop.cub"}
    bad = subprocess.run([cli, "query", "--incidence", "70", "40", "--db", url], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "low end" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr


def test_an_affine_camera_reads_back_with_its_crs(url, sample_run):
    """Issue 25 item 6: the store keeps a CRS once in the crs table and dropped it from the camera JSON; the camera
    read back is the one process_image made, CRS included (compared with camera_model on the same image)."""
    import rasterio

    from autocnet_jobs.extractors.cameras import camera_model

    rows = {r["name"]: r for r in queries.images(url)}
    for name in ("RGB.byte.tif", "dawnEqui1.cub"):
        path = str(sample_run["images"] / name)
        with rasterio.open(path) as ds:
            made = camera_model(ds, path)
        got = rows[name]["camera"]
        assert made["type"] == got["type"] == "affine"
        assert got["crs_wkt"] == made["crs_wkt"] and got["geographic_crs_wkt"] == made["geographic_crs_wkt"]
        assert got == {k: v for k, v in made.items() if k != "rpcs"} | ({"rpcs": made["rpcs"]} if "rpcs" in made else {})
