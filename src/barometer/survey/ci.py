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
  (Kott & Carr 1997), t in place of z.

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

PROPORTION_METHODS = ("wald", "logit", "xlogit", "beta", "wilson")
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
}


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
