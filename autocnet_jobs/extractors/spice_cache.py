"""Rotations and positions from a cube's SPICE tables, as plain dicts, evaluated at any time.

ISIS ``spiceinit`` stores two forms (isis/src/base/objs/SpiceRotation, SpicePosition):

* **cache**: records of (quaternion [, angular velocity], ET) or (position [, velocity], ET). Line-scan cubes
  carry a *reduced* cache (a handful of records for thousands of lines), so values between records are
  interpolated: rotations by quaternion slerp (what ISIS's axis-angle interpolation amounts to), positions by
  cubic Hermite spline where velocities are given (``CacheType = HermiteSpline``), else linearly.
* **polynomial** (``PolyFunction``, written by jigsaw/spicefit): coefficient records (``J2000Ang1..3`` or
  ``J2000SVX..Z``) and a last record holding (base time, time scale, degree); t = (ET - base) / scale.
  Rotation angles are Euler angles about axes 3, 1, 3 (ISIS's default), in radians.

Frames (the rotation tables' keywords): the quaternions rotate J2000 into ``TimeDependentFrames[0]``; when
``ConstantFrames`` is present, ``ConstantRotation`` (row-major 3x3) then rotates that frame into
``ConstantFrames[0]``, the instrument (or body-fixed) frame. So J2000 -> frame = C @ q2m(q).

The dict forms follow ALE's image support data where ALE has a name for the thing (``ephemeris_times``,
``quaternions`` in ALE's [x, y, z, w] order, ``angular_velocities``, ``positions``, ``velocities``,
``time_dependent_frames``, ``constant_frames``, ``constant_rotation``, ``reference_frame``); positions are
what ISIS stores: km, J2000, relative to the target's centre.
"""
from __future__ import annotations

import numpy as np

from ..errors import CameraDataError
from .isis_tables import Table, numbers

_QUAT = ("J2000Q0", "J2000Q1", "J2000Q2", "J2000Q3")
_AV = ("AV1", "AV2", "AV3")
_ANGLES = ("J2000Ang1", "J2000Ang2", "J2000Ang3")
_POS = ("J2000X", "J2000Y", "J2000Z")
_VEL = ("J2000XV", "J2000YV", "J2000ZV")
_POLY_POS = ("J2000SVX", "J2000SVY", "J2000SVZ")


def _has(table: Table, names) -> bool:
    return all(n in table.columns for n in names)


def _times(table: Table) -> list[float]:
    """The cache's ET column; interpolation needs it strictly increasing."""
    et = table.columns["ET"]
    if np.any(np.diff(et) <= 0):
        raise CameraDataError(f"table {table.name}: ephemeris times are not increasing")
    return et.tolist()


def _frames(table: Table) -> dict:
    out = {"time_dependent_frames": [int(v) for v in numbers(table.get("TimeDependentFrames"))],
           "reference_frame": 1}
    constant = [int(v) for v in numbers(table.get("ConstantFrames"))]
    if constant:
        rotation = numbers(table.get("ConstantRotation"))
        if len(rotation) != 9:
            raise CameraDataError(f"table {table.name}: ConstantRotation has {len(rotation)} values, not 9")
        out["constant_frames"] = constant
        out["constant_rotation"] = rotation
    return out


def _polynomial(table: Table, names) -> dict:
    if table.records < 2:
        raise CameraDataError(f"table {table.name}: a polynomial needs coefficient records and a time record")
    coeffs = [table.columns[n][:-1].tolist() for n in names]
    base, scale, degree = (float(table.columns[n][-1]) for n in names)
    if scale == 0 or int(degree) + 1 > len(coeffs[0]):
        raise CameraDataError(f"table {table.name}: polynomial time record (base {base}, scale {scale}, "
                              f"degree {degree}) does not fit its {len(coeffs[0])} coefficient records")
    return {"base_time": base, "time_scale": scale, "coefficients": [c[: int(degree) + 1] for c in coeffs]}


def rotation_isd(table: Table) -> dict:
    """The rotation table ``table`` (InstrumentPointing, BodyRotation) as a plain dict."""
    out = _frames(table)
    if _has(table, _QUAT) and "ET" in table.columns:
        q = np.column_stack([table.columns[n] for n in _QUAT])            # SPICE order: w, x, y, z
        norms = np.linalg.norm(q, axis=1)
        if np.any(np.abs(norms - 1.0) > 1e-3):
            raise CameraDataError(f"table {table.name}: quaternions are not unit length (norms {norms.min():.4g}"
                                  f"..{norms.max():.4g}); the table is garbled")
        out["ephemeris_times"] = _times(table)
        out["quaternions"] = (q[:, [1, 2, 3, 0]] / norms[:, None]).tolist()  # ALE order: x, y, z, w
        if _has(table, _AV):
            out["angular_velocities"] = np.column_stack([table.columns[n] for n in _AV]).tolist()
        return out
    if _has(table, _ANGLES):
        out["polynomial"] = _polynomial(table, _ANGLES)
        return out
    raise CameraDataError(f"table {table.name} has neither quaternion+ET fields nor J2000Ang polynomial fields "
                          f"(fields: {', '.join(table.columns)})")


def position_isd(table: Table) -> dict:
    """The position table ``table`` (InstrumentPosition, SunPosition) as a plain dict (km, J2000)."""
    out = {"reference_frame": 1, "unit": "km"}
    if _has(table, _POS) and "ET" in table.columns:
        out["ephemeris_times"] = _times(table)
        out["positions"] = np.column_stack([table.columns[n] for n in _POS]).tolist()
        if _has(table, _VEL):
            out["velocities"] = np.column_stack([table.columns[n] for n in _VEL]).tolist()
        cache = (table.get("CacheType") or "").strip().lower()
        out["interpolation"] = "hermite" if cache == "hermitespline" and "velocities" in out else "linear"
        return out
    if _has(table, _POLY_POS):
        out["polynomial"] = _polynomial(table, _POLY_POS)
        return out
    raise CameraDataError(f"table {table.name} has neither position+ET fields nor J2000SV polynomial fields "
                          f"(fields: {', '.join(table.columns)})")


# --- evaluation ---------------------------------------------------------------------------------------

def _segment(times: np.ndarray, et: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the cache interval holding each ``et`` and the fraction into it, clamped to the cache."""
    i = np.clip(np.searchsorted(times, et, side="right") - 1, 0, len(times) - 2)
    u = np.clip((et - times[i]) / (times[i + 1] - times[i]), 0.0, 1.0)
    return i, u


def quaternion_matrices(q: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotation matrices of (N, 4) unit quaternions in [x, y, z, w] order (SPICE's q2m)."""
    x, y, z, w = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    m = np.empty((len(q), 3, 3))
    m[:, 0, 0] = 1 - 2 * (y * y + z * z)
    m[:, 0, 1] = 2 * (x * y - w * z)
    m[:, 0, 2] = 2 * (x * z + w * y)
    m[:, 1, 0] = 2 * (x * y + w * z)
    m[:, 1, 1] = 1 - 2 * (x * x + z * z)
    m[:, 1, 2] = 2 * (y * z - w * x)
    m[:, 2, 0] = 2 * (x * z - w * y)
    m[:, 2, 1] = 2 * (y * z + w * x)
    m[:, 2, 2] = 1 - 2 * (x * x + y * y)
    return m


def slerp(q0: np.ndarray, q1: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Spherical interpolation between rows of unit quaternions (the shorter way round)."""
    dot = np.sum(q0 * q1, axis=1)
    q1 = np.where(dot[:, None] < 0, -q1, q1)
    dot = np.abs(dot).clip(max=1.0)
    theta = np.arccos(dot)
    small = theta < 1e-9
    sin_t = np.where(small, 1.0, np.sin(theta))
    a = np.where(small, 1.0 - u, np.sin((1.0 - u) * theta) / sin_t)
    b = np.where(small, u, np.sin(u * theta) / sin_t)
    q = a[:, None] * q0 + b[:, None] * q1
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _axis_rotation(angle: np.ndarray, axis: int) -> np.ndarray:
    """SPICE ``rotate``: (N, 3, 3) frame rotations by ``angle`` (radians) about axis 1, 2 or 3."""
    c, s = np.cos(angle), np.sin(angle)
    m = np.zeros((len(angle), 3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis - 1]
    k = axis - 1
    m[:, k, k] = 1.0
    m[:, i, i] = c
    m[:, j, j] = c
    m[:, i, j] = s
    m[:, j, i] = -s
    return m


def _poly(poly: dict, et: np.ndarray) -> list[np.ndarray]:
    t = (et - poly["base_time"]) / poly["time_scale"]
    return [np.polynomial.polynomial.polyval(t, np.asarray(c, float)) for c in poly["coefficients"]]


def rotation_matrices(isd: dict, et) -> np.ndarray:
    """(N, 3, 3): J2000 -> the table's frame at each ephemeris time in ``et``."""
    et = np.atleast_1d(np.asarray(et, dtype=float))
    if "polynomial" in isd:
        a1, a2, a3 = _poly(isd["polynomial"], et)
        m = _axis_rotation(a3, 3) @ _axis_rotation(a2, 1) @ _axis_rotation(a1, 3)
    else:
        q = np.asarray(isd["quaternions"], float)
        if len(q) == 1:
            m = np.repeat(quaternion_matrices(q), len(et), axis=0)
        else:
            i, u = _segment(np.asarray(isd["ephemeris_times"], float), et)
            m = quaternion_matrices(slerp(q[i], q[i + 1], u))
    if "constant_rotation" in isd:
        m = np.asarray(isd["constant_rotation"], float).reshape(3, 3) @ m
    return m


def positions(isd: dict, et) -> np.ndarray:
    """(N, 3) positions (km, J2000) at each ephemeris time in ``et``."""
    et = np.atleast_1d(np.asarray(et, dtype=float))
    if "polynomial" in isd:
        return np.column_stack(_poly(isd["polynomial"], et))
    p = np.asarray(isd["positions"], float)
    times = np.asarray(isd["ephemeris_times"], float)
    v = np.asarray(isd["velocities"], float) if "velocities" in isd else None
    if len(p) == 1:
        out = np.repeat(p, len(et), axis=0)
        return out + (et - times[0])[:, None] * v if v is not None else out
    i, u = _segment(times, et)
    if isd.get("interpolation") == "hermite" and v is not None:
        h = (times[i + 1] - times[i])[:, None]
        s = u[:, None]
        out = ((2 * s**3 - 3 * s**2 + 1) * p[i] + (s**3 - 2 * s**2 + s) * h * v[i]
               + (-2 * s**3 + 3 * s**2) * p[i + 1] + (s**3 - s**2) * h * v[i + 1])
    else:
        out = p[i] + u[:, None] * (p[i + 1] - p[i])
    # Beyond the cache (a crop's edge lines can fall a fraction of a line outside): extrapolate linearly.
    before, after = et < times[0], et > times[-1]
    if before.any() or after.any():
        rate_0 = v[0] if v is not None else (p[1] - p[0]) / (times[1] - times[0])
        rate_1 = v[-1] if v is not None else (p[-1] - p[-2]) / (times[-1] - times[-2])
        out[before] = p[0] + (et[before] - times[0])[:, None] * rate_0
        out[after] = p[-1] + (et[after] - times[-1])[:, None] * rate_1
    return out
