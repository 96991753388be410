"""Confidence-interval rules, each a small function chosen by name.

* ``wald``: estimate +/- t * SE, with t from Student's t with ``df`` degrees of freedom
  (normal when ``df`` is infinite); Korn & Graubard (1999, §5.2) for design df.
* ``logit`` / ``xlogit``: the Wald interval on the logit scale, back-transformed:
  expit(logit(p) +/- t * SE_logit) with SE_logit = SE / (p (1 - p)) (delta method; R's
  ``svyciprop`` methods ``logit`` and ``xlogit``, which coincide for a linearised
  proportion). On a replicate design R's ``logit`` fits ``svyglm(y ~ 1)`` on every
  replicate, so SE_logit is the replicate SE of the replicate logits logit(p_r) (given as
  ``se_logit``); ``xlogit`` keeps the delta method.
* ``beta``: Korn & Graubard (1998) Clopper-Pearson interval with the effective sample size
  n* = p (1 - p) / V(p), multiplied by (t_{n-1} / t_{df})^2 with n the number of rows in
  the (domain) design and df its design degrees of freedom, as R's ``svyciprop``:
  [Beta_{a/2}(n* p, n* (1 - p) + 1), Beta_{1-a/2}(n* p + 1, n* (1 - p))].
* ``wilson``: Wilson's score interval with the effective sample size n* = p (1 - p) / V(p)
  (Kott & Carr 1997), t in place of z (t_{df} with the df asked for), as survey 4.5's
  ``svyciprop(method = "wilson")``:
  (p + t^2/(2 n*) -/+ t/(2 n*) sqrt(4 n* p (1 - p) + t^2)) / (1 + t^2 / n*).
* ``asin``: the Wald interval of asin(sqrt(p)) (delta-method SE = SE / (2 sqrt(p (1 - p)))),
  mapped back by sin(.)^2 (R's ``svyciprop(method = "asin")``).
* ``likelihood``: Rao & Scott's (scaled) profile-likelihood interval of the intercept-only
  quasi-binomial model (R's ``svyciprop(method = "likelihood")``, i.e. ``confint.svyglm``
  with ``method = "likelihood"``; Lumley & Scott 2014): with b = logit(p), its design
  SE s_b, the model-based variance 1 / (m p (1 - p)) (m the model's rows, weights scaled
  to mean 1) and lambda = s_b^2 m p (1 - p), the deviance is profiled over
  b + k (z_max / 5) s_b, k = +/-1..9 while |z| < z_max = sqrt(F_{1-a*}(1, m - 1)),
  a* = Phi(t_{a/2} sqrt(lambda)) / 2, z = sign(k) sqrt((D(b_k) - D(b)) / phi) with
  D(b_k) - D(b) = 2 m (p log(p / mu) + (1 - p) log((1 - p) / (1 - mu))), mu = expit(b_k),
  and phi the dispersion of the Pearson residuals r (R's ``summary.svyglm``: their
  ``svyvar``, p (1 - p) / (mu (1 - mu)) n / (n - 1), n the rows with a positive weight;
  on a replicate design sum w r^2 / sum w); mu and b come from R's IRLS iterations (its
  last working weights give the model-based variance); the limits are where R's
  interpolating cubic spline (Forsythe, Malcolm & Moler 1977, ``spline(method = "fmm")``)
  of z against b_k, evaluated on 3 x (number of points) equispaced b, reaches
  -/+ |t_{a/2}| sqrt(lambda) (linear interpolation, R's ``approx``), mapped back by expit.

Proportions of exactly 0 or 1 have V(p) = 0, and every rule above degenerates (the logit is
infinite, n* is 0/0). For them barometer returns the exact Clopper-Pearson interval with the
unweighted domain size n: [0, 1 - (a/2)^(1/n)] for p = 0, [(a/2)^(1/n), 1] for p = 1
(a finite, conservative interval; R returns NaN or a zero-width interval there). A
proportion strictly between 0 and 1 with an SE of exactly 0 (a domain inside one PSU) has
no ``beta`` or ``wilson`` interval: NaN for that domain, as R.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import special, stats

from barometer.survey.errors import EstimationError

PROPORTION_METHODS = ("wald", "logit", "xlogit", "beta", "wilson", "likelihood", "asin")
MEAN_METHODS = ("wald",)


def t_quantile(level: float, df: float) -> float:
    """The two-sided critical value for ``level`` with ``df`` degrees of freedom."""
    if not 0 < level < 1:
        raise EstimationError("confidence level must be between 0 and 1", value=level)
    return _critical(1 - (1 - level) / 2, float(df))


@lru_cache(maxsize=1024)
def _critical(a: float, df: float) -> float:
    """The ``a`` quantile of Student's t with ``df`` degrees of freedom (normal when ``df``
    is infinite), kept per (a, df): domains of a design mostly share their df."""
    if not np.isfinite(df):
        return float(stats.norm.ppf(a))
    if df <= 0:
        return float("nan")
    return float(stats.t.ppf(a, df))


@dataclass(frozen=True)
class IntervalInput:
    """What an interval rule may need about one estimate."""

    estimate: float
    se: float
    df: float
    level: float
    n: int  # unweighted number of rows in the domain
    n_rows: int  # rows of the (domain) design, as R's nrow(design) (beta rule)
    degf: float  # design degrees of freedom of the (domain) design (beta rule)
    se_logit: float | None = None  # SE of logit(p) from replicates (logit rule)
    # likelihood rule: R's IRLS start, sums over the model's rows of W0 = w~ mu0 (1 - mu0)
    # and W0 eta0 + w~ (y - mu0), and the deviance at mu0 (w~ = w / mean w, mu0 =
    # (w~ y + 1/2) / (w~ + 1), R's binomial()$initialize)
    irls: tuple[float, float, float] | None = None
    replicate: bool = False  # a replicate design (the likelihood rule's dispersion)


def _wald(x: IntervalInput) -> tuple[float, float]:
    t = t_quantile(x.level, x.df)
    return x.estimate - t * x.se, x.estimate + t * x.se


def _logit(x: IntervalInput) -> tuple[float, float]:
    return _xlogit(x) if x.se_logit is None else _logit_scale(x, x.se_logit)


def _xlogit(x: IntervalInput) -> tuple[float, float]:
    return _logit_scale(x, x.se / (x.estimate * (1 - x.estimate)))


def _logit_scale(x: IntervalInput, se_logit: float) -> tuple[float, float]:
    p = x.estimate
    t = t_quantile(x.level, x.df)
    half = t * se_logit
    centre = special.logit(p)
    return float(special.expit(centre - half)), float(special.expit(centre + half))


def _beta(x: IntervalInput) -> tuple[float, float]:
    if not x.se > 0:  # SE exactly 0 (a domain inside one PSU): n* infinite, R gives NaN
        return float("nan"), float("nan")
    p = x.estimate
    a = 1 - x.level
    n_eff = p * (1 - p) / x.se**2
    n_eff *= (stats.t.ppf(a / 2, x.n_rows - 1) / stats.t.ppf(a / 2, x.degf)) ** 2
    low = stats.beta.ppf(a / 2, n_eff * p, n_eff * (1 - p) + 1)
    high = stats.beta.ppf(1 - a / 2, n_eff * p + 1, n_eff * (1 - p))
    return float(low), float(high)


def _wilson(x: IntervalInput) -> tuple[float, float]:
    if not x.se > 0:  # SE exactly 0: n* infinite, R gives NaN
        return float("nan"), float("nan")
    p = x.estimate
    t = t_quantile(x.level, x.df)
    n_eff = p * (1 - p) / x.se**2
    denom = 1 + t**2 / n_eff
    centre = (p + t**2 / (2 * n_eff)) / denom
    half = t * np.sqrt(p * (1 - p) / n_eff + t**2 / (4 * n_eff**2)) / denom
    return float(centre - half), float(centre + half)


def _asin(x: IntervalInput) -> tuple[float, float]:
    p = x.estimate
    t = t_quantile(x.level, x.df)
    centre = float(np.arcsin(np.sqrt(p)))
    half = t * x.se / (2.0 * np.sqrt(p * (1.0 - p)))
    return float(np.sin(centre - half) ** 2), float(np.sin(centre + half) ** 2)


def _likelihood(x: IntervalInput) -> tuple[float, float]:
    """The scaled profile-likelihood interval (see the module docstring)."""
    p = x.estimate
    se_b = x.se_logit if x.se_logit is not None else x.se / (p * (1.0 - p))
    m = float(x.n_rows)
    b0, mu_prev = _irls_intercept(p, m, x.irls)
    lam = se_b * se_b * m * mu_prev * (1.0 - mu_prev)
    a = (1.0 - x.level) / 2.0
    tq = float(stats.norm.ppf(a)) if not np.isfinite(x.df) else float(stats.t.ppf(a, x.df))
    if np.isfinite(x.df) and x.df <= 0:
        return float("nan"), float("nan")
    alpha = float(stats.norm.cdf(tq * np.sqrt(lam))) / 2.0
    # sqrt of the upper alpha quantile of F(1, m - 1) = the upper alpha/2 quantile of t_{m-1}
    # (scipy's F quantile fails for the tiny alpha of a large design effect)
    zmax = float(stats.t.isf(alpha / 2.0, m - 1))
    step = zmax / 5.0
    mu = float(special.expit(b0))
    if x.replicate:  # R's summary.svrepglm: sum w r^2 / sum w of the Pearson residuals r
        phi = (p - 2.0 * p * mu + mu * mu) / (mu * (1.0 - mu))
    else:  # R's summary.svyglm: svyvar(r) = p (1 - p) / (mu (1 - mu)) n / (n - 1)
        phi = p * (1.0 - p) / (mu * (1.0 - mu)) * x.n / (x.n - 1.0)
    dev0 = _binomial_deviance(p, m, b0)

    def z_of(b: float, sign: float) -> float:
        dev = _binomial_deviance(p, m, b) - dev0
        return sign * float(np.sqrt(max(dev / phi, 0.0)))

    zs, bs = [0.0], [b0]
    for sign in (-1.0, 1.0):
        k, z = 0, 0.0
        while (k := k + 1) < 10 and abs(z) < zmax:
            b = b0 + sign * k * step * se_b
            z = z_of(b, sign)
            zs.append(z)
            bs.append(b)
    order = np.argsort(zs, kind="stable")
    xs, ys = np.asarray(bs)[order], np.asarray(zs)[order]
    grid = np.linspace(xs.min(), xs.max(), 3 * xs.size)
    curve = fmm_spline(xs, ys, grid)
    cut = np.array([stats.norm.ppf(2 * alpha), stats.norm.isf(2 * alpha)])
    srt = np.argsort(curve, kind="stable")
    lo_hi = np.interp(cut, curve[srt], grid[srt], left=np.nan, right=np.nan)
    return float(special.expit(lo_hi[0])), float(special.expit(lo_hi[1]))


def _binomial_deviance(p: float, m: float, b: float) -> float:
    """The deviance of the intercept-only model at b for a 0/1 outcome with mean p over
    weights summing to m: -2 m (p log mu + (1 - p) log(1 - mu)), mu = expit(b)."""
    return -2.0 * m * (p * float(special.log_expit(b)) + (1.0 - p) * float(special.log_expit(-b)))


def _irls_intercept(p: float, m: float, start: tuple[float, float, float] | None
                    ) -> tuple[float, float]:
    """R's ``glm.fit`` of the intercept-only logistic model: the coefficient and the mean at
    which the last iteration's working weights were computed (R's ``glm$weights``, which
    its ``naive.cov`` uses). The first step starts from R's per-row mu0 (``start``); later
    steps have one mean for all rows, b += (p - mu) / (mu (1 - mu)); iterations stop when
    |dev - dev_old| < 1e-8 (|dev| + 0.1), at most 25. Without ``start``: logit(p)."""
    if start is None:
        return float(special.logit(p)), p
    s_w, s_wz, dev_old = start
    b = s_wz / s_w
    mu_prev = float("nan")  # the first step's weights vary by row: no single mean
    for _ in range(24):
        dev = _binomial_deviance(p, m, b)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < 1e-8:
            break
        dev_old = dev
        mu_prev = float(special.expit(b))
        b += (p - mu_prev) / (mu_prev * (1.0 - mu_prev))
    if not np.isfinite(mu_prev):
        mu_prev = p
    return b, mu_prev


def fmm_spline(x: np.ndarray, y: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The interpolating cubic spline of Forsythe, Malcolm & Moler (1977, ``spline`` in
    ch. 4; R's ``spline(method = "fmm")``): end conditions match the third derivatives of
    the cubics through the first and last four points; evaluated at ``u`` (beyond the
    ends, the end cubics)."""
    n = x.size
    if n < 2:
        return np.full(u.shape, y[0] if n else np.nan)
    b = np.zeros(n)
    c = np.zeros(n)
    d = np.zeros(n)
    if n < 3:
        b[:] = (y[1] - y[0]) / (x[1] - x[0])
    else:
        nm1 = n - 1
        d[0] = x[1] - x[0]
        c[1] = (y[1] - y[0]) / d[0]
        for i in range(1, nm1):  # a tridiagonal system of a few points: a short loop
            d[i] = x[i + 1] - x[i]
            b[i] = 2.0 * (d[i - 1] + d[i])
            c[i + 1] = (y[i + 1] - y[i]) / d[i]
            c[i] = c[i + 1] - c[i]
        b[0] = -d[0]
        b[nm1] = -d[n - 2]
        c[0] = c[nm1] = 0.0
        if n > 3:
            c[0] = c[2] / (x[3] - x[1]) - c[1] / (x[2] - x[0])
            c[nm1] = c[n - 2] / (x[nm1] - x[n - 3]) - c[n - 3] / (x[n - 2] - x[n - 4])
            c[0] = c[0] * d[0] * d[0] / (x[3] - x[0])
            c[nm1] = -c[nm1] * d[n - 2] * d[n - 2] / (x[nm1] - x[n - 4])
        for i in range(1, n):
            t = d[i - 1] / b[i - 1]
            b[i] -= t * d[i - 1]
            c[i] -= t * c[i - 1]
        c[nm1] /= b[nm1]
        for i in range(n - 2, -1, -1):
            c[i] = (c[i] - d[i] * c[i + 1]) / b[i]
        b[nm1] = (y[n - 1] - y[n - 2]) / d[n - 2] + d[n - 2] * (c[n - 2] + 2.0 * c[n - 1])
        for i in range(nm1):
            b[i] = (y[i + 1] - y[i]) / d[i] - d[i] * (c[i + 1] + 2.0 * c[i])
            d[i] = (c[i + 1] - c[i]) / d[i]
            c[i] = 3.0 * c[i]
        c[nm1] = 3.0 * c[nm1]
        d[nm1] = d[n - 2]
    i = np.clip(np.searchsorted(x, u, side="right") - 1, 0, n - 1)
    dx = u - x[i]
    return y[i] + dx * (b[i] + dx * (c[i] + dx * d[i]))


def _boundary(x: IntervalInput) -> tuple[float, float]:
    """Exact Clopper-Pearson bound for p in {0, 1} with the unweighted n (see module doc)."""
    a = 1 - x.level
    n = max(x.n, 1)
    edge = (a / 2) ** (1 / n)
    return (0.0, 1 - edge) if x.estimate <= 0 else (edge, 1.0)


RULES: dict[str, Callable[[IntervalInput], tuple[float, float]]] = {
    "wald": _wald,
    "logit": _logit,
    "xlogit": _xlogit,
    "beta": _beta,
    "wilson": _wilson,
    "likelihood": _likelihood,
    "asin": _asin,
}


def wald_intervals(estimate: np.ndarray, se: np.ndarray, df: np.ndarray, level: float
                   ) -> np.ndarray:
    """The ``wald`` rule for many estimates at once (k x 2): estimate -/+ t_df SE, with the
    critical value of each estimate's df (kept per value); NaN where the estimate is not
    finite, as :func:`interval`."""
    t = np.array([t_quantile(level, float(d)) for d in df], dtype=float).reshape(-1)
    half = t * se
    out = np.column_stack([estimate - half, estimate + half])
    out[~np.isfinite(estimate)] = np.nan
    return out


def interval(method: str, x: IntervalInput, *, proportion: bool = False) -> tuple[float, float]:
    """The interval of rule ``method`` for one estimate."""
    allowed = PROPORTION_METHODS if proportion else MEAN_METHODS
    if method not in allowed:
        raise EstimationError(
            f"unknown confidence-interval rule {method!r} for this estimator",
            hint=f"use one of {', '.join(allowed)}",
        )
    if not np.isfinite(x.estimate):
        return float("nan"), float("nan")
    if proportion and (x.estimate <= 0 or x.estimate >= 1):
        return _boundary(x)
    return RULES[method](x)
