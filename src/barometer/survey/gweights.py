"""Stage *calibrate* (solver): g-weights from the calibration equations.

The g-weights solve sum_i d_i g_i x_i = t_x with g_i = F(x_i' lambda) for the distance
of the method (Deville & Särndal 1992, table 1; the CALMAR methods: linear, raking, logit
and truncated linear), by Newton iterations on lambda as R's ``grake`` (step halving,
bounds). :mod:`barometer.survey.calibrate` builds the auxiliary matrix and the record; this module
only solves, for one weight vector (:func:`solve_g`) or for many side by side
(:func:`solve_g_columns`, the replicates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


# ---------------------------------------------------------------------------------------
# Distance functions (Deville & Särndal 1992, table 1; the CALMAR methods).
# Each gives g = 1 + F(u) for u = x'lambda and its derivative, for bounds (L, U).
# ---------------------------------------------------------------------------------------
def _f_linear(u: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    g = np.clip(u + 1, lo, hi)
    return g, ((u < hi - 1) & (u > lo - 1)).astype(float)


def _f_raking(u: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(over="ignore"):
        e = np.exp(u)
    return np.clip(e, lo, hi), np.where((u < hi - 1) & (u > lo - 1), e, 0.0)


def _f_logit(u: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    a = (hi - lo) / ((hi - 1) * (1 - lo))
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(a * u)
        num = lo * (hi - 1) + hi * (1 - lo) * e
        den = hi - 1 + (1 - lo) * e
        g = num / den
        d = hi * (1 - lo) * e * a / den - num * ((1 - lo) * e * a) / den**2
    big = ~np.isfinite(e)
    g = np.where(big, hi, g)
    d = np.where(big, 0.0, d)
    return g, d


def _g_linear(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip(u + 1, lo, hi)


def _g_raking(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.clip(np.exp(u), lo, hi)


DISTANCES = {"linear": _f_linear, "truncated": _f_linear, "raking": _f_raking,
             "logit": _f_logit, "poststratify": _f_linear}
# the g part alone (the same numbers), for the step halvings
_G_ONLY = {"linear": _g_linear, "truncated": _g_linear, "raking": _g_raking,
           "poststratify": _g_linear}
METHODS = tuple(DISTANCES)


@dataclass(frozen=True)
class _Solution:
    g: np.ndarray
    iterations: int
    converged: bool
    misfit: np.ndarray


def solve_g(x: np.ndarray, d: np.ndarray, population: np.ndarray, method: str,
            bounds: tuple[float, float], *, tol: float, max_iter: int,
            weight_bounds: tuple[float | np.ndarray, float | np.ndarray] | None = None
            ) -> _Solution:
    """g-weights meeting ``sum_i g_i d_i x_i = population`` (Deville & Särndal 1992).

    Newton iterations on lambda as R's ``grake``: T = X' diag(d F'(X lambda)) X,
    lambda += T^+ (t_x - sum_i d_i g_i x_i), with step halving while g is not finite or
    while the step makes the largest relative misfit |misfit| / (1 + |target|) worse
    (bounded distances can otherwise cycle; relative, so that constraints of different
    scales weigh alike);
    stops when every |misfit| / (1 + |target|) < ``tol``. When every target exceeds 20
    times its sample total the weights are first scaled by the mean ratio (as ``grake``
    does), so bounds then apply to the scaled weights. ``weight_bounds`` (lower, upper) bound
    the final weights themselves (trimming): per-unit bounds on g of (lower/d_i, upper/d_i)
    intersected with ``bounds`` (R's ``bounds.const``).
    """
    f = DISTANCES[method]
    lo: float | np.ndarray
    hi: float | np.ndarray
    lo, hi = bounds
    sample_total = x.T @ d
    with np.errstate(divide="ignore", invalid="ignore"):
        scales = population / sample_total
    scale = float(np.mean(scales)) if np.min(scales) > 20 else 1.0
    dd = d * scale
    sample_total = sample_total * scale
    if weight_bounds is not None:
        with np.errstate(divide="ignore", invalid="ignore"):  # zero base weights
            lo = np.maximum(lo, np.where(dd > 0, weight_bounds[0] / dd, -np.inf))
            hi = np.minimum(hi, np.where(dd > 0, weight_bounds[1] / dd, np.inf))
    gap = population - sample_total
    g_only = _G_ONLY.get(method)
    eta = np.zeros(x.shape[1])
    g, deriv = f(x @ eta, lo, hi)
    it = 1
    converged = False
    # misfits are compared relative to their targets (R's convergence measure): margins of
    # very different scales (a count and a total of scores) then weigh alike
    rel = 1.0 / (1.0 + np.abs(population))
    while True:
        t = (x * (dd * deriv)[:, None]).T @ x
        misfit = gap - x.T @ (dd * (g - 1))
        before = np.abs(misfit * rel).max()  # the largest relative misfit before the step
        step = np.linalg.pinv(t, rcond=256 * np.finfo(float).eps, hermitian=True) @ misfit
        eta = eta + step
        g, deriv = f(x @ eta, lo, hi)
        while it < max_iter and not (np.isfinite(g).all() and np.isfinite(deriv).all()):
            it += 1
            step = step / 2
            eta = eta - step
            g, deriv = f(x @ eta, lo, hi)
        misfit = gap - x.T @ (dd * (g - 1))
        # damping: halve a step that makes the fit worse (bounded problems can cycle); the
        # derivative is only needed at the step finally taken
        halvings = 0
        while np.abs(misfit * rel).max() > before and halvings < 30:
            halvings += 1
            step = step / 2
            eta = eta - step
            u = x @ eta
            g = g_only(u, lo, hi) if g_only is not None else f(u, lo, hi)[0]
            misfit = gap - x.T @ (dd * (g - 1))
        if halvings:
            deriv = f(u, lo, hi)[1]
        if np.all(np.abs(misfit) / (1 + np.abs(population)) < tol):
            converged = True
            break
        it += 1
        if it > max_iter:
            break
    return _Solution(g * scale, it, converged, misfit)


def solve_g_columns(x: np.ndarray, d: np.ndarray, population: np.ndarray, method: str,
                    bounds: tuple[float, float], *, tol: float, max_iter: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`solve_g` for every column of ``d`` (m x R starting weights, e.g. replicates) at
    once: g-weights (m x R) and whether each column converged.

    Every column takes the Newton steps, step halvings, damping and stopping rule of
    :func:`solve_g` on its own (the same iterates, up to the rounding of the products),
    but the steps of the columns still iterating are computed together: the matrices
    T = X' diag(d F'(X lambda)) X of all columns are one product with the cell-wise
    products of the columns of X, and their pseudo-inverses one stacked ``pinv``.
    """
    f = DISTANCES[method]
    g_only = _G_ONLY.get(method)
    lo, hi = bounds
    m, p = x.shape
    sample_total = x.T @ d
    with np.errstate(divide="ignore", invalid="ignore"):
        scales = population[:, None] / sample_total
    scale = np.where(np.min(scales, axis=0) > 20, np.mean(scales, axis=0), 1.0)
    xx = (x[:, :, None] * x[:, None, :]).reshape(m, p * p)  # T = (d F')' xx, per column
    tiny = 256 * np.finfo(float).eps
    out = np.empty_like(d)
    converged = np.zeros(d.shape[1], dtype=bool)
    # the columns still iterating, and their state
    idx = np.arange(d.shape[1])
    dd = d * scale
    gap = population[:, None] - sample_total * scale
    eta = np.zeros((p, idx.size))
    g, deriv = f(x @ eta, lo, hi)
    it = np.ones(idx.size, dtype=int)
    target = (1 + np.abs(population))[:, None]
    while idx.size:
        t = ((dd * deriv).T @ xx).reshape(-1, p, p)
        misfit = gap - x.T @ (dd * (g - 1))
        before = np.abs(misfit).max(axis=0)
        step = (np.linalg.pinv(t, rcond=tiny, hermitian=True) @ misfit.T[:, :, None])[:, :, 0].T
        eta = eta + step
        u = x @ eta
        g, deriv = f(u, lo, hi)
        bad = (it < max_iter) & ~(np.isfinite(g).all(axis=0) & np.isfinite(deriv).all(axis=0))
        while bad.any():  # halve the steps of the columns whose g is not finite
            it[bad] += 1
            step[:, bad] = step[:, bad] / 2
            eta[:, bad] = eta[:, bad] - step[:, bad]
            u[:, bad] = x @ eta[:, bad]
            g[:, bad], deriv[:, bad] = f(u[:, bad], lo, hi)
            bad &= (it < max_iter) & ~(np.isfinite(g).all(axis=0)
                                       & np.isfinite(deriv).all(axis=0))
        misfit = gap - x.T @ (dd * (g - 1))
        # damping: halve the steps that make a column's fit worse
        halvings = np.zeros(idx.size, dtype=int)
        worse = np.abs(misfit).max(axis=0) > before
        while worse.any():
            halvings[worse] += 1
            step[:, worse] = step[:, worse] / 2
            eta[:, worse] = eta[:, worse] - step[:, worse]
            u[:, worse] = x @ eta[:, worse]
            g[:, worse] = g_only(u[:, worse], lo, hi) if g_only is not None \
                else f(u[:, worse], lo, hi)[0]
            misfit[:, worse] = gap[:, worse] - x.T @ (dd[:, worse] * (g[:, worse] - 1))
            worse &= (np.abs(misfit).max(axis=0) > before) & (halvings < 30)
        damped = halvings > 0
        if damped.any():
            deriv[:, damped] = f(u[:, damped], lo, hi)[1]
        ok = np.all(np.abs(misfit) / target < tol, axis=0)
        it[~ok] += 1
        stop = ok | (it > max_iter)
        if stop.any():
            out[:, idx[stop]] = g[:, stop] * scale[idx[stop]]
            converged[idx[stop]] = ok[stop]
            go = ~stop
            idx, dd, gap, eta, g, deriv, it = (idx[go], dd[:, go], gap[:, go], eta[:, go],
                                               g[:, go], deriv[:, go], it[go])
    return out, converged
