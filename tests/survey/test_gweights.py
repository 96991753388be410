"""The g-weight solver: many columns at once (:func:`solve_g_columns`) take, column by column,
the iterates of the one-column solver (:func:`solve_g`); the batched Cholesky steps equal
the pseudo-inverse steps where they are used."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barometer.survey.gweights import (
    _cholesky,
    _f_linear,
    _f_logit,
    _f_raking,
    _g_linear,
    _g_raking,
    _newton_steps,
    solve_g,
    solve_g_columns,
)

RCOND = 256 * np.finfo(float).eps


def _problem(seed: int, *, cells: int = 120, reps: int = 12, spread: float = 0.3,
             dependent: bool = False, total: bool = False, miss: float = 0.05
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells of three crossed margins (intercept + dummies) as in a calibration, with
    replicate-like starting weights (m x R) and targets ``miss`` away from their totals.
    ``dependent``: every category of the second margin (columns summing to the intercept);
    ``total``: a total of scores 0-10 beside the counts (another scale)."""
    rng = np.random.default_rng(seed)
    sizes = (3, 4, 5)
    codes = [rng.integers(0, k, cells) for k in sizes]
    cols = [np.ones(cells)]
    for i, (k, c) in enumerate(zip(sizes, codes, strict=True)):
        first = 0 if dependent and i == 1 else 1
        cols += [(c == j).astype(float) for j in range(first, k)]
    if total:
        cols.append(rng.uniform(0, 10, cells))
    x = np.column_stack(cols)
    base = rng.uniform(20, 80, cells)
    d = base[:, None] * rng.gamma(1 / spread**2, spread**2, (cells, reps))
    pop = (x.T @ base) * rng.uniform(1 - miss, 1 + miss, x.shape[1])
    if dependent:  # consistent targets: the second margin's categories sum to the count
        block = slice(1 + sizes[0] - 1, 1 + sizes[0] - 1 + sizes[1])
        pop[block] *= pop[0] / pop[block].sum()
    return x, d, pop


def _assert_columnwise(x: np.ndarray, d: np.ndarray, pop: np.ndarray, method: str,
                       bounds: tuple[float, float], tol: float = 1e-10,
                       max_iters: tuple[int, ...] = (50,)) -> None:
    """Each column of solve_g_columns is solve_g's: the convergence flag for every max_iter
    given (so the iteration counts too) and the g-weights to rounding: 1e-9 once converged;
    1e-7 for the iterates after up to 3 steps (the products are rounded differently, and the
    bounds amplify it: a unit that crosses a bound one ulp apart changes the next step; over
    many cycling iterations that grows, so only the flags are compared there)."""
    for max_iter in max_iters:
        g, ok = solve_g_columns(x, d, pop, method, bounds, tol=tol, max_iter=max_iter)
        for r in range(d.shape[1]):
            one = solve_g(x, d[:, r], pop, method, bounds, tol=tol, max_iter=max_iter)
            assert ok[r] == one.converged, (max_iter, r)
            if ok[r] or max_iter <= 3:
                np.testing.assert_allclose(g[:, r], one.g, rtol=1e-9 if ok[r] else 1e-7,
                                           err_msg=f"max_iter {max_iter}, column {r}")


@pytest.mark.parametrize(("method", "bounds"), [
    ("raking", (-np.inf, np.inf)), ("linear", (-np.inf, np.inf)),
    ("raking", (0.8, 1.25)), ("truncated", (0.8, 1.25)), ("logit", (0.7, 1.5)),
    ("logit", (0.9, 1.12))])
def test_columns_take_the_iterates_of_solve_g(method: str, bounds: tuple[float, float]
                                              ) -> None:
    x, d, pop = _problem(1, total=True)
    _assert_columnwise(x, d, pop, method, bounds, max_iters=(1, 2, 3, 4, 6, 50))


@pytest.mark.parametrize("method", ["raking", "linear", "logit"])
def test_rank_deficient_x_takes_the_pseudo_inverse(method: str) -> None:
    x, d, pop = _problem(2, dependent=True)
    assert np.linalg.matrix_rank(x) < x.shape[1]
    bounds = (0.7, 1.5) if method == "logit" else (-np.inf, np.inf)
    _assert_columnwise(x, d, pop, method, bounds, max_iters=(2, 50))


def test_columns_that_do_not_converge() -> None:
    # tight bounds that cannot meet 15% misses: no column converges, every one iterates
    # (steps halved and damped) to max_iter
    x, d, pop = _problem(3, miss=0.15, spread=0.5)
    ok = solve_g_columns(x, d, pop, "truncated", (0.95, 1.05), tol=1e-10, max_iter=8)[1]
    assert not ok.any()
    _assert_columnwise(x, d, pop, "truncated", (0.95, 1.05), max_iters=(8,))
    _assert_columnwise(x, d, pop, "logit", (0.9, 1.1), max_iters=(8,))


def test_a_column_with_a_singular_matrix_among_regular_ones() -> None:
    # column 0 has no weight in the cells of one category (target 0): its T is singular
    # and takes the pseudo-inverse, the other columns the Cholesky steps
    x, d, pop = _problem(4)
    empty = x[:, 2] == 1
    d[empty, 0] = 0.0
    pop0 = pop.copy()
    pop0[2] = 0.0
    for r in range(d.shape[1]):  # the others keep their category, with the same target
        assert (x[:, 2] @ d[:, r] > 0) == (r > 0)
    g, ok = solve_g_columns(x, d[:, :1], pop0, "raking", (-np.inf, np.inf), tol=1e-10,
                            max_iter=50)
    one = solve_g(x, d[:, 0], pop0, "raking", (-np.inf, np.inf), tol=1e-10, max_iter=50)
    assert ok[0] and one.converged
    np.testing.assert_allclose(g[:, 0], one.g, rtol=1e-9)
    _assert_columnwise(x, d[:, 1:], pop, "raking", (-np.inf, np.inf))


def test_damping_compares_relative_misfits_as_solve_g() -> None:
    # a total of scores (targets ~1e5) beside counts: the largest absolute misfit is the
    # total's, the largest relative one may be a count's; damping must follow solve_g
    x, d, pop = _problem(5, total=True, miss=0.12, spread=0.4)
    _assert_columnwise(x, d, pop, "truncated", (0.85, 1.2), max_iters=(2, 3, 5, 50))
    _assert_columnwise(x, d, pop, "raking", (0.85, 1.2), max_iters=(2, 3, 5, 50))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), reps=st.integers(1, 9),
       method=st.sampled_from(["raking", "linear", "logit", "truncated"]),
       dependent=st.booleans(), total=st.booleans(),
       miss=st.floats(0.0, 0.1), spread=st.floats(0.05, 0.6))
def test_columns_equal_solve_g_property(seed: int, reps: int, method: str, dependent: bool,
                                        total: bool, miss: float, spread: float) -> None:
    x, d, pop = _problem(seed, cells=60, reps=reps, dependent=dependent, total=total,
                         miss=miss, spread=spread)
    bounds = (0.6, 1.6) if method in ("logit", "truncated") else (-np.inf, np.inf)
    _assert_columnwise(x, d, pop, method, bounds, max_iters=(3, 50))


def test_newton_steps_are_pseudo_inverse_steps() -> None:
    rng = np.random.default_rng(6)
    p, k = 9, 40
    a = rng.normal(size=(k, 30, p))
    t = a.transpose(0, 2, 1) @ a  # positive definite, moderately conditioned
    # ill-conditioned (cond ~ 1e12: Cholesky works, the bound sends it to pinv), singular
    # (rank p - 2), and a zero matrix
    u, _ = np.linalg.qr(rng.normal(size=(p, p)))
    t[0] = (u * np.logspace(0, -12, p)) @ u.T
    b = a[1, :, : p - 2] @ np.hstack([np.eye(p - 2), np.ones((p - 2, 2))])
    t[1] = b.T @ b
    t[2] = 0.0
    misfit = rng.normal(size=(p, k))
    want = (np.linalg.pinv(t, rcond=RCOND, hermitian=True) @ misfit.T[:, :, None])[:, :, 0].T
    for cholesky in (True, False):
        got = _newton_steps(t, misfit, cholesky)
        np.testing.assert_allclose(got[:, 3:], want[:, 3:], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got[:, :3], want[:, :3], rtol=1e-12, atol=1e-300)


def test_cholesky_marks_the_matrices_that_are_not_positive_definite() -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(size=(6, 12, 5))
    t = a.transpose(0, 2, 1) @ a
    t[2, 0, 0] = -1.0  # indefinite
    t[4] = 0.0  # singular
    low = _cholesky(t)  # LAPACK refuses the stack: the vectorised recurrence
    good = [0, 1, 3, 5]
    np.testing.assert_allclose(low[good], np.linalg.cholesky(t[good]), rtol=1e-12)
    assert np.isnan(low[2]).any() and np.isnan(low[4]).any()


@pytest.mark.parametrize("u", [np.array([-np.inf, -800.0, -1.0, 0.0, 0.5, 800.0, np.inf,
                                         np.nan])])
def test_unbounded_distances_equal_the_general_formula(u: np.ndarray) -> None:
    lo, hi = -np.inf, np.inf
    with np.errstate(over="ignore"):
        e = np.exp(u)
    inside = (u < hi - 1) & (u > lo - 1)
    for got, want in ((_f_raking(u, lo, hi), (np.clip(e, lo, hi), np.where(inside, e, 0.0))),
                      (_f_linear(u, lo, hi), (np.clip(u + 1, lo, hi), inside.astype(float)))):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(_g_raking(u, lo, hi), np.clip(e, lo, hi))
    np.testing.assert_array_equal(_g_linear(u, lo, hi), np.clip(u + 1, lo, hi))


@pytest.mark.parametrize(("lo", "hi"), [(0.9, 1.12), (0.5, 2.0), (0.2, 5.0)])
def test_logit_distance_is_finite_and_exact(lo: float, hi: float) -> None:
    # the textbook form (L(U-1) + U(1-L)e) / (U-1 + (1-L)e), e = exp(A u), where it is
    # accurate; its derivative by central differences; bounds and a zero slope far out
    a = (hi - lo) / ((hi - 1) * (1 - lo))
    u = np.linspace(-2, 2, 401)
    e = np.exp(a * u)
    g, d = _f_logit(u, lo, hi)
    np.testing.assert_allclose(g, (lo * (hi - 1) + hi * (1 - lo) * e) / (hi - 1 + (1 - lo) * e),
                               rtol=1e-14)
    h = 1e-6
    slope = (_f_logit(u + h, lo, hi)[0] - _f_logit(u - h, lo, hi)[0]) / (2 * h)
    np.testing.assert_allclose(d, slope, rtol=1e-6, atol=1e-9)
    far = np.array([20.0, 1e3, np.inf, -20.0, -1e3, -np.inf, np.nan])
    g, d = _f_logit(far, lo, hi)
    np.testing.assert_allclose(g, [hi, hi, hi, lo, lo, lo, hi], rtol=1e-12)
    assert np.isfinite(d).all() and (d >= 0).all() and (d[1:3] == 0).all()
