"""usgscsm's SAR (range/Doppler) sensor model, a vectorised numpy port (DOI-USGS/usgscsm at ba32d13b).

Follows ``src/UsgsAstroSarSensorModel.cpp``. A line is a time (``starting_ephemeris_time`` + (line - 0.5) x
``line_exposure_duration``); a sample is a *ground range* ((sample - 0.5) x ``scaled_pixel_width``), which the
time's ground-to-slant-range polynomial (``range_conversion_coefficients``, Lagrange-interpolated over
``range_conversion_times`` as usgscsm does) turns into a slant range. Image -> ground intersects the range sphere,
the zero-Doppler plane and the ellipsoid (usgscsm's in-track / nadir / cross-track solve on the
``look_direction`` side, iterated on the radius); ground -> image finds the zero-Doppler time with usgscsm's Brent
search, then the ground range whose slant range matches (Newton on the polynomial). Times are ephemeris times,
as usgscsm keeps them for SAR.

The ISD's states go through ALE as usgscsm's ``constructStateFromIsd`` does (``ale::States`` cubic Hermite,
``ale::Orientations::rotateStateAt`` into the body frame), with the line-scan module's vectorised port of those
ALE classes; :func:`body_fixed_states` is shared with the push-frame model.
"""
from __future__ import annotations

import numpy as np

from .ale_states import Orientations, states  # ALE States / Orientations, vectorised
from .geometry import ellipsoid_height
from .geometry import lagrange_interp as _lagrange


def _require(isd: dict, keys, what: str) -> None:
    missing = [k for k in keys if k not in isd]
    if missing:
        raise ValueError(f"{what} ISD lacks {', '.join(missing)}")


def lagrange_interp(values, start, step, times, order: int = 8) -> np.ndarray:
    """geometry.lagrange_interp, quiet about NaN times (their rows come out NaN)."""
    with np.errstate(invalid="ignore"):
        return _lagrange(values, start, step, times, order)


def body_fixed_states(isd: dict, block: str, times) -> tuple[np.ndarray, np.ndarray]:
    """usgscsm constructStateFromIsd's tables: ISD ``block`` (instrument_position, sun_position) states at
    ``times`` (ALE getState SPLINE), rotated body-fixed with ALE rotateStateAt, km -> m."""
    times = np.asarray(times, float)
    body = Orientations.from_isd(isd["body_rotation"], "constant_rotation")
    pos, vel = body.rotate_states(times, *states(isd[block], times))
    return pos * 1000.0, vel * 1000.0


# --- the SAR model ------------------------------------------------------------------------------------------------
def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1)[:, None]


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


def _poly(c: np.ndarray, x: np.ndarray, deriv: bool = False) -> np.ndarray:
    """usgscsm evaluatePolynomial(/Derivative), Horner, row by row: c (N, k) lowest power first."""
    k = c.shape[1]
    if deriv:
        value = (k - 1) * c[:, k - 1]
        for i in range(k - 2, 0, -1):
            value = value * x + i * c[:, i]
        return value
    value = c[:, k - 1]
    for i in range(k - 2, -1, -1):
        value = value * x + c[:, i]
    return value


class SarSensorModel:
    """USGS_ASTRO_SAR_SENSOR_MODEL from an ISD dict (see the package docstring for the contract)."""

    def __init__(self, isd: dict) -> None:
        _require(isd, ("image_lines", "image_samples", "radii", "starting_ephemeris_time", "center_ephemeris_time",
                       "ending_ephemeris_time", "line_exposure_duration", "scaled_pixel_width", "wavelength",
                       "look_direction", "range_conversion_times", "range_conversion_coefficients",
                       "instrument_position", "sun_position", "body_rotation"), "SAR")
        self.lines, self.samples = int(isd["image_lines"]), int(isd["image_samples"])
        self.semi_major = float(isd["radii"]["semimajor"]) * 1000.0
        self.semi_minor = float(isd["radii"]["semiminor"]) * 1000.0
        self.starting_time = float(isd["starting_ephemeris_time"])
        self.center_time = float(isd["center_ephemeris_time"])
        self.ending_time = float(isd["ending_ephemeris_time"])
        self.exposure_duration = float(isd["line_exposure_duration"])
        self.pixel_width = float(isd["scaled_pixel_width"])
        self.wavelength = float(isd["wavelength"])
        if isd["look_direction"] not in ("left", "right"):
            raise ValueError(f"look_direction must be 'left' or 'right', got {isd['look_direction']!r}")
        self.look_left = isd["look_direction"] == "left"
        self.range_times = np.asarray(isd["range_conversion_times"], float)
        self.range_coefficients = np.asarray(isd["range_conversion_coefficients"], float).reshape(-1, 4)
        t = np.asarray(isd["instrument_position"]["ephemeris_times"], float).ravel()
        if len(t) < 2:
            raise ValueError("SAR ISD: instrument position has less than 2 states")
        # usgscsm: the same number of nodes, uniformly re-spaced, absolute times
        self.t0_ephem, self.dt_ephem = t[0], (t[-1] - t[0]) / (len(t) - 1)
        times = t[0] + np.arange(len(t)) * self.dt_ephem
        self.positions, self.velocities = body_fixed_states(isd, "instrument_position", times)
        self.sun_positions, self.sun_velocities = body_fixed_states(isd, "sun_position", times)
        centre = self.image_to_ground(np.array([self.lines / 2.0, self.lines / 2.0 + 1]),
                                      np.array([self.samples / 2.0, self.samples / 2.0 + 1]))
        self._gsd = float(np.sqrt(np.sum((centre[1] - centre[0]) ** 2) / 2.0))

    # --- time and trajectory ------------------------------------------------------------------------------------
    def image_time(self, line, sample=None) -> np.ndarray:
        return self.starting_time + (np.atleast_1d(np.asarray(line, float)) - 0.5) * self.exposure_duration

    def position_at(self, time) -> np.ndarray:
        t = np.atleast_1d(np.asarray(time, float))
        return lagrange_interp(self.positions, self.t0_ephem, self.dt_ephem, t, 8)

    def velocity_at(self, time) -> np.ndarray:
        t = np.atleast_1d(np.asarray(time, float))
        return lagrange_interp(self.velocities, self.t0_ephem, self.dt_ephem, t, 8)

    def sensor_position(self, line, sample=None) -> np.ndarray:
        return self.position_at(self.image_time(line))

    def sensor_velocity(self, line, sample=None) -> np.ndarray:
        return self.velocity_at(self.image_time(line))

    def sun_position_at(self, time) -> np.ndarray:
        """usgscsm getSunPosition, with its node spacing for the sun table: the image's duration over the node
        count (the table is on the ephemeris nodes, but this is what usgscsm interpolates with)."""
        t = np.atleast_1d(np.asarray(time, float))
        sun, vel = np.atleast_2d(self.sun_positions), np.atleast_2d(self.sun_velocities)
        if len(sun) > 1:
            dt = ((self.t0_ephem + self.lines * self.exposure_duration) - self.t0_ephem) / len(sun)
            return lagrange_interp(sun, self.t0_ephem, dt, t, 8)
        if vel.size >= 3:
            return sun[0] + t[:, None] * vel[0]
        return np.repeat(sun[:1], len(t), axis=0)

    def sun_position(self, line, sample=None) -> np.ndarray:
        return self.sun_position_at(self.image_time(line))

    def range_coefficients_at(self, time) -> np.ndarray:
        """(N, 4) ground -> slant range polynomial at ``time`` (usgscsm getRangeCoefficients, whose node spacing
        is (last time - first time) / node count)."""
        t = np.atleast_1d(np.asarray(time, float))
        c = self.range_coefficients
        if len(c) > 1:
            dt = (self.range_times[-1] - self.range_times[0]) / len(c)
            return lagrange_interp(c, self.range_times[0], dt, t, 8)
        return np.repeat(c[:1], len(t), axis=0)

    def ground_sample_distance(self) -> float:
        """Metres per pixel at the image centre (usgscsm's push-frame/line-scan m_gsd definition)."""
        return self._gsd

    # --- image -> ground ----------------------------------------------------------------------------------------
    def image_to_ground(self, line, sample, height=0.0, precision: float = 0.001) -> np.ndarray:
        """Range sphere x zero-Doppler plane x ellipsoid raised by ``height``; NaN where they do not meet."""
        line, sample = np.broadcast_arrays(np.atleast_1d(np.asarray(line, float)),
                                           np.atleast_1d(np.asarray(sample, float)))
        time = self.image_time(line)
        slant = _poly(self.range_coefficients_at(time), (sample - 0.5) * self.pixel_width)
        pos, vel = self.position_at(time), self.velocity_at(time)
        pos_mag = np.linalg.norm(pos, axis=1)
        v_hat = _unit(vel)                                            # in-track
        t_hat = _unit(pos - (_dot(pos, v_hat) / _dot(v_hat, v_hat))[:, None] * v_hat)   # radial, off in-track
        u_hat = np.cross(v_hat, t_hat)                                # cross-track
        nadir = _dot(pos, t_hat)
        h = np.broadcast_to(np.asarray(height, float), line.shape).astype(float)
        radius = self.semi_major + h
        ground = np.full((len(line), 3), np.nan)
        active = np.ones(len(line), bool)
        for _ in range(10):                 # usgscsm: converges at once on a sphere, a few steps on a spheroid
            alpha = (radius ** 2 - slant ** 2 - pos_mag ** 2) / (2 * nadir)
            with np.errstate(invalid="ignore"):
                beta = np.sqrt(slant ** 2 - alpha ** 2)                # NaN: the range sphere misses
            beta = -beta if self.look_left else beta
            g = alpha[:, None] * t_hat + beta[:, None] * u_hat + pos
            ground[active] = g[active]
            dh = ellipsoid_height(g, self.semi_major, self.semi_minor) - h
            radius = np.where(active, radius - dh, radius)
            with np.errstate(invalid="ignore"):
                active &= ~(np.abs(dh) <= precision)
            active &= np.isfinite(dh)
            if not active.any():
                break
        return ground

    def image_to_remote_imaging_locus(self, line, sample) -> tuple[np.ndarray, np.ndarray]:
        """The sensor and the unit direction to the pixel's ground point at height 0 (usgscsm's locus is the same
        line; it reports the ground point as the locus point)."""
        origin = self.sensor_position(line, sample)
        return origin, _unit(self.image_to_ground(line, sample) - origin)

    def image_to_proximate_imaging_locus(self, line, sample, xyz) -> tuple[np.ndarray, np.ndarray]:
        """usgscsm imageToProximateImagingLocus: the point at the pixel's slant range, in the zero-Doppler plane,
        in the direction of ``xyz``; and the tangent of the range circle there."""
        line, sample = np.broadcast_arrays(np.atleast_1d(np.asarray(line, float)),
                                           np.atleast_1d(np.asarray(sample, float)))
        time = self.image_time(line)
        slant = _poly(self.range_coefficients_at(time), (sample - 0.5) * self.pixel_width)
        pos, vel = self.position_at(time), self.velocity_at(time)
        d = np.atleast_2d(np.asarray(xyz, float)) - pos
        look = _unit(d - (_dot(d, vel) / _dot(vel, vel))[:, None] * vel)
        tangent = np.cross(vel, look) if self.look_left else np.cross(look, vel)
        return pos + slant[:, None] * look, _unit(tangent)

    # --- ground -> image ----------------------------------------------------------------------------------------
    def _doppler(self, time: np.ndarray, xyz: np.ndarray) -> np.ndarray:
        look = self.position_at(time) - xyz
        return -2.0 * _dot(look, self.velocity_at(time)) / (np.linalg.norm(look, axis=1) * self.wavelength)

    def _zero_doppler_time(self, xyz: np.ndarray, eps: float) -> np.ndarray:
        """usgscsm brentRoot of the Doppler shift over the image time +- a quarter of its length, every point at
        once; NaN where the bounds do not bracket a root (usgscsm throws)."""
        n = len(xyz)
        pad = self.exposure_duration * self.lines * 0.25
        counter = np.full(n, self.starting_time - pad)
        current = np.full(n, self.ending_time + pad)
        f_counter, f_current = self._doppler(counter, xyz), self._doppler(current, xyz)
        result = np.full(n, np.nan)
        active = ~(f_counter * f_current > 0.0) & np.isfinite(f_counter * f_current)
        swap = np.abs(f_counter) < np.abs(f_current)
        counter, current = np.where(swap, current, counter), np.where(swap, counter, current)
        f_counter, f_current = np.where(swap, f_current, f_counter), np.where(swap, f_counter, f_current)
        previous, f_previous, older = counter.copy(), f_counter.copy(), counter.copy()
        bisected = np.ones(n, bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            for _ in range(30):
                a, b, c, fa, fb, fc = counter, current, previous, f_counter, f_current, f_previous
                iqi = (fa != fc) & (fa != fb) & (fb != fc)
                nxt = np.where(iqi, a * fb * fc / ((fa - fb) * (fa - fc)) + b * fa * fc / ((fb - fa) * (fb - fc))
                               + c * fb * fa / ((fc - fa) * (fc - fb)), b - fb * (b - a) / (fb - fa))
                gap = np.where(bisected, np.abs(b - c), np.abs(c - older))
                bisect = (((b - nxt) * (nxt - (3 * a + b) / 4) < 0) | (np.abs(nxt - b) >= gap / 2) | (gap < eps))
                nxt = np.where(bisect, (b + a) / 2, nxt)
                bisected = bisect
                older, previous, f_previous = c, b, fb
                f_next = self._doppler(nxt, xyz)
                hit = active & (f_next == 0)
                result[hit] = nxt[hit]
                active &= ~hit
                move_current = fa * f_next < 0
                current = np.where(move_current, nxt, current)
                f_current = np.where(move_current, f_next, f_current)
                counter = np.where(move_current, counter, nxt)
                f_counter = np.where(move_current, f_counter, f_next)
                done = active & ~(np.abs(counter - current) > eps)
                result[done] = nxt[done]
                active &= ~done
                if not active.any():
                    break
        result[active] = nxt[active]            # 30 iterations: usgscsm returns its last iterate
        return result

    def ground_to_image(self, xyz, precision: float = 0.001) -> tuple[np.ndarray, np.ndarray]:
        xyz = np.atleast_2d(np.asarray(xyz, float))
        time = self._zero_doppler_time(xyz, self.exposure_duration * precision / 2.0)
        slant = np.linalg.norm(self.position_at(time) - xyz, axis=1)
        coeffs = self.range_coefficients_at(time).copy()
        coeffs[:, 0] -= slant
        # usgscsm polynomialRoot: Newton from mid-swath, 30 steps; no root (or a flat polynomial) is a throw
        threshold = self.pixel_width * precision / 2.0
        root = np.full(len(xyz), 0.5 * self.samples * self.pixel_width)
        value = _poly(coeffs, root)
        ground_range = np.full(len(xyz), np.nan)
        active = np.isfinite(value)
        with np.errstate(divide="ignore", invalid="ignore"):
            for _ in range(31):
                done = active & (np.abs(value) < threshold)
                ground_range[done] = root[done]
                active &= ~done
                deriv = _poly(coeffs, root, deriv=True)
                active &= ~(np.abs(deriv) < 1e-15)
                if not active.any():
                    break
                root = np.where(active, root - value / deriv, root)
                value = _poly(coeffs, root)
        return (time - self.starting_time) / self.exposure_duration + 0.5, ground_range / self.pixel_width + 0.5

    def ellipsoid_height(self, xyz) -> np.ndarray:
        return ellipsoid_height(xyz, self.semi_major, self.semi_minor)
