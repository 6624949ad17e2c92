"""Viewing geometry of the overlap graph's pairs (issue 26 item 5): ground points on a body's ellipsoid, the
stereo convergence of two views of a point and the incidence (or emission) of a ray there, in degrees. Plain
numpy; re-exported by :mod:`.overlap_geometry`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

Radii = Sequence[float]   # (a, b): equatorial and polar radius in metres


def _radii(radii: Radii) -> tuple[float, float]:
    a, b = (float(r) for r in radii)
    if not (a > 0 and b > 0):
        raise ValueError(f"radii must be two positive lengths in metres (a, b), not {radii!r}")
    return a, b


def ground_point(lon, lat, radii: Radii, planetocentric: bool = True) -> np.ndarray:
    """Body-fixed x, y, z (m; shape (..., 3)) of lon/lat (degrees) on the ellipsoid's surface."""
    a, b = _radii(radii)
    lon, lat = np.radians(np.asarray(lon, float)), np.asarray(lat, float)
    if planetocentric:
        c = np.radians(lat)
        r = a * b / np.hypot(b * np.cos(c), a * np.sin(c))
        return np.stack([r * np.cos(c) * np.cos(lon), r * np.cos(c) * np.sin(lon), r * np.sin(c)], axis=-1)
    g = np.radians(lat)
    n = a * a / np.hypot(a * np.cos(g), b * np.sin(g))
    return np.stack([n * np.cos(g) * np.cos(lon), n * np.cos(g) * np.sin(lon), (b * b / (a * a)) * n * np.sin(g)],
                    axis=-1)


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle between vectors (degrees, (...,)), by atan2 of |u x v| and u . v (exact near 0 and 180)."""
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(u, v), axis=-1), np.einsum("...i,...i->...", u, v)))


def convergence_angle(pos_a, pos_b, ground):
    """Angle (degrees) at ``ground`` between the rays to the sensor positions ``pos_a`` and ``pos_b``.

    All three body-fixed, same units, shape (3,) or (..., 3); the stereo convergence of two views of the
    overlap's centre (:func:`ground_point` of :meth:`Overlap.centre`). 0 for the same view direction.
    """
    g = np.asarray(ground, float)
    out = _angle(np.asarray(pos_a, float) - g, np.asarray(pos_b, float) - g)
    return float(out) if np.ndim(out) == 0 else out


def surface_normal(ground, radii: Radii | None = None) -> np.ndarray:
    """Outward unit normal at a ground point: of the ellipsoid ``radii`` (a, b), radial when None."""
    g = np.asarray(ground, float)
    if radii is None:
        n = g
    else:
        a, b = _radii(radii)
        n = g / np.array([a * a, a * a, b * b])
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def incidence(source, ground, radii: Radii | None = None):
    """Angle (degrees) between the surface normal at ``ground`` and the ray from it to ``source``.

    ``source`` is the Sun's position for the incidence angle, the sensor's for the emission angle (body-fixed,
    the units of ``ground``; shape (3,) or (..., 3)). The normal is the ellipsoid's with ``radii`` (a, b),
    radial without. The incidence difference of two images is the difference of their incidences at the
    overlap's centre.
    """
    g = np.asarray(ground, float)
    out = _angle(np.asarray(source, float) - g, surface_normal(g, radii))
    return float(out) if np.ndim(out) == 0 else out
