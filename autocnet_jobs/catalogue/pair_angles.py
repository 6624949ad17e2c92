"""How two overlapping images see their overlap: stereo convergence and illumination match (issue 26 item 5).

Plain functions, no database. At the overlap's centre (lon/lat on the body, as the footprints store it), each
image's camera model gives the ground point on the ellipsoid (or triaxial body) the model uses, the pixel that
sees it (the model's ``ground_to_image``; a pixel outside the image by more than :data:`EDGE_PX`, or a sensor
below the tangent plane at the point - the body hides it - is not a view), and at that pixel's
time the sensor's and the Sun's body-fixed positions. Then, in degrees:

* **convergence** - the angle at the ground point between the two look vectors (ground -> sensor a, ground ->
  sensor b): 0 for two views along one line, the stereo angle of a pair;
* **incidence** of each view - between the surface normal there and the direction to the Sun (ISIS's
  ellipsoid, non-local incidence, as ``extractors.acquisition.viewing_geometry`` gives it at the image centre),
  and the pair's **incidence difference** ``|incidence_a - incidence_b|``: 0 for identical illumination.

A value is None where it cannot be had: a missing camera, a point the camera does not see, an ISD without
``sun_position`` (the incidence only). :func:`pairs_angles` does many pairs at once, one vectorised
``ground_to_image`` per image (the writer's batch: :mod:`.store.pair_views`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import shapely

from ..extractors.camera.geometry import angle_deg, ellipsoid_normal
from ..extractors.camera.ground import CSM_OFFSET, GroundModel
from . import overlap_geometry as og

EDGE_PX = 1.0      # a point seen up to this far (0-based pixel centres) outside the image: a footprint's edge


@dataclass(frozen=True)
class Views:
    """One camera's view of N ground points (body-fixed metres; NaN rows where the point is not seen)."""

    ground: np.ndarray          # (N, 3) the points on the model's ellipsoid
    sensor: np.ndarray          # (N, 3) the sensor when it sees them
    sun: np.ndarray             # (N, 3) the Sun then (NaN when the ISD has no sun_position)
    normal: np.ndarray          # (N, 3) outward unit surface normal at the points

    @property
    def seen(self) -> np.ndarray:
        return np.isfinite(self.sensor).all(axis=1)

    def incidence(self) -> np.ndarray:
        """(N,) degrees between the surface normal and the Sun; NaN where unseen or no Sun."""
        return angle_deg(self.normal, self.sun - self.ground)

    def emission(self) -> np.ndarray:
        """(N,) degrees between the surface normal and the sensor; NaN where unseen."""
        return angle_deg(self.normal, self.sensor - self.ground)


@dataclass(frozen=True)
class PairAngles:
    convergence_deg: float | None
    incidence_diff_deg: float | None
    incidence_a: float | None
    incidence_b: float | None


NONE = PairAngles(None, None, None, None)


def centric_latitude(lat, a: float, c: float) -> np.ndarray:
    """Planetocentric latitude (degrees) of geodetic ``lat`` on the spheroid (a, c) (Earth's footprints)."""
    g = np.radians(np.asarray(lat, float))
    return np.degrees(np.arctan2(c * c * np.sin(g), a * a * np.cos(g)))


def views(model: GroundModel, lon, lat, planetocentric: bool = True) -> Views:
    """The camera's view of ground points (lon/lat degrees; planetocentric latitude unless ``planetocentric`` is
    False, as Earth's geodetic footprints): see the module docstring. Vectorised over the points."""
    lon = np.ravel(np.asarray(lon, float))
    lat = np.ravel(np.asarray(lat, float))
    if not planetocentric:
        lat = centric_latitude(lat, model.a, model.c)
    ground = model.surface_points(lon, lat)
    # the model's ellipsoid: triaxial where the ISD gives the middle radius
    normal = ellipsoid_normal(ground, model.triaxial if model.triaxial is not None else (model.a, model.a, model.c))
    cl, cs = model.model.ground_to_image(ground)               # the model's own (CSM) image coordinates
    line, sample = cl - CSM_OFFSET - model.line_offset, cs - CSM_OFFSET
    lines, samples = model.size()
    with np.errstate(invalid="ignore"):       # NaN: not seen
        seen = ((line >= -EDGE_PX) & (line <= lines - 1 + EDGE_PX)
                & (sample >= -EDGE_PX) & (sample <= samples - 1 + EDGE_PX))
    nan = np.full((len(lon), 3), np.nan)
    sensor, sun = nan.copy(), nan.copy()
    if seen.any():
        sensor[seen] = model.model.sensor_position(cl[seen], cs[seen])
        # the body is convex: it hides a point of its surface from a sensor below the tangent plane there
        hidden = np.einsum("ij,ij->i", normal, sensor - ground) <= 0
        sensor[hidden] = np.nan
        seen &= ~hidden
        if seen.any() and model.isd.get("sun_position"):
            sun[seen] = model.model.sun_position(cl[seen], cs[seen])
    return Views(ground, sensor, sun, normal)


def combine(va: Views, vb: Views) -> list[PairAngles]:
    """Per point, the pair's angles from two cameras' views of the same lon/lat (a's ground point is the
    vertex of the convergence; the two models' ellipsoids differ by far less than the angles' precision)."""
    conv = angle_deg(va.sensor - va.ground, vb.sensor - va.ground)
    inc_a, inc_b = va.incidence(), vb.incidence()
    return [PairAngles(_value(c), _value(abs(ia - ib)), _value(ia), _value(ib))
            for c, ia, ib in zip(conv.tolist(), inc_a.tolist(), inc_b.tolist())]


def pair_angles(model_a: GroundModel | None, model_b: GroundModel | None, lon: float, lat: float,
                planetocentric: bool = True) -> PairAngles:
    """The angles of one pair at (lon, lat): :data:`NONE` when a camera is missing."""
    if model_a is None or model_b is None:
        return NONE
    return combine(views(model_a, [lon], [lat], planetocentric), views(model_b, [lon], [lat], planetocentric))[0]


def pair_angles_isd(isd_a: dict | None, isd_b: dict | None, lon: float, lat: float,
                    planetocentric: bool = True) -> PairAngles:
    """:func:`pair_angles` of two ISDs (None: no camera)."""
    return pair_angles(model_or_none(isd_a), model_or_none(isd_b), lon, lat, planetocentric)


def model_or_none(isd: dict | None) -> GroundModel | None:
    """The ISD's model on its ellipsoid, or None when there is no ISD or it is not one the models evaluate (a
    schema 5 camera dict, an invalid document)."""
    if not isinstance(isd, dict):
        return None
    try:
        return GroundModel(isd)
    except Exception:                 # noqa: BLE001 - a camera the models cannot evaluate has no angles
        return None


Pair = tuple[int, int, float, float, bool]      # image a, image b, centre lon, lat, planetocentric


def pairs_angles(models: Mapping[int, GroundModel | None], pairs: Sequence[Pair]) -> list[PairAngles]:
    """Many pairs at once, in order: each image's views of all its pairs' centres in one vectorised call."""
    wanted: dict[tuple[int, bool], list[tuple[float, float]]] = {}
    for a, b, lon, lat, centric in pairs:
        for image in (a, b):
            if models.get(image) is not None:
                wanted.setdefault((image, centric), []).append((lon, lat))
    seen: dict[tuple[int, bool], dict[tuple[float, float], int]] = {}
    got: dict[tuple[int, bool], Views] = {}
    for key, points in wanted.items():
        index = seen[key] = {p: i for i, p in enumerate(dict.fromkeys(points))}
        lon, lat = np.array(list(index), float).reshape(-1, 2).T
        try:
            got[key] = views(models[key[0]], lon, lat, key[1])
        except Exception:             # noqa: BLE001 - a model failing on this geometry gives no angles
            seen.pop(key)
    # every pair's two views side by side (NaN rows where a side is missing), then all the angles at once
    sides = [Views(*(np.full((len(pairs), 3), np.nan) for _ in range(4))) for _ in range(2)]
    rows: dict[tuple[int, tuple[int, bool]], tuple[list[int], list[int]]] = {}
    for j, (a, b, lon, lat, centric) in enumerate(pairs):
        ka, kb = (a, centric), (b, centric)
        if ka in seen and kb in seen:
            for side, key in ((0, ka), (1, kb)):
                js, points = rows.setdefault((side, key), ([], []))
                js.append(j)
                points.append(seen[key][(lon, lat)])
    for (side, key), (js, points) in rows.items():
        for name in ("ground", "sensor", "sun", "normal"):
            getattr(sides[side], name)[js] = getattr(got[key], name)[points]
    return combine(*sides)


def centres(geoms) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) degrees of the centres of overlaps (stored form), vectorised: a one-part overlap clear of the
    +-180 seam and the poles is a small region, whose centroid in lon/lat is its centre (or, if that falls
    outside it, a point on it); any other gets :func:`..overlap_geometry.centre_lonlat`."""
    geoms = np.asarray(geoms, dtype=object).reshape(-1)
    lon, lat = np.full(len(geoms), np.nan), np.full(len(geoms), np.nan)
    b = shapely.bounds(geoms)
    plain = ((shapely.get_num_geometries(geoms) == 1) & (b[:, 0] > -180) & (b[:, 2] < 180) & (b[:, 1] > -90)
             & (b[:, 3] < 90))
    if plain.any():
        c = shapely.centroid(geoms[plain])
        x, y = shapely.get_x(c), shapely.get_y(c)
        inside = shapely.contains_xy(geoms[plain], x, y)
        if not inside.all():
            p = shapely.point_on_surface(geoms[plain][~inside])
            x[~inside], y[~inside] = shapely.get_x(p), shapely.get_y(p)
        lon[plain], lat[plain] = x, y
    for i in np.flatnonzero(~plain):
        lon[i], lat[i] = og.centre_lonlat(geoms[i])
    return lon, lat


def _value(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None
