"""ALE's states and orientations, vectorised: how an ISD's J2000 tables become body-fixed ones.

What usgscsm does through ALE's C++ when it builds a model from an ISD (DOI-USGS/ale c5b078f8):
src/States.cpp (``getState`` with SPLINE: a cubic Hermite between the two neighbouring states), src/Orientations.cpp
(``interpolate``, ``rotateStateAt``, ``inverse``, ``operator*``), src/Rotation.cpp (Eigen's slerp and products)
and src/InterpUtils.cpp. Quaternions are ALE's (w, x, y, z). Shared by the line-scan, push-frame and SAR models.
"""
from __future__ import annotations

import numpy as np

Array = np.ndarray


# --- ALE quaternions (w, x, y, z), vectorised over a leading axis -------------------------------------------

def qmul(a: Array, b: Array) -> Array:
    """Hamilton products a * b of (..., 4) quaternions (Eigen's)."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def qinv(q: Array) -> Array:
    """Eigen ``inverse``: the conjugate over the squared norm."""
    return q * np.array([1.0, -1.0, -1.0, -1.0]) / np.sum(q * q, axis=-1, keepdims=True)


def qmatrices(q: Array) -> Array:
    """(N, 3, 3) Eigen ``toRotationMatrix`` of (N, 4) quaternions (unit ones assumed, as Eigen does)."""
    w, x, y, z = q.T
    return np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
                     2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
                     2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], axis=-1).reshape(-1, 3, 3)


def qfrom_matrix(m: Array) -> Array:
    """Eigen ``Quaterniond(Matrix3)`` (then normalised, as ale::Rotation does) of one rotation matrix."""
    tr = np.trace(m)
    q = np.zeros(4)
    if tr > 0:
        t = np.sqrt(tr + 1.0)
        q[0] = 0.5 * t
        t = 0.5 / t
        q[1:] = [(m[2, 1] - m[1, 2]) * t, (m[0, 2] - m[2, 0]) * t, (m[1, 0] - m[0, 1]) * t]
    else:
        i = 0 if m[1, 1] <= m[0, 0] else 1
        i = 2 if m[2, 2] > m[i, i] else i
        j, k = (i + 1) % 3, (i + 2) % 3
        t = np.sqrt(m[i, i] - m[j, j] - m[k, k] + 1.0)
        q[1 + i] = 0.5 * t
        t = 0.5 / t
        q[0], q[1 + j], q[1 + k] = (m[k, j] - m[j, k]) * t, (m[j, i] + m[i, j]) * t, (m[k, i] + m[i, k]) * t
    return q / np.linalg.norm(q)


def slerp(a: Array, b: Array, t: Array) -> Array:
    """Eigen ``Quaternion::slerp`` per row: shortest arc, linear weights when the two nearly coincide."""
    d = np.sum(a * b, axis=-1)
    absd = np.abs(d)
    near = absd >= 1.0 - np.finfo(float).eps
    theta = np.arccos(np.minimum(absd, 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        s0 = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / np.sin(theta))
        s1 = np.where(near, t, np.sin(t * theta) / np.sin(theta))
    s1 = np.where(d < 0, -s1, s1)
    return s0[:, None] * a + s1[:, None] * b


def interval(times: Array, t: Array) -> Array:
    """ale ``interpolationIndex``: the left end of the interval holding t, clamped to the first and last."""
    return np.clip(np.searchsorted(times, t, side="right") - 1, 0, max(len(times) - 2, 0))


class Orientations:
    """ale::Orientations: rotations J2000 -> frame at times, angular velocities, a constant rotation after."""

    def __init__(self, quats: Array, times: Array, avs: Array | None, constant: Array):
        self.q, self.times, self.avs, self.constant = quats, times, avs, constant

    @classmethod
    def from_isd(cls, block: dict, constant_key: str) -> "Orientations":
        avs = block.get("angular_velocities")            # ALE reads a JSON null as no angular velocities
        # ALE reads instrument_pointing's constant_rotation only when time_dependent_frames is present,
        # body_rotation's whenever it is there (ale src/Util.cpp getInstrumentPointing / getBodyRotation).
        rot = block.get("constant_rotation") if constant_key in block else None
        constant = qfrom_matrix(np.asarray(rot, float).reshape(3, 3)) if rot is not None else np.eye(4)[0]
        return cls(np.asarray(block["quaternions"], float).reshape(-1, 4),
                   np.asarray(block["ephemeris_times"], float).ravel(),
                   np.asarray(avs, float).reshape(-1, 3) if avs else None, constant)

    def time_dependent(self, t: Array) -> Array:
        if len(self.times) > 1:
            i = interval(self.times, t)
            frac = (t - self.times[i]) / (self.times[i + 1] - self.times[i])
            return slerp(self.q[i], self.q[i + 1], frac)
        if self.avs is None:
            return np.tile(self.q[0], (len(t), 1))
        av = self.avs[0]                                  # one epoch turns about its angular velocity
        norm = np.linalg.norm(av)
        half = 0.5 * (t - self.times[0]) * norm
        axis = av / norm if norm > 0 else av
        return qmul(np.column_stack([np.cos(half), np.sin(half)[:, None] * axis]), self.q[0])

    def at(self, t: Array) -> Array:
        return qmul(self.constant, self.time_dependent(t))

    def angular_velocity(self, t: Array) -> Array:
        if self.avs is None:
            return np.zeros((len(t), 3))
        if len(self.avs) == 1:
            return np.tile(self.avs[0], (len(t), 1))
        i = interval(self.times, t)
        frac = ((t - self.times[i]) / (self.times[i + 1] - self.times[i]))[:, None]
        return self.avs[i] + frac * (self.avs[i + 1] - self.avs[i])

    def rotate_states(self, t: Array, pos: Array, vel: Array) -> tuple[Array, Array]:
        """rotateStateAt: R p and R v + R [av]' p, [av]' ALE's skew matrix (p x av)."""
        m = qmatrices(self.at(t))
        spin = np.cross(pos, self.angular_velocity(t))
        return np.einsum("nij,nj->ni", m, pos), np.einsum("nij,nj->ni", m, vel + spin)


def states(block: dict, t: Array) -> tuple[Array, Array]:
    """ale States::getState(t, SPLINE) for many t: positions and velocities in the block's frame and unit.

    With velocities, a cubic Hermite between the neighbouring states (times shifted to the 8-state window's
    middle, as ALE does); without, ALE's 4-point Lagrange on the positions and NaN velocities.
    """
    times = np.asarray(block["ephemeris_times"], float).ravel()
    pos = np.asarray(block["positions"], float).reshape(-1, 3)
    has_vel = block.get("velocities") is not None
    vel = np.asarray(block["velocities"], float).reshape(-1, 3) if has_vel else np.full_like(pos, np.nan)
    n = len(times)
    if n == 1:
        dt = (t - times[0])[:, None]
        return (pos[0] + vel[0] * dt, np.tile(vel[0], (len(t), 1))) if has_vel else \
            (np.tile(pos[0], (len(t), 1)), np.tile(vel[0], (len(t), 1)))
    lb = interval(times, t)
    start, stop = np.maximum(lb - 3, 0), np.minimum(lb + 4, n - 1)
    if has_vel:
        base = (times[start] + times[stop]) / 2
        x0, x1 = times[lb] - base, times[lb + 1] - base
        h = (x1 - x0)[:, None]
        u = ((t - base - x0) / (x1 - x0))[:, None]
        y0, y1, m0, m1 = pos[lb], pos[lb + 1], vel[lb], vel[lb + 1]
        p = ((2 * u ** 3 - 3 * u ** 2 + 1) * y0 + (u ** 3 - 2 * u ** 2 + u) * h * m0
             + (-2 * u ** 3 + 3 * u ** 2) * y1 + (u ** 3 - u ** 2) * h * m1)
        v = ((6 * u ** 2 - 6 * u) * y0 + (3 * u ** 2 - 4 * u + 1) * h * m0 + (-6 * u ** 2 + 6 * u) * y1
             + (3 * u ** 2 - 2 * u) * h * m1) / h
    else:
        half = np.minimum(np.minimum(lb - start + 1, stop - lb), 2)    # ALE lagrangeInterpolate, order 4
        p, v = np.empty((len(t), 3)), np.full((len(t), 3), np.nan)
        for w in (1, 2):
            sel = half == w
            nodes = lb[sel, None] + np.arange(-w + 1, w + 1)[None, :]
            tn, ts = times[nodes], t[sel, None]
            weights = np.ones(nodes.shape)
            for j in range(2 * w):
                other = np.arange(2 * w) != j
                weights[:, j] = np.prod((ts - tn[:, other]) / (tn[:, j:j + 1] - tn[:, other]), axis=1)
            p[sel] = np.einsum("nk,nkc->nc", weights, pos[nodes])
    exact = np.minimum(np.searchsorted(times, t, side="left"), n - 1)   # a time in the table is not interpolated
    hit = times[exact] == t
    p[hit], v[hit] = pos[exact[hit]], vel[exact[hit]]
    return p, v


# --- the model --------------------------------------------------------------------------------------------
