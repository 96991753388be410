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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from barometer.ci import IntervalInput, interval, t_quantile
from barometer.design import Design
from barometer.errors import EstimationError
from barometer.variance import Influence, linearized_variance

Statistic = Literal["mean", "total", "ratio", "proportion", "quantile"]
STATISTICS: tuple[str, ...] = ("mean", "total", "ratio", "proportion", "quantile")
QRULES: tuple[str, ...] = ("math", "hf7")
COLUMNS = [
    "statistic", "variable", "level", "by", "domain", "estimate", "se", "cv", "ci_low",
    "ci_high", "ci_method", "ci_level", "df", "deff", "deff_replace", "n", "n_eff", "method",
]


@dataclass(frozen=True, eq=False)
class Estimates:
    """Results are data: one row per estimate x domain (columns in ``COLUMNS``)."""

    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """A copy of the result rows."""
        return self.table.copy()

    def __len__(self) -> int:
        return len(self.table)

    def summary(self, digits: int = 4) -> str:
        """A readable text table of the estimates."""
        t = self.table
        cols = ["variable", "level", "domain", "estimate", "se", "ci_low", "ci_high", "cv",
                "deff", "n", "df"]
        shown = t[[c for c in cols if c in t.columns and t[c].notna().any()]].copy()
        head = (f"{t['statistic'].iloc[0]} — variance: {t['method'].iloc[0]}; "
                f"{t['ci_method'].iloc[0]} {100 * t['ci_level'].iloc[0]:g}% intervals")
        with pd.option_context("display.float_format", lambda v: f"{v:.{digits}g}",
                               "display.width", 120):
            return head + "\n" + shown.to_string(index=False)

    def __repr__(self) -> str:
        return self.summary()

    def value(self, domain: object = None, level: object = None, field: str = "estimate"
              ) -> float:
        """One number of the table (for a domain and/or level given as text or value)."""
        t = self.table
        mask = np.ones(len(t), bool)
        if domain is not None:
            mask &= t["domain"].astype(str).to_numpy() == str(domain)
        if level is not None:
            mask &= t["level"].astype(str).to_numpy() == str(level)
        if mask.sum() != 1:
            raise EstimationError("no single row matches", value=(domain, level))
        return float(t.loc[mask, field].iloc[0])


@dataclass(frozen=True)
class _Domains:
    """Domain membership of rows: ``codes`` in 0..k-1, or -1 (out of all domains)."""

    codes: np.ndarray
    labels: list[object]
    by: str | None

    @property
    def k(self) -> int:
        return len(self.labels)

    def sums(self, values: np.ndarray) -> np.ndarray:
        ok = self.codes >= 0
        return np.bincount(self.codes[ok], weights=values[ok], minlength=self.k)


def _numeric(design: Design, name: str) -> np.ndarray:
    col = design.column(name)
    if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
        conv = pd.to_numeric(col, errors="coerce")
        if conv.notna().sum() < col.notna().sum():
            bad = col[conv.isna() & col.notna()].iloc[0]
            raise EstimationError(
                f"column {name!r} is not numeric", where=f"column {name}", value=bad,
                hint="use stat='proportion' for a categorical variable",
            )
        col = conv
    return col.to_numpy(dtype=float, na_value=np.nan)


def _domains(design: Design, valid: np.ndarray, by: str | None) -> _Domains:
    if by is None:
        codes = np.where(valid, 0, -1)
        if not valid.any():
            raise EstimationError("no rows with a non-missing value and a positive weight",
                                  hint="check the variable and the design's weights")
        return _Domains(codes, [None], None)
    col = design.column(by)
    ok = valid & col.notna().to_numpy()
    labels = sorted(pd.unique(col[ok]).tolist(), key=_sort_key)
    if not labels:
        raise EstimationError("every domain is empty", where=f"by={by}",
                              hint="check the domain variable and missing values")
    lookup = {lab: i for i, lab in enumerate(labels)}
    codes = np.full(design.n, -1, dtype=np.int64)
    codes[ok] = col[ok].map(lookup).to_numpy(np.int64)
    return _Domains(codes, labels, by)


def _level_match(col: pd.Series, level: object) -> pd.Series:
    """Rows where ``col == level``; a numeric column is compared as numbers (so the level
    ``"1"`` read from a text file matches 1 and 1.0), anything else as text."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        try:
            return col == float(level)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    return col.astype(str) == str(level)


def _sort_key(v: object) -> tuple[int, object]:
    return (0, v) if isinstance(v, int | float | np.number) else (1, str(v))


@dataclass(frozen=True)
class _Linear:
    """A linearisable statistic: per-domain estimates from any weight matrix, and influence."""

    kind: str
    y: np.ndarray
    x: np.ndarray | None
    dom: _Domains

    def point(self, w: np.ndarray) -> np.ndarray:
        """Estimates (k,) for weights (n,), or (k, R) for a weight matrix (n, R)."""
        if w.ndim == 1:
            return self._from_totals(self._totals(w, self.y), self._totals(w, self._den()))
        from scipy import sparse

        ok = self.dom.codes >= 0
        rows = np.flatnonzero(ok)
        ind = sparse.csr_matrix((np.ones(rows.size), (self.dom.codes[ok], rows)),
                                shape=(self.dom.k, w.shape[0]))
        ty = np.asarray(ind @ (w * np.nan_to_num(self.y)[:, None]))
        td = np.asarray(ind @ (w * np.nan_to_num(self._den())[:, None]))
        return self._from_totals(ty, td)

    def _den(self) -> np.ndarray:
        if self.kind == "ratio":
            assert self.x is not None
            return self.x
        return np.ones_like(self.y)

    def _totals(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        return self.dom.sums(w * np.nan_to_num(v))

    def _from_totals(self, ty: np.ndarray, td: np.ndarray) -> np.ndarray:
        if self.kind == "total":
            return ty
        with np.errstate(invalid="ignore", divide="ignore"):
            return ty / td

    def influence(self, w: np.ndarray, est: np.ndarray) -> Influence:
        c = self.dom.codes
        ok = c >= 0
        cc = np.where(ok, c, 0)
        y = np.nan_to_num(self.y)
        if self.kind == "total":
            vals = w * y
        else:
            den = self._totals(w, self._den())
            vals = w * (y - est[cc] * np.nan_to_num(self._den())) / den[cc]
        return Influence.compact(np.where(ok, vals, 0.0), c, self.dom.k)

    def residual_values(self, est: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The variable whose SRS variance is the deff's denominator (y, or the ratio's
        linearised variable (y - R x) / X)."""
        c = np.where(self.dom.codes >= 0, self.dom.codes, 0)
        if self.kind == "ratio":
            assert self.x is not None
            xt = self._totals(w, self.x)
            return (np.nan_to_num(self.y) - est[c] * np.nan_to_num(self.x)) / xt[c]
        return np.nan_to_num(self.y)


def _deff(lin: _Linear, est: np.ndarray, var: np.ndarray, w: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """R's deff (SRS without replacement) and the with-replacement version, per domain."""
    dom = lin.dom
    r = lin.residual_values(est, w)
    n = dom.sums(np.ones_like(w))
    big_n = dom.sums(w)
    c = np.where(dom.codes >= 0, dom.codes, 0)
    rbar = dom.sums(w * r) / big_n
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = dom.sums(w * (r - rbar[c]) ** 2) / big_n * n / (n - 1)
        factor = big_n**2 if lin.kind in ("total", "ratio") else np.ones_like(big_n)
        v_wr = s2 * factor / n
        v_wor = np.where(big_n >= n, v_wr * (big_n - n) / big_n, np.nan)
        return var / v_wor, var / v_wr


def _resolve_df(design: Design, df: str | float, rows: np.ndarray) -> float:
    if isinstance(df, str):
        if df == "inf":
            return float("inf")
        if df == "design":
            return float(design.degf(rows))
        raise EstimationError("unknown df", value=df, hint="use 'inf', 'design' or a number")
    return float(df)


def _method_name(design: Design) -> str:
    if design.replicates is not None:
        return f"replicates ({design.replicates.type})"
    if design.weighting:
        return "linearization (weighting residuals)"
    return "linearization"


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
        from barometer.quantile import estimate_quantiles

        qs = [q] if isinstance(q, int | float) else list(q)
        return estimate_quantiles(design, y, qs, qrule=qrule, by=by, ci=ci or "woodruff",
                                  ci_level=ci_level, df=df)
    if stat == "proportion":
        col = design.column(y)
        levels = (sorted(pd.unique(col.dropna()).tolist(), key=_sort_key) if level is None
                  else list(level) if isinstance(level, list | tuple) else [level])
        tables = []
        for lev in levels:
            match = _level_match(col, lev)
            binary = pd.api.types.is_numeric_dtype(col) and col.dropna().isin([0, 1]).all()
            if not match.any() and not (binary and lev in (0, 1)):
                raise EstimationError(
                    f"level {lev!r} does not occur in column {y!r}", where=f"column {y}",
                    value=lev, hint=f"levels present: {sorted(map(str, col.dropna().unique()))}",
                )
            values = np.where(col.isna(), np.nan, match.to_numpy(float))
            tables.append(_linear_estimates(design, "proportion", values, None, y, lev, by,
                                            ci or "logit", ci_level, df))
        return Estimates(pd.concat(tables, ignore_index=True))
    if stat == "ratio" and x is None:
        raise EstimationError("a ratio needs a denominator", hint="pass x='column'")
    yv = _numeric(design, y)
    xv = _numeric(design, x) if x is not None else None
    if xv is not None and stat != "ratio":
        raise EstimationError("x is only used by stat='ratio'", value=x)
    return Estimates(_linear_estimates(design, stat, yv, xv, y, None, by, ci or "wald",
                                       ci_level, df))


def _linear_estimates(design: Design, stat: str, y: np.ndarray, x: np.ndarray | None,
                      yname: str, level: object, by: str | None, ci: str, ci_level: float,
                      df: str | float) -> pd.DataFrame:
    w = design.weights
    valid = ~np.isnan(y) & (w > 0)
    if x is not None:
        valid &= ~np.isnan(x)
    dom = _domains(design, valid, by)
    kind = "mean" if stat == "proportion" else stat
    lin = _Linear(kind, np.where(valid, y, np.nan), None if x is None else
                  np.where(valid, x, np.nan), dom)
    est = lin.point(w)
    if design.replicates is not None:
        reps = design.replicates
        var = reps.variance(est, lin.point(reps.weights))
    else:
        var = linearized_variance(design, lin.influence(w, est))
    deff_wor, deff_wr = _deff(lin, est, var, w)
    se = np.sqrt(var)
    n = dom.sums(np.ones(design.n)).astype(int)
    sw = dom.sums(w)
    n_eff = sw**2 / dom.sums(w**2)
    rows = []
    # R's beta rule uses nrow(design): a calibrated design keeps all rows in a subset
    n_rows_cal = design.n if (design.calibrations and design.replicates is None) else None
    for j, lab in enumerate(dom.labels):
        in_dom = dom.codes == j
        dfj = _resolve_df(design, df, in_dom)
        degf_j = float(design.degf(in_dom))
        inp = IntervalInput(estimate=float(est[j]), se=float(se[j]), df=dfj, level=ci_level,
                            n=int(n[j]), n_rows=n_rows_cal or int(n[j]), degf=degf_j)
        lo, hi = interval(ci, inp, proportion=stat == "proportion")
        rows.append({
            "statistic": stat, "variable": yname, "level": level, "by": by, "domain": lab,
            "estimate": est[j], "se": se[j],
            "cv": se[j] / abs(est[j]) if est[j] != 0 else np.nan,
            "ci_low": lo, "ci_high": hi, "ci_method": ci, "ci_level": ci_level, "df": dfj,
            "deff": deff_wor[j], "deff_replace": deff_wr[j], "n": int(n[j]),
            "n_eff": n_eff[j], "method": _method_name(design),
        })
    return pd.DataFrame(rows, columns=COLUMNS)


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
