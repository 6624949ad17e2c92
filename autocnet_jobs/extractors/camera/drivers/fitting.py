"""usgscsm distortion models fitted to an ISIS distortion map that usgscsm has no equivalent of.

Where an instrument's ISIS lens model is not one of usgscsm's (MOC wide angle, MARCI, OCAMS, CaSSIS, ...), its
driver fits usgscsm's ``transverse`` (a cubic per axis) or ``radtan`` over the detector area and records the
largest residual; the ISIS map itself is the truth the fit is measured against.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

Remove = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _cubic_terms(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """usgscsm computeTransverseDistortion's ten terms, in its order."""
    return np.column_stack([np.ones_like(x), x, y, x * x, x * y, y * y, x ** 3, x * x * y, x * y * y, y ** 3])


def fit_transverse(apply: Callable, half_x: float, half_y: float, centre=(0.0, 0.0), n: int = 61
                   ) -> tuple[dict, float]:
    """usgscsm ``transverse`` coefficients fitted to ``apply`` (undistorted -> distorted focal plane mm).

    Least squares over an n x n grid of the rectangle ``centre`` +- (half_x, half_y) mm; returns the ISD's
    ``{"transverse": {"x": [...], "y": [...]}}`` and the largest residual (mm) on the grid.
    """
    gx = centre[0] + np.linspace(-half_x, half_x, n)
    gy = centre[1] + np.linspace(-half_y, half_y, n)
    ux, uy = (a.ravel() for a in np.meshgrid(gx, gy))
    dx, dy = apply(ux, uy)
    terms = _cubic_terms(ux, uy)
    cx = np.linalg.lstsq(terms, dx, rcond=None)[0]
    cy = np.linalg.lstsq(terms, dy, rcond=None)[0]
    residual = float(np.max(np.hypot(terms @ cx - dx, terms @ cy - dy)))
    return {"transverse": {"x": cx.tolist(), "y": cy.tolist()}}, residual


def fit_distortion(remove: Remove, x: np.ndarray, y: np.ndarray, pixel: float, focal_length: float,
                   weight: np.ndarray | None = None) -> tuple[dict, float]:
    """(``optical_distortion``, largest error in detector pixels): a least-squares usgscsm model of an ISIS map.

    ``remove`` is the ISIS map (distorted focal plane mm -> undistorted), ``x``, ``y`` distorted points covering
    the detector area to fit, ``weight`` theirs (the error reported is over the points of the largest weight).
    Both forward models usgscsm inverts by Newton are fitted, undistorted -> distorted, minimising the distorted
    (detector) error: ``transverse`` (a cubic per axis) and ``radtan`` (radial 1 + k1 r^2 + k2 r^4 + k3 r^6 on
    focal-length-normalised points); the smaller worst error wins.
    """
    x, y = np.ravel(x), np.ravel(y)
    w = np.ones_like(x) if weight is None else np.ravel(weight)
    ux, uy = remove(x, y)
    main = w == w.max()
    terms = _cubic_terms(ux, uy)
    cx = np.linalg.lstsq(terms * w[:, None], x * w, rcond=None)[0]
    cy = np.linalg.lstsq(terms * w[:, None], y * w, rcond=None)[0]
    err_t = float(np.max(np.hypot(terms @ cx - x, terms @ cy - y)[main])) / pixel
    # radtan: d = u (1 + k1 r2 + k2 r4 + k3 r6), all normalised by f; linear in k
    un, vn = ux / focal_length, uy / focal_length
    r2 = un * un + vn * vn
    a = np.concatenate([np.column_stack([un * r2, un * r2 ** 2, un * r2 ** 3]),
                        np.column_stack([vn * r2, vn * r2 ** 2, vn * r2 ** 3])])
    b = np.concatenate([x / focal_length - un, y / focal_length - vn])
    ww = np.concatenate([w, w])
    k = np.linalg.lstsq(a * ww[:, None], b * ww, rcond=None)[0]
    e = (a @ k - b) * focal_length
    err_r = float(np.max(np.hypot(e[:len(x)], e[len(x):])[main])) / pixel
    if err_r < err_t:
        return {"radtan": {"coefficients": [float(k[0]), float(k[1]), 0.0, 0.0, float(k[2])]}}, err_r
    return {"transverse": {"x": cx.tolist(), "y": cy.tolist()}}, err_t


def detector_to_focal(isd: dict, line: np.ndarray, sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distorted focal plane (mm) of CSM detector coordinates, through the ISD's focal2pixel (usgscsm's inverse)."""
    tl, ts = isd["focal2pixel_lines"], isd["focal2pixel_samples"]
    t1 = np.asarray(line, float) - isd["detector_center"]["line"] - tl[0]
    t2 = np.asarray(sample, float) - isd["detector_center"]["sample"] - ts[0]
    det = tl[1] * ts[2] - tl[2] * ts[1]
    return (ts[2] * t1 - tl[2] * t2) / det, (-ts[1] * t1 + tl[1] * t2) / det


def fit_over_image(isd: dict, remove: Remove, pixel: float, rows: tuple[float, float], margin: float) -> None:
    """Replace the ISD's distortion with the fit of ``remove`` over the image: its samples on detector ``rows``
    (CSM detector lines, first and last), and with a weight of 1/20 a ``margin`` of detector pixels around them
    (where ground -> image searches pass); record the worst error on the image in detector pixels."""
    s0 = isd["starting_detector_sample"]
    s1 = s0 + isd["image_samples"] * isd["detector_sample_summing"]
    pad = max(2.0, 0.02 * (s1 - s0))
    sample, line = np.meshgrid(np.linspace(s0, s1, 121), np.linspace(rows[0], rows[1], 9))
    outer_s, outer_l = np.meshgrid(np.linspace(s0 - pad, s1 + pad, 61),
                                   [rows[0] - margin, rows[0] - margin / 2, rows[1] + margin / 2, rows[1] + margin])
    x, y = detector_to_focal(isd, np.concatenate([line.ravel(), outer_l.ravel()]),
                             np.concatenate([sample.ravel(), outer_s.ravel()]))
    weight = np.concatenate([np.ones(line.size), np.full(outer_l.size, 0.05)])
    isd["optical_distortion"], error = fit_distortion(remove, x, y, pixel,
                                                      isd["focal_length_model"]["focal_length"], weight)
    isd["distortion_fit_max_error_pixels"] = error


def fit_radtan_to_radial_lens(k: list[float], focal_length: float, x: np.ndarray, y: np.ndarray, pitch: float
                              ) -> tuple[float, list[float], float]:
    """(focal length scale, radtan k1 k2 k3, largest residual in detector pixels) of usgscsm's radtan fitted to
    an ISIS radial lens, undistorted u = d (1 + K1 r^2 + K2 r^4 + K3 r^6) with r = |d| the distorted radius (mm),
    over the distorted focal-plane points (x, y) mm.

    usgscsm's radtan distorts the *undistorted* normalised point v = u / f, d = f' v (1 + k1 v^2 + k2 v^4 +
    k3 v^6); with a free focal length f' = s f it is linear in (s, s k1, s k2, s k3): least squares in the
    distorted radius.
    """
    rd = np.hypot(x, y)
    ru = rd * (1.0 + k[0] * rd ** 2 + k[1] * rd ** 4 + k[2] * rd ** 6)
    v = ru / focal_length
    design = ru[:, None] * np.column_stack([np.ones_like(v), v ** 2, v ** 4, v ** 6])
    c, *_ = np.linalg.lstsq(design, rd, rcond=None)
    residual = float(np.max(np.abs(design @ c - rd)) / pitch)
    return float(c[0]), [float(ci / c[0]) for ci in c[1:]], residual
