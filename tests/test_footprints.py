"""Footprints of the real sample images (acceptance of issue 8).

Everything the footprint is checked against is computed here, independently of the code under test:
the ISIS polygon is located with ``pvl`` and parsed by shapely; pixel lon/lat comes from pyproj directly
(planetocentric latitude through a geocentric Cartesian pipeline, not through the package's formula); areas
are compared on the body's ellipsoid - the pixels' true area from PROJ's areal scale factor at each pixel,
the footprint's by Lambert's cylindrical equal-area projection of the ellipsoid, which stays exact up to the
poles.
"""
from __future__ import annotations

import time

import numpy as np
import pvl
import pyproj
import pytest
import rasterio
import shapely
import shapely.affinity
from affine import Affine
from shapely.geometry import LineString, MultiPolygon, Point, box

from autocnet_jobs.extractors.cameras import camera_model
from autocnet_jobs.extractors.footprints import compute_footprint
from autocnet_jobs.extractors.pixels import valid_mask
from tests.conftest import sample

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

ISIS_POLYGON = ["e0902065.cal.sub.cub", "AS15-M-0297_crop.cub", "AS15-M-0298_crop.cub"]   # current polygons
STALE_POLYGON = ["F704b51.lev1_slo_crop.cub", "I52634011RDR_crop.cub"]                      # cropped after it
GEOREFERENCED = [
    "ESP_014038_1415_RED0.30421_33069.boulder_shift.before.cub",
    "MIA_3C5_03_01351S791E0024SC_cropped.img",
    "MI_MAP_03_N51E124N50E125SC_cropped.lbl",
    "Mars_MGS_MOLA_ClrShade_MAP2_90.0N0.0_POLA.tif",
    "PSP_002118_1510_1m_o_forPDS_cropped.cub",
    "PSP_009404_2635_RED_NLstretch_1m_o_forPDS_cropped.cub",
    "RGB.byte.tif",
    "WAC_GLD100_V1.0_GLOBAL_with_LOLA_30M_POLE.16bit.reduced.cub",
    "dawnEqui1.cub",
    "h6541_0000_ir4_cropped.img",
    "ldem_4_reduced.cub",
    "no_change_before.cub",
    "test.jp2",
    "ulcn2005_lpo_downsampled.cub",
    "ulcn2005_lpo_npole.cub",
    "vest64_dtm_specialpixels_downsampled.cub",
]
GLOBAL = ["WAC_GLD100_V1.0_GLOBAL_with_LOLA_30M_POLE.16bit.reduced.cub", "ldem_4_reduced.cub",
          "ulcn2005_lpo_downsampled.cub"]
NO_CAMERA = ["PSP_001446_1790_BG12_0.IMG", "3083_med_isis2_cropped.cub"]


def footprint_of(path, band=1):
    """The footprint as process_image makes it: with the image's camera model."""
    with rasterio.open(path) as ds:
        return compute_footprint(ds, str(path), band, camera=camera_model(ds, str(path), band))


# --- independent reference computations ----------------------------------------------------------------

def on_earth(ds) -> bool:
    """Earth images are the ones with an EPSG CRS (planetary CRSs have none)."""
    crs = pyproj.CRS.from_wkt(ds.crs.to_wkt())
    return crs.to_epsg() is not None or crs.geodetic_crs.to_epsg() is not None


def pixel_lonlat(ds, cols, rows):
    """Stored lon/lat (deg) of pixel coordinates, straight from pyproj; NaN off the body.

    Planetocentric, but on Earth geodetic WGS84 (EPSG:4326), the conventions of DESIGN.md.
    """
    crs = pyproj.CRS.from_wkt(ds.crs.to_wkt())
    if on_earth(ds):
        x, y = apply(ds.transform, np.asarray(cols, float), np.asarray(rows, float))
        lon, lat = pyproj.Transformer.from_crs(crs, pyproj.CRS.from_epsg(4326), always_xy=True).transform(x, y)
        return np.asarray(lon, float), np.asarray(lat, float)
    geo = crs.geodetic_crs
    x, y = apply(ds.transform, np.asarray(cols, float), np.asarray(rows, float))
    lon, lat = pyproj.Transformer.from_crs(crs, geo, always_xy=True).transform(x, y)
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    off = ~np.isfinite(lat) | (np.abs(lat) > 90.0)
    lat = np.where(off, 0.0, lat)
    a, b = geo.ellipsoid.semi_major_metre, geo.ellipsoid.semi_minor_metre
    cart = pyproj.Transformer.from_pipeline(
        f"+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad +step +proj=cart +a={a} +b={b}")
    X, Y, Z = cart.transform(lon, lat, np.zeros_like(lon))
    latc = np.degrees(np.arctan2(Z, np.hypot(X, Y)))
    lon = (lon + 180.0) % 360.0 - 180.0
    lon[off], latc[off] = np.nan, np.nan
    return lon, latc


def valid_pixels(ds, band=1):
    data = ds.read(band)
    return valid_mask(data, ds.dtypes[band - 1], ds.nodatavals[band - 1], ds.driver)


def grid(ds, n=150):
    """Pixel-centre coordinates (cols, rows) of a grid of at most n x n pixels spread across the image."""
    cols = np.unique(np.linspace(0, ds.width - 1, min(n, ds.width)).round().astype(int))
    rows = np.unique(np.linspace(0, ds.height - 1, min(n, ds.height)).round().astype(int))
    return np.meshgrid(cols, rows)


def apply(transform, cols, rows):
    a, b, c, d, e, f = tuple(transform)[:6]
    return a * cols + b * rows + c, d * cols + e * rows + f


def pixels_area(ds, band=1, valid=None):
    """True area (m^2 on the CRS ellipsoid) of the valid pixels on the body: pixel area / areal scale.

    For a lon/lat raster (north-up), each pixel's area is exact from the equal-area cylindrical projection of
    its latitude bounds. ``valid`` (a bool array of the band's shape) replaces the file's own validity.
    """
    crs = pyproj.CRS.from_wkt(ds.crs.to_wkt())
    valid = valid_pixels(ds, band) if valid is None else valid
    rows, cols = np.nonzero(valid)
    if crs.is_geographic:
        ell = crs.ellipsoid
        cea = pyproj.Proj(f"+proj=cea +a={ell.semi_major_metre} +b={ell.semi_minor_metre}")
        _, top = apply(ds.transform, cols + 0.5, rows + 0.0)
        _, bottom = apply(ds.transform, cols + 0.5, rows + 1.0)
        _, y_top = cea(np.zeros_like(top), np.clip(top, -90, 90))
        _, y_bottom = cea(np.zeros_like(bottom), np.clip(bottom, -90, 90))
        width = np.radians(abs(ds.transform.a)) * ell.semi_major_metre
        return float(np.sum(np.abs(y_top - y_bottom) * width))
    x, y = apply(ds.transform, cols + 0.5, rows + 0.5)
    lon, lat = pyproj.Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True).transform(x, y)
    lon, lat = np.asarray(lon), np.asarray(lat)
    on_body = np.isfinite(lat) & (np.abs(lat) < 90.0)
    factors = pyproj.Proj(crs).get_factors(lon[on_body], lat[on_body])
    pixel = abs(ds.transform.a * ds.transform.e - ds.transform.b * ds.transform.d)
    return float(np.sum(pixel / np.asarray(factors.areal_scale)))


def lonlat_area(geom, a, b, geodetic=False):
    """Area (m^2) on the ellipsoid a, b of a planetocentric (or ``geodetic``) lon/lat geometry with straight
    lon/lat edges."""
    minx, miny, maxx, maxy = geom.bounds
    dense = shapely.segmentize(geom, min(0.05, max(maxx - minx, maxy - miny) / 200.0))
    cea = pyproj.Proj(f"+proj=cea +a={a} +b={b} +over")

    def project(coords):
        if geodetic:
            return np.column_stack(cea(coords[:, 0], coords[:, 1]))
        lon, latc = np.radians(coords[:, 0]), np.radians(coords[:, 1])
        latg = np.degrees(np.arctan2(np.sin(latc), (b / a) ** 2 * np.cos(latc)))
        return np.column_stack(cea(np.degrees(lon), latg))

    return shapely.transform(dense, project).area


def to_0_360(geom):
    """A [-180, 180] footprint moved to ISIS's 0..360 domain."""
    west = shapely.affinity.translate(geom.intersection(box(-180, -90, 0, 90)), xoff=360.0)
    return shapely.union_all([geom.intersection(box(0, -90, 180, 90)), west])


def iou(a, b):
    return a.intersection(b).area / a.union(b).area


def check_shape(fp):
    g = fp.geometry
    assert isinstance(g, MultiPolygon) and g.is_valid and not g.is_empty
    minx, miny, maxx, maxy = g.bounds
    assert -180.0 <= minx <= maxx <= 180.0 and -90.0 <= miny <= maxy <= 90.0


# --- ISIS footprint polygons ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ISIS_POLYGON)
def test_isis_polygon_footprint_matches_the_cube_polygon(name):
    path = sample(name)
    stored = stored_polygon(path)
    fp = footprint_of(path)
    assert fp.source == "isis_polygon"
    check_shape(fp)
    assert fp.crs_wkt is None
    assert iou(to_0_360(fp.geometry), stored) >= 0.99


def stored_polygon(path):
    """The cube's footprint polygon as ISIS stored it, located with pvl (not the package's label reader)."""
    label = pvl.load(str(path))
    polygon = [obj for key, obj in label.items() if key == "Polygon" and obj["Name"] == "Footprint"][0]
    with open(path, "rb") as f:
        f.seek(polygon["StartByte"] - 1)
        return shapely.from_wkt(f.read(polygon["Bytes"]).decode())


def test_isis_polygon_split_at_the_seam_is_joined():
    path = sample("e0902065.cal.sub.cub")
    stored = stored_polygon(path)
    assert len(stored.geoms) == 2 and stored.bounds[0] == 0.0 and stored.bounds[2] == 360.0
    fp = footprint_of(path)
    # ISIS stored two parts (0..1.4 and 359.1..360); in [-180, 180] they are one polygon across lon 0.
    assert len(fp.geometry.geoms) == 1
    minx, _, maxx, _ = fp.geometry.bounds
    assert minx < -0.5 and maxx > 1.0


def test_stale_polygon_of_a_cropped_cube_is_not_used():
    # THEMIS IR crop: the camera's footprint replaces the uncropped image's polygon, far smaller than it.
    path = sample("I52634011RDR_crop.cub")
    fp = footprint_of(path)
    assert fp.source == "camera" and "stale" in fp.note and "replaced by the camera footprint" in fp.note
    assert fp.geometry.area < stored_polygon(path).area / 10_000
    # Viking crop: all five by five pixels are ISIS NULL; what the camera sees does not depend on pixel values, so
    # the stale polygon is replaced by the camera footprint of the whole (5 x 5 pixel) frame, and the note says so.
    fp = footprint_of(sample("F704b51.lev1_slo_crop.cub"))
    assert fp.source == "camera" and fp.geometry.area < stored_polygon(sample("F704b51.lev1_slo_crop.cub")).area / 1000
    assert "stale" in fp.note and "no valid pixel" in fp.note and "whole image frame" in fp.note
    fp = footprint_of(sample("AS15-M-0297_crop.cub"))   # footprintinit ran again after crop: current
    assert fp.source == "isis_polygon" and "agrees with the ISIS polygon to IoU 0.9" in fp.note


# --- footprints from georeferencing --------------------------------------------------------------------

@pytest.mark.parametrize("name", GEOREFERENCED)
def test_georeferenced_footprint_covers_the_valid_pixels(name):
    path = sample(name)
    fp = footprint_of(path)
    assert fp.source == "georeference", fp.note
    check_shape(fp)
    with rasterio.open(path) as ds:
        valid = valid_pixels(ds)
        cols, rows = grid(ds)
        keep = valid[rows, cols]
        lon, lat = pixel_lonlat(ds, cols[keep] + 0.5, rows[keep] + 0.5)
        on_body = np.isfinite(lon)
        assert on_body.sum() > 0
        inside = shapely.intersects_xy(fp.geometry, lon[on_body], lat[on_body])
        assert inside.mean() >= 0.99, f"{inside.mean():.4f} of valid pixels inside"

        ell = pyproj.CRS.from_wkt(ds.crs.to_wkt()).ellipsoid
        expected = pixels_area(ds)
        earth = on_earth(ds)
    got = lonlat_area(fp.geometry, ell.semi_major_metre, ell.semi_minor_metre, geodetic=earth)
    assert got == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("name", GLOBAL)
def test_global_maps_span_all_longitudes_and_both_poles(name):
    fp = footprint_of(sample(name))
    assert fp.geometry.bounds == pytest.approx((-180.0, -90.0, 180.0, 90.0))
    for lat in (-89.99, -45.0, 0.0, 45.0, 89.99):
        line = LineString([(-180.0, lat), (180.0, lat)])
        assert line.intersection(fp.geometry).length == pytest.approx(360.0)


def test_north_polar_tile_reaches_the_pole():
    fp = footprint_of(sample("ulcn2005_lpo_npole.cub"))
    minx, miny, maxx, maxy = fp.geometry.bounds
    assert maxy == pytest.approx(90.0)
    assert fp.geometry.intersects(Point((minx + maxx) / 2.0, 90.0))


def test_polar_stereographic_footprint_contains_the_pole():
    fp = footprint_of(sample("Mars_MGS_MOLA_ClrShade_MAP2_90.0N0.0_POLA.tif"))
    g = fp.geometry
    assert g.bounds[3] == pytest.approx(90.0)
    # A cap, not a band: all longitudes are covered near the pole.
    for lat in (89.999, 85.0, 60.0):
        assert LineString([(-180.0, lat), (180.0, lat)]).intersection(g).length == pytest.approx(360.0)
    assert not g.intersects(Point(0.0, 30.0))


def test_vesta_map_across_the_prime_meridian_stays_one_piece():
    fp = footprint_of(sample("dawnEqui1.cub"))
    assert len(fp.geometry.geoms) == 1
    minx, miny, maxx, maxy = fp.geometry.bounds
    assert minx == pytest.approx(-3.25, abs=0.05) and maxx == pytest.approx(2.60, abs=0.05)
    assert miny == pytest.approx(-12.11, abs=0.05) and maxy == pytest.approx(-1.19, abs=0.05)


def test_0_360_ortho_lands_west_of_the_antimeridian():
    fp = footprint_of(sample("PSP_002118_1510_1m_o_forPDS_cropped.cub"))
    c = fp.geometry.centroid
    assert c.x == pytest.approx(226.87 - 360.0, abs=0.01)
    assert c.y == pytest.approx(-28.51, abs=0.01)


def test_mercator_with_scale_factor_zero_gives_no_footprint():
    fp = footprint_of(sample("Mars_MGS_MOLA_ClrShade_MAP2_0.0N0.0_MERC.tif"))
    assert fp.geometry is None and fp.source is None
    assert "invert" in fp.note and "scale factor" in fp.note.lower() and "0" in fp.note
    assert fp.body == "Mars" and fp.crs_wkt


@pytest.mark.parametrize("name", NO_CAMERA)
def test_level1_images_without_polygon_give_none_with_a_reason(name):
    fp = footprint_of(sample(name))
    assert fp.geometry is None and fp.source is None
    assert "camera model is needed" in fp.note


@pytest.mark.parametrize("name, body, code", [
    ("e0902065.cal.sub.cub", "Mars", "IAU_2015:49900"),
    ("no_change_before.cub", "Mars", "IAU_2015:49900"),
    ("Mars_MGS_MOLA_ClrShade_MAP2_90.0N0.0_POLA.tif", "Mars", "IAU_2015:49900"),   # ellipsoid "unknown"
    ("test.jp2", "Mars", "IAU_2015:49900"),
    ("PSP_001446_1790_BG12_0.IMG", "Mars", "IAU_2015:49900"),                      # PDS3 TARGET_NAME
    ("AS15-M-0297_crop.cub", "Moon", "IAU_2015:30100"),
    ("M143947267L.cal.echo.crop.cub", "Moon", "IAU_2015:30100"),
    ("3083_med_isis2_cropped.cub", "Moon", "IAU_2015:30100"),                      # ISIS2 label
    ("MI_MAP_03_N51E124N50E125SC_cropped.lbl", "Moon", "IAU_2015:30100"),
    ("ldem_4_reduced.cub", "Moon", "IAU_2015:30100"),
    ("dawnEqui1.cub", "Vesta", "IAU_2015:200000400"),
    ("vest64_dtm_specialpixels_downsampled.cub", "Vesta", "IAU_2015:200000400"),
    ("RGB.byte.tif", "Earth", "EPSG:4326"),                                         # geodetic WGS84
])
def test_body_and_iau_code(name, body, code):
    fp = footprint_of(sample(name))
    assert (fp.body, fp.iau_code) == (body, code)
    assert pyproj.CRS.from_user_input(code).ellipsoid is not None


# --- synthetic georeferencing on real pixels (cases no sample exercises) --------------------------------

def _write_geotiff(path, crs, transform, source=None):
    """A GeoTIFF with real pixels (``source`` sample's band 1) and the given georeferencing."""
    with rasterio.open(source or sample("no_change_before.cub")) as src:
        data = src.read(1)
        nodata = src.nodata
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype=data.dtype, crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(data, 1)
    return path


def _check_against_pixels(path):
    fp = footprint_of(path)
    check_shape(fp)
    with rasterio.open(path) as ds:
        valid = valid_pixels(ds)
        cols, rows = grid(ds)
        keep = valid[rows, cols]
        lon, lat = pixel_lonlat(ds, cols[keep] + 0.5, rows[keep] + 0.5)
        assert shapely.intersects_xy(fp.geometry, lon, lat).mean() >= 0.99
        ell = pyproj.CRS.from_wkt(ds.crs.to_wkt()).ellipsoid
        expected = pixels_area(ds)
    assert lonlat_area(fp.geometry, ell.semi_major_metre, ell.semi_minor_metre) == pytest.approx(expected, rel=0.05)
    return fp


def test_footprint_across_the_antimeridian_is_split_in_two(tmp_path):
    # 600 px of 200 m centred on lon 180 of a Mars sphere: about 178.3E .. 178.3W.
    crs = "+proj=eqc +lon_0=180 +R=3396190 +units=m +no_defs"
    fp = _check_against_pixels(_write_geotiff(tmp_path / "am.tif", crs, Affine(200, 0, -60000, 0, -200, 60000)))
    assert len(fp.geometry.geoms) == 2
    east, west = sorted(fp.geometry.geoms, key=lambda p: -p.bounds[0])
    assert east.bounds[2] == pytest.approx(180.0) and west.bounds[0] == pytest.approx(-180.0)
    assert east.bounds[0] > 178.0 and west.bounds[2] < -178.0
    assert fp.geometry.bounds[2] - fp.geometry.bounds[0] > 350   # parts at both ends, not a band between


def test_south_polar_stereographic_closes_through_the_south_pole(tmp_path):
    crs = "+proj=stere +lat_0=-90 +lat_ts=-90 +lon_0=0 +R=3396190 +units=m +no_defs"
    fp = _check_against_pixels(_write_geotiff(tmp_path / "sp.tif", crs, Affine(500, 0, -150000, 0, -500, 150000)))
    assert fp.geometry.bounds[1] == pytest.approx(-90.0)
    assert LineString([(-180, -89.5), (180, -89.5)]).intersection(fp.geometry).length == pytest.approx(360.0)
    assert not fp.geometry.intersects(Point(0, -80))


def test_geographic_crs_in_0_360(tmp_path):
    # A lon/lat raster of Mars spanning 300E..330E (= 60W..30W).
    crs = pyproj.CRS.from_user_input("IAU_2015:49900").to_wkt()
    fp = _check_against_pixels(_write_geotiff(tmp_path / "geo.tif", crs, Affine(0.05, 0, 300.0, 0, -0.05, 10.0)))
    minx, miny, maxx, maxy = fp.geometry.bounds
    assert minx == pytest.approx(-60.0, abs=0.1) and maxx <= -30.0 + 0.1


def test_fragmented_mask_is_outlined_quickly_around_every_valid_pixel(tmp_path):
    # Salt-and-pepper validity (5 % of 1000 x 1000 pixels valid) would be ~50k one-pixel polygons.
    # (1000 px a side: read at full resolution, so every valid pixel is in the mask the outline starts from.)
    rng = np.random.default_rng(8)
    data = np.where(rng.random((1000, 1000)) < 0.05, 200, 0).astype("uint8")
    path = tmp_path / "specks.tif"
    with rasterio.open(path, "w", driver="GTiff", width=1000, height=1000, count=1, dtype="uint8", nodata=0,
                       crs="+proj=eqc +R=1737400 +units=m +no_defs",
                       transform=Affine(100, 0, 0, 0, -100, 0)) as dst:
        dst.write(data, 1)
    t0 = time.perf_counter()
    fp = footprint_of(path)
    assert time.perf_counter() - t0 < 10.0
    check_shape(fp)
    assert "fragmented" in fp.note
    assert len(fp.geometry.geoms) < 50
    with rasterio.open(path) as ds:
        rows, cols = np.nonzero(valid_pixels(ds))
        lon, lat = pixel_lonlat(ds, cols + 0.5, rows + 0.5)
    assert shapely.intersects_xy(fp.geometry, lon, lat).all()


# --- simplification (issue 16 item 4): a tenth of a pixel, straight edges to their corners, curves kept ----------

def _edge_lonlat(crs: pyproj.CRS, transform: Affine, width: int, height: int, per_side: int) -> np.ndarray:
    """(N, 2) lon/lat of the image outline, ``per_side`` points per side, by pyproj alone."""
    t = np.linspace(0.0, 1.0, per_side, endpoint=False)
    cols = np.concatenate([t * width, np.full_like(t, width), (1 - t) * width, np.zeros_like(t)])
    rows = np.concatenate([np.zeros_like(t), t * height, np.full_like(t, height), (1 - t) * height])
    x, y = transform @ (cols, rows)
    lon, lat = pyproj.Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True).transform(x, y)
    return np.column_stack([lon, lat])


def test_simplified_straight_edges_keep_only_their_corners():
    """An equirectangular image's outline is a lon/lat rectangle: densified as traced, simplified to its 4
    corners, which are pyproj's corners exactly."""
    from autocnet_jobs.extractors.footprints import simplified

    crs = pyproj.CRS.from_proj4("+proj=eqc +lat_ts=-35 +R=3396190 +units=m +no_defs")
    pixel_m, width, height = 0.25, 4000, 6000
    transform = Affine(pixel_m, 0, 75.5, 0, -pixel_m, -2111841.3)
    outline = MultiPolygon([shapely.Polygon(_edge_lonlat(crs, transform, width, height, 256))])
    out = simplified(outline, np.degrees(pixel_m / 3396190.0))
    corners = _edge_lonlat(crs, transform, width, height, 1)
    assert shapely.get_num_coordinates(out) == 5
    assert {tuple(c) for c in np.asarray(out.geoms[0].exterior.coords)} == {tuple(c) for c in corners}


def test_simplified_curved_edges_stay_within_a_tenth_of_a_pixel():
    """A polar stereographic image at 70N: its sides are curves in lon/lat. After simplification the outline
    still follows pyproj's edge (sampled 16 times denser than the tracing) to within the tracing's own chord
    error plus a tenth of a pixel, keeps the vertices that bend it, and is far from its 4 corners alone."""
    from autocnet_jobs.extractors.footprints import SIMPLIFY_PIXELS, simplified

    crs = pyproj.CRS.from_proj4("+proj=stere +lat_0=90 +lat_ts=90 +lon_0=0 +R=3396190 +units=m +no_defs")
    pixel_m, width, height = 100.0, 2000, 2000
    transform = Affine(pixel_m, 0, 500_000.0, 0, -pixel_m, -1_000_000.0)   # 70N, 27E..: no pole, no seam
    pixel_deg = np.degrees(pixel_m / 3396190.0)
    traced = shapely.Polygon(_edge_lonlat(crs, transform, width, height, 256))
    reference = shapely.points(_edge_lonlat(crs, transform, width, height, 4096))
    out = simplified(MultiPolygon([traced]), pixel_deg)
    chord = shapely.distance(traced.exterior, reference).max()
    error = shapely.distance(out.boundary, reference).max()
    assert error <= chord + SIMPLIFY_PIXELS * pixel_deg * 1.001
    corners_only = shapely.Polygon(_edge_lonlat(crs, transform, width, height, 1))
    assert shapely.distance(corners_only.exterior, reference).max() > 10 * pixel_deg
    assert 20 < shapely.get_num_coordinates(out) < shapely.get_num_coordinates(traced)
    assert out.is_valid and out.geom_type == "MultiPolygon"


def test_sample_footprints_are_simplified_against_pyproj_corners():
    """A fully valid equirectangular HiRISE cube: its stored footprint is the 4 corners pyproj gives."""
    name = "ESP_014038_1415_RED0.30421_33069.boulder_shift.before.cub"
    with rasterio.open(sample(name)) as ds:
        fp = compute_footprint(ds, str(sample(name)))
        crs = pyproj.CRS.from_wkt(ds.crs.to_wkt())
        corners = _edge_lonlat(crs, ds.transform, ds.width, ds.height, 1)
    ring = np.asarray(fp.geometry.geoms[0].exterior.coords)
    assert len(ring) == 5
    assert np.abs(np.sort(ring[:4], axis=0) - np.sort(corners, axis=0)).max() < 1e-9
