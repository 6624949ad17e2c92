"""The line scanner: a vectorised numpy port of usgscsm's ``UsgsAstroLsSensorModel``.

Follows DOI-USGS/usgscsm src/UsgsAstroLsSensorModel.cpp at ba32d13b: ``constructStateFromIsd`` (line scan rate,
ephemeris and quaternion tables resampled on uniform times, detector geometry, distortion, radii),
``updateState`` (ground sample distance), ``createProjectiveApproximation`` / ``computeProjectiveApproximation``
(the first guess of ``groundToImage``), ``getImageTime``, ``losToEcf``, ``losEllipsoidIntersect``,
``imageToRemoteImagingLocus``, ``groundToImage`` with ``calcDetectorLineErr`` / ``computeDetectorView`` (a
secant search on the line) and ``getSunPosition``; and, for turning the ISD's J2000 states and rotations into the
body-fixed tables, DOI-USGS/ale src/States.cpp (``getState`` with SPLINE: a cubic Hermite between the two
neighbouring states), src/Orientations.cpp (``interpolate``, ``rotateStateAt``, ``inverse``, ``operator*``),
src/Rotation.cpp (Eigen's slerp and products) and src/InterpUtils.cpp.

No parameter adjustments are modelled (usgscsm's are all zero when built from an ISD, so its attitude and
position corrections are the identity). Departures from usgscsm, where it answers what the contract calls a miss:
``image_to_ground`` gives NaN rows where the look misses the ellipsoid or meets it behind the sensor (usgscsm
returns the point of the look nearest the surface; ``off_body="closest"`` gives that point); ``ground_to_image``
gives NaN for points behind the sensor and where the line search ends more than half a line from the point
(usgscsm warns "precision not met" and returns its estimate). As usgscsm, a point off the image's edges gets
coordinates outside [0, lines] x [0, samples]. A distortion model ALE's ``getDistortionCoeffs`` does not know
makes usgscsm's constructor fail; so does this one (ValueError). usgscsm's look is a whole line (it takes the
intersection nearer the sensor on either side, and projects through the sensor either way); here the look has one
direction, fixed per model to the side on which the image centre's look meets the body, which is the camera's +z
for real ISDs and -z for usgscsm's synthetic orbitalLineScan.
"""
from __future__ import annotations

import numpy as np

from .ale_states import Orientations, qinv, qmatrices, qmul, states
from .geometry import ellipsoid_height, lagrange_interp, quaternion_matrices

Array = np.ndarray
# ALE getDistortionModel/getDistortionCoeffs: the models usgscsm's line scanner can read (others throw).
_ALE_DISTORTIONS = ("transverse", "radial", "kaguyalism", "dawnfc", "lrolrocnac", "cahvor", "lunarorbiter",
                    "radtan")


class LineScanSensorModel:
    """usgscsm's line scanner built from an ISD dict (``name_model`` USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL)."""

    def __init__(self, isd: dict):
        from .distortion import distortion_from_isd

        od = isd.get("optical_distortion")
        kind = min(od) if isinstance(od, dict) and od else None
        if kind not in _ALE_DISTORTIONS:
            raise ValueError(f"usgscsm's line scanner cannot read optical_distortion {kind!r}: ALE "
                             f"getDistortionCoeffs knows only {_ALE_DISTORTIONS}")
        self.distortion = distortion_from_isd(isd)
        self.lines = int(isd["image_lines"])
        self.samples = int(isd["image_samples"])
        self.semi_major = float(isd["radii"]["semimajor"]) * 1000.0   # ALE radii are km
        self.semi_minor = float(isd["radii"]["semiminor"]) * 1000.0
        self.focal_length = float(isd["focal_length_model"]["focal_length"])
        self.center_time = float(isd["center_ephemeris_time"])
        rate = np.asarray(isd["line_scan_rate"], float).reshape(-1, 3)  # start line, start time (from centre), dt
        self._int_lines, self._int_starts, self._int_times = rate.T
        self.line_summing = int(isd["detector_line_summing"])
        self.sample_summing = int(isd["detector_sample_summing"])
        self.starting_line = float(isd["starting_detector_line"])
        self.starting_sample = float(isd["starting_detector_sample"])
        self.center_line = float(isd["detector_center"]["line"])
        self.center_sample = float(isd["detector_center"]["sample"])
        self.itrans_line = np.asarray(isd["focal2pixel_lines"], float)
        self.itrans_sample = np.asarray(isd["focal2pixel_samples"], float)
        if self.line_summing == 0 or self.sample_summing == 0:
            raise ValueError("a detector summing of 0 maps every pixel to one detector position")

        # Positions, velocities and the sun on at least 25 uniform times over the ISD's ephemeris, rotated
        # body-fixed, in metres (constructStateFromIsd: "Force at least 25 nodes").
        body = Orientations.from_isd(isd["body_rotation"], "constant_rotation")
        ephem = np.asarray(isd["instrument_position"]["ephemeris_times"], float).ravel()
        count = max(len(ephem), 25)
        self._dt_ephem = (ephem[-1] - ephem[0]) / (count - 1)
        self._t0_ephem = ephem[0] - self.center_time
        uniform = ephem[0] + np.arange(count) * self._dt_ephem
        pos, vel = body.rotate_states(uniform, *states(isd["instrument_position"], uniform))
        self._positions, self._velocities = pos * 1000.0, vel * 1000.0
        self._sun = body.rotate_states(uniform, *states(isd["sun_position"], uniform))[0] * 1000.0

        # Sensor -> body quaternions: (J2000 -> body) * (J2000 -> sensor)^-1 on the union of both blocks' times
        # (ALE Orientations operator* and inverse), then slerped onto as many uniform times.
        point = Orientations.from_isd(isd["instrument_pointing"], "time_dependent_frames")
        inverse = qmul(qinv(point.q), qinv(point.constant))
        inv_avs = None if point.avs is None else \
            -np.einsum("nij,nj->ni", qmatrices(qmul(point.constant, point.q)), point.avs)
        merged = np.unique(np.concatenate([body.times, point.times]))
        rhs = Orientations(inverse, point.times, inv_avs, np.eye(4)[0]).at(merged)
        stored = qmul(qmul(qinv(body.constant), body.at(merged)), rhs)
        combined = Orientations(stored, merged, None, body.constant)
        self._dt_quat = (merged[-1] - merged[0]) / (len(merged) - 1) if len(merged) > 1 else 0.0
        self._t0_quat = merged[0] - self.center_time
        q = combined.at(merged[0] + np.arange(len(merged)) * self._dt_quat)
        q /= np.linalg.norm(q, axis=1)[:, None]
        self._quaternions = q[:, [1, 2, 3, 0]]                       # usgscsm's x, y, z, w
        self._quat_order = 8 if len(q) > 1 else 4

        # usgscsm's look is a line, met wherever nearer the sensor; synthetic ISDs (orbitalLineScan) look along
        # the camera's -z. Fix the direction once, to the side where the centre's look meets (or nears) the body.
        cl, cs = self.lines / 2.0, self.samples / 2.0
        self._look_sign = 1.0                         # read by _intersect just below
        self._look_sign = -1.0 if self._intersect(cl, cs, 0.0)[1][0] < 0 else 1.0
        # updateState: reference point and ground sample distance at the image centre (usgscsm's own
        # intersection, which never misses), then the projective first guess of groundToImage.
        ref = self.image_to_ground([cl, cl + 1.0], [cs, cs + 1.0], off_body="closest")
        self._gsd = float(np.sqrt(np.sum((ref[1] - ref[0]) ** 2) / 2.0))
        self._proj = self._projective_fit(ref[0])

    # --- times, tables ---

    def _rel_time(self, line: Array) -> Array:
        """getImageTime: seconds from the centre time, the line's exposure centre in its scan-rate segment."""
        i = np.maximum(np.searchsorted(self._int_lines, line, side="right") - 1, 0)
        return self._int_starts[i] + self._int_times[i] * (line - self._int_lines[i] + 0.5)

    def _position(self, t: Array) -> Array:
        return lagrange_interp(self._positions, self._t0_ephem, self._dt_ephem, t, 8)

    def _rotation(self, t: Array) -> Array:
        """(N, 3, 3) sensor -> body at times t: Lagrange-interpolated quaternions, normalised (usgscsm)."""
        q = lagrange_interp(self._quaternions, self._t0_quat, self._dt_quat, t, self._quat_order)
        return quaternion_matrices(q)

    @staticmethod
    def _points(line, sample) -> tuple[Array, Array]:
        line, sample = np.broadcast_arrays(np.atleast_1d(np.asarray(line, float)),
                                           np.atleast_1d(np.asarray(sample, float)))
        return line.ravel(), sample.ravel()

    # --- image -> ground ---

    def image_to_remote_imaging_locus(self, line, sample) -> tuple[Array, Array]:
        """(origin (N, 3), unit direction (N, 3)) of the look through image points (losToEcf, negated)."""
        line, sample = self._points(line, sample)
        t = self._rel_time(line)
        # computeDistortedFocalPlaneCoordinates with line 0: the detector is one line
        tl, ts = self.itrans_line, self.itrans_sample
        t1 = self.starting_line - self.center_line - tl[0]
        t2 = sample * self.sample_summing + self.starting_sample - self.center_sample - ts[0]
        det = tl[1] * ts[2] - tl[2] * ts[1]
        ux, uy = self.distortion.remove((ts[2] * t1 - tl[2] * t2) / det, (-ts[1] * t1 + tl[1] * t2) / det)
        camera = np.column_stack([ux, uy, np.full_like(ux, self.focal_length)])   # zDirection 1
        camera /= np.linalg.norm(camera, axis=1)[:, None]
        return self._position(t), self._look_sign * np.einsum("nij,nj->ni", self._rotation(t), camera)

    def _intersect(self, line, sample, height) -> tuple[Array, Array, Array]:
        """losEllipsoidIntersect in usgscsm's arithmetic: (point, scale along the look, discriminant), the root
        of smaller |scale| and, where the look misses, the point nearest the surface (discriminant clamped)."""
        origin, look = self.image_to_remote_imaging_locus(line, sample)
        h = np.broadcast_to(np.asarray(height, float), (len(look),))
        ap, bp = self.semi_major + h, self.semi_minor + h
        k = ap * ap / (bp * bp)                           # z scaled by (a/b)^2
        (xl, yl, zl), (xc, yc, zc) = look.T, origin.T
        at = xl * xl + yl * yl + k * zl * zl
        bt = 2.0 * (xl * xc + yl * yc + k * zl * zc)
        ct = xc * xc + yc * yc + k * zc * zc - ap * ap
        quad = bt * bt - 4.0 * at * ct
        root = np.sqrt(np.maximum(quad, 0.0))
        scale = np.where(np.abs(-bt + root) < np.abs(-bt - root), -bt + root, -bt - root) / (2.0 * at)
        return origin + scale[:, None] * look, scale, quad

    def image_to_ground(self, line, sample, height=0.0, *, off_body: str = "nan") -> Array:
        """(N, 3) body-fixed metres where image points' looks meet the ellipsoid raised by ``height`` metres.

        NaN rows where a look misses; ``off_body="closest"`` returns usgscsm's answer there, the point of the
        look nearest the surface (losEllipsoidIntersect's discriminant clamped to 0).
        """
        ground, scale, quad = self._intersect(line, sample, height)
        if off_body == "closest":
            return ground
        if off_body != "nan":
            raise ValueError("off_body is 'nan' or 'closest'")
        ground[(quad < 0) | ~(scale > 0)] = np.nan
        return ground

    # --- ground -> image ---

    def _projective_fit(self, ref: Array) -> Array | None:
        """createProjectiveApproximation: 14 coefficients of a rational map ground -> image, fit to a 3 x 3
        grid of image points at the reference point's height and 100 m above; None if that height is NaN."""
        height = ellipsoid_height(ref, self.semi_major, self.semi_minor, 0.01)[0]
        if not np.isfinite(height):
            return None
        u = np.repeat([0.0, 0.5, 1.0], 3) * self.lines
        v = np.tile([0.0, 0.5, 1.0], 3) * self.samples
        r, c = np.tile(u, 2), np.tile(v, 2)
        g = self.image_to_ground(r, c, np.repeat([height, height + 100.0], 9), off_body="closest")
        x, y, z = g.T
        zero, one = np.zeros(18), np.ones(18)
        rows_l = np.column_stack([one, x, y, z, -x * r, -y * r, -z * r] + [zero] * 7)
        rows_s = np.column_stack([zero] * 7 + [one, x, y, z, -x * c, -y * c, -z * c])
        m = np.empty((36, 14))
        m[0::2], m[1::2] = rows_l, rows_s
        b = np.empty(36)
        b[0::2], b[1::2] = r, c
        with np.errstate(all="ignore"):
            coeffs = np.linalg.lstsq(m, b, rcond=None)[0] if np.all(np.isfinite(m)) else None
        return coeffs

    def _first_guess(self, xyz: Array) -> Array:
        """computeProjectiveApproximation's line, bounded by the image; the centre line without a fit."""
        centre = np.full(len(xyz), self.lines / 2.0)
        if self._proj is None:
            return centre
        u = self._proj
        x, y, z = xyz.T
        with np.errstate(all="ignore"):
            line_den = 1 + u[4] * x + u[5] * y + u[6] * z
            samp_den = 1 + u[11] * x + u[12] * y + u[13] * z
            line = np.clip((u[0] + u[1] * x + u[2] * y + u[3] * z) / line_den, 0.0, self.lines)
        bad = (line_den == 0) | ~np.isfinite(line_den) | (samp_den == 0) | ~np.isfinite(samp_den)
        return np.where(bad, centre, line)

    def _detector(self, line: Array, xyz: Array, precision: float = 1.0e-6) -> tuple[Array, Array, Array]:
        """computeDetectorView at the line's time, then applyDistortion: distorted focal plane x, y (mm) and
        the look's camera-frame z (positive in front of the sensor)."""
        t = self._rel_time(line)
        camera = np.einsum("nji,nj->ni", self._rotation(t), xyz - self._position(t))   # body -> camera
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = self.focal_length / camera[:, 2]
        dx, dy = self.distortion.apply(camera[:, 0] * scale, camera[:, 1] * scale, desired_precision=precision)
        return dx, dy, camera[:, 2]

    def _line_error(self, line: Array, xyz: Array) -> Array:
        """calcDetectorLineErr: the detector line (0 on the sensor's line) where the point appears."""
        dx, dy, _ = self._detector(line, xyz)
        tl = self.itrans_line
        return (tl[0] + tl[1] * dx + tl[2] * dy + self.center_line - self.starting_line) / self.line_summing

    def ground_to_image(self, xyz, precision: float = 0.001) -> tuple[Array, Array]:
        """(line, sample) of body-fixed points (N, 3) metres; NaN where the point is not imaged.

        usgscsm groundToImage for every point at once: from the projective first guess a secant search on the
        line (steps 0 and 0.1, at most 14 updates, until the detector line error is within ``precision``
        pixels), then the last detector line added and the sample read off the detector.
        """
        xyz = np.asarray(xyz, float).reshape(-1, 3)
        line0 = self._first_guess(xyz)
        with np.errstate(all="ignore"):
            t0, t1 = np.zeros(len(xyz)), np.full(len(xyz), 0.1)
            e0, e1 = self._line_error(line0, xyz), self._line_error(line0 + 0.1, xyz)
            active = np.abs(e1) > precision
            for _ in range(14):                      # while (|err| > precision && ++count < 15)
                active &= e1 != e0                   # "avoid division by 0"
                i = np.flatnonzero(active)
                if not len(i):
                    break
                t2 = t1[i] - e1[i] * (t1[i] - t0[i]) / (e1[i] - e0[i])
                e2 = self._line_error(line0[i] + t2, xyz[i])
                t0[i], e0[i], t1[i], e1[i] = t1[i], e1[i], t2, e2
                active[i] = np.abs(e2) > precision
            line = line0 + t1
            dx, dy, z = self._detector(line, xyz, precision)
            tl, ts = self.itrans_line, self.itrans_sample
            update = (tl[0] + tl[1] * dx + tl[2] * dy + self.center_line - self.starting_line) / self.line_summing
            sample = (ts[0] + ts[1] * dx + ts[2] * dy + self.center_sample - self.starting_sample) \
                / self.sample_summing
            line = line + update
        miss = ~(z * self._look_sign > 0) | ~(np.abs(update) <= 0.5)
        line[miss] = np.nan
        sample[miss] = np.nan
        return line, sample

    # --- the rest of the contract ---

    def image_time(self, line, sample) -> Array:
        """(N,) ephemeris time (seconds past J2000) of the lines' exposure centres."""
        return self.center_time + self._rel_time(self._points(line, sample)[0])

    def sensor_position(self, line, sample) -> Array:
        """(N, 3) body-fixed metres of the sensor when the lines were taken (getSensorPosition)."""
        return self._position(self._rel_time(self._points(line, sample)[0]))

    def sensor_velocity(self, line, sample) -> Array:
        """(N, 3) body-fixed metres per second (getSensorVelocity); NaN if the ISD has no velocities."""
        t = self._rel_time(self._points(line, sample)[0])
        return lagrange_interp(self._velocities, self._t0_ephem, self._dt_ephem, t, 8)

    def sun_position(self, line, sample) -> Array:
        """(N, 3) body-fixed metres of the sun when the lines were taken (getSunPosition, 8-point Lagrange)."""
        t = self._rel_time(self._points(line, sample)[0])
        return lagrange_interp(self._sun, self._t0_ephem, self._dt_ephem, t, 8)

    def ground_sample_distance(self) -> float:
        """Metres per pixel at the image centre: usgscsm's m_gsd, the ground length of the diagonal step from
        (lines / 2, samples / 2) to one line and one sample on, over sqrt(2)."""
        return self._gsd
