"""Lens distortion, a vectorised numpy port of usgscsm's (DOI-USGS/usgscsm at ba32d13b).

Follows ``src/Distortion.cpp`` (``removeDistortion``: distorted focal plane mm -> undistorted, ``applyDistortion``:
the reverse, plus the transverse and radtan functions and Jacobians), ``newtonRaphson`` in ``src/Utilities.cpp``
and how ``getDistortionModel`` / ``getDistortionCoeffs`` / ``getFocalLength`` read an ISD. The iterative models
iterate every point at once with usgscsm's tolerances and iteration limits; a point that does not converge ends
where usgscsm's scalar code leaves it (its last iterate, or the input, model by model).

Two usgscsm behaviours kept on purpose: ``lunarorbiter`` is recognised but has no case in usgscsm's
remove/apply (nor coefficients in getDistortionCoeffs), so it is the identity; ``cahvor``'s apply computes its
first radius from the *unshifted* point ("This is untested manually" in usgscsm), so with non-zero offsets it is
not the exact inverse of remove.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

# The models as their key appears under an ISD's ``optical_distortion`` (usgscsm getDistortionModel).
KINDS = ("transverse", "radial", "kaguyalism", "dawnfc", "lrolrocnac", "cahvor", "lunarorbiter", "radtan",
         "kplo_shadowcam")

# Exact coefficient counts usgscsm insists on (it throws otherwise); other models need at least this many.
_EXACT = {"transverse": 20, "kaguyalism": 10, "lrolrocnac": 1, "radtan": 5, "kplo_shadowcam": 1}
_AT_LEAST = {"radial": 3, "dawnfc": 1, "cahvor": 5, "lunarorbiter": 0}

Array = np.ndarray


@dataclass(frozen=True)
class Distortion:
    """One usgscsm distortion model: ``kind`` (a :data:`KINDS` key), ``coefficients`` laid out as usgscsm stores
    them (transverse: 10 x then 10 y; kaguyalism: boresight_x, 4 x, boresight_y, 4 y), and the focal length in
    mm for ``radtan``, which works on focal-length-normalised coordinates."""

    kind: str
    coefficients: tuple[float, ...]
    focal_length: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown distortion kind {self.kind!r}; expected one of {KINDS}")
        coeffs = tuple(float(c) for c in self.coefficients)
        object.__setattr__(self, "coefficients", coeffs)
        n = len(coeffs)
        if self.kind in _EXACT and n != _EXACT[self.kind]:
            raise ValueError(f"{self.kind} distortion needs exactly {_EXACT[self.kind]} coefficients, got {n}")
        if self.kind in _AT_LEAST and n < _AT_LEAST[self.kind]:
            raise ValueError(f"{self.kind} distortion needs at least {_AT_LEAST[self.kind]} coefficients, got {n}")
        if self.kind == "radtan" and not (self.focal_length and math.isfinite(self.focal_length)):
            raise ValueError(f"radtan distortion needs a finite non-zero focal length, got {self.focal_length!r}")

    # --- usgscsm removeDistortion ------------------------------------------------------------------------------
    def remove(self, dx, dy, tolerance: float = 1.0e-6) -> tuple[Array, Array]:
        """Distorted focal plane (mm) -> undistorted; ``tolerance`` as usgscsm's (Newton and dawnfc only)."""
        x, y, shape = _inputs(dx, dy)
        ux, uy = self._remove(x, y, tolerance)
        return ux.reshape(shape), uy.reshape(shape)

    def _remove(self, dx: Array, dy: Array, tolerance: float) -> tuple[Array, Array]:
        c, k = self.coefficients, self.kind
        with np.errstate(all="ignore"):             # usgscsm's IEEE arithmetic: inf/NaN flow through silently
            if k in ("radial", "cahvor"):
                ox, oy = (c[3], c[4]) if k == "cahvor" else (0.0, 0.0)
                sx, sy = dx - ox, dy - oy
                rr = sx * sx + sy * sy
                dr = c[0] + (rr * (c[1] + rr * c[2]))
                return sx * (1.0 - dr) + ox, sy * (1.0 - dr) + oy
            if k == "transverse":
                return _newton(dx, dy, tolerance, self._transverse, self._transverse_jacobian)
            if k == "kaguyalism":
                bx, ax, by, ay = c[0], c[1:5], c[5], c[6:10]
                r2 = dx * dx + dy * dy
                r = np.sqrt(r2)
                r3 = r2 * r
                return (dx + ((ax[0] + ax[1] * r + ax[2] * r2 + ax[3] * r3) + bx),
                        dy + ((ay[0] + ay[1] * r + ay[2] * r2 + ay[3] * r3) + by))
            if k == "dawnfc":
                return _dawnfc_remove(dx, dy, c[0], tolerance)
            if k == "lrolrocnac":
                den = 1 + c[0] * dy * dy            # usgscsm throws on den == 0; a vector gets NaN there
                return dx.copy(), np.where(den == 0.0, np.nan, dy / den)
            if k == "radtan":
                f = self.focal_length
                ux, uy = _newton(dx / f, dy / f, tolerance, self._radtan, self._radtan_jacobian)
                return ux * f, uy * f
            if k == "kplo_shadowcam":
                return dx.copy(), dy * (1.0 + c[0] * dy * dy)
            return dx.copy(), dy.copy()             # lunarorbiter: no case in usgscsm

    # --- usgscsm applyDistortion -------------------------------------------------------------------------------
    def apply(self, ux, uy, desired_precision: float = 1.0e-6) -> tuple[Array, Array]:
        """Undistorted focal plane (mm) -> distorted; ``desired_precision`` as usgscsm's (radial, cahvor)."""
        x, y, shape = _inputs(ux, uy)
        dx, dy = self._apply(x, y, desired_precision)
        return dx.reshape(shape), dy.reshape(shape)

    def _apply(self, ux: Array, uy: Array, desired_precision: float) -> tuple[Array, Array]:
        c, k = self.coefficients, self.kind
        with np.errstate(all="ignore"):
            if k == "radial":
                dr = _radial_fixed_point(ux * ux + uy * uy, c, desired_precision)
                return ux / (1.0 - dr), uy / (1.0 - dr)
            if k == "cahvor":
                # usgscsm takes the starting radius from the unshifted point, then scales the shifted one
                dr = _radial_fixed_point(ux * ux + uy * uy, c, desired_precision)
                return (ux - c[3]) / (1.0 - dr) + c[3], (uy - c[4]) / (1.0 - dr) + c[4]
            if k == "transverse":
                return self._transverse(ux, uy)
            if k == "kaguyalism":
                return _kaguya_apply(ux, uy, c)
            if k == "dawnfc":
                r2 = ux * ux + uy * uy
                return ux * (1.0 + c[0] * r2), uy * (1.0 + c[0] * r2)
            if k in ("lrolrocnac", "kplo_shadowcam"):
                return ux.copy(), _y_only_apply(uy, c[0], divide=k == "kplo_shadowcam")
            if k == "radtan":
                f = self.focal_length
                dx, dy = self._radtan(ux / f, uy / f)
                return dx * f, dy * f
            return ux.copy(), uy.copy()             # lunarorbiter

    def jacobian(self, x, y) -> tuple[Array, Array, Array, Array]:
        """(dfx/dx, dfx/dy, dfy/dx, dfy/dy) of the forward distortion, for the two Newton-inverted models
        (usgscsm transverseDistortionJacobian; radTanDistortionJacobian on normalised coordinates)."""
        x, y, shape = _inputs(x, y)
        if self.kind == "transverse":
            return tuple(j.reshape(shape) for j in self._transverse_jacobian(x, y))
        if self.kind == "radtan":
            return tuple(j.reshape(shape) for j in self._radtan_jacobian(x, y))
        raise ValueError(f"usgscsm has no Jacobian for {self.kind} distortion")

    # --- the forward functions Newton inverts ------------------------------------------------------------------
    def _transverse(self, ux: Array, uy: Array) -> tuple[Array, Array]:
        """usgscsm computeTransverseDistortion: a cubic in (ux, uy) per axis, summed in usgscsm's order."""
        terms = _cubic_terms(ux, uy)
        c = self.coefficients
        dx = np.zeros_like(ux)
        dy = np.zeros_like(uy)
        for i, t in enumerate(terms):
            dx = dx + t * c[i]
            dy = dy + t * c[10 + i]
        return dx, dy

    def _transverse_jacobian(self, x: Array, y: Array) -> tuple[Array, Array, Array, Array]:
        zero, one = np.zeros_like(x), np.ones_like(x)
        d_dx = (zero, one, zero, 2 * x, y, zero, 3 * x * x, 2 * x * y, y * y, zero)
        d_dy = (zero, zero, one, zero, x, 2 * y, zero, x * x, 2 * x * y, 3 * y * y)
        c = self.coefficients
        jxx = jxy = jyx = jyy = np.zeros_like(x)
        for i in range(10):
            jxx = jxx + d_dx[i] * c[i]
            jxy = jxy + d_dy[i] * c[i]
            jyx = jyx + d_dx[i] * c[10 + i]
            jyy = jyy + d_dy[i] * c[10 + i]
        return jxx, jxy, jyx, jyy

    def _radtan(self, x: Array, y: Array) -> tuple[Array, Array]:
        """usgscsm computeRadTanDistortion (OpenCV order k1, k2, p1, p2, k3) on normalised coordinates."""
        k1, k2, p1, p2, k3 = self.coefficients
        r2 = (x * x) + (y * y)
        radial = 1.0 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2
        return (x * radial + (2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)),
                y * radial + (p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y))

    def _radtan_jacobian(self, x: Array, y: Array) -> tuple[Array, Array, Array, Array]:
        k1, k2, p1, p2, k3 = self.coefficients
        r2 = x * x + y * y
        dr2dx, dr2dy = 2.0 * x, 2.0 * y
        radial = 1.0 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2
        gx = k1 * dr2dx + k2 * dr2dx * 2.0 * r2 + k3 * dr2dx * 3.0 * r2 * r2
        gy = k1 * dr2dy + k2 * dr2dy * 2.0 * r2 + k3 * dr2dy * 3.0 * r2 * r2
        return (radial + x * gx + 2.0 * p1 * y + p2 * (dr2dx + 4.0 * x),
                x * gy + 2.0 * p1 * x + p2 * dr2dy,
                y * gx + (p1 * dr2dx + 2.0 * p2 * y),
                radial + y * gy + p1 * (dr2dy + 4.0 * y) + 2.0 * p2 * x)


def _inputs(a, b) -> tuple[Array, Array, tuple[int, ...]]:
    """Two broadcast inputs as flat float copies (the work is 1-D; results take the broadcast shape back,
    0-d for scalars), so no caller's array is ever written."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    return a.ravel().copy(), b.ravel().copy(), a.shape


def _cubic_terms(x: Array, y: Array) -> tuple[Array, ...]:
    return (np.ones_like(x), x, y, x * x, x * y, y * y, x * x * x, x * x * y, x * y * y, y * y * y)


def _newton(dx: Array, dy: Array, tolerance: float,
            f: Callable[[Array, Array], tuple[Array, Array]],
            jac: Callable[[Array, Array], tuple[Array, Array, Array, Array]]) -> tuple[Array, Array]:
    """usgscsm newtonRaphson over arrays: start at the distorted point, up to 19 steps while the previous
    residual exceeds ``tolerance`` (the first test is on f(d) itself, as usgscsm's is); a near-singular
    Jacobian (|det| < 1e-6) stops a point where it is."""
    ux, uy = dx.copy(), dy.copy()
    fx, fy = f(ux, uy)
    active = np.ones(dx.shape, bool)
    for _ in range(1, 20):
        active &= (np.abs(fx) + np.abs(fy)) > tolerance
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        x, y = ux[idx], uy[idx]
        gx, gy = f(x, y)
        rx, ry = dx[idx] - gx, dy[idx] - gy
        fx[idx], fy[idx] = rx, ry
        j0, j1, j2, j3 = jac(x, y)
        det = j0 * j3 - j1 * j2
        ok = ~(np.abs(det) < 1e-6)                  # NaN determinants step on, as in usgscsm
        active[idx[~ok]] = False
        ux[idx[ok]] = x[ok] + (j3[ok] * rx[ok] - j1[ok] * ry[ok]) / det[ok]
        uy[idx[ok]] = y[ok] + (j0[ok] * ry[ok] - j2[ok] * rx[ok]) / det[ok]
    return ux, uy


def _radial_fixed_point(rp2: Array, c: tuple[float, ...], precision: float) -> Array:
    """drOverR of usgscsm's radial/cahvor apply: iterate r = rp + dr(r) r until |r - r_prev| <= precision;
    after 20 iterations or once r > 1e9 it gives up with drOverR = 0 (distorted = undistorted)."""
    rp = np.sqrt(rp2)
    dr = c[0] + (rp2 * (c[1] + (rp2 * c[2])))
    r = rp + (dr * rp)
    active = np.ones(rp.shape, bool)
    iteration = 0                                   # every point starts together, so one counter serves all
    while active.any():
        give_up = active & ((iteration >= 20) | (r > 1e9))
        dr[give_up] = 0.0
        active &= ~give_up
        r_prev = r.copy()
        r2_prev = r_prev * r_prev
        new_dr = c[0] + (r2_prev * (c[1] + (r2_prev * c[2])))
        dr = np.where(active, new_dr, dr)
        r = np.where(active, rp + (new_dr * r_prev), r)
        iteration += 1
        active &= np.abs(r - r_prev) > precision    # NaN ends the loop, as in usgscsm's do/while
    return dr


def _dawnfc_remove(dx: Array, dy: Array, k: float, tolerance: float) -> tuple[Array, Array]:
    """usgscsm DAWNFC remove: fixed point u = d / (1 + k r(u)^2) until the re-distorted point is within
    ``tolerance``; usgscsm gives up on its 20th attempt (even one that converged) and returns the input."""
    ux, uy = dx.copy(), dy.copy()
    r2 = dy * dy + dx * dx
    active = np.ones(dx.shape, bool)
    for _ in range(19):
        gx = np.where(active, dx / (1.0 + k * r2), ux)
        gy = np.where(active, dy / (1.0 + k * r2), uy)
        r2 = np.where(active, gy * gy + gx * gx, r2)
        done = active & (np.abs(gx * (1.0 + k * r2) - dx) < tolerance) & (np.abs(gy * (1.0 + k * r2) - dy)
                                                                             < tolerance)
        ux, uy = np.where(done, gx, ux), np.where(done, gy, uy)
        active &= ~done
        if not active.any():
            break
    return ux, uy                                   # still active: the input, as usgscsm


def _kaguya_apply(ux: Array, uy: Array, c: tuple[float, ...]) -> tuple[Array, Array]:
    """usgscsm KAGUYALISM apply: fixed point d = u - dr(|d|) - boresight, 50 tries, both axes within 1e-6
    of the previous iterate; a point that never converges keeps its undistorted value."""
    bx, ax, by, ay = c[0], c[1:5], c[5], c[6:10]
    xt, yt = ux - bx, uy - by
    xprev, yprev = np.full(ux.shape, 1e6), np.full(uy.shape, 1e6)
    dx, dy = ux.copy(), uy.copy()
    active = np.ones(ux.shape, bool)
    for _ in range(50):
        rr = xt * xt + yt * yt
        r = np.sqrt(rr)
        rrr = rr * r
        xt = np.where(active, ux - (ax[0] + ax[1] * r + ax[2] * rr + ax[3] * rrr) - bx, xt)
        yt = np.where(active, uy - (ay[0] + ay[1] * r + ay[2] * rr + ay[3] * rrr) - by, yt)
        done = active & (np.abs(xt - xprev) < 1e-6) & (np.abs(yt - yprev) < 1e-6)
        dx, dy = np.where(done, xt, dx), np.where(done, yt, dy)
        active &= ~done
        if not active.any():
            break
        xprev, yprev = xt, yt
    return dx, dy


def _y_only_apply(uy: Array, k: float, divide: bool) -> Array:
    """usgscsm LROLROCNAC (yt = uy (1 + k yt^2)) and KPLOSHADOWCAM (yt = uy / (1 + k yt^2)) apply: identity
    for |uy| > 40, else up to 50 iterations to |yt - yprev| <= 1e-10; unconverged points keep uy (LROC also
    abandons a point whose iterate falls below -1e121)."""
    yt = uy.copy()
    out = uy.copy()
    yprev = np.full(uy.shape, 1e6)
    active = ~(np.abs(uy) > 40)
    for _ in range(50):
        dr = 1.0 + k * (yt * yt)
        yt = np.where(active, uy / dr if divide else uy * dr, yt)
        if not divide:
            active &= ~(yt < -1e121)
        done = active & (np.abs(yt - yprev) <= 1.0e-10)
        out = np.where(done, yt, out)
        active &= ~done
        if not active.any():
            break
        yprev = yt
    return out


# --- reading an ISD (usgscsm getDistortionModel / getDistortionCoeffs / getFocalLength) --------------------------

def _numbers(value, path: str, count: int | None = None, at_least: int = 0) -> list[float]:
    ok = isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                         and math.isfinite(v) for v in value)
    if not ok or (count is not None and len(value) != count) or len(value) < at_least:
        want = (f"exactly {count}" if count is not None else f"at least {at_least}") + " finite numbers"
        raise ValueError(f"ISD {path}: expected a list of {want}, got {value!r}")
    return [float(v) for v in value]


def _number(value, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"ISD {path}: expected a finite number, got {value!r}")
    return float(value)


def _field(body, kind: str, name: str):
    if not isinstance(body, dict) or name not in body:
        raise ValueError(f"ISD optical_distortion.{kind}.{name} is missing")
    return body[name]


def identity() -> Distortion:
    """usgscsm's fallback: transverse with x = ux, y = uy (coefficients[1] = coefficients[12] = 1)."""
    coeffs = [0.0] * 20
    coeffs[1] = coeffs[12] = 1.0
    return Distortion("transverse", tuple(coeffs))


def distortion_from_isd(isd: dict) -> Distortion:
    """The distortion usgscsm builds from ``isd``.

    Like usgscsm: no (or an empty, or a non-object) ``optical_distortion``, or an unknown model key, gives the
    identity transverse model; the model is the *alphabetically first* key (nlohmann::json objects are
    std::maps, so usgscsm's ``begin()`` is the smallest key); transverse x/y are padded or cut to 10 terms and
    kaguyalism x/y to 4. Unlike usgscsm, which warns and substitutes zeros, a known model whose coefficients
    are missing or malformed raises ValueError naming the ISD key.
    """
    od = isd.get("optical_distortion")
    if not isinstance(od, dict) or not od:
        return identity()
    kind = min(od)
    body = od[kind]
    where = f"optical_distortion.{kind}"
    if kind not in KINDS:
        return identity()
    if kind == "lunarorbiter":
        return Distortion(kind, ())
    if kind in ("transverse", "kaguyalism"):
        size = 10 if kind == "transverse" else 4
        x, y = ((_numbers(_field(body, kind, a), f"{where}.{a}") + [0.0] * size)[:size] for a in ("x", "y"))
        if kind == "transverse":
            return Distortion(kind, tuple(x + y))
        bx, by = (_number(_field(body, kind, b), f"{where}.{b}") for b in ("boresight_x", "boresight_y"))
        return Distortion(kind, tuple([bx] + x + [by] + y))
    coeffs = _numbers(_field(body, kind, "coefficients"), f"{where}.coefficients",
                      count=_EXACT.get(kind), at_least=_AT_LEAST.get(kind, 0))
    if kind != "radtan":
        return Distortion(kind, tuple(coeffs))
    flm = isd.get("focal_length_model")
    focal = flm.get("focal_length") if isinstance(flm, dict) else None
    if isinstance(focal, bool) or not isinstance(focal, (int, float)) or not math.isfinite(focal) or focal == 0:
        raise ValueError(f"ISD focal_length_model.focal_length: radtan distortion needs a finite non-zero "
                         f"focal length, got {focal!r}")
    return Distortion(kind, tuple(coeffs), float(focal))
