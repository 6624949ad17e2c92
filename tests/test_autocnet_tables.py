"""AutoCNet tables on PostGIS (issue 18 item 4): ``export --format autocnet --schema NAME`` writes AutoCNet 1.2's
``images``, ``keypoints``, ``cameras`` and ``overlay`` tables (autocnet/io/db/model.py) over the catalogue;
selecting AutoCNet's columns gives one row per done image of the body with its ISIS serial (composed by hand below
from the label, as ISIS's Apollo15MetricSerialNumber.trn says: SpacecraftName as APOLLO15 / InstrumentId /
StartTime), footprint and keypoint path, and the overlay faces catalogue.overlay computes (issue 26; the known
cases in tests/test_autocnet_overlay.py). On SQLite the format is a one-line usage error."""
from __future__ import annotations

import json

import h5py
import numpy as np
import psycopg
import pytest
import shapely

from autocnet_jobs import cli, queries
from autocnet_jobs.catalogue import overlap_queries
from autocnet_jobs.catalogue.overlay import overlay

from .catalogues import manifest_bodies, postgis_copy
from .services import libpq_url

APOLLO_0297_SERIAL = "APOLLO15/METRIC/1971-07-31T01:25:02.243"   # label: APOLLO 15, METRIC, 1971-07-31T01:25:02.243
MOON_SRID = 830100                                               # IAU_2015:30100 in our integer SRID range


@pytest.fixture(scope="module")
def pg(sample_run, postgis_url):
    with postgis_copy(sample_run["cfg"]["database"]["url"], postgis_url, "autocnet_acn_test") as url:
        yield url


def sql(url: str, query: str, *args) -> list[tuple]:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        cur = conn.execute(query, args)
        return cur.fetchall() if cur.description is not None else []


def export(capsys, *argv: str) -> tuple[int, str, str]:
    rc = cli.main(["export", "--format", "autocnet", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_autocnet_columns_give_one_row_per_done_image(pg, capsys):
    rc, out, err = export(capsys, "--schema", "acn_moon", "--body", "Moon", "--db", pg)
    assert rc == 0, err
    catalogue = {r["path"]: r for r in queries.images(pg, body="Moon")}
    moon_in_manifest = {n for n, b in manifest_bodies().items() if b == "Moon"}
    assert {r["name"] for r in catalogue.values()} <= moon_in_manifest and len(catalogue) >= 5
    images = sql(pg, "SELECT id, name, path, serial, ignore, ST_AsBinary(geom), ST_SRID(geom), cam_type, dem, "
                     "dem_type, footprint_bodyfixed FROM acn_moon.images")
    assert sorted(r[2] for r in images) == sorted(catalogue)
    by_name = {r[1]: r for r in images}
    assert by_name["AS15-M-0297_crop.cub"][3] == APOLLO_0297_SERIAL
    assert by_name["AS15-M-0297_crop.cub"][7] == "isis"       # an ISIS3 cube with its framing camera
    assert by_name["ldem_4_reduced.cub"][7] is None           # a map: AutoCNet has no sensor for it
    for row_id, name, path, serial, ignore, wkb, srid, *_ in images:
        fp = catalogue[path]["footprint"]
        assert ignore is False and serial == catalogue[path]["serial_number"]
        if fp is None:
            assert wkb is None
        else:
            assert srid == MOON_SRID and shapely.from_wkb(bytes(wkb)).equals_exact(fp, 0), name
    # The geometry columns are typed as AutoCNet's model types them, with the project's SRID.
    assert set(sql(pg, "SELECT f_table_name, f_geometry_column, type, srid FROM geometry_columns "
                       "WHERE f_table_schema = 'acn_moon'")) == {
        ("images", "geom", "MULTIPOLYGON", MOON_SRID), ("images", "footprint_bodyfixed", "MULTIPOLYGON", 0),
        ("keypoints", "convex_hull_image", "POLYGON", 0), ("keypoints", "convex_hull_latlon", "POLYGON", MOON_SRID),
        ("overlay", "geom", "POLYGON", MOON_SRID)}
    # AutoCNet's overlay: the faces catalogue.overlay computes for the Moon images, with their (kept) ids; every
    # image in a face overlaps another (the overlaps table), an image with no partner is in none.
    faces = sorted((tuple(ids), shapely.normalize(shapely.from_wkb(bytes(g))).wkb)
                   for ids, g in sql(pg, "SELECT intersections, ST_AsBinary(geom) FROM acn_moon.overlay"))
    computed = overlay(pg, body="Moon")
    assert computed and faces == sorted((tuple(f["intersections"]), shapely.normalize(f["geom"]).wkb)
                                        for f in computed)
    graph = overlap_queries.overlap_graph(pg, body="Moon")
    in_faces = {i for ids, _ in faces for i in ids}
    assert in_faces == {d["id"] for n, d in graph.nodes(data=True) if graph.degree(n)}
    assert f"overlay: {len(faces)} rows" in out
    kps = sql(pg, "SELECT i.path, k.path, k.nkeypoints FROM acn_moon.keypoints k JOIN acn_moon.images i "
                  "ON i.id = k.image_id")
    assert {p: (k, n) for p, k, n in kps} == {p: (r["keypoints_path"], r["n_keypoints"]) for p, r in catalogue.items()
                                              if r["keypoints_path"]}
    # The keypoint hulls (issue 25 item 6: they were NULL): every keypoint inside its image hull, and for an image
    # with a camera the lon/lat hull holds every keypoint's ground point (read here from the file with h5py).
    hulls = {p: (a, b) for p, a, b in sql(pg, "SELECT i.path, ST_AsBinary(k.convex_hull_image), "
                                             "ST_AsBinary(k.convex_hull_latlon) FROM acn_moon.keypoints k "
                                             "JOIN acn_moon.images i ON i.id = k.image_id")}
    for path, (image_hull, latlon_hull) in hulls.items():
        with h5py.File(catalogue[path]["keypoints_path"]) as h5:
            k = h5["keypoints"][()]
        if len(k) < 3:
            continue
        assert image_hull is not None, path
        hull = shapely.from_wkb(bytes(image_hull)).buffer(1e-6)
        assert shapely.contains_xy(hull, k["x"], k["y"]).all(), path
        if "lon" in k.dtype.names and np.isfinite(k["lon"]).all() and np.ptp(k["lon"]) < 180:
            assert latlon_hull is not None, (path, np.ptp(k["lon"]))
            ground = shapely.from_wkb(bytes(latlon_hull)).buffer(1e-9)
            assert shapely.contains_xy(ground, k["lon"], k["lat"]).all(), path
    apollo_hull = hulls[next(p for p in catalogue if p.endswith("AS15-M-0297_crop.cub"))]
    assert apollo_hull[0] is not None and apollo_hull[1] is not None
    cams = {p: (json.loads(c), t) for p, c, t in sql(pg, "SELECT i.path, c.camera, c.camtype FROM acn_moon.cameras c "
                                                        "JOIN acn_moon.images i ON i.id = c.image_id")}
    apollo = next(p for p in catalogue if p.endswith("AS15-M-0297_crop.cub"))
    assert cams[apollo] == (catalogue[apollo]["camera"]["isd"], "csm")      # the ISD, as knoten/csmapi load it
    assert "images: " in out and f"images: {len(catalogue)} rows" in out


def test_a_second_export_updates_in_place_and_keeps_autocnet_s_choices(pg, capsys):
    assert export(capsys, "--schema", "acn_again", "--body", "moon", "--db", pg)[0] == 0
    sql(pg, "UPDATE acn_again.images SET ignore = true WHERE name = 'AS15-M-0298_crop.cub'")
    before = sql(pg, "SELECT id, path, serial FROM acn_again.images ORDER BY id")
    assert export(capsys, "--schema", "acn_again", "--body", "Moon", "--db", pg)[0] == 0
    assert sql(pg, "SELECT id, path, serial FROM acn_again.images ORDER BY id") == before
    assert sql(pg, "SELECT name FROM acn_again.images WHERE ignore") == [("AS15-M-0298_crop.cub",)]
    # AutoCNet's own inserts get ids after ours.
    assert sql(pg, "SELECT nextval(pg_get_serial_sequence('acn_again.images', 'id'))")[0][0] > max(r[0] for r in before)


@pytest.mark.parametrize("argv, expected", [
    (["--schema", "acn_all"], "give --body"),                       # several bodies, one project per body
    (["--schema", "public", "--body", "Moon"], "catalogue's own schema"),
    (["--schema", "Bad-Name", "--body", "Moon"], "lower-case SQL name"),
    (["--body", "Moon"], "needs --schema"),
    (["--schema", "acn_sel", "--body", "Moon", "--instrument", "METRIC"], "drop --instrument"),
])
def test_export_user_errors_on_postgis(pg, capsys, argv, expected):
    rc, _, err = export(capsys, *argv, "--db", pg)
    assert rc == 2 and expected in err and len(err.strip().splitlines()) == 1, err


def test_another_body_into_the_same_schema_is_refused(pg, capsys):
    assert export(capsys, "--schema", "acn_one", "--body", "Moon", "--db", pg)[0] == 0
    rc, _, err = export(capsys, "--schema", "acn_one", "--body", "Mars", "--db", pg)
    assert rc == 2 and "one body" in err, err


def test_autocnet_format_on_sqlite_is_a_usage_error(sample_run, capsys):
    rc, _, err = export(capsys, "--schema", "x", "--db", sample_run["cfg"]["database"]["url"])
    assert rc == 2 and "PostGIS" in err and len(err.strip().splitlines()) == 1, err


def test_one_schema_per_body_covers_every_done_image_of_a_known_body(pg, capsys):
    rows = queries.images(pg, with_footprint=False)
    bodies = sorted({r["body"] for r in rows if r["body"]})
    assert {"Earth", "Mars", "Moon", "Vesta"} <= set(bodies)
    exported = {}
    for body in bodies:
        schema = f"acn_{body.lower()}_all"
        assert export(capsys, "--schema", schema, "--body", body, "--db", pg)[0] == 0
        exported.update({p: (schema, s) for p, s in sql(pg, f"SELECT path, serial FROM {schema}.images")})
    assert set(exported) == {r["path"] for r in rows if r["body"]}
    assert {p: s for p, (_, s) in exported.items()} == {r["path"]: r["serial_number"] for r in rows if r["body"]}
