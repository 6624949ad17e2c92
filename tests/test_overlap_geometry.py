"""The overlap graph's geometry (issue 26, catalogue.overlap_geometry) against independent computations.

The truths, each computed here without the module under test:

* **LAEA brute force** (:func:`laea_truth`): for *every* pair of footprints, an exact spherical test first (the
  angle between the two footprints' centres exceeds the sum of their angular radii: disjoint), else both
  footprints, densified, projected with PROJ to a Lambert azimuthal equal-area projection of the body's
  ellipsoid centred on the pair, their parts unioned there (the +-180 seam closes, a polar cap's lat = 90
  edge collapses to the pole) and intersected in the plane; equal-area, so the planar areas are areas on the
  ellipsoid. No lon/lat intersection, no geodesic polygon.
* **Quasi-Monte Carlo on the ellipsoid** (:func:`qmc_area`): a Fibonacci lattice of directions on a spherical cap
  that holds the region, each direction weighted by the ellipsoid's area per solid angle there and classified
  by point-in-polygon in lon/lat (planetocentric latitude is the direction's own latitude). No polygon on the
  body, no projection, no latitude conversion, no pyproj: it covers whole-body maps, which no azimuthal
  projection can hold.
* **Closed form**: zones and caps of the ellipsoid of revolution from the authalic q-function.
* **All-pairs box test** (numpy, N x N) for the candidate search.

The synthetic set is ~60 footprints on Mars: CTX-like strips (30 km wide, up to ~100 degrees long) along
near-polar orbits converging on both poles - some over a pole, so containing it - a cluster of side-by-side
strips crossing +-180, mid-latitude strips, polar caps and a circle on +-180. The shared sample images'
footprints come from compute_footprint (camera / georeference / ISIS polygon, as process_image makes them).
"""
from __future__ import annotations

import itertools
import math
import time
import warnings

import numpy as np
import pyproj
import pytest
import rasterio
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from autocnet_jobs.catalogue import overlap_geometry as og
from autocnet_jobs.extractors.antimeridian import clean, normalise, ring_region
from autocnet_jobs.extractors.camera.geometry import angle_deg, ellipsoid_normal, lonlat_to_ecef, spheroid_radius
from tests.conftest import DATA_DIR

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

MARS = (3396190.0, 3376200.0)     # IAU 2015 Mars ellipsoid (a, b), m
AREA_RTOL = 0.005                 # issue 26: area within 0.5 %


# --- the synthetic Mars set ---------------------------------------------------------------------------------

def _rot(node_deg: float, incl_deg: float) -> np.ndarray:
    """Orbit frame -> body frame: R3(node) R1(incl)."""
    o, i = math.radians(node_deg), math.radians(incl_deg)
    r3 = np.array([[math.cos(o), -math.sin(o), 0], [math.sin(o), math.cos(o), 0], [0, 0, 1]])
    r1 = np.array([[1, 0, 0], [0, math.cos(i), -math.sin(i)], [0, math.sin(i), math.cos(i)]])
    return r3 @ r1


def _lonlat(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Planetocentric lon/lat (degrees) of unit vectors."""
    return np.degrees(np.arctan2(v[:, 1], v[:, 0])), np.degrees(np.arcsin(np.clip(v[:, 2], -1, 1)))


def _stored(v: np.ndarray) -> MultiPolygon:
    """A closed ring of unit vectors as the catalogue stores it (the extractors' own antimeridian helpers)."""
    lon, lat = _lonlat(v)
    fp = clean(normalise(ring_region(lon, lat)))
    assert fp is not None and fp.is_valid
    return fp


def orbit_strip(node: float, incl: float, u0: float, u1: float, half_width: float = 0.25,
                step: float = 0.1) -> MultiPolygon:
    """A strip of half-width ``half_width`` degrees along an orbit's ground track, argument of latitude u0..u1."""
    u = np.radians(np.linspace(u0, u1, int(abs(u1 - u0) / step) + 1))
    rot = _rot(node, incl)
    track = np.stack([np.cos(u), np.sin(u), np.zeros_like(u)], axis=1) @ rot.T
    normal = rot[:, 2]
    w = math.radians(half_width)
    left, right = track * math.cos(w) + normal * math.sin(w), track * math.cos(w) - normal * math.sin(w)
    return _stored(np.concatenate([left, right[::-1]]))


def circle(lon: float, lat: float, radius: float, n: int = 720) -> MultiPolygon:
    """A small circle of angular ``radius`` degrees around (lon, lat)."""
    c = og._unit(np.array(lon), np.array(lat))
    e1 = np.cross([0.0, 0.0, 1.0], c) if abs(c[2]) < 0.99 else np.cross([1.0, 0.0, 0.0], c)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(c, e1)
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = math.radians(radius)
    return _stored(math.cos(r) * c + math.sin(r) * (np.outer(np.cos(t), e1) + np.outer(np.sin(t), e2)))


def synthetic_mars() -> dict[int, MultiPolygon]:
    rng = np.random.default_rng(26)
    fps = []
    for k in range(14):                        # converging on the north pole; |incl - 90| < 0.25: over it
        incl = 90 + rng.choice([-1, 1]) * (rng.uniform(0, 0.2) if k % 3 == 0 else rng.uniform(0.5, 3))
        fps.append(orbit_strip(k * 360 / 14 + rng.uniform(-5, 5), incl, rng.uniform(35, 60), rng.uniform(120, 145)))
    for k in range(12):                        # ... on the south pole
        incl = 90 + rng.choice([-1, 1]) * (rng.uniform(0, 0.2) if k % 3 == 0 else rng.uniform(0.5, 3))
        fps.append(orbit_strip(k * 30 + rng.uniform(-5, 5), incl, rng.uniform(215, 240), rng.uniform(300, 325)))
    for _ in range(14):                        # side by side across +-180 near the equator (CTX repeat coverage)
        fps.append(orbit_strip(180 + rng.uniform(-1.2, 1.2), 93 if rng.random() < 0.7 else 87,
                               rng.uniform(-25, -5), rng.uniform(5, 25)))
    for _ in range(13):                        # mid-latitudes, one region
        fps.append(orbit_strip(30 + rng.uniform(-1, 1), 92.5, rng.uniform(15, 25), rng.uniform(40, 55)))
    fps += [
        circle(30, 86, 6),                     # a cap around the north pole, off-centre
        circle(-150, -85, 8),                  # ... the south pole
        circle(180, 30, 4),                    # a disc on +-180
        circle(-179, -5, 2.5),
        MultiPolygon([box(-180, 78, 180, 90)]),    # a polar map, as a georeferenced POLA map is stored
        orbit_strip(-20, 91.8, 20, 160, half_width=1.5),   # HRSC-like wide strip past the north pole
        orbit_strip(100, 90.1, 200, 340, half_width=1.0),  # ... over the south pole
    ]
    return dict(enumerate(fps))


@pytest.fixture(scope="module")
def mars_set() -> dict[int, MultiPolygon]:
    return synthetic_mars()


# --- truths -------------------------------------------------------------------------------------------------

def geodetic(lat: np.ndarray, radii) -> np.ndarray:
    a, b = radii
    r = np.radians(lat)
    return np.degrees(np.arctan2(a * a * np.sin(r), b * b * np.cos(r)))


def _vertices(fp, step: float = 0.1, holes: bool = False) -> list[np.ndarray]:
    """Each part's exterior (and with ``holes`` its holes' rings), densified in lon/lat."""
    parts = [shapely.segmentize(p, step) for p in og.polygons(fp)]
    return [np.asarray(r.coords) for p in parts for r in ([p.exterior, *p.interiors] if holes else [p.exterior])]


def bounding_cap(fp, radii=None) -> tuple[np.ndarray, float]:
    """(centre, angular radius in rad) of a spherical cap holding the footprint; radius pi when none smaller.

    Centre: the mean direction of its boundary; the angle from it has no maximum inside a region that does not
    hold the antipode, so the farthest boundary vertex bounds the region. ``radii``: the footprint's latitude
    is geodetic on that ellipsoid (Earth), not planetocentric.
    """
    rings = _vertices(fp, 0.1)
    if radii is not None:
        a, b = radii
        rings = [np.column_stack([r[:, 0], np.degrees(np.arctan2(b * b * np.sin(np.radians(r[:, 1])),
                                                                 a * a * np.cos(np.radians(r[:, 1]))))])
                 for r in rings]
    v = np.concatenate([og._unit(*r.T) for r in rings])
    c = v.mean(axis=0)
    c /= np.linalg.norm(c)
    lon, lat = _lonlat(-c[None])
    if radii is not None:
        lat = geodetic(lat, radii)
    if shapely.contains_xy(fp, lon[0], lat[0]) or shapely.intersects_xy(fp.boundary, lon[0], lat[0]):
        return c, math.pi
    return c, float(np.arccos(np.clip(v @ c, -1, 1)).max()) + 1e-6


def intersection_cap(fp_a, fp_b, radii=None) -> tuple[np.ndarray, float]:
    """A spherical cap holding the intersection of two footprints, without intersecting them.

    The intersection's boundary is made of a's boundary inside b and b's inside a: the densified vertices of
    each boundary that lie in the other footprint, widened by a densification step, bound it. With none (one
    footprint wholly inside the other, or disjoint) the smaller footprint's cap.
    """
    inside = []
    for f, g in ((fp_a, fp_b), (fp_a, fp_b)[::-1]):
        for ring in _vertices(f, 0.1, holes=True):
            inside.append(ring[shapely.contains_xy(g, ring[:, 0], ring[:, 1])])
    pts = np.concatenate(inside)
    cap_a, cap_b = bounding_cap(fp_a, radii), bounding_cap(fp_b, radii)
    smaller = cap_a if cap_a[1] < cap_b[1] else cap_b
    if len(pts) == 0:
        return smaller
    lat = pts[:, 1]
    if radii is not None:
        a, b = radii
        lat = np.degrees(np.arctan2(b * b * np.sin(np.radians(lat)), a * a * np.cos(np.radians(lat))))
    v = og._unit(pts[:, 0], lat)
    c = v.mean(axis=0)
    if np.linalg.norm(c) < 0.5:
        return smaller
    c /= np.linalg.norm(c)
    rho = float(np.arccos(np.clip(v @ c, -1, 1)).max()) + math.radians(0.2)
    return (c, rho) if rho < smaller[1] else smaller


def laea_truth(fp_a, fp_b, radii, cap_a, cap_b) -> tuple[float, float, float]:
    """(intersection area, area a, area b) in m^2 by the LAEA brute force (module docstring); 0 when disjoint."""
    (ca, ra), (cb, rb) = cap_a, cap_b
    if math.acos(float(np.clip(ca @ cb, -1, 1))) > ra + rb:
        return 0.0, math.nan, math.nan
    c = ca + cb
    c /= np.linalg.norm(c)
    lon0, lat0 = _lonlat(c[None])
    proj = pyproj.Proj(proj="laea", lon_0=lon0[0], lat_0=geodetic(lat0, radii)[0], a=radii[0], b=radii[1])

    def projected(fp):
        assert all(not p.interiors for p in og.polygons(fp))
        parts = []
        for ring in _vertices(fp):
            x, y = proj(ring[:, 0], geodetic(ring[:, 1], radii))
            part = Polygon(np.column_stack([x, y]))     # a cap's lat = 90 edge is one point: the ring touches itself
            parts.append(part if part.is_valid else shapely.make_valid(part, method="structure"))
        return shapely.union_all(parts)

    pa, pb = projected(fp_a), projected(fp_b)
    return shapely.intersection(pa, pb).area, pa.area, pb.area


def qmc_area(regions, radii, cap, planetocentric: bool = True, n: int = 100_000, min_inside: int = 25_000,
             max_n: int = 1_000_000) -> float:
    """Area (m^2) of the intersection of ``regions`` (lon/lat) inside ``cap`` by quasi-Monte Carlo (docstring).

    The lattice grows (up to ``max_n`` points) until ``min_inside`` of its points fall in the region.
    """
    c, rho = cap
    a, b = radii
    e1 = np.cross([0.0, 0.0, 1.0], c) if abs(c[2]) < 0.99 else np.cross([1.0, 0.0, 0.0], c)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(c, e1)
    for g in regions:
        shapely.prepare(g)
    while True:
        i = np.arange(n) + 0.5
        z = 1 - (1 - math.cos(rho)) * i / n
        phi = i * math.pi * (3 - math.sqrt(5))
        s = np.sqrt(1 - z * z)
        u = np.outer(s * np.cos(phi), e1) + np.outer(s * np.sin(phi), e2) + np.outer(z, c)
        m = u / np.array([a * a, a * a, b * b])
        r = 1 / np.sqrt(np.einsum("ij,ij->i", u, m))          # the surface point along u is r u
        w = r ** 4 * np.linalg.norm(m, axis=1)                 # dA / dOmega there
        lon = np.degrees(np.arctan2(u[:, 1], u[:, 0]))
        lat = (np.degrees(np.arcsin(np.clip(u[:, 2], -1, 1))) if planetocentric
               else np.degrees(np.arctan2(m[:, 2], np.hypot(m[:, 0], m[:, 1]))))
        inside = np.ones(n, bool)
        for g in regions:
            inside &= shapely.contains_xy(g, lon, lat)
        k = int(inside.sum())
        if k >= min_inside or k == 0 or n >= max_n:
            return 2 * math.pi * (1 - math.cos(rho)) * float(np.mean(w * inside))
        n = min(max_n, int(n * 1.2 * min_inside / k))


def zone_area(lat1_c: float, lat2_c: float, dlon: float, radii) -> float:
    """Closed form: area between planetocentric latitudes lat1 < lat2 over dlon degrees of longitude."""
    a, b = radii
    if a == b:
        q = lambda lat_c: 2 * math.sin(math.radians(lat_c))          # noqa: E731
    else:
        e = math.sqrt(1 - (b / a) ** 2)

        def q(lat_c):
            s = math.sin(math.radians(geodetic(np.array(lat_c), radii)))
            return (1 - e * e) * (s / (1 - e * e * s * s) + math.atanh(e * s) / e)
    return math.pi * a * a * (q(lat2_c) - q(lat1_c)) * dlon / 360.0


# --- areas --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("radii", [MARS, (1737400.0, 1737400.0), (6378137.0, 6356752.314245)])
def test_areas_of_zones_caps_and_the_whole_body_match_the_closed_form(radii):
    cases = [
        (box(-180, -90, 180, 90), -90, 90, 360),          # the whole body: pyproj says 0 (modulo the body)
        (box(-180, 0, 180, 90), 0, 90, 360),              # half the body: pyproj says -A/2
        (box(-180, -30, 180, 90), -30, 90, 360),          # more than half: pyproj's value is negative
        (box(-180, 80, 180, 90), 80, 90, 360),            # a cap: its -180..180 edge is a zero geodesic
        (box(-180, -90, 180, -75), -90, -75, 360),
        (MultiPolygon([box(170, 60, 180, 90), box(-180, 60, -170, 90)]), 60, 90, 20),   # split at +-180
        (box(-40, -10, 100, 35), -10, 35, 140),
        (box(10, 44.0, 10.01, 44.01), 44.0, 44.01, 0.01),  # a HiRISE-sized box
    ]
    for geom, lat1, lat2, dlon in cases:
        truth = zone_area(lat1, lat2, dlon, radii)
        assert og.footprint_area_m2(geom, radii) == pytest.approx(truth, rel=1e-4), (geom.wkt[:60], radii)
    assert og.footprint_area_m2(box(-180, -90, 180, 90), radii) == pytest.approx(og.ellipsoid_area_m2(radii),
                                                                                 rel=1e-9)


def test_geodetic_latitude_footprints_earth():
    """Earth footprints are geodetic (EPSG:4326): planetocentric=False measures them as such (QMC truth)."""
    wgs84 = (6378137.0, 6356752.314245)
    fp = box(5, 40, 15, 50)
    truth = qmc_area([fp], wgs84, bounding_cap(fp, wgs84), planetocentric=False)
    assert og.footprint_area_m2(fp, wgs84, planetocentric=False) == pytest.approx(truth, rel=3e-4)
    # read as planetocentric it would be the band 40..50 of the other convention: a different area
    assert abs(og.footprint_area_m2(fp, wgs84) / truth - 1) > 2e-3


# --- pairs: the synthetic Mars set --------------------------------------------------------------------------

def _tolerance(area_a: float, area_b: float) -> float:
    return max(og.MIN_AREA_M2, og.MIN_FRACTION * min(area_a, area_b))


def test_synthetic_mars_set_matches_the_laea_brute_force(mars_set):
    fps = mars_set
    ids = sorted(fps)
    assert len(ids) >= 60
    assert sum(1 for f in fps.values() if len(f.geoms) > 1 and f.bounds[0] == -180) >= 10   # split at +-180
    polar = {i for i, f in fps.items() if f.bounds[3] == 90 or f.bounds[1] == -90}
    assert len({i for i in polar if fps[i].bounds[3] == 90}) >= 5
    assert len({i for i in polar if fps[i].bounds[1] == -90}) >= 5

    # truth: every pair, brute force
    t0 = time.perf_counter()
    caps = {i: bounding_cap(fps[i]) for i in ids}
    truth, areas = {}, {}
    for i, j in itertools.combinations(ids, 2):
        inter, area_i, area_j = laea_truth(fps[i], fps[j], MARS, caps[i], caps[j])
        if inter > 0:
            areas[i], areas[j] = area_i, area_j
            if inter > _tolerance(area_i, area_j):
                truth[(i, j)] = inter
    t_truth = time.perf_counter() - t0

    # ours: candidates from the STRtree, then the lon/lat intersection measured with pyproj.Geod
    t0 = time.perf_counter()
    own_area = {i: og.footprint_area_m2(fps[i], MARS) for i in ids}
    bounds, owners = og.part_bounds([fps[i] for i in ids], ids)
    ours = {}
    for i, j in og.candidate_pairs(bounds, owners):
        ov = og.overlap(fps[i], fps[j], MARS, area_a=own_area[i], area_b=own_area[j])
        if ov is not None:
            ours[(i, j)] = ov
    t_ours = time.perf_counter() - t0

    assert set(ours) == set(truth), (sorted(set(ours) - set(truth)), sorted(set(truth) - set(ours)))
    assert len(truth) >= 300
    assert sum(1 for i, j in truth if i in polar and j in polar) >= 30        # both contain a pole
    split = {i for i, f in fps.items() if len(f.geoms) > 1}
    assert sum(1 for i, j in truth if i in split and j in split) >= 50       # both split at +-180
    worst = 0.0
    for (i, j), ov in ours.items():
        rel = abs(ov.area_m2 / truth[(i, j)] - 1)
        worst = max(worst, rel)
        assert rel < AREA_RTOL, ((i, j), ov.area_m2, truth[(i, j)])
        assert ov.fraction_a == pytest.approx(truth[(i, j)] / areas[i], rel=AREA_RTOL)
        assert ov.fraction_b == pytest.approx(truth[(i, j)] / areas[j], rel=AREA_RTOL)
        assert ov.area_m2 == pytest.approx(ov.fraction_a * own_area[i], rel=1e-9)
        assert 0 < ov.fraction_a <= 1 and 0 < ov.fraction_b <= 1
    for i in areas:
        assert own_area[i] == pytest.approx(areas[i], rel=AREA_RTOL)
    print(f"\n{len(ids)} footprints, {len(truth)} pairs; worst area error {worst:.2e}; "
          f"brute force {t_truth:.2f} s, ours {t_ours:.2f} s")


def test_pole_pairs_match_quasi_monte_carlo(mars_set):
    """The pairs where both footprints contain a pole, by a truth with no polygon on the body at all."""
    fps = mars_set
    polar = [i for i, f in fps.items() if f.bounds[3] == 90]
    south = [i for i, f in fps.items() if f.bounds[1] == -90]
    checked = 0
    for pole in (polar, south):
        pairs = [(i, j, cap) for i, j in itertools.combinations(pole, 2)
                 if (cap := intersection_cap(fps[i], fps[j]))[1] < math.radians(2)]   # compact: QMC is cheap
        for i, j, cap in pairs[:4]:
            ov = og.overlap(fps[i], fps[j], MARS)
            assert ov is not None
            assert ov.area_m2 == pytest.approx(qmc_area([fps[i], fps[j]], MARS, cap), rel=AREA_RTOL), (i, j)
            checked += 1
    assert checked == 8


def test_candidates_are_exactly_the_box_pairs(mars_set):
    fps = mars_set
    ids = np.array(sorted(fps)) * 7 + 3            # ids that are not row numbers
    geoms = [fps[i] for i in sorted(fps)]

    def brute(bounds, owners):
        b = np.asarray(bounds)
        hit = ((b[:, None, 0] <= b[None, :, 2]) & (b[None, :, 0] <= b[:, None, 2])
               & (b[:, None, 1] <= b[None, :, 3]) & (b[None, :, 1] <= b[:, None, 3]))
        return {(min(owners[x], owners[y]), max(owners[x], owners[y]))
                for x, y in zip(*np.nonzero(hit)) if owners[x] != owners[y]}

    whole = np.array([g.bounds for g in geoms])
    got = list(og.candidate_pairs(whole, ids))
    assert len(got) == len(set(got)) and all(a < b for a, b in got)
    assert set(got) == brute(whole, ids)
    parts, owners = og.part_bounds(geoms, ids)
    got_parts = list(og.candidate_pairs(parts, owners))
    assert len(got_parts) == len(set(got_parts)) and set(got_parts) == brute(parts, owners)
    assert len(got_parts) < len(got)               # per-part boxes: the +-180 strips stop pairing with everything

    # incremental: new footprints against a tree of the others, plus the new among themselves
    old = owners < ids[40]
    tree = og.bounds_tree(parts[old], owners[old])
    new = set(og.candidates_for(parts[~old], tree, owners[~old])) | set(og.candidate_pairs(parts[~old],
                                                                                         owners[~old]))
    assert new == {p for p in got_parts if p[1] >= ids[40]}
    # re-extracted images already in the tree: each pair once, never an image with itself
    again = owners >= ids[50]
    redo = list(og.candidates_for(parts[again], og.bounds_tree(parts, owners), owners[again]))
    assert len(redo) == len(set(redo)) and set(redo) == {p for p in got_parts if p[0] >= ids[50] or p[1] >= ids[50]}
    rows = list(og.candidates_for(whole[:3], og.bounds_tree(whole, ids)))
    assert {(r, e) for r, e in rows} == {(r, e) for r in range(3) for e in ids
                                         if (min(ids[r], e), max(ids[r], e)) in set(got) or e == ids[r]}


def test_candidate_chunks_do_not_repeat_or_lose_pairs(mars_set, monkeypatch):
    geoms = [mars_set[i] for i in sorted(mars_set)]
    parts, owners = og.part_bounds(geoms, sorted(mars_set))
    full = list(og.candidate_pairs(parts, owners))
    monkeypatch.setattr(og, "QUERY_CHUNK", 5)
    chunked = list(og.candidate_pairs(parts, owners))
    assert len(chunked) == len(set(chunked)) and set(chunked) == set(full)


def test_touching_footprints_do_not_overlap():
    assert og.overlap(box(10, 10, 11, 11), box(11, 10, 12, 11), MARS) is None           # a shared edge
    assert og.overlap(box(170, 0, 180, 5), box(-180, 0, -170, 5), MARS) is None         # across +-180
    assert og.overlap(box(0, 80, 10, 90), box(10, 80, 20, 90), MARS) is None            # meeting at the pole
    assert og.overlap(box(0, 80, 10, 90), box(100, 80, 110, 90), MARS) is None
    both = og.overlap(MultiPolygon([box(170, 0, 180, 5), box(-180, 0, -175, 5)]), box(-180, 2, -170, 4), MARS)
    assert both.fraction_b == pytest.approx(0.5, rel=1e-6)


# --- pairs: the shared sample images ------------------------------------------------------------------------

def _radii_of(code: str) -> tuple[tuple[float, float], bool]:
    """(a, b) of the body's ellipsoid (its IAU_2015 ographic CRS) and whether latitude is planetocentric."""
    if code == "EPSG:4326":
        return (6378137.0, 6356752.314245), False
    auth, num = code.split(":")
    try:
        ell = pyproj.CRS.from_authority(auth, num[:-2] + "01").ellipsoid
    except pyproj.exceptions.CRSError:                  # a body PROJ knows only as a sphere (the Moon)
        ell = pyproj.CRS.from_authority(auth, num).ellipsoid
    return (ell.semi_major_metre, ell.semi_minor_metre), True


@pytest.fixture(scope="module")
def sample_footprints():
    from autocnet_jobs.extractors.cameras import camera_model
    from autocnet_jobs.extractors.footprints import compute_footprint
    if not DATA_DIR.is_dir():
        pytest.fail(f"sample images not found at {DATA_DIR}; set $AUTOCNET_TEST_DATA")
    out = {}
    for path in sorted(DATA_DIR.iterdir()):
        if path.suffix.lower() in (".lbl", ".h5", ".tsv") or path.name.startswith("MI_MAP"):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with rasterio.open(path) as ds:
                fp = compute_footprint(ds, str(path), camera=camera_model(ds, str(path), 1))
        if fp.geometry is not None:
            out[path.name] = (fp.geometry, fp.iau_code)
    return out


def test_sample_images_match_quasi_monte_carlo(sample_footprints):
    fps = sample_footprints
    names = sorted(fps)
    assert len(names) >= 15
    caps = {n: bounding_cap(fps[n][0], None if _radii_of(fps[n][1])[1] else _radii_of(fps[n][1])[0])
            for n in names}
    truth_area: dict[str, float] = {}

    def area_of(name, radii, centric):              # each footprint's own QMC area, once
        if name not in truth_area:
            truth_area[name] = qmc_area([fps[name][0]], radii, bounding_cap(fps[name][0], None if centric else radii),
                                        planetocentric=centric)
        return truth_area[name]

    expected, ours = {}, {}
    for a, b in itertools.combinations(names, 2):   # every pair, brute force
        (ga, code), (gb, code_b) = fps[a], fps[b]
        if code != code_b:
            continue                                # footprints of different bodies never pair
        radii, centric = _radii_of(code)
        (ca, ra), (cb, rb) = caps[a], caps[b]
        disjoint = math.acos(float(np.clip(ca @ cb, -1, 1))) > ra + rb          # exact, on the sphere
        inter = 0.0 if disjoint else qmc_area([ga, gb], radii, intersection_cap(ga, gb, None if centric else radii),
                                              planetocentric=centric)
        if inter > 0:
            area_a, area_b = area_of(a, radii, centric), area_of(b, radii, centric)
            if inter > _tolerance(area_a, area_b):
                expected[(a, b)] = (inter, area_a, area_b)
        ov = og.overlap(ga, gb, radii, planetocentric=centric)
        if ov is not None:
            ours[(a, b)] = ov
    assert set(ours) == set(expected), (set(ours) ^ set(expected))
    assert len(expected) >= 15                      # Moon global maps x everything lunar, Vesta, Mars pole, Apollo
    whole = [p for p, (inter, *_r) in expected.items() if _r[0] == _r[1] == inter]
    assert whole                                    # two whole-Moon maps: the whole body
    for pair, (inter, area_a, area_b) in expected.items():
        ov = ours[pair]
        assert ov.area_m2 == pytest.approx(inter, rel=AREA_RTOL), pair
        assert ov.fraction_a == pytest.approx(inter / area_a, rel=AREA_RTOL, abs=1e-9), pair
        assert ov.fraction_b == pytest.approx(inter / area_b, rel=AREA_RTOL, abs=1e-9), pair
    bounds, owners = og.part_bounds([fps[n][0] for n in names], names)
    candidates = set(og.candidate_pairs(bounds, owners))
    assert set(expected) <= candidates


# --- centre and viewing geometry ----------------------------------------------------------------------------

def test_centre_of_overlaps_across_the_antimeridian_and_over_a_pole():
    lon, lat = og.centre_lonlat(MultiPolygon([box(178, -1, 180, 1), box(-180, -1, -178, 1)]))
    assert abs(abs(lon) - 180) < 1e-6 and abs(lat) < 1e-6
    lon, lat = og.centre_lonlat(MultiPolygon([box(-180, 80, 180, 90)]))
    assert lat == pytest.approx(90, abs=1e-6)
    ov = og.overlap(box(-180, 85, 180, 90), circle(0, 88, 4), MARS)
    assert og.centre_lonlat(ov.geom)[1] > 87
    lon, lat = og.centre_lonlat(box(-180, -90, 180, 90))                  # no centre: a point on it
    assert box(-180, -90, 180, 90).covers(shapely.Point(lon, lat))


def test_convergence_and_incidence_angles():
    """The vector math of a pair's angles (catalogue.pair_angles) and of an image's (extractors.acquisition)."""
    a, b = MARS

    def ground_point(lon: float, lat: float) -> np.ndarray:       # planetocentric, on the spheroid
        return lonlat_to_ecef(lon, lat, spheroid_radius(lat, a, b))[0]

    def incidence(source, g, radii=(a, a, b)):
        return angle_deg(ellipsoid_normal(g, radii), source - g)

    g = ground_point(0.0, 0.0)
    assert g == pytest.approx([MARS[0], 0, 0])
    assert ground_point(0.0, 90.0) == pytest.approx([0, 0, MARS[1]], abs=1e-6)
    up = g * 1.1
    tilt = g + np.array([0.1 * MARS[0], 0.1 * MARS[0] * math.tan(math.radians(20)), 0])
    assert angle_deg(up - g, tilt - g) == pytest.approx(20)                 # convergence of two views of g
    assert angle_deg(up - g, up - g) == pytest.approx(0, abs=1e-9)
    assert incidence(up, g) == pytest.approx(0, abs=1e-9)
    assert incidence(tilt, g) == pytest.approx(20)
    # at 45 deg planetocentric latitude the ellipsoid's normal is tilted from the radius
    g45 = ground_point(0.0, 45.0)
    tilt_deg = 45.0 - og.geodetic_latitude(np.array(45.0), MARS)
    assert incidence(g45 * 2, g45) == pytest.approx(abs(tilt_deg), rel=1e-6)
    assert incidence(g45 * 2, g45, (1.0, 1.0, 1.0)) == pytest.approx(0, abs=1e-9)    # a sphere's: radial
    many = angle_deg(np.stack([up, tilt]) - g, np.stack([tilt, tilt]) - g)
    assert many == pytest.approx([20, 0], abs=1e-9)
