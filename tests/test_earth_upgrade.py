"""A schema version 3 catalogue's Earth rows are upgraded in place to geodetic WGS84 (issue 14, item 6).

The version 3 row is made here, independently of the package: the WGS84 footprint process_image gives today
is taken to planetocentric latitude through pyproj's geocentric Cartesian conversion, stored with the old code
IAU_2015:39900, and the catalogue marked version 3. The upgraded footprint is then checked against pyproj's
own EPSG:4326 positions of the image's valid pixels, and the spatial index against a box only the WGS84
footprint reaches.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pyproj
import pytest
import rasterio
import shapely

from autocnet_jobs import config, queries
from autocnet_jobs.catalogue import schema as models
from autocnet_jobs.catalogue.store import open_store
from autocnet_jobs.extractors.pipeline import process_image

from .conftest import link_images, sample
from .helpers import write_batches
from .services import libpq_url
from .test_earth import valid_pixel_centres, wgs84_lonlat

_CART = pyproj.Transformer.from_pipeline(
    "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad +step +proj=cart +ellps=WGS84")


def planetocentric(geom):
    """``geom`` (geodetic WGS84 lon/lat) with planetocentric latitudes, as schema version 3 stored Earth."""
    def convert(coords: np.ndarray) -> np.ndarray:
        x, y, z = _CART.transform(coords[:, 0], coords[:, 1], np.zeros(len(coords)))
        return np.column_stack([coords[:, 0], np.degrees(np.arctan2(z, np.hypot(x, y)))])
    return shapely.transform(geom, convert)


def fraction_inside(geom) -> float:
    with rasterio.open(sample("RGB.byte.tif")) as ds:
        lon, lat = wgs84_lonlat(ds, *valid_pixel_centres(ds))
    return float(shapely.intersects_xy(geom, lon, lat).mean())


def _make_version_3(url: str, earth: dict, old_footprint) -> None:
    """Store the Earth row as version 3 had it and mark the catalogue version 3."""
    old_srid = models.srid_for("IAU_2015:39900")
    if url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        con.execute("UPDATE images SET footprint = ?, minx = ?, miny = ?, maxx = ?, maxy = ?, iau_code = ?, "
                    "srid = ? WHERE path = ?", (shapely.to_wkb(old_footprint), *old_footprint.bounds,
                                                "IAU_2015:39900", old_srid, earth["path"]))
    else:
        con = psycopg.connect(libpq_url(url))
        con.execute("UPDATE images SET footprint = ST_GeomFromWKB(%s, %s), iau_code = %s, srid = %s "
                    "WHERE path = %s", (shapely.to_wkb(old_footprint), old_srid, "IAU_2015:39900", old_srid,
                                        earth["path"]))
    con.execute("UPDATE schema_info SET version = 3")
    con.commit()
    con.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_version_3_earth_rows_are_upgraded_to_wgs84(backend: str, request, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cat.db'}" if backend == "sqlite" else request.getfixturevalue("fresh_pg_db")
    images = link_images(tmp_path / "images", ["RGB.byte.tif", "dawnEqui1.cub"])
    settings = config.job_settings(config.load())
    earth = process_image(str(images / "RGB.byte.tif"), settings)
    vesta = process_image(str(images / "dawnEqui1.cub"), settings)
    write_batches(url, [earth, vesta])
    wgs84 = shapely.from_wkb(bytes.fromhex(earth["footprint_wkb"]))
    old = planetocentric(wgs84)
    _make_version_3(url, earth, old)
    assert fraction_inside(old) < 0.95                       # what the upgrade has to fix
    top = np.asarray(wgs84.exterior.coords if wgs84.geom_type == "Polygon" else
                     max(wgs84.geoms, key=lambda g: g.area).exterior.coords)
    x_top, y_top = top[np.argmax(top[:, 1])]
    only_new = (x_top - 1e-3, old.bounds[3] + 1e-3, x_top + 1e-3, y_top)   # north of every old vertex
    assert earth["path"] not in queries.intersecting(url, *only_new)

    store = open_store(url)
    store.connect()                                           # upgrades
    version = store.conn.exec_driver_sql("SELECT version FROM schema_info").scalar()
    store.close()
    assert version == models.SCHEMA_VERSION == 7
    rows = {r["name"]: r for r in queries.images(url)}
    upgraded = rows["RGB.byte.tif"]
    assert (upgraded["body"], upgraded["iau_code"], upgraded["srid"]) == ("Earth", "EPSG:4326", 4326)
    assert fraction_inside(upgraded["footprint"]) == 1.0
    assert upgraded["footprint"].symmetric_difference(wgs84).area < 1e-6 * wgs84.area
    assert earth["path"] in queries.intersecting(url, *only_new)  # the spatial index moved with the row
    other = rows["dawnEqui1.cub"]                                 # other bodies are left as they were
    assert other["iau_code"] == vesta["iau_code"] != "EPSG:4326"
    assert other["footprint"].equals_exact(shapely.from_wkb(bytes.fromhex(vesta["footprint_wkb"])), 0.0)
    if backend == "postgis":
        con = psycopg.connect(libpq_url(url))
        srids = dict(con.execute("SELECT name, ST_SRID(footprint) FROM images").fetchall())
        con.close()
        assert srids["RGB.byte.tif"] == 4326
