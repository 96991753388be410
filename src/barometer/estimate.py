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
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse, special

from barometer.ci import IntervalInput, interval, t_quantile
from barometer.design import Design, Stage, factorize_counts
from barometer.errors import EstimationError
from barometer.variance import Influence, combined_index, linearized_variance

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


class _Domains:
    """Domain membership of rows: ``codes`` in 0..k-1, or -1 (out of all domains).

    What does not depend on the estimated variable (rows and sums of weights per domain,
    the cluster x domain index of each stage, degrees of freedom, the domain indicator for
    replicate weights) is computed once here; domains are kept in the design's cache, so
    estimates of several variables on the same domains share them.
    """

    def __init__(self, codes: np.ndarray, labels: list[object], by: str | None,
                 weights: np.ndarray | None = None, stage: Stage | None = None,
                 n: np.ndarray | None = None) -> None:
        self.codes = codes
        self.labels = labels
        self.by = by
        self.weights = weights  # with a stage: positive on every row in a domain
        self.stage = stage  # the design's first stage (weights per cluster x domain)
        if n is not None:
            self.__dict__["n"] = n  # rows per domain, when already counted
        self.index: dict[object, object] = {}  # per stage: cluster x domain index...
        self._degf: dict[int, float] = {}
        self._replicate_sums: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def k(self) -> int:
        return len(self.labels)

    @cached_property
    def ext(self) -> np.ndarray:
        """Codes with k (an extra bin, dropped) for rows out of every domain."""
        return self.codes if self.all_inside else np.where(self.codes >= 0, self.codes, self.k)

    @cached_property
    def clusters(self) -> np.ndarray | None:
        """Sums of weights per first-stage cluster x domain (n_clusters x k), from one
        ``np.bincount`` over the combined index, which the variance reuses. Weights are
        positive on the domains' rows, so a cluster has rows in a domain exactly where its
        sum is positive (the degrees of freedom)."""
        st = self.stage
        if st is None or self.weights is None:
            return None
        idx, width = combined_index(st.clusters, self.codes, self.k,
                                    inside=self.all_inside)
        self.index[0] = (idx, width)
        size = st.n_clusters * width
        wsum = np.bincount(idx, weights=self.weights, minlength=size)
        wsum = wsum.reshape(st.n_clusters, width)[:, : self.k]
        self.index[("base", 0)] = (self.weights, wsum)  # the variance's totals of w
        return wsum

    def centre(self, y: np.ndarray) -> float:
        """A centre of ``y`` on the domains' rows: the mean of (up to) their first 1,024."""
        head = self.codes[:4096] >= 0
        rows = np.flatnonzero(head)[:1024] if head.any() else \
            np.flatnonzero(self.codes >= 0)[:1024]
        c = float(np.mean(y[rows])) if rows.size else 0.0
        return c if np.isfinite(c) else 0.0

    @cached_property
    def inside(self) -> np.ndarray:
        """Rows in a domain."""
        return self.codes >= 0

    @cached_property
    def all_inside(self) -> bool:
        return bool(self.inside.all())

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Per-domain sums (``np.bincount``; a single domain: ``np.sum``, which adds in
        pairs, where all rows add to the same total); values of rows out of every domain
        are ignored."""
        if self.k == 1:
            if self.all_inside:
                return np.array([np.sum(values)])
            return np.array([np.sum(values, where=self.inside)])
        return np.bincount(self.ext, weights=values, minlength=self.k + 1)[: self.k]

    def _weights(self) -> np.ndarray:
        assert self.weights is not None
        return self.weights

    @cached_property
    def n(self) -> np.ndarray:
        """Rows per domain."""
        if self.k == 1:
            return np.array([self.codes.size if self.all_inside
                             else np.count_nonzero(self.inside)])
        return np.bincount(self.ext, minlength=self.k + 1)[: self.k]

    @cached_property
    def sum_w(self) -> np.ndarray:
        if self.clusters is not None:
            return self.clusters.sum(axis=0)
        return self.sums(self._weights())

    @cached_property
    def sum_w2(self) -> np.ndarray:
        w = self._weights()
        return self.sums(w * w)

    @cached_property
    def rows(self) -> np.ndarray:
        """The rows in a domain, in order."""
        return np.flatnonzero(self.inside)

    @cached_property
    def indicator(self) -> sparse.csc_matrix:
        """The k x n domain indicator of the rows in a domain (for replicate weights).

        Column-compressed, one entry per row in a domain (its entries are ``rows`` in
        order): the product with an n x R weight matrix then reads the matrix once, row
        after row (adding the rows in the same order as the row-compressed product)."""
        rows = self.rows
        indptr = np.zeros(self.codes.size + 1, dtype=np.intp)
        np.cumsum(self.inside, out=indptr[1:])
        return sparse.csc_matrix((np.ones(rows.size), self.codes[rows], indptr),
                                 shape=(self.k, self.codes.size))

    def weighted_indicator(self, values: np.ndarray) -> sparse.csc_matrix:
        """The domain indicator holding ``values`` (n,) in place of the ones."""
        ind = self.indicator
        return sparse.csc_matrix((values[self.rows], ind.indices, ind.indptr),
                                 shape=ind.shape)

    def replicate_sums(self, w: np.ndarray) -> np.ndarray:
        """Sums of the weight matrix ``w`` (n x R) per domain (k x R), kept for ``w``."""
        hit = self._replicate_sums
        if hit is None or hit[0] is not w:
            hit = self._replicate_sums = (w, np.asarray(self.indicator @ w))
        return hit[1]

    def degf(self, design: Design) -> np.ndarray:
        """Design degrees of freedom of every domain (R's ``degf`` of the domain's subset):
        one ``np.bincount`` for a linearisation design, the rank of each domain's replicate
        weights for a replicate design (computed on two threads)."""
        if not self._degf:
            if design.replicates is None:
                values = (design.domain_degf(self.codes, self.k) if self.clusters is None
                          else design.degf_from_counts(self.clusters > 0)).tolist()
            elif self.k == 1:
                values = [design.degf(self.codes == 0)]
            else:
                positive = design.weights > 0
                masks = [(self.codes == j) & positive for j in range(self.k)]
                values = [r - 1 for r in design.replicates.ranks_of(masks)]
            self._degf.update(enumerate(values))
        return np.array([float(self._degf[j]) for j in range(self.k)])


def _numeric(design: Design, name: str) -> np.ndarray:
    """A numeric column as float64 with NaN for missing values (a float64 column as it is,
    without a copy)."""
    col = design.column(name)
    if col.dtype == np.float64:
        return col.to_numpy()
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


def _has_nan(values: np.ndarray) -> bool:
    """Whether a float array has a NaN: its minimum propagates NaN (one pass, no mask)."""
    return bool(values.size) and bool(np.isnan(values.min()))


def _factor(design: Design, by: str) -> tuple[np.ndarray, list[object], np.ndarray]:
    """Codes of a domain column (-1: missing), its distinct values and their numbers of
    rows, kept in the cache."""
    key = ("factor", by)
    hit = design.cache.get(key)
    if hit is None:
        col = design.column(by)
        values = col.to_numpy()
        if values.dtype.kind in "iu":
            codes, uniques, counts = factorize_counts(values)
            hit = (codes, uniques.tolist(), counts)
        else:
            codes, uniq = pd.factorize(col)
            codes = codes.astype(np.intp, copy=False)
            hit = (codes, pd.Index(uniq).tolist(),
                   np.bincount(codes + 1, minlength=len(uniq) + 1)[1:])
        design.cache[key] = hit
    return hit  # type: ignore[return-value]


def _domains(design: Design, valid: np.ndarray | None, by: str | None) -> _Domains:
    """The domains of ``by`` among the ``valid`` rows, cached in the design per column and
    set of valid rows. ``valid`` must leave out the rows without a positive weight (None:
    all rows, whose weights are then all positive)."""
    all_valid = valid is None or bool(valid.all())
    packed = None if all_valid else np.packbits(valid).tobytes()
    key = ("domains", by, None if packed is None else hash(packed))
    hit = design.cache.get(key)
    if hit is not None and hit[0] == packed:  # type: ignore[index]
        return hit[1]  # type: ignore[index]
    if by is None:
        if valid is not None and not valid.any():
            raise EstimationError("no rows with a non-missing value and a positive weight",
                                  hint="check the variable and the design's weights")
        # every row in the one domain: a read-only view of zeros, with no memory behind it
        codes = np.broadcast_to(np.intp(0), (design.n,)) if all_valid \
            else np.where(valid, 0, -1)
        dom = _Domains(codes, [None], None, design.weights, design.stages[0])
    else:
        codes_all, uniques, level_n = _factor(design, by)
        if valid is None or all_valid:
            cand = codes_all
        else:
            cand = np.where(valid, codes_all, -1)
            level_n = np.bincount(cand + 1, minlength=len(uniques) + 1)[1:]
        present = np.flatnonzero(level_n)
        if not present.size:
            raise EstimationError("every domain is empty", where=f"by={by}",
                                  hint="check the domain variable and missing values")
        order = sorted(range(present.size), key=lambda j: _sort_key(uniques[present[j]]))
        labels = [uniques[present[j]] for j in order]
        if present.size == len(uniques) and order == list(range(present.size)) \
                and (present == np.arange(present.size)).all():
            codes = cand
        else:
            remap = np.full(len(uniques) + 1, -1, dtype=np.intp)
            remap[present[order] + 1] = np.arange(present.size)
            codes = remap[cand + 1]
        dom = _Domains(codes, labels, by, design.weights, design.stages[0],
                       n=level_n[present[order]])
    if len(design.cache) > 64:  # bound the memory kept by a long-lived design
        design.cache.clear()
    design.cache[key] = (packed, dom)
    return dom


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
    """A linearisable statistic: per-domain estimates from any weight matrix, and influence.

    ``y`` (and ``x``) may hold anything on rows out of every domain: those rows are ignored.
    """

    kind: str
    y: np.ndarray
    x: np.ndarray | None
    dom: _Domains

    def point(self, w: np.ndarray) -> np.ndarray:
        """Estimates (k,) for weights (n,), or (k, R) for a weight matrix (n, R)."""
        dom = self.dom
        if w.ndim == 1:
            ty = dom.sums(w * self.y)
            if self.kind == "total":
                return ty
            td = dom.sums(w * self.x) if self.kind == "ratio" else dom.sums(w)
            with np.errstate(invalid="ignore", divide="ignore"):
                return ty / td
        # replicate weights: the domain sums of every column are one sparse product
        # (k x n domain indicator holding y) @ (n x R); the sums of weights are kept
        ty = np.asarray(dom.weighted_indicator(self.y) @ w)
        if self.kind == "total":
            return ty
        if self.kind == "ratio":
            assert self.x is not None
            td = np.asarray(dom.weighted_indicator(self.x) @ w)
        else:
            td = dom.replicate_sums(w)
        with np.errstate(invalid="ignore", divide="ignore"):
            return ty / td

    def influence(self, w: np.ndarray, est: np.ndarray) -> Influence:
        """Influence values: w y (total), w (y - m) / sum w (mean), w (y - R x) / sum w x
        (ratio) on the domain's rows; the division is applied to the cluster totals."""
        return self.fit(w, est=est)[1]

    def fit(self, w: np.ndarray, *, est: np.ndarray | None = None,
            stage: Stage | None = None) -> tuple[np.ndarray, Influence, np.ndarray]:
        """Estimates, influence values and the sums of squares of the design effect,
        sum_i w_i (r_i - rbar)^2 per domain (r the deff's variable, see ``_deff``).

        A mean or total is computed on y - c, c a centre of y (the mean of its first rows):
        sum w (y - m)^2 = sum w (y - c)^2 - (m - c)^2 sum w, and the influence values
        w (y - m) = w (y - c) - (m - c) w, so a few passes over the rows give all three
        without cancellation. With ``stage`` (a linearisation design without weighting
        steps), the cluster x domain totals of that first stage also give the estimates.
        """
        dom = self.dom
        own = w is dom.weights
        sw = dom.sum_w if own else dom.sums(w)
        if self.kind == "ratio":
            return self._fit_ratio(w, sw, est, own)
        c0 = dom.centre(self.y)
        v = self.y - c0
        wv = w * v
        totals = None
        if est is None:
            if stage is not None and own:
                a = Influence.compact(wv, dom.codes, dom.k, index=dom.index)
                totals = {0: a.group_totals(stage.clusters, stage.n_clusters, key=0)}
                tv = totals[0].sum(axis=0)
            else:
                tv = dom.sums(wv)
            with np.errstate(invalid="ignore", divide="ignore"):
                est = tv + c0 * sw if self.kind == "total" else c0 + tv / sw
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = est / sw if self.kind == "total" else est
            delta = mean - c0
            np.multiply(wv, v, out=v)
            ssq = dom.sums(v) - delta * delta * sw
            index = dom.index if own else None
            if self.kind == "total":  # z = w y = w (y - c) + c w
                infl = Influence.compact(wv, dom.codes, dom.k, offset=np.full(dom.k, -c0),
                                         base=w, index=index, totals=totals)
            else:
                infl = Influence.compact(wv, dom.codes, dom.k, offset=delta, base=w,
                                         scale=1.0 / sw, index=index, totals=totals)
        return est, infl, ssq

    def _fit_ratio(self, w: np.ndarray, sw: np.ndarray, est: np.ndarray | None, own: bool
                   ) -> tuple[np.ndarray, Influence, np.ndarray]:
        assert self.x is not None
        dom = self.dom
        td = dom.sums(w * self.x)
        if est is None:
            with np.errstate(invalid="ignore", divide="ignore"):
                est = dom.sums(w * self.y) / td
        u = self.y - np.append(est, 0.0)[dom.ext] * self.x
        wu = w * u
        with np.errstate(invalid="ignore", divide="ignore"):
            infl = Influence.compact(wu, dom.codes, dom.k, scale=1.0 / td,
                                     index=dom.index if own else None)
            # r = u / X, rbar = sum w r / sum w
            a = dom.sums(wu)
            ssq = (dom.sums(wu * u) - a * a / sw) / (td * td)
        return est, infl, ssq


def _deff(dom: _Domains, kind: str, ssq: np.ndarray, var: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """R's deff (SRS without replacement) and the with-replacement version, per domain:
    s^2 = sum w (r - rbar)^2 / sum w * n / (n - 1), r = y, or (y - R x) / X for a ratio."""
    n = dom.n.astype(float)
    big_n = dom.sum_w
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = ssq / big_n * n / (n - 1)
        factor = big_n**2 if kind in ("total", "ratio") else np.ones_like(big_n)
        v_wr = s2 * factor / n
        v_wor = np.where(big_n >= n, v_wr * (big_n - n) / big_n, np.nan)
        return var / v_wor, var / v_wr


def _resolve_df(design: Design, df: str | float, rows: np.ndarray | None) -> float:
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
    positive = design.cache.get("positive")
    if positive is None:
        positive = design.cache["positive"] = bool((w > 0).all())
    valid: np.ndarray | None = None  # None: every row
    if not positive or _has_nan(y) or (x is not None and _has_nan(x)):
        valid = ~np.isnan(y) & (w > 0)
        if x is not None:
            valid &= ~np.isnan(x)
    dom = _domains(design, valid, by)
    kind = "mean" if stat == "proportion" else stat
    lin = _Linear(kind, y, x, dom)
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
    deff_wor, deff_wr = _deff(dom, kind, ssq, var)
    se = np.sqrt(var)
    n = dom.n
    sw = dom.sum_w
    n_eff = sw**2 / dom.sum_w2
    # R's beta rule uses nrow(design): a calibrated design keeps all rows in a subset
    n_rows_cal = design.n if (design.calibrations and design.replicates is None) else None
    need_degf = df == "design" or ci == "beta"
    k = dom.k
    degf = dom.degf(design) if need_degf else np.full(k, np.nan)
    dfs = degf if df == "design" else np.full(k, _resolve_df(design, df, None))
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
        "method": [_method_name(design)] * k,
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
