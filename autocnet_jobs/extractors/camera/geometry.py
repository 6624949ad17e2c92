"""Vector math the four sensor models share, vectorised over N points, with usgscsm's conventions.

Frames and units are usgscsm's (DOI-USGS/usgscsm, src/Utilities.cpp): body-fixed Cartesian coordinates in
metres, times in seconds past J2000 (ephemeris time).

Quaternion order, beware: an ISD JSON document stores ``quaternions`` as [w, x, y, z] (SPICE order; ALE's
``getJsonQuatArray`` builds ``Rotation(w, x, y, z)``) rotating J2000 into the frame, with positions in J2000 km;
usgscsm converts them (ale::States / ale::Orientations, body_rotation) into body-fixed metres and its own
internal [x, y, z, w] sensor-to-body quaternions, which is the order :func:`quaternion_matrices` takes.
"""
from __future__ import annotations

import numpy as np

# usgscsm lagrangeInterp: the stencil weights for a uniform post interval, by order (2, 4, 6, 8); row i is the
# weight of the sample at index0 + i for a fractional offset t0 from ``index``.


def _lagrange_weights(t0: np.ndarray, order: int) -> np.ndarray:
    """(N, order) weights of usgscsm's uniform-interval Lagrange stencil at offsets ``t0`` from ``index``."""
    nodes = np.arange(order) - (order // 2 - 1)          # stencil node positions relative to ``index``
    w = np.ones((len(t0), order))
    for i in range(order):
        for j in range(order):
            if i != j:
                w[:, i] *= (t0 - nodes[j]) / (nodes[i] - nodes[j])
    return w


def lagrange_interp(values: np.ndarray, start_time: float, del_time: float, times, max_order: int = 8
                    ) -> np.ndarray:
    """usgscsm ``lagrangeInterp``, vectorised: (N, k) values at ``times`` from uniformly spaced ``values`` (M, k).

    The stencil is 8 points where the data allow, falling to 6, 4 and 2 near the ends (and never above
    ``max_order``); times outside the data extrapolate from the first/last interval, as usgscsm does.
    """
    values = np.asarray(values, float)
    t = np.atleast_1d(np.asarray(times, float))
    n = len(values)
    if n < 2:
        raise ValueError("at least 2 points are needed for Lagrange interpolation")
    fndex = (t - start_time) / del_time
    # C's static_cast<int> truncates; a NaN time (a look that missed) gives NaN values, not a cast warning
    index = np.clip(np.trunc(np.nan_to_num(fndex)).astype(np.int64), 0, n - 2)
    order = np.full(len(t), 2)
    order[(index >= 1) & (index < n - 2)] = 4
    order[(index >= 2) & (index < n - 3)] = 6
    order[(index >= 3) & (index < n - 4)] = 8
    order = np.minimum(order, max_order)
    out = np.empty((len(t), values.shape[1]))
    t0 = fndex - index
    for o in np.unique(order):
        sel = order == o
        w = _lagrange_weights(t0[sel], int(o))
        idx = index[sel][:, None] - int(o) // 2 + 1 + np.arange(int(o))[None, :]
        out[sel] = np.einsum("no,nok->nk", w, values[idx])
    return out


def quaternion_matrices(q) -> np.ndarray:
    """(N, 3, 3) rotation matrices of quaternions (N, 4) in usgscsm's internal order x, y, z, w (normalised first).

    usgscsm ``calculateRotationMatrixFromQuaternions``: the matrix takes a vector in the sensor frame to the
    body-fixed frame.
    """
    q = np.atleast_2d(np.asarray(q, float))
    q = q / np.linalg.norm(q, axis=1)[:, None]
    x, y, z, w = q.T
    m = np.empty((len(q), 3, 3))
    m[:, 0, 0] = x * x - y * y - z * z + w * w
    m[:, 0, 1] = 2 * (x * y - z * w)
    m[:, 0, 2] = 2 * (x * z + y * w)
    m[:, 1, 0] = 2 * (x * y + z * w)
    m[:, 1, 1] = -x * x + y * y - z * z + w * w
    m[:, 1, 2] = 2 * (y * z - x * w)
    m[:, 2, 0] = 2 * (x * z - y * w)
    m[:, 2, 1] = 2 * (y * z + x * w)
    m[:, 2, 2] = -x * x - y * y + z * z + w * w
    return m


def ellipsoid_intersect(origin: np.ndarray, direction: np.ndarray, a: float, b: float, height=0.0
                        ) -> np.ndarray:
    """(N, 3) first intersections of rays with the spheroid of radii (a + h, a + h, b + h); NaN rows on a miss.

    ``height`` (metres above the ellipsoid) is a scalar or (N,). A ray whose origin is inside the surface, or
    which points away from it, misses.
    """
    origin = np.atleast_2d(np.asarray(origin, float))
    direction = np.atleast_2d(np.asarray(direction, float))
    h = np.broadcast_to(np.asarray(height, float), (len(origin),))
    ah, bh = a + h, b + h
    scale = np.column_stack([1.0 / ah, 1.0 / ah, 1.0 / bh])
    o, d = origin * scale, direction * scale
    qa = np.einsum("ij,ij->i", d, d)
    qb = 2.0 * np.einsum("ij,ij->i", o, d)
    qc = np.einsum("ij,ij->i", o, o) - 1.0
    disc = qb * qb - 4.0 * qa * qc
    with np.errstate(invalid="ignore"):
        t = (-qb - np.sqrt(disc)) / (2.0 * qa)
    t = np.where((disc >= 0) & (t > 0), t, np.nan)
    return origin + t[:, None] * direction


def triaxial_intersect(origin: np.ndarray, direction: np.ndarray, radii) -> np.ndarray:
    """(N, 3) first intersections of rays with the ellipsoid of semi-axes ``radii`` (a, b, c); NaN on a miss.

    ISIS's EllipsoidShape (NAIF surfpt) for a triaxial body such as Eros or Bennu.
    """
    scale = 1.0 / np.asarray(radii, float)
    origin = np.atleast_2d(np.asarray(origin, float))
    o, d = origin * scale, np.atleast_2d(np.asarray(direction, float)) * scale
    qa = np.einsum("ij,ij->i", d, d)
    qb = 2.0 * np.einsum("ij,ij->i", o, d)
    qc = np.einsum("ij,ij->i", o, o) - 1.0
    disc = qb * qb - 4.0 * qa * qc
    with np.errstate(invalid="ignore"):
        t = (-qb - np.sqrt(disc)) / (2.0 * qa)
    t = np.where((disc >= 0) & (t > 0), t, np.nan)
    return origin + t[:, None] * np.atleast_2d(np.asarray(direction, float))


def triaxial_radius(lon_deg, lat_deg, radii) -> np.ndarray:
    """Radius of the ellipsoid of semi-axes ``radii`` in the planetocentric direction (lon, lat)."""
    u = lonlat_to_ecef(lon_deg, lat_deg, 1.0)
    return 1.0 / np.sqrt(((u / np.asarray(radii, float)) ** 2).sum(axis=1))


def ellipsoid_height(xyz: np.ndarray, a: float, b: float, precision: float = 1e-3) -> np.ndarray:
    """Height (metres) above the spheroid of body-fixed points (usgscsm ``computeEllipsoidElevation``)."""
    x, y, z = np.atleast_2d(np.asarray(xyz, float)).T
    ecc2 = 1.0 - b * b / (a * a)
    ep2 = 1.0 - ecc2
    d2 = x * x + y * y
    d = np.sqrt(d2)
    h = np.zeros_like(x)
    equatorial = d >= z
    with np.errstate(divide="ignore", invalid="ignore"):
        tan_phi = np.where(equatorial, z / d, 0.0)
        cot_phi = np.where(equatorial, 0.0, d / z)
        for _ in range(10):
            tt = tan_phi * tan_phi
            r = a / np.sqrt(1.0 + ep2 * tt)
            zz = z + r * ecc2 * tan_phi
            h_eq = np.sqrt(d2 + zz * zz) - r * np.sqrt(1.0 + tt)
            tan_phi = np.where(equatorial, zz / d, tan_phi)
            cc = cot_phi * cot_phi
            r2 = a / np.sqrt(ep2 + cc)
            dd = d - r2 * ecc2 * cot_phi
            h_po = np.sqrt(dd * dd + z * z) - r2 * np.sqrt(1.0 + cc) * ep2
            cot_phi = np.where(equatorial, cot_phi, dd / z)
            new = np.where(equatorial, h_eq, h_po)
            done = np.all(np.abs(new - h) <= precision)
            h = new
            if done:
                break
    return h


def ecef_to_lonlat(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lon east-positive in [-180, 180], planetocentric lat, radius) in degrees and the input's unit."""
    x, y, z = np.atleast_2d(np.asarray(xyz, float)).T
    return np.degrees(np.arctan2(y, x)), np.degrees(np.arctan2(z, np.hypot(x, y))), np.sqrt(x * x + y * y + z * z)


def spheroid_radius(lat_deg, a: float, b: float) -> np.ndarray:
    """Radius of the spheroid at planetocentric latitude ``lat_deg`` (the unit of ``a`` and ``b``)."""
    lat = np.radians(np.asarray(lat_deg, float))
    return a * b / np.sqrt((b * np.cos(lat)) ** 2 + (a * np.sin(lat)) ** 2)


def lonlat_to_ecef(lon_deg, lat_deg, radius) -> np.ndarray:
    """(N, 3) body-fixed points of planetocentric lon/lat (degrees) at ``radius``."""
    lon, lat = np.radians(np.asarray(lon_deg, float)), np.radians(np.asarray(lat_deg, float))
    r = np.asarray(radius, float)
    return np.column_stack(np.broadcast_arrays(r * np.cos(lat) * np.cos(lon), r * np.cos(lat) * np.sin(lon),
                                               r * np.sin(lat)))


def angle_deg(u, v) -> np.ndarray:
    """Degrees between vectors (..., 3), by atan2 of |u x v| and u . v (exact near 0 and 180 too); NaN in, NaN out."""
    u, v = np.asarray(u, float), np.asarray(v, float)
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(u, v), axis=-1), np.einsum("...i,...i->...", u, v)))


def ellipsoid_normal(points, radii) -> np.ndarray:
    """Outward unit normals (..., 3) at points on the ellipsoid of semi-axes ``radii`` (a, b, c)."""
    n = np.asarray(points, float) / np.square(np.asarray(radii, float))
    return n / np.linalg.norm(n, axis=-1, keepdims=True)
