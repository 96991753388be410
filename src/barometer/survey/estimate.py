"""Stage *estimate*: design-based estimators with standard errors, intervals and diagnostics.

Estimators (Särndal, Swensson & Wretman 1992, ch. 5 and 7; Lumley 2010, ch. 2):

* total     t = sum_i w_i y_i,                       influence  w_i y_i
* mean      m = sum_i w_i y_i / sum_i w_i,           influence  w_i (y_i - m) / sum w
* ratio     R = sum_i w_i y_i / sum_i w_i x_i,       influence  w_i (y_i - R x_i) / sum w x
* proportion of ``y == level``: the mean of the indicator
* quantile  by the weighted rules ``math`` (inverse of the weighted CDF) and ``hf7``
  (Hyndman & Fan type 7 on weighted plotting positions), with Woodruff (1952) intervals: the
  interval of the CDF at the estimated quantile, mapped back through the same rule; its SE is
  the interval width / (2 t) (R's ``svyquantile``, ``interval.type = "mean"``).

A domain (``by=``) never drops rows: its influence values are zero outside the domain, so the
variance keeps the whole design (Lumley 2010, §2.3). Rows with a missing ``y`` (or ``x``) are
out of every domain (R's ``na.rm = TRUE``).

Design effects (Kish 1965; R's ``deff = TRUE``): ``deff`` = V / V_srswor with
V_srswor = s^2 (N - n) / (N n) for a mean (times N^2 for a total), s^2 the weighted variance
with divisor n - 1, n the number of rows and N the sum of weights in the domain; ``deff_replace``
uses V_srswr = s^2 / n. ``n_eff`` is Kish's effective sample size (sum w)^2 / sum w^2.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special

from barometer.survey.calibrate import calibrations
from barometer.survey.ci import IntervalInput, interval, t_quantile
from barometer.survey.design import Design
from barometer.survey.domains import (
    Linear,
    design_effects,
    domains,
    has_nan,
    level_match,
    method_name,
    numeric_column,
    resolve_df,
    sort_key,
)
from barometer.survey.errors import EstimationError
from barometer.survey.quantile import estimate_quantiles
from barometer.survey.results import COLUMNS, Estimates
from barometer.survey.variance import linearized_variance

Statistic = Literal["mean", "total", "ratio", "proportion", "quantile"]
STATISTICS: tuple[str, ...] = ("mean", "total", "ratio", "proportion", "quantile")
QRULES: tuple[str, ...] = ("math", "hf7")
def estimate(
    design: Design,
    stat: Statistic,
    y: str,
    *,
    x: str | None = None,
    level: object | Sequence[object] | None = None,
    q: float | Sequence[float] = 0.5,
    qrule: str = "math",
    by: str | None = None,
    ci: str | None = None,
    ci_level: float = 0.95,
    df: str | float = "design",
) -> Estimates:
    """Estimate a statistic of ``y`` with its SE, interval and diagnostics.

    ``stat``: ``mean``, ``total``, ``ratio`` (``y``/``x``), ``proportion`` (share of
    ``y == level``; every level when ``level`` is None) or ``quantile`` (``q``, ``qrule``).
    ``by``: domain variable. ``ci``: interval rule (default ``wald``, ``logit`` for
    proportions, ``woodruff`` for quantiles). ``df``: ``design`` (#PSU - #strata of the
    domain), ``inf`` or a number.
    """
    if stat not in STATISTICS:
        raise EstimationError(f"unknown statistic {stat!r}", hint=f"use one of {STATISTICS}")
    if stat == "quantile":
        qs = [q] if isinstance(q, int | float) else list(q)
        return estimate_quantiles(design, y, qs, qrule=qrule, by=by, ci=ci or "woodruff",
                                  ci_level=ci_level, df=df)
    if stat == "proportion":
        col = design.column(y)
        levels = (sorted(pd.unique(col.dropna()).tolist(), key=sort_key) if level is None
                  else list(level) if isinstance(level, list | tuple) else [level])
        tables = []
        for lev in levels:
            match = level_match(col, lev)
            binary = pd.api.types.is_numeric_dtype(col) and col.dropna().isin([0, 1]).all()
            if not match.any() and not (binary and lev in (0, 1)):
                raise EstimationError(
                    f"level {lev!r} does not occur in column {y!r}", where=f"column {y}",
                    value=lev, hint="levels present: "
                    + ", ".join(sorted(map(_text, col.dropna().unique()))),
                )
            values = np.where(col.isna(), np.nan, match.to_numpy(float))
            tables.append(_linear_estimates(design, "proportion", values, None, y, lev, by,
                                            ci or "logit", ci_level, df))
        return Estimates(pd.concat(tables, ignore_index=True))
    if stat == "ratio" and x is None:
        raise EstimationError("a ratio needs a denominator", hint="pass x='column'")
    yv = numeric_column(design, y)
    xv = numeric_column(design, x) if x is not None else None
    if xv is not None and stat != "ratio":
        raise EstimationError("x is only used by stat='ratio'", value=x)
    table = _linear_estimates(design, stat, yv, xv, y, None, by, ci or "wald", ci_level, df)
    if stat == "ratio":
        _zero_denominators(table, y, x, by)
    return Estimates(table)


def _zero_denominators(table: pd.DataFrame, y: str, x: str | None, by: str | None) -> None:
    """A ratio whose denominator totals zero has no value: an error overall; NaN (estimate,
    SE, interval) with a warning naming the domains within domains."""
    zero = table["estimate"].isna().to_numpy()
    if not zero.any():
        return
    if by is None:
        raise EstimationError(
            f"the ratio {y}/{x} is undefined: the weighted total of {x!r} is zero",
            where=f"column {x}", hint="check the denominator variable (all zero among the "
            "rows with observed values?)")
    cols = ["se", "cv", "ci_low", "ci_high", "deff", "deff_replace"]
    table.loc[zero, cols] = np.nan
    names = ", ".join(map(_text, table.loc[zero, "domain"].tolist()[:10]))
    warnings.warn(f"ratio {y}/{x}: the weighted total of {x!r} is zero in {int(zero.sum())} "
                  f"domain(s) of {by!r} ({names}): NaN there", stacklevel=3)


def _text(v: object) -> str:
    """A value as a person writes it: 83, not np.int64(83); 1 for an integral float."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _linear_estimates(design: Design, stat: str, y: np.ndarray, x: np.ndarray | None,
                      yname: str, level: object, by: str | None, ci: str, ci_level: float,
                      df: str | float) -> pd.DataFrame:
    w = design.weights
    positive = design.cache.get("positive")
    if positive is None:
        positive = design.cache["positive"] = bool((w > 0).all())
    valid: np.ndarray | None = None  # None: every row
    if not positive or has_nan(y) or (x is not None and has_nan(x)):
        valid = ~np.isnan(y) & (w > 0)
        if x is not None:
            valid &= ~np.isnan(x)
    dom = domains(design, valid, by)
    kind = "mean" if stat == "proportion" else stat
    lin = Linear(kind, y, x, dom)
    plain = design.replicates is None and not design.weighting
    est, influence, ssq = lin.fit(w, stage=design.stages[0] if plain else None)
    se_logit = np.full(dom.k, np.nan)
    if design.replicates is not None:
        reps = design.replicates
        rep_est = lin.point(reps.weights)
        var = reps.variance(est, rep_est)
        if stat == "proportion" and ci == "logit":  # R: svyglm(y ~ 1) on each replicate
            with np.errstate(divide="ignore", invalid="ignore"):
                se_logit = np.sqrt(reps.variance(special.logit(est), special.logit(rep_est)))
    else:
        var = linearized_variance(design, influence)
    deff_wor, deff_wr = design_effects(dom, kind, ssq, var)
    se = np.sqrt(var)
    n = dom.n
    sw = dom.sum_w
    n_eff = sw**2 / dom.sum_w2
    # R's beta rule uses nrow(design): a calibrated design keeps all rows in a subset
    n_rows_cal = design.n if (calibrations(design) and design.replicates is None) else None
    need_degf = df == "design" or ci == "beta"
    k = dom.k
    degf = dom.degf(design) if need_degf else np.full(k, np.nan)
    dfs = degf if df == "design" else np.full(k, resolve_df(design, df, None))
    bounds = np.array([
        interval(ci, IntervalInput(estimate=float(est[j]), se=float(se[j]), df=float(dfs[j]),
                                   level=ci_level, n=int(n[j]),
                                   n_rows=n_rows_cal or int(n[j]), degf=float(degf[j]),
                                   se_logit=float(se_logit[j]) if np.isfinite(se_logit[j])
                                   else None),
                 proportion=stat == "proportion")
        for j in range(k)
    ], dtype=float).reshape(k, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = np.where(est != 0, se / np.abs(est), np.nan)
    columns = {
        "statistic": [stat] * k, "variable": [yname] * k, "level": [level] * k,
        "by": [by] * k, "domain": list(dom.labels), "estimate": est, "se": se, "cv": cv,
        "ci_low": bounds[:, 0], "ci_high": bounds[:, 1], "ci_method": [ci] * k,
        "ci_level": np.full(k, ci_level), "df": dfs, "deff": deff_wor,
        "deff_replace": deff_wr, "n": n.astype(int), "n_eff": n_eff,
        "method": [method_name(design)] * k,
    }
    return pd.DataFrame(columns, columns=COLUMNS)


def mean(design: Design, y: str, **kw: object) -> Estimates:
    """Weighted mean of ``y`` (see :func:`estimate`)."""
    return estimate(design, "mean", y, **kw)  # type: ignore[arg-type]


def total(design: Design, y: str, **kw: object) -> Estimates:
    """Estimated population total of ``y`` (see :func:`estimate`)."""
    return estimate(design, "total", y, **kw)  # type: ignore[arg-type]


def ratio(design: Design, y: str, x: str, **kw: object) -> Estimates:
    """Ratio of the totals of ``y`` and ``x`` (see :func:`estimate`)."""
    return estimate(design, "ratio", y, x=x, **kw)  # type: ignore[arg-type]


def proportion(design: Design, y: str, level: object = None, **kw: object) -> Estimates:
    """Share of ``y == level`` (all levels if None) (see :func:`estimate`)."""
    return estimate(design, "proportion", y, level=level, **kw)  # type: ignore[arg-type]


def quantile(design: Design, y: str, q: float | Sequence[float] = 0.5, **kw: object
             ) -> Estimates:
    """Quantile(s) of ``y`` with Woodruff intervals (see :func:`estimate`)."""
    return estimate(design, "quantile", y, q=q, **kw)  # type: ignore[arg-type]


__all__ = ["COLUMNS", "Estimates", "estimate", "mean", "proportion", "quantile", "ratio",
           "t_quantile", "total"]
