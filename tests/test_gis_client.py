"""A real GIS client on the PostGIS catalogue (issue 18 item 6): GDAL/OGR's ``ogrinfo`` from Debian's gdal-bin (a
GDAL of its own, not the one rasterio bundles) lists one footprint layer per body with that body's IAU_2015 CRS,
the features the sample data's MANIFEST says are of that body, and answers a box filter as our own query does."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from pyproj import CRS
from sqlalchemy import text
from sqlalchemy.engine import make_url

from autocnet_jobs import queries
from autocnet_jobs.catalogue.store.postgis_gis import footprint_views, register_crs

from .catalogues import manifest_bodies, postgis_copy

# The IAU_2015 code of each sample body, from the IAU WGCCRE report as PROJ numbers it (NAIF id * 100; Vesta's
# NAIF id is 2000004): written out here, not taken from the catalogue.
EXPECTED_CRS = {"Mars": ("IAU_2015", "49900"), "Moon": ("IAU_2015", "30100"), "Vesta": ("IAU_2015", "200000400"),
                "Earth": ("EPSG", "4326")}
APOLLO = {"AS15-M-0297_crop.cub", "AS15-M-0298_crop.cub"}
GLOBAL_MOON = {"WAC_GLD100_V1.0_GLOBAL_with_LOLA_30M_POLE.16bit.reduced.cub", "ldem_4_reduced.cub",
               "ulcn2005_lpo_downsampled.cub"}


@pytest.fixture(scope="module")
def pg(sample_run, postgis_url):
    with postgis_copy(sample_run["cfg"]["database"]["url"], postgis_url, "autocnet_gis_test") as url:
        yield url


def ogr_source(url: str) -> str:
    u = make_url(url)
    return f"PG:host={u.host} port={u.port} dbname={u.database} user={u.username}"


def ogrinfo(*args: str) -> str:
    exe = shutil.which("ogrinfo")
    assert exe, "ogrinfo not found: apt-get install gdal-bin (deploy/run_tests.sh installs it)"
    res = subprocess.run([exe, "-ro", *args], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


def layers(summary: str) -> dict[str, dict]:
    """Layer name -> {count, wkt} from ``ogrinfo -so -al`` output."""
    out = {}
    for block in summary.split("Layer name: ")[1:]:
        name = block.split("\n", 1)[0].strip()
        count = int(re.search(r"^Feature Count: (\d+)", block, re.M)[1])
        wkt = re.search(r"^Layer SRS WKT:\n(.*?)\n(?:Data axis|Geometry Column)", block, re.M | re.S)
        out[name] = {"count": count, "wkt": wkt[1] if wkt and "(unknown)" not in wkt[1] else None}
    return out


def paths_listed(listing: str) -> set[str]:
    return set(re.findall(r"^\s*path \(String\) = (.*)$", listing, re.M))


def test_ogrinfo_lists_each_body_in_its_iau_crs_with_its_images(pg, sample_run):
    found = layers(ogrinfo("-so", "-al", ogr_source(pg)))
    manifest = manifest_bodies()
    rows = queries.images(pg, with_footprint=False)
    assert {"footprints_mars", "footprints_moon", "footprints_vesta", "footprints_earth"} <= set(found), found
    for body, authority in EXPECTED_CRS.items():
        layer = found[f"footprints_{body.lower()}"]
        assert CRS.from_wkt(layer["wkt"]).to_authority(min_confidence=100) == authority, (body, layer["wkt"])
        # The layer's features are the catalogue's images the MANIFEST says are of this body, each once.
        listed = paths_listed(ogrinfo("-al", "-q", ogr_source(pg), f"footprints_{body.lower()}"))
        expected = {r["path"] for r in rows if r["body"] is not None and manifest[r["name"]] == body}
        assert listed == expected and layer["count"] == len(expected) > 0, body
    # Every image of a known body is in exactly one layer.
    assert sum(found[f"footprints_{b.lower()}"]["count"] for b in EXPECTED_CRS) == \
        sum(1 for r in rows if r["body"] is not None)


def test_ogrinfo_box_filter_on_a_view_answers_as_the_catalogue(pg):
    listing = ogrinfo("-al", "-q", "-spat", "143", "-22", "147", "-18", ogr_source(pg), "footprints_moon")
    names = {p.rsplit("/", 1)[1] for p in paths_listed(listing)}
    assert names == APOLLO | GLOBAL_MOON  # hand-worked, as in test_queries


def test_register_crs_is_idempotent_and_its_views_use_their_index(pg):
    from sqlalchemy import create_engine

    engine = create_engine(pg)
    try:
        with engine.begin() as conn:
            before = footprint_views(conn)
            srid = before["footprints_moon"]
            n_srs = conn.execute(text("SELECT count(*) FROM spatial_ref_sys")).scalar()
            register_crs(conn, srid, "", "IAU_2015:30100", "Moon")
            register_crs(conn, srid, "", "IAU_2015:30100", "Moon")
            assert footprint_views(conn) == before
            assert conn.execute(text("SELECT count(*) FROM spatial_ref_sys")).scalar() == n_srs
            conn.execute(text("SET LOCAL enable_seqscan = off"))  # 26 rows would be scanned; a large table not
            plan = "\n".join(r[0] for r in conn.execute(text(
                f"EXPLAIN SELECT path FROM footprints_moon WHERE footprint && "
                f"ST_MakeEnvelope(143, -22, 147, -18, {srid})")))
            assert "footprints_moon_gist" in plan, plan
    finally:
        engine.dispose()


def test_ogr2ogr_copies_a_view_with_its_crs(pg, tmp_path):
    import pyogrio

    exe = shutil.which("ogr2ogr")
    assert exe, "ogr2ogr not found: apt-get install gdal-bin"
    out = tmp_path / "moon.gpkg"
    res = subprocess.run([exe, "-f", "GPKG", str(out), ogr_source(pg), "footprints_moon"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    info = pyogrio.read_info(out, layer="footprints_moon")
    # GDAL 3.6 writes the GeoPackage's definition as WKT1, whose AUTHORITY["IAU","30100"] drops the 2015: compare
    # the CRS itself with PROJ's IAU_2015:30100.
    assert CRS.from_user_input(info["crs"]).equals(CRS.from_user_input("IAU_2015:30100"), ignore_axis_order=True)
    assert info["features"] == len(queries.images(pg, body="Moon", with_footprint=False))
    assert info["geometry_type"] == "MultiPolygon"
