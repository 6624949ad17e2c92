"""The framing camera: a vectorised numpy port of usgscsm's ``UsgsAstroFrameSensorModel``.

Follows DOI-USGS/usgscsm src/UsgsAstroFrameSensorModel.cpp (``constructStateFromIsd``, ``imageToGround``,
``groundToImage``, ``imageToRemoteImagingLocus``, ``losEllipsoidIntersect``), src/Utilities.cpp
(``computeDistortedFocalPlaneCoordinates``, ``computePixel``, ``removeJitter``, ``addJitter``) and, for how the
ISD's J2000 states and rotations become body-fixed ones, DOI-USGS/ale src/Orientations.cpp and src/Rotation.cpp.

The whole image is taken at one instant: one sensor position and one sensor-to-body rotation, held as usgscsm's
seven ``parameters`` (x, y, z metres, then the quaternion x, y, z, w). Optional rolling-shutter jitter
(``isd["jitter"]``) moves each pixel by a polynomial of its line's exposure time.

Departures from usgscsm, all where it gives an answer the model contract calls a miss:
``image_to_ground`` returns NaN rows where the look misses the ellipsoid or meets it behind the camera (usgscsm
returns the point of the look nearest the surface and a warning, and for a look pointing away from the body
the point behind the camera where the line through it meets the surface; ``off_body="usgscsm"`` gives those);
``ground_to_image`` returns NaN for points behind the camera (usgscsm projects them through it);
``image_to_remote_imaging_locus`` removes jitter as ``image_to_ground`` does (usgscsm's locus ignores it).
"""
from __future__ import annotations

import numpy as np

from .distortion import distortion_from_isd
from .geometry import quaternion_matrices

Array = np.ndarray


# --- ALE rotations, quaternions (w, x, y, z) as the ISD stores them ------------------------------------------


def _qmul(a: Array, b: Array) -> Array:
    """Hamilton product a * b of (w, x, y, z) quaternions (Eigen's, which ALE uses)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw])


def _qinv(q: Array) -> Array:
    """Eigen ``Quaterniond::inverse``: the conjugate over the squared norm."""
    return np.array([q[0], -q[1], -q[2], -q[3]]) / np.dot(q, q)


def _qmatrix(q: Array) -> Array:
    """3x3 matrix of a (w, x, y, z) quaternion, taking a vector from the source frame to the destination."""
    return quaternion_matrices(np.array([q[1], q[2], q[3], q[0]]))[0]


def _qfrom_matrix(m: Array) -> Array:
    """(w, x, y, z) unit quaternion of a rotation matrix (Shepperd's method; sign is immaterial)."""
    tr = np.trace(m)
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k])
        q = [0.0, 0.0, 0.0, 0.0]
        q[0] = (m[k, j] - m[j, k]) / s
        q[1 + i], q[1 + j], q[1 + k] = 0.25 * s, (m[j, i] + m[i, j]) / s, (m[k, i] + m[i, k]) / s
    q = np.array(q)
    return q / np.linalg.norm(q)


class _Orientation:
    """One epoch of an ISD rotation block (ale::Orientations with a single time), J2000 -> frame."""

    def __init__(self, block: dict, constant_key: str):
        times = np.atleast_1d(np.asarray(block["ephemeris_times"], float))
        if len(times) != 1:
            # usgscsm: more than one epoch gives more than 4 quaternion values, "ISD is invalid"
            raise ValueError("a frame ISD needs exactly one instrument pointing and body rotation epoch, "
                             f"got {len(times)}")
        self.time = float(times[0])
        self.quat = np.asarray(block["quaternions"][0], float)
        avs = block.get("angular_velocities") or [[0.0, 0.0, 0.0]]
        self.av = np.asarray(avs[0], float)
        # ALE reads instrument_pointing's constant_rotation only when time_dependent_frames is present,
        # body_rotation's whenever it is there (ale src/Util.cpp getInstrumentPointing / getBodyRotation).
        rot = block.get("constant_rotation") if constant_key in block else None
        self.constant = _qfrom_matrix(np.asarray(rot, float).reshape(3, 3)) if rot is not None else \
            np.array([1.0, 0.0, 0.0, 0.0])

    def time_dependent(self, t: float) -> Array:
        """Orientations::interpolateTimeDep: one epoch turns about its angular velocity away from its time."""
        angle = (t - self.time) * np.linalg.norm(self.av)
        n = np.linalg.norm(self.av)
        axis = self.av / n if n > 0 else self.av           # Eigen's normalized() leaves a zero vector alone
        turn = np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis])
        return _qmul(turn, self.quat)

    def at(self, t: float) -> Array:
        """Orientations::interpolate: the constant rotation after the time-dependent one."""
        return _qmul(self.constant, self.time_dependent(t))

    def rotate_state(self, t: float, position: Array, velocity: Array) -> tuple[Array, Array]:
        """Orientations::rotateStateAt: position and velocity (with the frame's spin) into the frame."""
        m = _qmatrix(self.at(t))
        ax, ay, az = self.av
        skew = np.array([[0.0, az, -ay], [-az, 0.0, ax], [ay, -ax, 0.0]])
        return m @ position, m @ velocity + m @ skew @ position


def _first_state(block: dict, body: _Orientation) -> tuple[Array, Array, int]:
    """First state of an ISD position block rotated body-fixed, in metres (ALE gives km, usgscsm * 1000)."""
    times = np.atleast_1d(np.asarray(block["ephemeris_times"], float))
    pos = np.asarray(block["positions"], float).reshape(-1, 3)
    vel = np.asarray(block.get("velocities") or np.zeros_like(pos), float).reshape(-1, 3)
    p, v = body.rotate_state(float(times[0]), pos[0], vel[0])
    return p * 1000.0, v * 1000.0, len(times)


def _number(isd: dict, *path: str) -> float:
    """A numeric ISD value, or ValueError naming its key (ALE throws "Could not parse ..." there)."""
    value = isd
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"ISD {'.'.join(path)} must be a number, got {value!r}")
    return float(value)


# --- the model --------------------------------------------------------------------------------------------


class FrameSensorModel:
    """usgscsm's framing camera built from an ISD dict (``name_model`` USGS_ASTRO_FRAME_SENSOR_MODEL)."""

    def __init__(self, isd: dict):
        try:
            self._read(isd)
        except (KeyError, IndexError, TypeError) as exc:
            # usgscsm: "ISD is invalid for creating the sensor model"; name what was missing or malformed
            raise ValueError(f"not a usable frame ISD: {type(exc).__name__} {exc}") from exc

    def _read(self, isd: dict) -> None:
        """constructStateFromIsd: the state usgscsm keeps, from the ISD's ALE blocks."""
        body = _Orientation(isd["body_rotation"], "constant_rotation")
        pointing = _Orientation(isd["instrument_pointing"], "time_dependent_frames")
        if body.time != pointing.time:
            # usgscsm merges the two blocks' epochs: two distinct times make 8 quaternion values, "ISD is invalid"
            raise ValueError("a frame ISD's instrument pointing and body rotation must share their epoch")
        position, velocity, n = _first_state(isd["instrument_position"], body)
        if n != 1:
            raise ValueError(f"a frame ISD needs exactly one instrument position, got {n}")
        sun, _, _ = _first_state(isd["sun_position"], body)
        # sensor -> body = (J2000 -> body) * (J2000 -> sensor)^-1, at the shared epoch (constructStateFromIsd)
        q = _qmul(body.at(body.time), _qinv(pointing.at(pointing.time)))
        q = q / np.linalg.norm(q)

        self._parameters = np.concatenate([position, [q[1], q[2], q[3], q[0]]])   # usgscsm x, y, z, w
        self.velocity = velocity
        self._sun = sun
        self.isd = isd
        self.lines = int(_number(isd, "image_lines"))
        self.samples = int(_number(isd, "image_samples"))
        self.semi_major = _number(isd, "radii", "semimajor") * 1000.0   # usgscsm: ALE radii are km
        self.semi_minor = _number(isd, "radii", "semiminor") * 1000.0
        self.focal_length = _number(isd, "focal_length_model", "focal_length")
        self.center_time = _number(isd, "center_ephemeris_time")
        self.line_summing = int(_number(isd, "detector_line_summing"))    # ALE getLineSumming reads an int
        self.sample_summing = int(_number(isd, "detector_sample_summing"))
        self.starting_line = _number(isd, "starting_detector_line")
        self.starting_sample = _number(isd, "starting_detector_sample")
        self.center_line = _number(isd, "detector_center", "line")
        self.center_sample = _number(isd, "detector_center", "sample")
        self.itrans_line = np.asarray(isd["focal2pixel_lines"], float)
        self.itrans_sample = np.asarray(isd["focal2pixel_samples"], float)
        if self.line_summing == 0 or self.sample_summing == 0:
            raise ValueError("a detector summing of 0 maps every pixel to one detector position")
        self.distortion = distortion_from_isd(isd)
        jitter = isd.get("jitter")
        self._jitter = None if jitter is None else (
            np.asarray(jitter["lineJitterCoefficients"], float),
            np.asarray(jitter["sampleJitterCoefficients"], float),
            np.asarray(jitter["lineExposureTimes"], float))
        if self._jitter is not None and (len(self._jitter[0]) != len(self._jitter[1]) or not len(self._jitter[2])):
            raise ValueError("jitter coefficient vectors must be the same size and line times non-empty")

    # usgscsm's adjustable parameters: sensor x, y, z (metres) and the sensor-to-body quaternion x, y, z, w.
    @property
    def parameters(self) -> Array:
        """The seven usgscsm parameters; edit in place or assign to move or turn the camera."""
        return self._parameters

    @parameters.setter
    def parameters(self, values) -> None:
        values = np.asarray(values, float)
        if values.shape != (7,):
            raise ValueError("a frame camera has 7 parameters: x, y, z, qx, qy, qz, qw")
        self._parameters = values.copy()

    def _rotation(self) -> Array:
        """Sensor -> body-fixed matrix (usgscsm calcRotationMatrix normalises the quaternion)."""
        return quaternion_matrices(self._parameters[3:])[0]

    # --- pixels <-> focal plane (usgscsm Utilities.cpp) ---

    def _focal_plane(self, line: Array, sample: Array) -> tuple[Array, Array]:
        """computeDistortedFocalPlaneCoordinates: image (line, sample) -> distorted focal plane mm."""
        tl, ts = self.itrans_line, self.itrans_sample
        t1 = line * self.line_summing + self.starting_line - self.center_line - tl[0]
        t2 = sample * self.sample_summing + self.starting_sample - self.center_sample - ts[0]
        det = tl[1] * ts[2] - tl[2] * ts[1]
        return (ts[2] * t1 - tl[2] * t2) / det, (-ts[1] * t1 + tl[1] * t2) / det

    def _pixel(self, x: Array, y: Array) -> tuple[Array, Array]:
        """computePixel: distorted focal plane mm -> image (line, sample)."""
        tl, ts = self.itrans_line, self.itrans_sample
        sample = (ts[0] + ts[1] * x + ts[2] * y + self.center_sample - self.starting_sample) / self.sample_summing
        line = (tl[0] + tl[1] * x + tl[2] * y + self.center_line - self.starting_line) / self.line_summing
        return line, sample

    def _remove_jitter(self, line: Array, sample: Array) -> tuple[Array, Array]:
        """removeJitter: the polynomial (highest power first, no constant) of the line's exposure time."""
        if self._jitter is None:
            return line, sample
        lc, sc, times = self._jitter
        rounded = np.sign(line) * np.floor(np.abs(line) + 0.5)    # std::round: halves away from zero
        index = np.clip(np.nan_to_num(rounded), 1, len(times)).astype(np.int64) - 1
        t = times[index]
        powers = np.stack([t ** (len(lc) - n) for n in range(len(lc))])
        return line - lc @ powers, sample - sc @ powers

    def _add_jitter(self, line: Array, sample: Array, tolerance: float, max_its: int = 20
                    ) -> tuple[Array, Array]:
        """addJitter: fixed-point iteration until removing the jitter gives back the point, per point."""
        if self._jitter is None:
            return line, sample
        cur_l, cur_s = line.copy(), sample.copy()
        active = np.isfinite(line) & np.isfinite(sample)
        for _ in range(max_its):
            dl, ds = self._remove_jitter(cur_l[active], cur_s[active])
            done = (np.abs(dl - line[active]) < tolerance) & (np.abs(ds - sample[active]) < tolerance)
            idx = np.flatnonzero(active)
            move = idx[~done]
            cur_l[move] = line[move] + cur_l[move] - dl[~done]
            cur_s[move] = sample[move] + cur_s[move] - ds[~done]
            active[idx[done]] = False
            if not active.any():
                break
        return cur_l, cur_s

    # --- the contract ---

    def _look(self, line, sample) -> Array:
        """(N, 3) body-fixed look vectors (not unit) of image points, jitter and distortion removed."""
        line = np.atleast_1d(np.asarray(line, float))
        sample = np.atleast_1d(np.asarray(sample, float))
        line, sample = np.broadcast_arrays(line, sample)
        line, sample = self._remove_jitter(line.ravel(), sample.ravel())
        x, y = self._focal_plane(line, sample)
        ux, uy = self.distortion.remove(x, y)
        camera = np.column_stack([ux, uy, np.full_like(ux, self.focal_length)])
        return camera @ self._rotation().T

    def image_to_remote_imaging_locus(self, line, sample) -> tuple[Array, Array]:
        """(origin (N, 3), unit direction (N, 3)) of the look through image points."""
        look = self._look(line, sample)
        direction = look / np.linalg.norm(look, axis=1)[:, None]
        return np.tile(self._parameters[:3], (len(look), 1)), direction

    def image_to_ground(self, line, sample, height=0.0, *, off_body: str = "nan") -> Array:
        """(N, 3) body-fixed metres where image points' looks meet the ellipsoid raised by ``height`` metres.

        NaN rows where a look misses or meets the surface only behind the camera; ``off_body="usgscsm"``
        returns usgscsm's answer there instead: the point of the line nearest the surface (the quadratic's
        discriminant clamped to 0), or its nearer meeting behind the camera.
        """
        look = self._look(line, sample)
        origin = self._parameters[:3]
        h = np.broadcast_to(np.asarray(height, float), (len(look),))
        # losEllipsoidIntersect, in usgscsm's own arithmetic (z scaled by (a/b)^2) so that far-off cameras
        # (its X1e9 test) round as it does.
        ap, bp = self.semi_major + h, self.semi_minor + h
        k = ap * ap / (bp * bp)
        xl, yl, zl = look.T
        xc, yc, zc = origin
        at = xl * xl + yl * yl + k * zl * zl
        bt = 2.0 * (xl * xc + yl * yc + k * zl * zc)
        ct = xc * xc + yc * yc + k * zc * zc - ap * ap
        quad = bt * bt - 4.0 * at * ct
        scale = (-bt - np.sqrt(np.maximum(quad, 0.0))) / (2.0 * at)
        ground = origin + scale[:, None] * look
        if off_body == "usgscsm":
            return ground
        if off_body != "nan":
            raise ValueError("off_body is 'nan' or 'usgscsm'")
        ground[(quad < 0) | ~(scale >= 0)] = np.nan   # a camera on the surface sees itself (X10 test)
        return ground

    def ground_to_image(self, xyz, precision: float = 0.001) -> tuple[Array, Array]:
        """(line, sample) of body-fixed points (N, 3) metres; NaN for points behind the camera.

        ``precision`` (pixels) is the tolerance of the jitter iteration; without jitter the answer is exact.
        """
        xyz = np.atleast_2d(np.asarray(xyz, float))
        camera = (xyz - self._parameters[:3]) @ self._rotation()   # body -> sensor is the transpose
        with np.errstate(divide="ignore", invalid="ignore"):
            ux = self.focal_length * camera[:, 0] / camera[:, 2]
            uy = self.focal_length * camera[:, 1] / camera[:, 2]
        behind = ~(camera[:, 2] > 0)
        ux[behind] = np.nan
        uy[behind] = np.nan
        dx, dy = self.distortion.apply(ux, uy)
        line, sample = self._pixel(np.asarray(dx, float), np.asarray(dy, float))
        return self._add_jitter(line, sample, precision)

    def _count(self, line, sample) -> int:
        return np.broadcast(np.atleast_1d(line), np.atleast_1d(sample)).size

    def image_time(self, line, sample) -> Array:
        """(N,) ephemeris time: the whole frame at the ISD's centre time (usgscsm's reference time)."""
        return np.full(self._count(line, sample), self.center_time)

    def sensor_position(self, line, sample) -> Array:
        """(N, 3) body-fixed metres: the one camera position, wherever the pixel (usgscsm does not check)."""
        return np.tile(self._parameters[:3], (self._count(line, sample), 1))

    def sun_position(self, line, sample) -> Array:
        """(N, 3) body-fixed metres: the ISD's first sun position (usgscsm getIlluminationDirection uses it)."""
        return np.tile(self._sun, (self._count(line, sample), 1))

    def ground_sample_distance(self) -> float:
        """Metres per pixel at the image centre: mean ground length of one line and one sample step there.

        NaN when the centre's look misses the body.
        """
        cl, cs = self.lines / 2.0, self.samples / 2.0
        g = self.image_to_ground([cl, cl + 1.0, cl], [cs, cs, cs + 1.0])
        return float(0.5 * (np.linalg.norm(g[1] - g[0]) + np.linalg.norm(g[2] - g[0])))
