"""Stage *estimate* (models): area-level small-area estimation, the Fay–Herriot model.

The model (Fay & Herriot 1979; Rao & Molina 2015, ch. 6) links the direct estimate y_d of
each area d = 1..m to area covariates x_d (a row of the m x p matrix X):

    y_d = theta_d + e_d,   theta_d = x_d'beta + u_d,   u_d ~ N(0, A),   e_d ~ N(0, D_d),

with D_d the *known* sampling variance of the direct estimate (here taken from the survey
design, :func:`direct_estimates`, optionally smoothed, :func:`smooth_variances`) and A the
model (between-area) variance. With V_d = A + D_d, the BLUP of theta_d is

    theta~_d = gamma_d y_d + (1 - gamma_d) x_d'beta~,   gamma_d = A / (A + D_d),
    beta~ = (X' V^-1 X)^-1 X' V^-1 y,

a precision-weighted mean of the direct estimate and the regression ("synthetic")
prediction; the EBLUP puts an estimate of A in it. ``gamma_d`` is the shrinkage factor.

Estimating A (each by Fisher scoring from A_0 = median(D), step A_{k+1} = A_k + s(A_k) /
F(A_k), until |A_{k+1} - A_k| / A_k <= ``tol`` or ``max_iter`` steps, then truncated at 0;
exactly R's ``sae::eblupFH`` 1.3, Molina & Marhuenda 2015), with P = V^-1 - V^-1 X (X' V^-1
X)^-1 X' V^-1:

* ``REML``: s = -tr(P)/2 + y'P P y/2,       F = tr(P P)/2             (Cressie 1992);
* ``ML``:   s = -tr(V^-1)/2 + y'P P y/2,    F = tr(V^-2)/2            (Harville 1977);
* ``FH``:   s = sum_d (y_d - x_d'beta~)^2 / V_d - (m - p),  F = sum_d 1/V_d — the moment
  equation of Fay & Herriot (1979), solved by the same iteration.

Mean squared error (second-order unbiased, as R's ``sae::mseFH``), with
g1_d = D_d (1 - B_d), B_d = D_d / (A + D_d) = 1 - gamma_d,
g2_d = B_d^2 x_d'(X' V^-1 X)^-1 x_d and g3_d = B_d^2 Var(A) / (A + D_d):

* ``REML``: g1 + g2 + 2 g3 with Var(A) = 2 / sum V_d^-2 (Prasad & Rao 1990 form; Datta &
  Lahiri 2000 show it holds for REML);
* ``ML``: the same plus the bias term of the ML estimate of A, - b B_d^2 with
  b = -tr((X'V^-1X)^-1 X'V^-2 X) / sum V_d^-2 (Datta & Lahiri 2000);
* ``FH``: Var(A) = 2 m / (sum V_d^-1)^2 and b = 2 (m sum V_d^-2 - (sum V_d^-1)^2) /
  (sum V_d^-1)^3 (Datta, Rao & Smith 2005).

A parametric bootstrap MSE (González-Manteiga, Lombardía, Molina, Morales & Santamaría 2008;
Rao & Molina 2015, §6.2.4) is also offered: :meth:`FayHerriot.bootstrap_mse` draws
theta*_d = x_d'beta^ + u*_d, y*_d = theta*_d + e*_d, refits the model on every replicate
(all replicates at once) and averages (h(theta^*_d) - h(theta*_d))^2, where h is the
back-transformation when the model is fitted on a transformed scale — so it measures the
MSE of the published figure.

Shares may be modelled on the logit or the arcsine-square-root scale (``transform=``): the
direct share p and its variance v become logit(p) with v / (p (1 - p))^2, or asin(sqrt(p))
with v / (4 p (1 - p)) (both the delta method; Rao & Molina 2015, §6.1), or with the
variance-stabilised 1 / (4 n_eff) when an effective sample size is given (Jiang, Lahiri, Wan
& Wu 2001). Estimates are back-transformed naively, h(theta^) (expit or sin^2), their MSE by
the delta method h'(theta^)^2 mse, and the intervals by transforming the model-scale limits
theta^ ± z sqrt(mse), so they stay inside [0, 1]. The naive back-transformation has a bias
of order the MSE; :meth:`FayHerriot.bootstrap_mse` measures it.

Benchmarking (:meth:`FayHerriot.benchmark`) makes the population-weighted areas add up to a
national figure T (the national direct estimate): with area population shares W_d,

* ``ratio``:      theta^b_d = theta^_d T / sum_j W_j theta^_j           (Pfeffermann 2013);
* ``difference``: theta^b_d = theta^_d + (T - sum_j W_j theta^_j)  — every area moves by the
  same amount (Datta, Ghosh, Steorts & Maples 2011, with weights phi_d = W_d);
* ``precision``:  theta^b_d = theta^_d + (mse_d W_d / sum_j mse_j W_j^2)
  (T - sum_j W_j theta^_j) — the less precise areas absorb more (Datta et al. 2011 with
  phi_d = 1 / mse_d).

The benchmarked MSE is approximated by mse_d + (theta^b_d - theta^_d)^2 (Steorts & Ghosh
2013: the benchmarking adds, to second order, the squared adjustment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from barometer.survey.design import Design
from barometer.survey.errors import EstimationError
from barometer.survey.estimate import estimate

Method = Literal["REML", "ML", "FH"]
METHODS: tuple[str, ...] = ("REML", "ML", "FH")
TRANSFORMS: tuple[str, ...] = ("none", "logit", "arcsine")
BENCHMARKS: tuple[str, ...] = ("ratio", "difference", "precision")
MSE_METHODS = {"REML": "Datta–Lahiri (REML; Prasad–Rao form)", "ML": "Datta–Lahiri (ML)",
               "FH": "Datta–Rao–Smith (FH moment)"}

COLUMNS = ["area", "direct", "vardir", "synthetic", "eblup", "mse", "rmse", "rrmse",
           "ci_low", "ci_high", "gamma", "residual", "std_residual", "method"]


# --------------------------------------------------------------------------------------------
# The fitting core: Fisher scoring for A, for B response vectors at once
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Fit:
    A: np.ndarray          # (B,) model variance, truncated at 0
    iterations: np.ndarray  # (B,) Fisher-scoring steps
    converged: np.ndarray   # (B,) bool
    beta: np.ndarray        # (B, p)
    xvx_inv: np.ndarray     # (B, p, p) (X' V^-1 X)^-1
    eblup: np.ndarray       # (m, B)


def _gls(Vi: np.ndarray, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """beta_b = (X' V_b^-1 X)^-1 X' V_b^-1 y_b and the inverse, for every column b."""
    M = np.einsum("ib,ij,ik->bjk", Vi, X, X)
    Q = np.linalg.inv(M)
    rhs = np.einsum("ij,ib->bj", X, Vi * Y)
    beta = np.einsum("bjk,bk->bj", Q, rhs)
    return beta, Q


def _fit(Y: np.ndarray, D: np.ndarray, X: np.ndarray, method: str, max_iter: int,
         tol: float) -> _Fit:
    """Fit the Fay–Herriot model to every column of ``Y`` (m x B) with the same D and X.

    The iteration of each column stops on its own rule, exactly as R's ``eblupFH`` does for
    one response, so a column's result does not depend on the others.
    """
    m, p = X.shape
    B = Y.shape[1]
    A = np.full(B, float(np.median(D)))
    iterations = np.zeros(B, dtype=int)
    active = np.ones(B, dtype=bool)
    diff = np.full(B, np.inf)
    for _ in range(max_iter):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        a = A[idx]
        y = Y[:, idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            Vi = 1.0 / (a[None, :] + D[:, None])
            beta, Q = _gls(Vi, X, y)
            resid = y - X @ beta.T
            if method == "FH":
                s = (resid**2 * Vi).sum(axis=0) - (m - p)
                F = Vi.sum(axis=0)
            else:
                Py = Vi * resid  # P y = V^-1 (y - X beta~)
                quad = 0.5 * (Py**2).sum(axis=0)
                if method == "ML":
                    s = -0.5 * Vi.sum(axis=0) + quad
                    F = 0.5 * (Vi**2).sum(axis=0)
                else:  # REML: tr P and tr P P without forming the m x m matrix P
                    X2 = np.einsum("ib,ij,ik->bjk", Vi**2, X, X)
                    X3 = np.einsum("ib,ij,ik->bjk", Vi**3, X, X)
                    QX2 = Q @ X2
                    tr_p = Vi.sum(axis=0) - np.trace(QX2, axis1=1, axis2=2)
                    tr_pp = ((Vi**2).sum(axis=0) - 2 * np.trace(Q @ X3, axis1=1, axis2=2)
                             + np.einsum("bjk,bkj->b", QX2, QX2))
                    s = -0.5 * tr_p + quad
                    F = 0.5 * tr_pp
            new = a + s / F
            d = np.abs((new - a) / a)
        A[idx] = new
        iterations[idx] += 1
        diff[idx] = d
        active[idx] = ~(d <= tol)  # R: while (diff > PRECISION) — NaN stops it too
        active[idx] &= np.isfinite(d)
    converged = ~((iterations >= max_iter) & ~(diff < tol)) & np.isfinite(A) & ~np.isnan(diff)
    A = np.maximum(np.where(np.isfinite(A), A, 0.0), 0.0)
    Vi = 1.0 / (A[None, :] + D[:, None])
    beta, Q = _gls(Vi, X, Y)
    synthetic = X @ beta.T
    eblup = synthetic + A[None, :] * Vi * (Y - synthetic)
    return _Fit(A, iterations, converged, beta, Q, eblup)


def _mse(A: float, D: np.ndarray, X: np.ndarray, Q: np.ndarray, method: str) -> np.ndarray:
    """Second-order MSE of the EBLUP (R's ``sae::mseFH``; formulas in the module docstring)."""
    m = X.shape[0]
    Vi = 1.0 / (A + D)
    Bd = D * Vi
    sum_v2 = float((Vi**2).sum())
    g1 = D * (1.0 - Bd)
    g2 = Bd**2 * np.einsum("ij,jk,ik->i", X, Q, X)
    if method == "FH":
        sum_v = float(Vi.sum())
        var_a = 2.0 * m / sum_v**2
        bias = 2.0 * (m * sum_v2 - sum_v**2) / sum_v**3
    else:
        var_a = 2.0 / sum_v2
        bias = (-float(np.trace(Q @ (X.T * Vi**2) @ X)) / sum_v2 if method == "ML" else 0.0)
    g3 = Bd**2 * var_a * Vi
    return g1 + g2 + 2.0 * g3 - bias * Bd**2


# --------------------------------------------------------------------------------------------
# Scales for shares
# --------------------------------------------------------------------------------------------

def _to_scale(transform: str, p: np.ndarray, v: np.ndarray, n_eff: np.ndarray | None,
              areas: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
    if transform == "none":
        return p, v
    bad = ~((p > 0) & (p < 1))
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise EstimationError(
            f"a {transform} model needs direct shares strictly between 0 and 1",
            where=f"area {areas[j]}", value=float(p[j]),
            hint="use transform='none', merge the area with a neighbour, or smooth the share")
    if transform == "logit":
        return special.logit(p), v / (p * (1 - p)) ** 2
    if n_eff is not None:
        return np.arcsin(np.sqrt(p)), 1.0 / (4.0 * n_eff)
    return np.arcsin(np.sqrt(p)), v / (4.0 * p * (1 - p))


def _back(transform: str, t: np.ndarray) -> np.ndarray:
    if transform == "logit":
        return special.expit(t)
    if transform == "arcsine":
        return np.sin(np.clip(t, 0.0, np.pi / 2)) ** 2
    return t


def _back_slope(transform: str, t: np.ndarray) -> np.ndarray:
    if transform == "logit":
        q = special.expit(t)
        return q * (1 - q)
    if transform == "arcsine":
        tc = np.clip(t, 0.0, np.pi / 2)
        return np.sin(2 * tc)
    return np.ones_like(t)


# --------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class FayHerriot:
    """A fitted Fay–Herriot model and its EBLUPs (see the module docstring for formulas).

    Arrays are per area, in the order of ``areas``. ``y``, ``vardir``, ``eblup_model``,
    ``mse_model`` and ``synthetic_model`` are on the model scale; ``direct``, ``eblup``,
    ``synthetic``, ``mse`` and the interval on the published scale (the same with
    ``transform='none'``).
    """

    areas: tuple[object, ...]
    method: str
    transform: str
    columns: tuple[str, ...]
    X: np.ndarray
    y: np.ndarray
    vardir: np.ndarray
    direct: np.ndarray
    refvar: float
    beta: np.ndarray
    beta_cov: np.ndarray
    iterations: int
    eblup_model: np.ndarray
    mse_model: np.ndarray
    ci_level: float = 0.95
    max_iter: int = 100
    tol: float = 1e-4
    mse_method: str = ""
    benchmarked: str | None = None
    adjustment: np.ndarray | None = None  # benchmarking shift on the published scale
    bootstrap: dict[str, object] = field(default_factory=dict)
    r2: float = float("nan")

    # ---- model-scale quantities
    @property
    def m(self) -> int:
        return len(self.areas)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def synthetic_model(self) -> np.ndarray:
        return self.X @ self.beta

    @property
    def gamma(self) -> np.ndarray:
        """Shrinkage factors A / (A + D_d): the weight of the direct estimate."""
        return self.refvar / (self.refvar + self.vardir)

    @property
    def residuals(self) -> np.ndarray:
        """Marginal residuals y_d - x_d'beta^."""
        return self.y - self.synthetic_model

    @property
    def std_residuals(self) -> np.ndarray:
        """Standardised residuals (y_d - x_d'beta^) / sqrt(A^ + D_d), ≈ N(0, 1) under the
        model (Rao & Molina 2015, §6.4)."""
        return self.residuals / np.sqrt(self.refvar + self.vardir)

    @property
    def loglike(self) -> float:
        v = self.refvar + self.vardir
        return float(-0.5 * np.sum(np.log(2 * np.pi * v) + self.residuals**2 / v))

    @property
    def aic(self) -> float:
        return -2 * self.loglike + 2 * (self.p + 1)

    @property
    def bic(self) -> float:
        return -2 * self.loglike + (self.p + 1) * np.log(self.m)

    # ---- published-scale quantities
    @property
    def _adj(self) -> np.ndarray:
        return np.zeros(self.m) if self.adjustment is None else self.adjustment

    @property
    def synthetic(self) -> np.ndarray:
        return _back(self.transform, self.synthetic_model)

    @property
    def eblup(self) -> np.ndarray:
        return _back(self.transform, self.eblup_model) + self._adj

    @property
    def mse(self) -> np.ndarray:
        boot = self.bootstrap.get("mse")
        base = (np.asarray(boot) if boot is not None and self.transform != "none"
                else self.mse_model * _back_slope(self.transform, self.eblup_model) ** 2)
        return base + self._adj**2

    @property
    def interval(self) -> tuple[np.ndarray, np.ndarray]:
        z = stats.norm.ppf(0.5 + self.ci_level / 2)
        if self.transform == "none":
            half = z * np.sqrt(self.mse)
            return self.eblup - half, self.eblup + half
        half = z * np.sqrt(self.mse_model)
        low = _back(self.transform, self.eblup_model - half) + self._adj
        high = _back(self.transform, self.eblup_model + half) + self._adj
        return low, high

    def coefficients(self) -> pd.DataFrame:
        """Regression coefficients with SE, z and p-value (R's ``estcoef``)."""
        se = np.sqrt(np.diag(self.beta_cov))
        z = self.beta / se
        return pd.DataFrame({"term": list(self.columns), "estimate": self.beta, "se": se,
                             "z": z, "p_value": 2 * stats.norm.sf(np.abs(z))})

    def to_frame(self) -> pd.DataFrame:
        """One row per area: direct, its variance, synthetic, EBLUP, MSE, interval,
        shrinkage and residuals (columns ``COLUMNS``)."""
        mse = self.mse
        eb = self.eblup
        low, high = self.interval
        rmse = np.sqrt(mse)
        with np.errstate(divide="ignore", invalid="ignore"):
            rrmse = np.where(eb != 0, rmse / np.abs(eb), np.nan)
        vardir = self.vardir
        if self.transform != "none":  # the sampling variance back on the published scale
            vardir = self.vardir * _back_slope(self.transform, self.y) ** 2
        method = f"Fay–Herriot EBLUP ({self.method}" + (
            f", {self.transform} scale" if self.transform != "none" else "") + (
            f", {self.benchmarked} benchmarked" if self.benchmarked else "") + ")"
        return pd.DataFrame({
            "area": list(self.areas), "direct": self.direct, "vardir": vardir,
            "synthetic": self.synthetic, "eblup": eb, "mse": mse, "rmse": rmse,
            "rrmse": rrmse, "ci_low": low, "ci_high": high, "gamma": self.gamma,
            "residual": self.residuals, "std_residual": self.std_residuals,
            "method": method,
        }, columns=COLUMNS)

    def diagnostics(self) -> dict[str, float]:
        """Model checks: R² (share of between-area variance the covariates explain), the
        standardised residuals' moments and Shapiro–Wilk p-value, Brown et al. (2001)'s
        goodness-of-fit W = sum (y - eblup)^2 / (D + mse) against chi²(m), the mean shrinkage
        and the median ratio of root-MSE to the direct standard error."""
        r = self.std_residuals
        w_stat = float(np.sum((self.y - self.eblup_model) ** 2
                              / (self.vardir + self.mse_model)))
        return {
            "m": float(self.m), "p": float(self.p), "refvar": self.refvar,
            "r2": self.r2, "loglike": self.loglike, "aic": self.aic, "bic": self.bic,
            "mean_gamma": float(self.gamma.mean()),
            "std_resid_mean": float(r.mean()), "std_resid_sd": float(r.std(ddof=1)),
            "shapiro_p": float(stats.shapiro(r).pvalue) if self.m >= 3 else float("nan"),
            "brown_w": w_stat, "brown_p": float(stats.chi2.sf(w_stat, self.m)),
            "median_rmse_ratio": float(np.median(np.sqrt(self.mse_model / self.vardir))),
            "corr_direct_eblup": float(np.corrcoef(self.y, self.eblup_model)[0, 1]),
        }

    def comparison(self) -> pd.DataFrame:
        """Direct against model estimate per area: both, their root-MSEs (the direct one is
        its standard error) and the gain in precision, 1 - rmse(model) / se(direct)."""
        t = self.to_frame()
        direct_se = np.sqrt(t["vardir"].to_numpy())
        return pd.DataFrame({
            "area": t["area"], "direct": t["direct"], "direct_se": direct_se,
            "eblup": t["eblup"], "rmse": t["rmse"], "difference": t["eblup"] - t["direct"],
            "gain": 1.0 - t["rmse"].to_numpy() / direct_se, "gamma": t["gamma"],
        })

    def summary(self, digits: int = 4) -> str:
        """A readable account of the fit: variance, coefficients, diagnostics, areas."""
        dg = self.diagnostics()
        head = (f"Fay–Herriot model, {self.m} areas, {self.method} (A = {self.refvar:.{digits}g},"
                f" {self.iterations} iterations); MSE: {self.mse_method}"
                + (f"; {self.transform} scale" if self.transform != "none" else "")
                + (f"; {self.benchmarked} benchmarked" if self.benchmarked else ""))
        fit = (f"R² {dg['r2']:.3f}; mean shrinkage {dg['mean_gamma']:.3f}; "
               f"std. residuals mean {dg['std_resid_mean']:.3f} sd {dg['std_resid_sd']:.3f};"
               f" Brown W {dg['brown_w']:.3g} (p {dg['brown_p']:.3g})")
        with pd.option_context("display.float_format", lambda v: f"{v:.{digits}g}",
                               "display.width", 120):
            coef = self.coefficients().to_string(index=False)
            areas = self.to_frame().drop(columns=["method", "residual"]).to_string(index=False)
        return "\n".join([head, coef, fit, areas])

    def __repr__(self) -> str:
        return self.summary()

    # ---- transformations of the result
    def benchmark(self, national: float, weights: Sequence[float] | np.ndarray,
                  kind: str = "ratio") -> FayHerriot:
        """Benchmark so that sum_d W_d eblup_d = ``national`` (W = ``weights`` normalised to
        sum 1, e.g. area population shares); ``kind``: ``ratio``, ``difference`` or
        ``precision`` (formulas in the module docstring). Returns a new result."""
        if kind not in BENCHMARKS:
            raise EstimationError(f"unknown benchmarking {kind!r}", value=kind,
                                  hint=f"use one of {BENCHMARKS}")
        w = np.asarray(weights, dtype=float)
        if w.shape != (self.m,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise EstimationError("benchmark weights must be one non-negative number per area",
                                  value=w.tolist(), hint=f"pass {self.m} population shares")
        w = w / w.sum()
        base = _back(self.transform, self.eblup_model)
        gap = float(national) - float(w @ base)
        if kind == "ratio":
            level = float(w @ base)
            if level == 0:
                raise EstimationError("ratio benchmarking of estimates that sum to 0",
                                      hint="use kind='difference'")
            adj = base * (float(national) / level - 1.0)
        elif kind == "difference":
            adj = np.full(self.m, gap)
        else:
            phi = self.mse - self._adj**2
            adj = phi * w / float(np.sum(phi * w**2)) * gap
        return replace(self, adjustment=adj, benchmarked=kind)

    def bootstrap_mse(self, rng: np.random.Generator, B: int = 500) -> FayHerriot:
        """Parametric bootstrap MSE (González-Manteiga et al. 2008) with ``B`` replicates
        drawn from ``rng``; replicates whose fit does not converge are dropped (their number
        is in ``bootstrap['dropped']``). Returns a new result whose ``mse`` (on the published
        scale) is the bootstrap one; the analytic ``mse_model`` is kept."""
        if B < 1:
            raise EstimationError("the bootstrap needs at least one replicate", value=B)
        u = rng.standard_normal((self.m, B)) * np.sqrt(self.refvar)
        e = rng.standard_normal((self.m, B)) * np.sqrt(self.vardir)[:, None]
        theta = self.synthetic_model[:, None] + u
        fit = _fit(theta + e, self.vardir, self.X, self.method, self.max_iter, self.tol)
        ok = fit.converged
        err = (_back(self.transform, fit.eblup[:, ok]) - _back(self.transform, theta[:, ok]))
        mse = (err**2).mean(axis=1)
        boot = {"mse": mse, "B": int(ok.sum()), "dropped": int((~ok).sum())}
        if self.transform == "none":
            return replace(self, mse_model=mse, bootstrap=boot,
                           mse_method=f"parametric bootstrap (B = {int(ok.sum())})")
        return replace(self, bootstrap=boot,
                       mse_method=f"parametric bootstrap (B = {int(ok.sum())})")


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------

def _model_matrix(frame: pd.DataFrame, covariates: Sequence[str], intercept: bool
                  ) -> tuple[np.ndarray, list[str]]:
    """Numeric covariates as they are; text, boolean and categorical ones by treatment coding
    (reference: the first level in sorted order), named variable + level as R does."""
    cols: list[np.ndarray] = [np.ones(len(frame))] if intercept else []
    names = ["(Intercept)"] if intercept else []
    for c in covariates:
        if c not in frame.columns:
            raise EstimationError(f"covariate {c!r} is not a column of the area table",
                                  where=f"column {c}", hint=f"columns: {list(frame.columns)}")
        col = frame[c]
        if col.isna().any():
            row = int(np.flatnonzero(col.isna().to_numpy())[0])
            raise EstimationError(f"covariate {c!r} has missing values",
                                  where=f"column {c}, area row {row}",
                                  hint="impute or drop the covariate: every area needs it")
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if numeric and not isinstance(col.dtype, pd.CategoricalDtype):
            cols.append(col.to_numpy(float))
            names.append(c)
            continue
        levels = (list(col.cat.categories) if isinstance(col.dtype, pd.CategoricalDtype)
                  else sorted(pd.unique(col).tolist(), key=str))
        levels = [lv for lv in levels if (col == lv).any()]
        for lv in levels[1:] if intercept else levels:
            cols.append((col == lv).to_numpy(float))
            names.append(f"{c}{lv}")
    if not cols:
        raise EstimationError("the model has no covariate and no intercept",
                              hint="pass covariates or intercept=True")
    return np.column_stack(cols), names


def fay_herriot(
    data: pd.DataFrame,
    y: str,
    vardir: str,
    covariates: Sequence[str] = (),
    *,
    area: str | None = None,
    method: str = "REML",
    intercept: bool = True,
    transform: str = "none",
    n_eff: str | None = None,
    ci_level: float = 0.95,
    max_iter: int = 100,
    tol: float = 1e-4,
) -> FayHerriot:
    """Fit a Fay–Herriot model to an area table and return its EBLUPs and MSEs.

    ``data``: one row per area with the direct estimate ``y``, its sampling variance
    ``vardir`` and the ``covariates``; ``area`` names the area column (default: the index).
    ``method``: ``REML`` (default), ``ML`` or ``FH``; ``max_iter`` and ``tol`` are the
    Fisher-scoring limits of R's ``eblupFH`` (``MAXITER = 100``, ``PRECISION = 1e-4``).
    ``transform``: ``none``, ``logit`` or ``arcsine`` for shares (``n_eff``: a column of
    effective sample sizes for the variance-stabilised arcsine variance).
    """
    if method not in METHODS:
        raise EstimationError(f"unknown Fay–Herriot method {method!r}", value=method,
                              hint=f"use one of {METHODS}")
    if transform not in TRANSFORMS:
        raise EstimationError(f"unknown transform {transform!r}", value=transform,
                              hint=f"use one of {TRANSFORMS}")
    for c in (y, vardir) + ((n_eff,) if n_eff else ()):
        if c not in data.columns:
            raise EstimationError(f"column {c!r} is not in the area table", where=f"column {c}",
                                  hint=f"columns: {list(data.columns)}")
    frame = data.reset_index(drop=area is not None)
    areas = tuple(data[area].tolist() if area is not None else data.index.tolist())
    yv = pd.to_numeric(frame[y], errors="coerce").to_numpy(float)
    dv = pd.to_numeric(frame[vardir], errors="coerce").to_numpy(float)
    for name, v in ((y, yv), (vardir, dv)):
        bad = ~np.isfinite(v)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise EstimationError(f"column {name!r} has a missing or non-numeric value",
                                  where=f"area {areas[j]}", value=frame[name].iloc[j],
                                  hint="every area needs a direct estimate and its variance")
    if (dv <= 0).any():
        j = int(np.flatnonzero(dv <= 0)[0])
        raise EstimationError("sampling variances must be positive", where=f"area {areas[j]}",
                              value=float(dv[j]),
                              hint="smooth the variances (smooth_variances) or drop the area")
    X, names = _model_matrix(frame, covariates, intercept)
    m, p = X.shape
    if m <= p:
        raise EstimationError(f"{m} areas cannot fit {p} coefficients",
                              hint="use fewer covariates")
    if np.linalg.matrix_rank(X) < p:
        raise EstimationError("the covariates are collinear", value=names,
                              hint="drop a covariate that is a combination of others")
    ne = frame[n_eff].to_numpy(float) if n_eff else None
    ym, dm = _to_scale(transform, yv, dv, ne, areas)
    fit = _fit(ym[:, None], dm, X, method, max_iter, tol)
    if not fit.converged[0]:
        raise EstimationError(f"the {method} iteration did not converge in {max_iter} steps",
                              value=int(fit.iterations[0]),
                              hint="raise max_iter, or use method='FH'")
    A = float(fit.A[0])
    Q = fit.xvx_inv[0]
    r2 = float("nan")
    if p > 1 or not intercept:
        one = np.ones((m, 1))
        null = _fit(ym[:, None], dm, one, method, max_iter, tol)
        if null.converged[0] and null.A[0] > 0:
            r2 = float(np.clip(1.0 - A / null.A[0], 0.0, 1.0))
    return FayHerriot(
        areas=areas, method=method, transform=transform, columns=tuple(names), X=X,
        y=ym, vardir=dm, direct=yv, refvar=A, beta=fit.beta[0], beta_cov=Q,
        iterations=int(fit.iterations[0]), eblup_model=fit.eblup[:, 0],
        mse_model=_mse(A, dm, X, Q, method), ci_level=ci_level, max_iter=max_iter, tol=tol,
        mse_method=MSE_METHODS[method], r2=r2,
    )


def direct_estimates(design: Design, y: str, area: str, *, level: object = None,
                     stat: str = "mean") -> pd.DataFrame:
    """Direct estimates of ``y`` by ``area`` with their design-based sampling variances.

    The variances come from the design through :func:`barometer.survey.estimate.estimate`:
    linearised (strata, clusters, fpc, calibration residuals) or replicate, whichever the
    design carries. ``level``: estimate the share of ``y == level`` (``stat='proportion'``).
    Returns one row per area: ``area, n, direct, direct_se, var, n_eff, deff, method``.
    """
    if level is not None:
        stat = "proportion"
    est = estimate(design, stat, y, level=level, by=area, ci="wald")  # type: ignore[arg-type]
    t = est.to_frame()
    return pd.DataFrame({
        "area": t["domain"].to_numpy(), "n": t["n"].to_numpy(int),
        "direct": t["estimate"].to_numpy(float), "direct_se": t["se"].to_numpy(float),
        "var": t["se"].to_numpy(float) ** 2, "n_eff": t["n_eff"].to_numpy(float),
        "deff": t["deff"].to_numpy(float), "method": t["method"].to_numpy(),
    })


def smooth_variances(direct: pd.DataFrame, *, kind: str = "loglinear", min_n: int | None = None,
                     share: bool = True, p_source: str = "area") -> pd.DataFrame:
    """Smooth direct sampling variances by a generalised variance function (GVF).

    Direct variances of small areas are themselves very noisy, and the Fay–Herriot model
    treats them as known; a GVF replaces them by a prediction from a model fitted over all
    areas (Wolter 2007, ch. 7; Rao & Molina 2015, §6.4.1). With ``direct`` as returned by
    :func:`direct_estimates` (columns ``n``, ``direct``, ``var``):

    * ``loglinear``: OLS of log v_d = a + b log n_d + c log(p_d (1 - p_d)) over the areas
      with a positive variance (for a mean, ``share=False``: log v_d = a + b log n_d), the
      prediction exp(fit) times Duan's (1983) smearing factor mean(exp(residual));
    * ``deff``: v_d = deff p_d (1 - p_d) / n_d with the pooled design effect
      deff = sum v_d / sum (p_d (1 - p_d) / n_d) (shares only; Wolter 2007, §7.2).

    Shares of 0 or 1 use p clipped to [0.5 / n, 1 - 0.5 / n]. ``p_source``: the share in the
    prediction's p (1 - p): ``area``, the area's own direct p_d; ``pooled``, the pooled share
    p = sum n_d p_d / sum n_d of all areas (the fitted coefficients still use p_d). ``pooled``
    keeps the smoothed variance independent of the area's own estimate: with p_d, an area
    whose sample share happens to be near 0 or 1 gets a small variance, hence a large weight
    in the model's regression, which biases the fit towards the extremes (Rao & Molina 2015,
    §6.4.1; You & Chapman 2006 smooth with a model-based p). ``min_n``: smooth only areas
    with n < ``min_n`` (and those with no positive variance); default every area. Adds the
    columns ``smoothed_var`` and ``smoothed`` (whether the area's variance was replaced).
    """
    if kind not in ("loglinear", "deff"):
        raise EstimationError(f"unknown GVF {kind!r}", value=kind,
                              hint="use 'loglinear' or 'deff'")
    for c in ("n", "direct", "var"):
        if c not in direct.columns:
            raise EstimationError(f"the direct table has no column {c!r}", where=f"column {c}",
                                  hint="pass the frame returned by direct_estimates")
    n = direct["n"].to_numpy(float)
    v = direct["var"].to_numpy(float)
    usable = np.isfinite(v) & (v > 0) & (n > 1)
    if usable.sum() < 3:
        raise EstimationError("a GVF needs at least 3 areas with a positive variance",
                              value=int(usable.sum()), hint="pool areas or skip smoothing")
    if p_source not in ("area", "pooled"):
        raise EstimationError(f"unknown p_source {p_source!r}", value=p_source,
                              hint="use 'area' or 'pooled'")
    p = np.clip(direct["direct"].to_numpy(float), 0.5 / n, 1 - 0.5 / n)
    pq = p * (1 - p)
    ok = np.isfinite(p) & (n > 0)
    p_pool = float(np.sum(n[ok] * p[ok]) / np.sum(n[ok]))
    p_pred = np.clip(np.full_like(p, p_pool), 0.5 / n, 1 - 0.5 / n) if (
        p_source == "pooled" and share) else p
    pq_pred = p_pred * (1 - p_pred)
    if kind == "deff":
        if not share:
            raise EstimationError("the deff GVF is for shares", hint="use kind='loglinear'")
        deff = v[usable].sum() / (pq[usable] / n[usable]).sum()
        pred = deff * pq_pred / n
    else:
        Z = np.column_stack([np.ones_like(n), np.log(n)] + ([np.log(pq)] if share else []))
        coef, *_ = np.linalg.lstsq(Z[usable], np.log(v[usable]), rcond=None)
        resid = np.log(v[usable]) - Z[usable] @ coef
        Zp = np.column_stack([np.ones_like(n), np.log(n)]
                             + ([np.log(pq_pred)] if share else []))
        pred = np.exp(Zp @ coef) * np.mean(np.exp(resid))
    replace_ = np.ones(len(n), dtype=bool) if min_n is None else (~usable | (n < min_n))
    out = direct.copy()
    out["smoothed_var"] = np.where(replace_, pred, v)
    out["smoothed"] = replace_
    return out


__all__ = ["COLUMNS", "METHODS", "FayHerriot", "direct_estimates", "fay_herriot",
           "smooth_variances"]
