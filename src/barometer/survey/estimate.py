"""Stage *estimate*: design-based estimators with standard errors, intervals and diagnostics.

Estimators (Särndal, Swensson & Wretman 1992, ch. 5 and 7; Lumley 2010, ch. 2):

* total     t = sum_i w_i y_i,                       influence  w_i y_i
* mean      m = sum_i w_i y_i / sum_i w_i,           influence  w_i (y_i - m) / sum w
* ratio     R = sum_i w_i y_i / sum_i w_i x_i,       influence  w_i (y_i - R x_i) / sum w x
* proportion of ``y == level``: the mean of the indicator (total with ``level``: the total
  of the indicator; every level of a categorical when ``level`` is None)
* var       s2 = sum_i w_i (y_i - m)^2 / sum_i w_i * n / (n - 1) (R's ``svyvar``), with the
  influence of the mean of u_i = (y_i - m)^2 n / (n - 1) at a fixed m, as R linearises it
* quantile  by the weighted rules ``math`` (inverse of the weighted CDF) and ``hf7``
  (Hyndman & Fan type 7 on weighted plotting positions), with Woodruff (1952) intervals: the
  interval of the CDF at the estimated quantile, mapped back through the same rule; its SE is
  the interval width / (2 t) (R's ``svyquantile``, ``interval.type = "mean"``).

Covariance (``covariance=True``; R's ``svyby(..., covmat = TRUE)``): the influence values of
every estimate (all variables, levels and domains) enter the same multistage variance as a
vector, V = sum_h ... (t_hi - tbar_h)(t_hi - tbar_h)', or the replicate deviations enter
scale x sum_r rscales_r d_r d_r' (Wolter 2007); contrasts of the estimates follow from it
(:mod:`barometer.survey.contrast`).

A domain (``by=``: one column or several, whose combinations present are the domains;
``domain=``: a subpopulation, R's ``subset``) never drops rows: its influence values are
zero outside the domain, so the variance keeps the whole design (Lumley 2010, §2.3). Rows
with a missing ``y`` (or ``x``) are out of every domain (R's ``na.rm = TRUE``).

Design effects (Kish 1965; R's ``deff = TRUE``): ``deff`` = V / V_srswor with
V_srswor = s^2 (N - n) / (N n) for a mean (times N^2 for a total), s^2 the weighted variance
with divisor n - 1, n the number of rows and N the sum of weights in the domain; ``deff_replace``
uses V_srswr = s^2 / n. ``n_eff`` is Kish's effective sample size (sum w)^2 / sum w^2.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special

from barometer.survey.calibrate import calibrations
from barometer.survey.ci import IntervalInput, interval, t_quantile, wald_intervals
from barometer.survey.design import Design
from barometer.survey.domains import (
    Domains,
    Linear,
    by_name,
    column_has_nan,
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
from barometer.survey.variance import Influence, linearized_variance

Statistic = Literal["mean", "total", "ratio", "proportion", "quantile", "var"]
STATISTICS: tuple[str, ...] = ("mean", "total", "ratio", "proportion", "quantile", "var")
QRULES: tuple[str, ...] = ("math", "hf7")
Subset = Mapping[str, object] | np.ndarray | pd.Series | None


def estimate(
    design: Design,
    stat: Statistic,
    y: str | Sequence[str],
    *,
    x: str | None = None,
    level: object | Sequence[object] | None = None,
    q: float | Sequence[float] = 0.5,
    qrule: str = "math",
    by: str | Sequence[str] | None = None,
    domain: Subset = None,
    ci: str | None = None,
    ci_level: float = 0.95,
    df: str | float = "design",
    covariance: bool = False,
) -> Estimates:
    """Estimate a statistic of ``y`` with its SE, interval and diagnostics.

    ``stat``: ``mean``, ``total``, ``ratio`` (``y``/``x``), ``proportion`` (share of
    ``y == level``; every level when ``level`` is None), ``quantile`` (``q``, ``qrule``) or
    ``var`` (R's ``svyvar``: sum w (y - ybar)^2 / sum w * n / (n - 1), n the rows with an
    observed ``y`` and a positive weight in the domain; its SE is that of the mean of
    (y - ybar)^2 n / (n - 1) with ybar held fixed, and on a replicate design every
    replicate recomputes its own mean, as R does). ``total`` with ``level``: the total of
    ``y == level`` (every level of a text or categorical ``y`` when ``level`` is None, as
    R's ``svytotal(~factor(y))``). ``y`` may list several variables (rows stacked).
    ``by``: a domain column, or several (their combinations present in the data, labelled
    ``"E|Yes"``). ``domain``: estimate in a subpopulation only, ``{column: value}`` (all
    must hold) or a boolean mask, as R's ``subset(design, ...)``: the design stays whole
    for the variance. ``ci``: interval rule (default ``wald``, ``logit`` for proportions,
    ``woodruff`` for quantiles; for proportions also ``xlogit``, ``beta``, ``wilson``,
    ``likelihood``, ``asin``). ``df``: ``design`` (#PSU - #strata of the domain), ``inf``
    or a number. ``covariance``: also compute the covariance matrix of all the estimates
    (``Estimates.vcov()``, used by :func:`barometer.survey.contrast.contrast`).
    """
    if stat not in STATISTICS:
        raise EstimationError(f"unknown statistic {stat!r}", hint=f"use one of {STATISTICS}")
    ys = [y] if isinstance(y, str) else list(y)
    if not ys:
        raise EstimationError("no variable to estimate", hint="pass y='column'")
    subset = subset_rows(design, domain)
    if stat == "quantile":
        if covariance:
            raise EstimationError("covariance=True is not available for quantiles",
                                  hint="use a mean, total, ratio, proportion or var")
        qs = [q] if isinstance(q, int | float) else list(q)
        return Estimates(pd.concat([
            estimate_quantiles(design, v, qs, qrule=qrule, by=by, ci=ci or "woodruff",
                               ci_level=ci_level, df=df, subset=subset).table
            for v in ys], ignore_index=True))
    tables: list[pd.DataFrame] = []
    blocks: list[_Block] = []
    numerators = _replicate_numerators(design, stat, ys, x, level, by, subset)
    for yname in ys:
        # a float64 column already read (kept by numeric_column) is numeric
        known = ("float64", yname) in design.cache
        col = None if known else design.column(yname)
        categorical = col is not None and not (pd.api.types.is_numeric_dtype(col)
                                               or pd.api.types.is_bool_dtype(col))
        if stat == "proportion" or (stat == "total" and (level is not None or categorical)):
            col = design.column(yname) if col is None else col
            levels = (sorted(pd.unique(col.dropna()).tolist(), key=sort_key)
                      if level is None
                      else list(level) if isinstance(level, list | tuple) else [level])
            for lev in levels:
                match = level_match(col, lev)
                binary = pd.api.types.is_numeric_dtype(col) and col.dropna().isin([0, 1]).all()
                if not match.any() and not (binary and lev in (0, 1)):
                    raise EstimationError(
                        f"level {lev!r} does not occur in column {yname!r}",
                        where=f"column {yname}", value=lev,
                        hint="levels present: "
                        + ", ".join(sorted(map(_text, col.dropna().unique()))),
                    )
                values = np.where(col.isna(), np.nan, match.to_numpy(float))
                default = "logit" if stat == "proportion" else "wald"
                table, block = _linear_estimates(design, stat, values, None, yname, lev, by,
                                                 ci or default, ci_level, df, subset)
                tables.append(table)
                blocks.append(block)
            continue
        if stat == "ratio" and x is None:
            raise EstimationError("a ratio needs a denominator", hint="pass x='column'")
        yv = numeric_column(design, yname)
        xv = numeric_column(design, x) if x is not None else None
        if xv is not None and stat != "ratio":
            raise EstimationError("x is only used by stat='ratio'", value=x)
        nan = column_has_nan(design, yname, yv) or (
            xv is not None and column_has_nan(design, str(x), xv))
        table, block = _linear_estimates(design, stat, yv, xv, yname, None, by, ci or "wald",
                                         ci_level, df, subset, numerators.get(yname), nan)
        if stat == "ratio":
            _zero_denominators(table, yname, x, by)
        tables.append(table)
        blocks.append(block)
    out = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    if not covariance:
        return Estimates(out)
    design_df = resolve_df(design, df, subset if subset is not None else None)
    return Estimates(out, _joint_covariance(design, blocks), design_df)


def _replicate_numerators(design: Design, stat: str, ys: list[str], x: str | None,
                          level: object, by: str | Sequence[str] | None,
                          subset: np.ndarray | None) -> dict[str, np.ndarray]:
    """For a replicate design, the domain sums of w_r y of every numeric variable of a
    mean or total (k x R each) and of the weights, from one product of the replicate
    weight matrix with the stacked domain indicators (``Domains.replicate_products``),
    which reads the n x R matrix once for all of them. Empty when the variables do not
    share their domains (a missing value, a zero weight, a subpopulation): each is then
    computed on its own."""
    reps = design.replicates
    if (reps is None or stat not in ("mean", "total") or x is not None or subset is not None
            or (stat == "total" and level is not None)):
        return {}
    positive = design.cache.get("positive")
    if positive is None:
        positive = design.cache["positive"] = bool((design.weights > 0).all())
    if not positive:
        return {}
    values: dict[str, np.ndarray] = {}
    for yname in dict.fromkeys(ys):
        col = design.column(yname)
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            return {}
        v = numeric_column(design, yname)
        if column_has_nan(design, yname, v):
            return {}
        values[yname] = v
    dom = domains(design, None, by)
    sums = dom.replicate_products(reps.layout, list(values.values()))
    return dict(zip(values, sums, strict=True))


def subset_rows(design: Design, domain: Subset) -> np.ndarray | None:
    """The rows of a subpopulation (R's ``subset(design, ...)``): a mapping
    ``{column: value}`` (every condition holds; a missing value never matches) or a boolean
    mask of the design's rows."""
    if domain is None:
        return None
    if isinstance(domain, Mapping):
        if not domain:
            return None
        mask = np.ones(design.n, dtype=bool)
        for column, value in domain.items():
            col = design.column(str(column))
            match = level_match(col, value).to_numpy(bool) & col.notna().to_numpy()
            if not match.any():
                raise EstimationError(
                    f"the domain {column} = {value!r} has no rows", where=f"column {column}",
                    value=value,
                    hint=f"values present: {sorted(map(str, col.dropna().unique()))[:20]}")
            mask &= match
        return mask
    mask = np.asarray(domain)
    if mask.dtype != bool or mask.shape != (design.n,):
        raise EstimationError("domain= must be {column: value} or a boolean mask of the rows",
                              value=f"{mask.dtype} array of shape {mask.shape}",
                              hint=f"pass a boolean array of length {design.n}")
    return mask


@dataclass(frozen=True, eq=False)
class _Block:
    """What the covariance of one table of estimates needs: the estimates, and their
    influence values (linearisation) or replicate estimates."""

    estimate: np.ndarray
    influence: Influence | None
    replicates: np.ndarray | None


def _joint_covariance(design: Design, blocks: list[_Block]) -> np.ndarray:
    """The covariance matrix of every estimate of ``blocks`` (stacked in order): the
    multistage variance of the stacked influence values (after the weighting steps'
    residuals; Särndal et al. 1992, result 4.3.1 with a vector z), or the replicate
    covariance scale x sum_r rscales_r (theta_r - centre)(theta_r - centre)' (R's
    ``svrVar``) of the stacked replicate estimates (R's ``svyby(..., covmat = TRUE)``)."""
    full = np.concatenate([b.estimate for b in blocks])
    if design.replicates is not None:
        reps = np.vstack([b.replicates for b in blocks if b.replicates is not None])
        return design.replicates.covariance(full, reps)
    parts = [b.influence for b in blocks if b.influence is not None]
    return np.atleast_2d(linearized_variance(design, Influence.stack(parts), full=True))


def _zero_denominators(table: pd.DataFrame, y: str, x: str | None, by: object) -> None:
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
                      yname: str, level: object, by: str | Sequence[str] | None, ci: str,
                      ci_level: float, df: str | float, subset: np.ndarray | None = None,
                      rep_numerator: np.ndarray | None = None, nan: bool | None = None
                      ) -> tuple[pd.DataFrame, _Block]:
    """One table of estimates; ``nan``: whether ``y`` or ``x`` has a missing value, when
    already known (None: checked here)."""
    w = design.weights
    positive = design.cache.get("positive")
    if positive is None:
        positive = design.cache["positive"] = bool((w > 0).all())
    valid: np.ndarray | None = None  # None: every row
    if nan is None:
        nan = has_nan(y) or (x is not None and has_nan(x))
    if not positive or nan or subset is not None:
        valid = ~np.isnan(y) & (w > 0)
        if x is not None:
            valid &= ~np.isnan(x)
        if subset is not None:
            valid &= subset
    dom = domains(design, valid, by)
    kind = "mean" if stat in ("proportion", "var") else stat
    plain = design.replicates is None and not design.weighting
    if stat == "var":
        est, influence, ssq, lin, rep_lin = _variance_fit(y, dom, w, plain, design)
    else:
        lin = rep_lin = Linear(kind, y, x, dom)
        # the sums of a column (every row valid) are shared by its estimates on the design
        share = (design.cache, yname) if (plain and valid is None and level is None
                                          and stat in ("mean", "total")
                                          and design.spec.pps is None) else None
        est, influence, ssq = lin.fit(w, stage=design.stages[0] if plain else None,
                                      share=share)
    se_logit = np.full(dom.k, np.nan)
    rep_est = None
    if design.replicates is not None:
        reps = design.replicates
        rep_est = rep_lin.point(reps.layout, rep_numerator if stat != "var" else None)
        var = reps.variance(est, rep_est)
        if stat == "proportion" and ci in ("logit", "likelihood"):
            # R: svyglm(y ~ 1) on each replicate
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
    irls = (_irls_start(y, w, dom, n_rows_cal) if stat == "proportion" and ci == "likelihood"
            else None)
    degf = dom.degf(design) if need_degf else np.full(k, np.nan)
    dfs = degf if df == "design" else np.full(k, resolve_df(design, df, None))
    if ci == "wald" and stat != "proportion":  # every domain at once
        bounds = wald_intervals(est, se, dfs, ci_level)
    else:
        bounds = np.array([
            interval(ci, IntervalInput(estimate=float(est[j]), se=float(se[j]),
                                       df=float(dfs[j]), level=ci_level, n=int(n[j]),
                                       n_rows=n_rows_cal or int(n[j]), degf=float(degf[j]),
                                       se_logit=float(se_logit[j]) if np.isfinite(se_logit[j])
                                       else None,
                                       irls=None if irls is None else tuple(irls[:, j]),
                                       replicate=design.replicates is not None),
                     proportion=stat == "proportion")
            for j in range(k)
        ], dtype=float).reshape(k, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = np.where(est != 0, se / np.abs(est), np.nan)
    by_text = by_name(by)
    columns = {
        "statistic": [stat] * k, "variable": [yname] * k, "level": [level] * k,
        "by": [by_text] * k, "domain": list(dom.labels), "estimate": est, "se": se, "cv": cv,
        "ci_low": bounds[:, 0], "ci_high": bounds[:, 1], "ci_method": [ci] * k,
        "ci_level": np.full(k, ci_level), "df": dfs, "deff": deff_wor,
        "deff_replace": deff_wr, "n": n.astype(int), "n_eff": n_eff,
        "method": [method_name(design)] * k,
    }
    block = _Block(np.asarray(est, float), influence if rep_est is None else None, rep_est)
    assert list(columns) == COLUMNS  # in order: no reindexing by the constructor
    return pd.DataFrame(columns, copy=False), block


def _irls_start(y: np.ndarray, w: np.ndarray, dom: Domains, n_rows: int | None
                ) -> np.ndarray:
    """Per domain (3 x k), the sums R's first IRLS step of ``svyglm(y ~ 1, quasibinomial)``
    needs (see ``ci.IntervalInput.irls``): weights scaled to mean 1 over the model's rows
    (the domain's, or all rows of a calibrated design, as R's subset keeps them)."""
    rows = dom.n.astype(float) if n_rows is None else np.full(dom.k, float(n_rows))
    scale = np.append(rows / dom.sum_w, 0.0)[dom.ext]
    yy = np.where(dom.inside, y, 0.0)
    wt = w * scale
    mu0 = (wt * yy + 0.5) / (wt + 1.0)
    work = wt * mu0 * (1.0 - mu0)
    eta0 = np.log(mu0 / (1.0 - mu0))
    dev0 = -2.0 * wt * (yy * np.log(mu0) + (1.0 - yy) * np.log1p(-mu0))
    return np.vstack([dom.sums(work), dom.sums(work * eta0 + wt * (yy - mu0)),
                      dom.sums(dev0)])


def _variance_fit(y: np.ndarray, dom: Domains, w: np.ndarray, plain: bool, design: Design
                  ) -> tuple[np.ndarray, Influence, np.ndarray, Linear, Linear]:
    """R's ``svyvar`` per domain: the mean of u = (y - ybar_d)^2 n_d / (n_d - 1) over the
    domain d (ybar_d its weighted mean, n_d its rows), whose linearisation holds ybar_d
    fixed; replicates recompute ybar_d (a ``Linear`` of kind ``var``)."""
    ybar = Linear("mean", y, None, dom).point(w)
    n = dom.n.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = n / (n - 1)
    centre = np.append(ybar, 0.0)[dom.ext]
    u = np.where(dom.inside, (y - centre) ** 2 * np.append(factor, 0.0)[dom.ext], 0.0)
    lin = Linear("mean", u, None, dom)
    est, influence, ssq = lin.fit(w, stage=design.stages[0] if plain else None)
    return est, influence, ssq, lin, Linear("var", y, None, dom)


def mean(design: Design, y: str, **kw: object) -> Estimates:
    """Weighted mean of ``y`` (see :func:`estimate`)."""
    return estimate(design, "mean", y, **kw)  # type: ignore[arg-type]


def var(design: Design, y: str, **kw: object) -> Estimates:
    """Population variance of ``y`` (R's ``svyvar``; see :func:`estimate`)."""
    return estimate(design, "var", y, **kw)  # type: ignore[arg-type]


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
           "t_quantile", "total", "var"]
