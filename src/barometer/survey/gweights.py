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
from scipy import sparse


# ---------------------------------------------------------------------------------------
# Distance functions (Deville & Särndal 1992, table 1; the CALMAR methods).
# Each gives g = 1 + F(u) for u = x'lambda and its derivative, for bounds (L, U).
# ---------------------------------------------------------------------------------------
def _unbounded(lo: float | np.ndarray, hi: float | np.ndarray) -> bool:
    """Whether the bounds are (-inf, inf): the clipping is then the identity and "u inside
    (L - 1, U - 1)" is "u finite", which the distances below use as a shortcut (the same
    numbers, fewer passes over the m x R arrays)."""
    return np.ndim(lo) == 0 and np.ndim(hi) == 0 and lo == -np.inf and hi == np.inf


def _f_linear(u: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    if _unbounded(lo, hi):
        return u + 1, np.isfinite(u).astype(float)
    g = np.clip(u + 1, lo, hi)
    return g, ((u < hi - 1) & (u > lo - 1)).astype(float)


def _f_raking(u: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(over="ignore"):
        e = np.exp(u)
    if _unbounded(lo, hi):
        return e, np.where(np.isfinite(u), e, 0.0)
    return np.clip(e, lo, hi), np.where((u < hi - 1) & (u > lo - 1), e, 0.0)


def _f_logit(u: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Logit distance: g = (L (U-1) + U (1-L) e) / (U - 1 + (1-L) e), e = exp(A u),
    A = (U - L) / ((U - 1)(1 - L)), written as g = L (1 - s) + U s with the logistic
    s = 1 / (1 + exp(-z)), z = A u + log((1 - L) / (U - 1)); then dg/du = (U - L) A s (1 - s).
    Both 1 - s = 1 / (1 + exp(z)) and s are computed directly, so neither cancels nor
    overflows (exp(A u) / (U - 1 + (1-L) e)^2 gives inf / inf = NaN for e above 1e154).
    An undefined u (NaN) gives g = U and no derivative."""
    a = (hi - lo) / ((hi - 1) * (1 - lo))
    z = a * u + np.log((1 - lo) / (hi - 1))
    with np.errstate(over="ignore"):
        s = 1.0 / (1.0 + np.exp(-z))
        t = 1.0 / (1.0 + np.exp(z))
    g = lo * t + hi * s
    d = (hi - lo) * a * s * t
    nan = np.isnan(u)
    if nan.any():
        g = np.where(nan, hi, g)
        d = np.where(nan, 0.0, d)
    return g, d


def _g_linear(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return u + 1 if _unbounded(lo, hi) else np.clip(u + 1, lo, hi)


def _g_raking(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    with np.errstate(over="ignore"):
        e = np.exp(u)
    return e if _unbounded(lo, hi) else np.clip(e, lo, hi)


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

    Every column takes the Newton steps, step halvings, damping (on the relative misfit)
    and stopping rule of :func:`solve_g` on its own (the same iterates, up to the rounding
    of the products), but the steps of the columns still iterating are computed together.
    The matrices T = X' diag(d F'(X lambda)) X of all columns are one product of the
    weights with the cell-wise products x_j x_k (j <= k; the pairs that are zero in every
    cell, such as two categories of one margin, left out). Their steps T^+ misfit come from
    batched Cholesky factors T = L L' where these certify T^+ = T^-1 (see
    :func:`_newton_steps`; X of full column rank), else from a stacked ``pinv`` as in
    :func:`solve_g`.
    """
    f = DISTANCES[method]
    g_only = _G_ONLY.get(method)
    lo, hi = bounds
    p = x.shape[1]
    sample_total = x.T @ d
    with np.errstate(divide="ignore", invalid="ignore"):
        scales = population[:, None] / sample_total
    scale = np.where(np.min(scales, axis=0) > 20, np.mean(scales, axis=0), 1.0)
    # T[j, k] = xx[(j, k)] @ (d F'), per column, for the pairs j <= k non-zero in some cell
    nonzero = (x != 0).astype(float)
    rows, cols = np.nonzero(np.triu(nonzero.T @ nonzero))
    xt = np.ascontiguousarray(x.T)
    xx: np.ndarray | sparse.csr_matrix = xt[rows] * xt[cols]
    at = np.nonzero(xx)
    if at[0].size < _SPARSE * xx.size:  # e.g. indicators of categories
        starts = np.searchsorted(at[0], np.arange(xx.shape[0] + 1))
        xx = sparse.csr_matrix((xx[at], at[1], starts), shape=xx.shape)
    cholesky = _full_column_rank(x)
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
    rel = 1.0 / target  # the damping compares misfits relative to their targets, as solve_g
    misfit = gap - x.T @ (dd * (g - 1))
    while idx.size:
        half = (xx @ (dd * deriv)).T
        t = np.zeros((idx.size, p, p))
        t[:, rows, cols] = half
        t[:, cols, rows] = half
        before = np.abs(misfit * rel).max(axis=0)
        step = _newton_steps(t, misfit, cholesky)
        eta = eta + step
        u = x @ eta
        g, deriv = f(u, lo, hi)
        bad = (it < max_iter) & ~_finite_columns(g, deriv)
        while bad.any():  # halve the steps of the columns whose g is not finite
            it[bad] += 1
            step[:, bad] = step[:, bad] / 2
            eta[:, bad] = eta[:, bad] - step[:, bad]
            u[:, bad] = x @ eta[:, bad]
            g[:, bad], deriv[:, bad] = f(u[:, bad], lo, hi)
            bad &= (it < max_iter) & ~_finite_columns(g, deriv)
        misfit = gap - x.T @ (dd * (g - 1))
        # damping: halve the steps that make a column's fit worse
        halvings = np.zeros(idx.size, dtype=int)
        worse = np.abs(misfit * rel).max(axis=0) > before
        while worse.any():
            halvings[worse] += 1
            step[:, worse] = step[:, worse] / 2
            eta[:, worse] = eta[:, worse] - step[:, worse]
            u[:, worse] = x @ eta[:, worse]
            g[:, worse] = g_only(u[:, worse], lo, hi) if g_only is not None \
                else f(u[:, worse], lo, hi)[0]
            misfit[:, worse] = gap[:, worse] - x.T @ (dd[:, worse] * (g[:, worse] - 1))
            worse &= (np.abs(misfit * rel).max(axis=0) > before) & (halvings < 30)
        damped = halvings > 0
        if damped.any():
            deriv[:, damped] = f(u[:, damped], lo, hi)[1]
        ok = np.all(np.abs(misfit) / target < tol, axis=0)
        it[~ok] += 1
        stop = ok | (it > max_iter)
        if stop.all() and idx.size == out.shape[1]:  # every column at once: no scatter
            return g * scale, ok
        if stop.any():
            out[:, idx[stop]] = g[:, stop] * scale[idx[stop]]
            converged[idx[stop]] = ok[stop]
            go = ~stop
            idx, dd, gap, eta, g, deriv, it, misfit = (
                idx[go], dd[:, go], gap[:, go], eta[:, go], g[:, go], deriv[:, go], it[go],
                misfit[:, go])
    return out, converged


def _finite_columns(g: np.ndarray, deriv: np.ndarray) -> np.ndarray:
    """The columns where g and F' are finite; their sums first (an infinite or undefined
    value makes a sum so: then, or if a sum overflows, the columns are checked one by one)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(g.sum()) and np.isfinite(deriv.sum()):
            return np.ones(g.shape[1], dtype=bool)
    return np.isfinite(g).all(axis=0) & np.isfinite(deriv).all(axis=0)


def _full_column_rank(x: np.ndarray) -> bool:
    """Whether X has independent columns (smallest singular value above 1e-7 times the
    largest), decided once: else every T is singular and the Newton steps go straight to
    the pseudo-inverse. Only a shortcut: a singular T that passes is still caught by the
    bound on its condition number in :func:`_newton_steps`."""
    if x.shape[1] == 0 or x.shape[0] < x.shape[1]:
        return False
    s = np.linalg.svd(x, compute_uv=False)
    return bool(s[-1] > 1e-7 * s[0])


# Newton steps of many columns: Cholesky where it is certified to equal the pseudo-inverse
_RCOND = 256 * np.finfo(float).eps  # the pseudo-inverse's cut-off (of solve_g too)
# Cholesky steps are taken where a bound on cond(T) is below this: far from the 1/_RCOND
# (~1.8e13) at which the pseudo-inverse starts dropping directions, so both are T^-1
_COND_LIMIT = 1e10
# the products x_j x_k are multiplied as a sparse matrix below this share of non-zeros
_SPARSE = 0.25


def _cholesky(t: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of the stack ``t`` (k x p x p); NaN factors for the matrices
    that are not numerically positive definite (LAPACK for the whole stack, else the same
    column-by-column recurrence vectorised over the stack, Golub & Van Loan 2013, sec. 4.2)."""
    try:
        return np.linalg.cholesky(t)
    except np.linalg.LinAlgError:
        pass
    p = t.shape[1]
    low = np.zeros_like(t)
    for j in range(p):  # columns of L, every matrix at once
        row = low[:, j, :j]
        pivot = t[:, j, j] - np.einsum("ri,ri->r", row, row)
        with np.errstate(invalid="ignore"):
            diag = np.sqrt(np.where(pivot > 0, pivot, np.nan))
        low[:, j, j] = diag
        if j + 1 < p:
            low[:, j + 1:, j] = ((t[:, j + 1:, j] - (low[:, j + 1:, :j] @ row[:, :, None])[:, :, 0])
                                 / diag[:, None])
    return low


def _lower_inverse(low: np.ndarray) -> np.ndarray:
    """Inverses of the lower-triangular stack ``low`` by forward substitution, row by row
    for every matrix at once: Z_ii = 1 / L_ii, Z_ij = -Z_ii sum_{j<=k<i} L_ik Z_kj."""
    p = low.shape[1]
    z = np.zeros_like(low)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_diag = 1.0 / np.diagonal(low, axis1=1, axis2=2)
    for i in range(p):
        z[:, i, i] = inv_diag[:, i]
        if i:
            z[:, i, :i] = (low[:, i:i + 1, :i] @ z[:, :i, :i])[:, 0, :] * -inv_diag[:, i, None]
    return z


def _newton_steps(t: np.ndarray, misfit: np.ndarray, cholesky: bool) -> np.ndarray:
    """T_r^+ misfit_r for each matrix of the stack ``t`` (k x p x p, symmetric positive
    semi-definite) and column of ``misfit`` (p x k): the steps of :func:`solve_g`.

    Where T = L L' and the bound ||T||_F ||L^-1||_F^2 >= ||T||_2 ||T^-1||_2 = cond(T) is below
    ``_COND_LIMIT`` no eigenvalue of T is under the pseudo-inverse's cut-off, so T^+ = T^-1
    and the step is L'^-1 (L^-1 misfit) (two triangular products); the other matrices (and
    all of them when X has dependent columns: ``cholesky`` False) take ``pinv``.
    """
    k = t.shape[0]
    step = np.empty_like(misfit)
    rest = np.ones(k, dtype=bool)
    if cholesky:
        z = _lower_inverse(_cholesky(t))
        with np.errstate(invalid="ignore", over="ignore"):
            bound = np.sqrt(np.einsum("rij,rij->r", t, t)) * np.einsum("rij,rij->r", z, z)
        rest = ~(bound < _COND_LIMIT)  # NaN (not positive definite) fails too
        if not rest.any():
            half = z @ misfit.T[:, :, None]
            return (z.transpose(0, 2, 1) @ half)[:, :, 0].T
        ok = ~rest
        zo = z[ok]
        step[:, ok] = (zo.transpose(0, 2, 1) @ (zo @ misfit.T[ok][:, :, None]))[:, :, 0].T
    if rest.any():
        pinv = np.linalg.pinv(t[rest], rcond=_RCOND, hermitian=True)
        step[:, rest] = (pinv @ misfit.T[rest][:, :, None])[:, :, 0].T
    return step
