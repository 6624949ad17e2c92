"""usgscsm's push-frame sensor model, a vectorised numpy port (DOI-USGS/usgscsm at ba32d13b).

Follows ``src/UsgsAstroPushFrameSensorModel.cpp``: the image is a stack of framelets, each a short frame exposure
taken ``interframe_delay`` seconds after the previous one; ``framelet_height`` lines per framelet (less
``num_lines_overlap``, half trimmed from the top and the bottom), optionally flipped within the framelet and
stored in reversed time order. Image -> ground uses the framelet's time (``getImageTime``: the middle of that
framelet's exposure) and the line within the framelet as a frame camera would; ground -> image is usgscsm's
secant search over framelet numbers for the framelet whose centre is closest to the point, then the frame
projection into it.

The ISD is read as usgscsm's ``constructStateFromIsd`` does through ALE (``ale::States`` cubic-Hermite
positions, ``ale::Orientations`` SLERP rotations, inverse and product, resampled on uniform time grids), with the
line-scan module's vectorised port of those ALE classes. Times inside the model are seconds from the image's centre
time, as usgscsm keeps them; :meth:`PushFrameSensorModel.image_time` returns ephemeris time.

One deliberate difference: usgscsm's groundToImage ignores ``framelets_flipped`` (its losToEcf flips, with a
"TODO ... Need a testcase"), so for flipped framelets its ground -> image does not invert its image -> ground.
Here ground -> image applies the same flip, so the two invert each other (unflipped ISDs are unaffected).
"""
from __future__ import annotations

import numpy as np

from .ale_states import Orientations, qinv, qmul  # ALE Orientations, vectorised
from .distortion import distortion_from_isd
from .geometry import ellipsoid_height, quaternion_matrices
from .sar import _require, body_fixed_states, lagrange_interp


class PushFrameSensorModel:
    """USGS_ASTRO_PUSH_FRAME_SENSOR_MODEL from an ISD dict (see the package docstring for the contract)."""

    def __init__(self, isd: dict) -> None:
        _require(isd, ("image_lines", "image_samples", "radii", "center_ephemeris_time",
                       "starting_ephemeris_time", "focal_length_model", "focal2pixel_lines",
                       "focal2pixel_samples", "detector_center", "instrument_position", "instrument_pointing",
                       "body_rotation", "sun_position"), "push frame")
        try:    # usgscsm: "Could not parse the framelet timing information / geometry"
            self.exposure_duration = float(isd["exposure_duration"])
            self.interframe_delay = float(isd["interframe_delay"])
            self.framelet_height = int(isd["framelet_height"])
            self.framelets_flipped = bool(isd["framelets_flipped"])
            self.framelets_reversed = bool(isd["framelet_order_reversed"])
        except KeyError as exc:
            raise ValueError(f"push frame ISD lacks {exc.args[0]!r}") from None
        self.overlap = int(isd.get("num_lines_overlap", 0))
        if self.overlap % 2:
            raise ValueError("num_lines_overlap must be even (half is trimmed from each framelet end)")
        self.center_time = float(isd["center_ephemeris_time"])
        self.starting_time = float(isd["starting_ephemeris_time"])
        n_lines, self.samples = int(isd["image_lines"]), int(isd["image_samples"])
        self.reduced_height = self.framelet_height - self.overlap
        self.lines = (n_lines // self.framelet_height) * self.reduced_height     # usgscsm m_nReducedLines
        self.line_summing = float(isd.get("detector_line_summing", 1))
        self.sample_summing = float(isd.get("detector_sample_summing", 1))
        # summed framelet height: C++ int of a double quotient
        self.summed_height = int(self.reduced_height / self.line_summing)
        self.n_framelets = self.lines // self.summed_height
        self.starting_line = float(isd.get("starting_detector_line", 0.0))
        self.starting_sample = float(isd.get("starting_detector_sample", 0.0))
        self.line_origin = float(isd["detector_center"]["line"])
        self.sample_origin = float(isd["detector_center"]["sample"])
        self.itrans_l = np.asarray(isd["focal2pixel_lines"], float)
        self.itrans_s = np.asarray(isd["focal2pixel_samples"], float)
        self.focal_length = float(isd["focal_length_model"]["focal_length"])
        self.distortion = distortion_from_isd(isd)
        self.semi_major = float(isd["radii"]["semimajor"]) * 1000.0
        self.semi_minor = float(isd["radii"]["semiminor"]) * 1000.0

        # usgscsm: at least 25 uniformly spaced ephemeris nodes, times relative to the centre time
        t = np.asarray(isd["instrument_position"]["ephemeris_times"], float).ravel()
        nodes = max(len(t), 25)
        step = (t[-1] - t[0]) / (nodes - 1)
        times = t[0] + np.arange(nodes) * step
        self.t0_ephem, self.dt_ephem = t[0] - self.center_time, step
        self.positions, self.velocities = body_fixed_states(isd, "instrument_position", times)
        self.sun_positions, self.sun_velocities = body_fixed_states(isd, "sun_position", times)
        # sensor -> body: (J2000 -> body) * (J2000 -> sensor)^-1 on the union of both tables' times (ALE
        # Orientations inverse and operator*), slerped onto as many uniform times; stored x, y, z, w
        body = Orientations.from_isd(isd["body_rotation"], "constant_rotation")
        point = Orientations.from_isd(isd["instrument_pointing"], "time_dependent_frames")
        inverse = Orientations(qmul(qinv(point.q), qinv(point.constant)), point.times, None, np.eye(4)[0])
        merged = np.unique(np.concatenate([body.times, point.times]))
        stored = qmul(qmul(qinv(body.constant), body.at(merged)), inverse.at(merged))
        self.dt_quat = (merged[-1] - merged[0]) / (len(merged) - 1) if len(merged) > 1 else 0.0
        self.t0_quat = merged[0] - self.center_time
        q = Orientations(stored, merged, None, body.constant).at(merged[0] + np.arange(len(merged)) * self.dt_quat)
        self.quaternions = (q / np.linalg.norm(q, axis=1)[:, None])[:, [1, 2, 3, 0]]
        if len(merged) < 2:
            raise ValueError("push frame ISD: usgscsm's Lagrange interpolation needs at least 2 rotations")
        # Which way losToEcf's vector points differs between ISDs (usgscsm's intersection takes either root):
        # +1 when it points away from the body at the image centre (ALE's ISDs), -1 when towards it.
        _, pos, look = self._look(self.lines / 2.0, self.samples / 2.0)
        self._away = 1.0 if np.dot(look[0], pos[0]) > 0 else -1.0
        centre = self.image_to_ground(np.array([self.lines / 2.0, self.lines / 2.0 + 1]),
                                      np.array([self.samples / 2.0, self.samples / 2.0 + 1]))
        self._gsd = float(np.sqrt(np.sum((centre[1] - centre[0]) ** 2) / 2.0))     # usgscsm updateState m_gsd

    # --- time and trajectory ------------------------------------------------------------------------------------
    def _framelet_time(self, framelet: np.ndarray) -> np.ndarray:
        """Seconds from the centre time of framelet ``framelet`` (image order) mid-exposure (getImageTime)."""
        if self.framelets_reversed:
            framelet = self.n_framelets - framelet - 1
        return (self.starting_time + 0.5 * self.exposure_duration + framelet * self.interframe_delay
                - self.center_time)

    def _relative_time(self, line) -> np.ndarray:
        line = np.atleast_1d(np.asarray(line, float))
        with np.errstate(invalid="ignore"):     # int() truncates towards zero, like the C++ int conversion
            framelet = np.trunc(line / self.summed_height)
        return self._framelet_time(framelet)

    def image_time(self, line, sample=None) -> np.ndarray:
        """Ephemeris time at which image ``line`` was exposed (its framelet's mid-exposure)."""
        return self._relative_time(line) + self.center_time

    def _pos_vel(self, rel_time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (lagrange_interp(self.positions, self.t0_ephem, self.dt_ephem, rel_time, 8),
                lagrange_interp(self.velocities, self.t0_ephem, self.dt_ephem, rel_time, 8))

    def _camera_to_body(self, rel_time: np.ndarray) -> np.ndarray:
        return quaternion_matrices(lagrange_interp(self.quaternions, self.t0_quat, self.dt_quat, rel_time, 8))

    def sensor_position(self, line, sample=None) -> np.ndarray:
        return self._pos_vel(self._relative_time(line))[0]

    def sensor_velocity(self, line, sample=None) -> np.ndarray:
        return self._pos_vel(self._relative_time(line))[1]

    def sun_position_at(self, rel_time) -> np.ndarray:
        """usgscsm getSunPosition at ``rel_time`` seconds from the centre time (its three cases)."""
        t = np.atleast_1d(np.asarray(rel_time, float))
        sun, vel = np.atleast_2d(self.sun_positions), np.atleast_2d(self.sun_velocities)
        if len(sun) > 1:
            return lagrange_interp(sun, self.t0_ephem, self.dt_ephem, t, 8)
        if vel.size >= 3:
            return sun[0] + t[:, None] * vel[0]
        return np.repeat(sun[:1], len(t), axis=0)

    def sun_position(self, line, sample=None) -> np.ndarray:
        return self.sun_position_at(self._relative_time(line))

    def ground_sample_distance(self) -> float:
        """Metres per pixel at the image centre (usgscsm updateState's m_gsd)."""
        return self._gsd

    # --- image -> ground ----------------------------------------------------------------------------------------
    def _look(self, line, sample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(relative time, sensor position, body-fixed look vector as usgscsm losToEcf computes it)."""
        line, sample = np.broadcast_arrays(np.atleast_1d(np.asarray(line, float)),
                                           np.atleast_1d(np.asarray(sample, float)))
        t = self._relative_time(line)
        pos = self._pos_vel(t)[0]
        fl = np.fmod(line, self.summed_height)      # C fmod: the sign of the dividend
        if self.framelets_flipped:
            fl = self.summed_height - fl
        fl = fl + self.overlap // 2
        # computeDistortedFocalPlaneCoordinates
        det_line = fl * self.line_summing + self.starting_line
        det_samp = sample * self.sample_summing + self.starting_sample
        m11, m12, m21, m22 = self.itrans_l[1], self.itrans_l[2], self.itrans_s[1], self.itrans_s[2]
        t1 = det_line - self.line_origin - self.itrans_l[0]
        t2 = det_samp - self.sample_origin - self.itrans_s[0]
        det = m11 * m22 - m12 * m21
        dx, dy = (m22 * t1 - m12 * t2) / det, (-m21 * t1 + m11 * t2) / det
        ux, uy = self.distortion.remove(dx, dy)
        cam = np.column_stack([-ux, -uy, np.full_like(ux, -self.focal_length)])
        cam /= np.linalg.norm(cam, axis=1)[:, None]
        look = np.einsum("nij,nj->ni", self._camera_to_body(t), cam)
        return t, pos, look

    def image_to_remote_imaging_locus(self, line, sample) -> tuple[np.ndarray, np.ndarray]:
        """The sensor and the unit look towards the scene.

        usgscsm negates losToEcf's vector here, right for ALE's ISDs; but for some (usgscsm's orbitalPushFrame
        test ISD) that vector already points at the body, and usgscsm's intersection takes either root. So the
        look is turned the way the image centre's look meets the body.
        """
        _, pos, look = self._look(line, sample)
        return pos, -self._away * look / np.linalg.norm(look, axis=1)[:, None]

    def image_to_ground(self, line, sample, height=0.0) -> np.ndarray:
        """usgscsm losEllipsoidIntersect: the root of smaller magnitude on the look's line (either sign, as the
        look's sign varies between ISDs); NaN where the line misses (usgscsm returns its closest point)."""
        _, pos, look = self._look(line, sample)
        h = np.broadcast_to(np.asarray(height, float), (len(pos),))
        ap, bp = self.semi_major + h, self.semi_minor + h
        k = ap * ap / (bp * bp)
        xl, yl, zl = look.T
        xc, yc, zc = pos.T
        at = xl * xl + yl * yl + k * zl * zl
        bt = 2.0 * (xl * xc + yl * yc + k * zl * zc)
        ct = xc * xc + yc * yc + k * zc * zc - ap * ap
        quad = bt * bt - 4.0 * at * ct
        with np.errstate(invalid="ignore"):
            s = np.sqrt(quad)                       # usgscsm clamps a negative quadTerm to 0; a miss here
        scale = np.where(np.abs(-bt + s) < np.abs(-bt - s), -bt + s, -bt - s) / (2.0 * at)
        scale = np.where(quad >= 0, scale, np.nan)
        return pos + scale[:, None] * look

    # --- ground -> image ----------------------------------------------------------------------------------------
    def _detector_view(self, rel_time: np.ndarray, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Undistorted focal plane (mm) of ``xyz`` seen at ``rel_time`` (usgscsm computeDetectorView), and the
        camera-frame z of the point's direction (its sign is ``_away``'s for points in front)."""
        pos = self._pos_vel(rel_time)[0]
        cam = np.einsum("nji,nj->ni", self._camera_to_body(rel_time), xyz - pos)    # transpose: body -> camera
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = self.focal_length / cam[:, 2]
        return cam[:, 0] * scale, cam[:, 1] * scale, cam[:, 2]

    def _framelet_line(self, fx: np.ndarray, fy: np.ndarray) -> np.ndarray:
        """Line within a framelet of focal plane (fx, fy), flipped back for flipped framelets."""
        det_line = self.itrans_l[0] + self.itrans_l[1] * fx + self.itrans_l[2] * fy
        line = (det_line + self.line_origin - self.starting_line) / self.line_summing - self.overlap // 2
        return self.summed_height - line if self.framelets_flipped else line

    def _framelet_pixel(self, framelet: np.ndarray, xyz: np.ndarray, precision: float = 0.001):
        """(line within the framelet, sample, camera z) of ``xyz`` seen by framelet ``framelet``, through the
        lens distortion (an off-axis framelet's distorted and undistorted lines differ by several lines)."""
        t = self._relative_time(0.5 + self.summed_height * framelet)
        ux, uy, z = self._detector_view(t, xyz)
        fx, fy = self.distortion.apply(ux, uy, precision)
        det_samp = self.itrans_s[0] + self.itrans_s[1] * fx + self.itrans_s[2] * fy
        sample = (det_samp + self.sample_origin - self.starting_sample) / self.sample_summing
        return self._framelet_line(fx, fy), sample, z

    def _frame_distance(self, framelet: np.ndarray, xyz: np.ndarray) -> np.ndarray:
        """usgscsm calcFrameDistance: the point's line in that framelet minus the framelet's middle line (here
        through the distortion, so that the framelet found is the one whose pixels see the point)."""
        return self._framelet_pixel(framelet, xyz)[0] - self.summed_height / 2.0

    def ground_to_image(self, xyz, precision: float = 0.001) -> tuple[np.ndarray, np.ndarray]:
        xyz = np.atleast_2d(np.asarray(xyz, float))
        n = len(xyz)
        # usgscsm's secant search over framelet numbers, every point at once
        start = np.zeros(n)
        end = np.full(n, float(self.n_framelets - 1))
        d_start, d_end = self._frame_distance(start, xyz), self._frame_distance(end, xyz)
        active = np.ones(n, bool)
        for _ in range(20):
            with np.errstate(divide="ignore", invalid="ignore"):
                active &= (start != end) & (d_start != d_end) & np.isfinite(d_end)
                if not active.any():
                    break
                offset = d_end * (end - start) / (d_end - d_start)
            guess = np.where(active, end - offset, end)
            new_end = np.clip(np.sign(guess) * np.floor(np.abs(guess) + 0.5), 0, self.n_framelets)  # std::round
            start, d_start = np.where(active, end, start), np.where(active, d_end, d_start)
            end = np.where(active, new_end, end)
            d_end = np.where(active, self._frame_distance(end, xyz), d_end)
        # The secant lands on the framelet or a neighbour: of the three, the one whose pixels hold the point
        # (line within the framelet), nearest its middle where framelets overlap on the ground.
        best_line = np.full(n, np.nan)
        best_sample = np.full(n, np.nan)
        best_z = np.full(n, np.nan)
        best_cost = np.full(n, np.inf)
        for step in (0.0, -1.0, 1.0):
            framelet = np.clip(end + step, 0, self.n_framelets - 1)
            line_in, sample, z = self._framelet_pixel(framelet, xyz, precision)
            inside = (line_in >= 0) & (line_in <= self.summed_height)
            cost = np.where(inside, np.abs(line_in - self.summed_height / 2.0), np.inf)
            if step == 0.0:            # usgscsm's answer stands when no framelet holds the point
                cost = np.where(np.isfinite(cost), cost, 1e300)
            better = cost < best_cost
            best_cost = np.where(better, cost, best_cost)
            best_line = np.where(better, line_in + framelet * self.summed_height, best_line)
            best_sample = np.where(better, sample, best_sample)
            best_z = np.where(better, z, best_z)
        bad = ~np.all(np.isfinite(xyz), axis=1) | ~(best_z * self._away > 0)   # behind the sensor: not imaged
        return np.where(bad, np.nan, best_line), np.where(bad, np.nan, best_sample)

    def ellipsoid_height(self, xyz) -> np.ndarray:
        return ellipsoid_height(xyz, self.semi_major, self.semi_minor)
