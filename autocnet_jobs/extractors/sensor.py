"""The shared core of the sensor models: pixel <-> focal plane <-> look ray <-> body, vectorised with numpy.

A model is built from its plain camera dict (the ISD-like layout :mod:`.isis_camera` writes), so the dict a
worker stores is all a reader needs to evaluate it again. The chain, as ISIS's camera classes define it
(isis/src/base/objs/Camera*Map, AlphaCube):

1. cube pixel -> original (alpha) pixel: a cropped or reduced cube maps back to the detector through its
   ``alpha_cube`` (AlphaCube group): ``alpha = start + (ending - start) / beta * (pixel - 0.5)``, ISIS 1-based.
2. alpha pixel -> detector: ``(alpha - 1) * summing + starting_detector + summing / 2 - 0.5``; a line-scan
   camera images every line on ``detector_line_offset`` and the alpha line gives the time instead.
3. detector -> distorted focal plane (mm): ``pixel2focal_x/_y`` (TRANSX/TRANSY) about ``detector_center``.
4. distorted -> undistorted focal plane: the named ``optical_distortion`` model; the reverse by iteration.
5. look vector in the camera frame: ``(ux, uy, focal_plane_z * focal_length)`` (Apollo Metric looks down -Z).
6. camera frame -> J2000 -> body-fixed through ``instrument_pointing`` and ``body_rotation`` at the pixel's
   time; the ray from ``instrument_position`` meets the body's ellipsoid (or a DEM, iterating the height).

Public pixel coordinates are the package's: ``line`` = row, ``sample`` = column, 0-based, (0, 0) the centre of
the top-left pixel (OpenCV and the keypoint files). Longitudes are planetocentric, east-positive, in
[-180, 180]; NaN wherever the ray misses the body (or the ground point is behind the camera).
"""
from __future__ import annotations

import numpy as np

from .spice_cache import positions, rotation_matrices

# --- optical distortion: distorted (dx, dy) -> undistorted (ux, uy), in mm ---------------------------------


def _radial(dx, dy, p):
    """ISIS's default polynomial (CameraDistortionMap): u = d * (1 - (k0 + k1 r^2 + k2 r^4))."""
    k = list(p["coefficients"]) + [0.0] * 3
    r2 = dx * dx + dy * dy
    f = k[0] + r2 * (k[1] + r2 * k[2])
    return dx - f * dx, dy - f * dy


def _apollo_metric(dx, dy, p):
    """ApolloMetricDistortionMap: principal point, radial k1..k3 and decentering j1, j2 at angle t0."""
    x, y = dx - p["xp"], dy - p["yp"]
    rr = x * x + y * y
    dr = 1 + p["k1"] * rr + p["k2"] * rr**2 + p["k3"] * rr**3
    dt = p["j1"] * rr + p["j2"] * rr**2
    return dr * x - dt * np.sin(p["t0"]), dr * y + dt * np.cos(p["t0"])


def _lro_nac(dx, dy, p):
    """LroNarrowAngleDistortionMap: radial along the (one-line) detector only, y / (1 - k y^2)."""
    return dx, dy / (1.0 - p["coefficients"][0] * dy * dy)


def _themis_ir(dx, dy, p):
    """ThemisIrDistortionMap: x scaled by a band constant, y through a quadratic."""
    a1, a2 = p["alpha1"], p["alpha2"]
    root = np.sqrt(np.clip((1.0 + a1) ** 2 + 4.0 * a2 * dy, 0.0, None))
    return dx / p["k"], 2.0 * dy / (1.0 + a1 + root)


DISTORTIONS = {"none": lambda dx, dy, p: (dx, dy), "radial": _radial, "apollo_metric": _apollo_metric,
               "lro_nac": _lro_nac, "themis_ir": _themis_ir}


def undistort(camera: dict, dx, dy):
    (name, params), = camera["optical_distortion"].items()
    return DISTORTIONS[name](dx, dy, params)


def distort(camera: dict, ux, uy, iterations: int = 30, tol: float = 1e-12):
    """The distorted focal plane point whose undistortion is (ux, uy): fixed-point iteration."""
    dx, dy = np.array(ux, dtype=float), np.array(uy, dtype=float)
    for _ in range(iterations):
        ex, ey = undistort(camera, dx, dy)
        rx, ry = ux - ex, uy - ey
        dx, dy = dx + rx, dy + ry
        if np.nanmax(np.abs(rx), initial=0.0) < tol and np.nanmax(np.abs(ry), initial=0.0) < tol:
            break
    return dx, dy


# --- geometry on the body ---------------------------------------------------------------------------------


def intersect_ellipsoid(origin: np.ndarray, direction: np.ndarray, a, c) -> np.ndarray:
    """(N, 3) first intersections of rays with the spheroid x^2/a^2 + y^2/a^2 + z^2/c^2 = 1; NaN on a miss.

    ``a`` and ``c`` may be arrays (N,) (an ellipsoid raised by a terrain height per ray).
    """
    scale = np.column_stack([np.broadcast_to(1.0 / np.asarray(a, float), len(origin))] * 2
                            + [np.broadcast_to(1.0 / np.asarray(c, float), len(origin))])
    o, d = origin * scale, direction * scale
    qa = np.sum(d * d, axis=1)
    qb = 2.0 * np.sum(o * d, axis=1)
    qc = np.sum(o * o, axis=1) - 1.0
    disc = qb * qb - 4.0 * qa * qc
    with np.errstate(invalid="ignore"):
        t = (-qb - np.sqrt(disc)) / (2.0 * qa)
    t = np.where((disc >= 0) & (t > 0), t, np.nan)
    return origin + t[:, None] * direction


def to_lonlat(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Planetocentric, east-positive lon/lat in degrees of body-fixed points."""
    x, y, z = points.T
    return np.degrees(np.arctan2(y, x)), np.degrees(np.arctan2(z, np.hypot(x, y)))


def ellipsoid_radius(lat_deg, a: float, c: float) -> np.ndarray:
    """Radius (km) of the spheroid at planetocentric latitude ``lat_deg``."""
    lat = np.radians(lat_deg)
    return a * c / np.sqrt((c * np.cos(lat)) ** 2 + (a * np.sin(lat)) ** 2)


def from_lonlat(lon_deg, lat_deg, radius) -> np.ndarray:
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    return np.column_stack([radius * np.cos(lat) * np.cos(lon), radius * np.cos(lat) * np.sin(lon),
                            radius * np.sin(lat)])


class SensorModel:
    """image_to_ground / ground_to_image for one camera dict; subclasses say how a line maps to a time."""

    def __init__(self, camera: dict, dem=None):
        self.camera = camera
        self.dem = dem                                    # a .dem.DemSampler or None (the ellipsoid)
        radii = camera["radii"]
        self.a, self.c = float(radii["semimajor"]), float(radii["semiminor"])
        self.f = float(camera["focal_length_model"]["focal_length"]) * float(camera.get("focal_plane_z", 1.0))
        tx, ty = camera["pixel2focal_x"], camera["pixel2focal_y"]
        self.t0 = np.array([tx[0], ty[0]], float)
        self.tm = np.array([[tx[1], tx[2]], [ty[1], ty[2]]], float)   # (sample, line) -> (x, y)
        self.tm_inv = np.linalg.inv(self.tm)
        self.centre = (float(camera["detector_center"]["sample"]), float(camera["detector_center"]["line"]))
        self.sum_s = float(camera.get("detector_sample_summing", 1.0))
        self.sum_l = float(camera.get("detector_line_summing", 1.0))
        self.ss = self.sum_s / 2.0 + 0.5 + (float(camera.get("starting_detector_sample", 1.0)) - 1.0)
        self.sl = self.sum_l / 2.0 + 0.5 + (float(camera.get("starting_detector_line", 1.0)) - 1.0)
        alpha = camera.get("alpha_cube")
        if alpha:
            self.alpha = (float(alpha["starting_sample"]), (alpha["ending_sample"] - alpha["starting_sample"])
                          / alpha["beta_samples"], float(alpha["starting_line"]),
                          (alpha["ending_line"] - alpha["starting_line"]) / alpha["beta_lines"])
        else:
            self.alpha = (0.5, 1.0, 0.5, 1.0)

    # pixel <-> alpha (original) pixel, ISIS 1-based
    def _to_alpha(self, line, sample):
        s0, ks, l0, kl = self.alpha
        return l0 + kl * (np.asarray(line, float) + 0.5), s0 + ks * (np.asarray(sample, float) + 0.5)

    def _from_alpha(self, aline, asample):
        s0, ks, l0, kl = self.alpha
        return (aline - l0) / kl - 0.5, (asample - s0) / ks - 0.5

    # what the subclasses provide
    def times(self, aline: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def detector_line(self, aline: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # the chain
    def _state(self, et: np.ndarray):
        """(camera frame -> body-fixed rotations (N,3,3), spacecraft positions body-fixed (N,3)) at ``et``."""
        cam = rotation_matrices(self.camera["instrument_pointing"], et)
        body = rotation_matrices(self.camera["body_rotation"], et)
        pos = positions(self.camera["instrument_position"], et)
        return body @ np.transpose(cam, (0, 2, 1)), np.einsum("nij,nj->ni", body, pos)

    def look(self, line, sample):
        """(ray origins, body-fixed look directions, times) for image points."""
        aline, asample = self._to_alpha(np.ravel(line), np.ravel(sample))
        det_s = (asample - 1.0) * self.sum_s + self.ss
        det_l = self.detector_line(aline)
        centred = np.column_stack([det_s - self.centre[0], det_l - self.centre[1]])
        fx, fy = (self.t0[:, None] + self.tm @ centred.T)
        ux, uy = undistort(self.camera, fx, fy)
        look_c = np.column_stack([ux, uy, np.full_like(ux, self.f)])
        et = self.times(aline)
        rot, pos = self._state(et)
        return pos, np.einsum("nij,nj->ni", rot, look_c), et

    def image_to_ground(self, line, sample) -> tuple[np.ndarray, np.ndarray]:
        """(lon, lat) in degrees of image points; NaN where the ray misses the body."""
        points = self.ground_points(line, sample)
        return to_lonlat(points)

    def ground_points(self, line, sample) -> np.ndarray:
        origin, direction, _ = self.look(line, sample)
        points = intersect_ellipsoid(origin, direction, self.a, self.c)
        if self.dem is not None:
            points = self._intersect_dem(origin, direction, points)
        return points

    def _intersect_dem(self, origin, direction, points, iterations: int = 30, tol_km: float = 1e-4):
        """Raise the ellipsoid by the DEM's height under the ray until the height stops changing."""
        hit = np.isfinite(points[:, 0])
        height = np.zeros(len(points))
        for _ in range(iterations):
            lon, lat = to_lonlat(points[hit])
            h = self.dem.height_km(lon, lat, ellipsoid_radius(lat, self.a, self.c))
            h = np.where(np.isfinite(h), h, height[hit])
            change = np.abs(h - height[hit])
            height[hit] = h
            points[hit] = intersect_ellipsoid(origin[hit], direction[hit], self.a + h, self.c + h)
            hit &= np.isfinite(points[:, 0])
            if change.size == 0 or change.max() < tol_km:
                break
        return points

    def surface_points(self, lon, lat) -> np.ndarray:
        """Body-fixed points (km) on the ellipsoid, or on the DEM when one is set."""
        lon, lat = np.ravel(np.asarray(lon, float)), np.ravel(np.asarray(lat, float))
        radius = ellipsoid_radius(lat, self.a, self.c)
        if self.dem is not None:
            h = self.dem.height_km(lon, lat, radius)
            radius = radius + np.where(np.isfinite(h), h, 0.0)
        return from_lonlat(lon, lat, radius)

    def project(self, points: np.ndarray, et: np.ndarray):
        """(centred detector sample, centred detector line) of body-fixed points seen at times ``et``.

        NaN for points behind the camera or hidden by the body.
        """
        rot, pos = self._state(et)
        v = np.einsum("nji,nj->ni", rot, points - pos)           # body -> camera frame
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where((v[:, 2] * self.f > 0) & self._visible(pos, points), self.f / v[:, 2], np.nan)
        dx, dy = distort(self.camera, v[:, 0] * scale, v[:, 1] * scale)
        centred = self.tm_inv @ (np.vstack([dx, dy]) - self.t0[:, None])
        return centred[0], centred[1]

    def _visible(self, pos: np.ndarray, points: np.ndarray) -> np.ndarray:
        """True where nothing of the body lies between the spacecraft and the point.

        The ray is tested against the body shrunk a little (0.1%, 1% with a DEM): a point on the near side
        is reached before that inner surface, one on the far side is not.
        """
        ray = points - pos
        shrink = 0.999 if self.dem is None else 0.99     # terrain reaches ~0.5% below the ellipsoid
        hit = intersect_ellipsoid(pos, ray, self.a * shrink, self.c * shrink)
        blocked = np.linalg.norm(hit - pos, axis=1) < np.linalg.norm(ray, axis=1) * (1.0 - 1e-9)
        return ~blocked            # NaN hits (no inner intersection) compare False: not blocked

    def _pixel(self, centred_s, aline):
        asample = (centred_s + self.centre[0] - self.ss) / self.sum_s + 1.0
        return self._from_alpha(aline, asample)

    def ground_to_image(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """(line, sample) of ground points (on the ellipsoid or DEM); NaN where the camera cannot see them."""
        raise NotImplementedError

    def size(self) -> tuple[int, int]:
        return int(self.camera["image_lines"]), int(self.camera["image_samples"])

    def ground_sample_distance(self) -> tuple[float, float]:
        """(across-line, along-line) ground distance in metres between neighbouring pixels at the centre."""
        lines, samples = self.size()
        cl, cs = (lines - 1) / 2.0, (samples - 1) / 2.0
        p = self.ground_points([cl, cl, cl + 1.0], [cs, cs + 1.0, cs])
        return float(np.linalg.norm(p[1] - p[0]) * 1000.0), float(np.linalg.norm(p[2] - p[0]) * 1000.0)
