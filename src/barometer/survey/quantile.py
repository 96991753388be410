"""Stage *estimate*: weighted quantiles with Woodruff confidence intervals.

Quantile rules (R ``survey`` 4.1 ``qrule_*``; Hyndman & Fan 1996):

* ``math``: the inverse of the weighted empirical CDF, the smallest x_(i) with
  F(x_(i)) >= p, where F is the cumulated weight share in sorted order (a p below the
  smallest value's share gives the smallest value, as survey >= 4.4-1);
* ``hf7``: linear interpolation between the sorted values at plotting positions
  p_k = W_(k-1) / W_(n-1) (W_(j) the cumulated weight of the j smallest values), which is
  Hyndman & Fan's type 7 when weights are equal.

Woodruff (1952) interval (Lumley 2010, §2.4.1): with q the estimated quantile, estimate the
proportion m = F(q) = share of y <= q with its design-based SE, take m +/- t SE on the
probability scale and map both ends back through the same quantile rule (an end outside
[0, 1] gives NaN). The reported SE is the interval width / (2 t), as R reports it.

Cumulated weights are summed in extended precision, as R does, so ties at the exact
probability p fall on the same side as in R.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from barometer.survey.ci import t_quantile
from barometer.survey.design import Design
from barometer.survey.domains import (
    Linear,
    by_name,
    domains,
    method_name,
    numeric_column,
    resolve_df,
)
from barometer.survey.errors import EstimationError
from barometer.survey.results import COLUMNS, Estimates
from barometer.survey.variance import linearized_variance


def _cumulated(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(x, kind="stable")
    cumw = np.cumsum(w[order].astype(np.longdouble)).astype(float)
    return x[order], cumw


def qrule_math(x: np.ndarray, w: np.ndarray, p: float) -> float:
    """The ``math`` rule: inverse of the weighted empirical CDF."""
    keep = w != 0
    xs, cumw = _cumulated(x[keep], w[keep])
    total = float(np.sum(w[keep].astype(np.longdouble)))
    below = np.flatnonzero(cumw <= p * total)
    pos = int(below[-1]) if below.size else 0
    # R's qrule_math (survey >= 4.4-1): the lower value when p - F(x_pos) <= 0, which is
    # also the smallest value when p is below its weight share (no F(x_i) <= p)
    if p - cumw[pos] / total <= 0:
        return float(xs[pos])
    return float(xs[min(pos + 1, xs.size - 1)])


def qrule_hf7(x: np.ndarray, w: np.ndarray, p: float) -> float:
    """The ``hf7`` rule: interpolation at weighted type-7 plotting positions."""
    keep = w != 0
    xs, cumw = _cumulated(x[keep], w[keep])
    if xs.size == 1:
        return float(xs[0])
    pk = np.concatenate(([0.0], cumw[:-1])) / cumw[-2]
    return float(np.interp(p, pk, xs))


QRULE_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray, float], float]] = {
    "math": qrule_math,
    "hf7": qrule_hf7,
}


def estimate_quantiles(design: Design, y: str, qs: Sequence[float], *, qrule: str,
                       by: str | Sequence[str] | None, ci: str, ci_level: float,
                       df: str | float, subset: np.ndarray | None = None) -> Estimates:
    """Quantiles of ``y`` (overall or by domain, within the rows of ``subset`` if given)
    with Woodruff intervals; see module doc."""
    if qrule not in QRULE_FUNCTIONS:
        raise EstimationError(f"unknown quantile rule {qrule!r}",
                              hint=f"use one of {sorted(QRULE_FUNCTIONS)}")
    if ci != "woodruff":
        raise EstimationError(f"unknown interval rule {ci!r} for quantiles",
                              hint="use 'woodruff'")
    for p in qs:
        if not 0 <= p <= 1:
            raise EstimationError("quantile probability must be in [0, 1]", value=p)
    rule = QRULE_FUNCTIONS[qrule]
    yv = numeric_column(design, y)
    w = design.weights
    valid = ~np.isnan(yv) & (w > 0)
    if subset is not None:
        valid &= subset
    dom = domains(design, valid, by)
    rows = []
    for j, lab in enumerate(dom.labels):
        in_dom = dom.codes == j
        xd, wd = yv[in_dom], w[in_dom]
        dfj = resolve_df(design, df, in_dom)
        t = t_quantile(ci_level, dfj)
        for p in qs:
            qhat = rule(xd, wd, p)
            below = np.where(in_dom, (yv <= qhat).astype(float), np.nan)
            sub = type(dom)(np.where(in_dom, 0, -1), [lab], by)
            lin = Linear("mean", below, None, sub)
            m = lin.point(w)
            if design.replicates is not None:
                var = design.replicates.variance(m, lin.point(design.replicates.weights))
            else:
                var = linearized_variance(design, lin.influence(w, m))
            se_p = float(np.sqrt(var[0]))
            lo_p, hi_p = m[0] - t * se_p, m[0] + t * se_p
            lo = np.nan if (np.isnan(lo_p) or lo_p < 0) else rule(xd, wd, lo_p)
            hi = np.nan if (np.isnan(hi_p) or hi_p > 1) else rule(xd, wd, hi_p)
            se = (hi - lo) / (2 * t)
            rows.append({
                "statistic": "quantile", "variable": y, "level": p, "by": by_name(by),
                "domain": lab,
                "estimate": qhat, "se": se, "cv": se / abs(qhat) if qhat else np.nan,
                "ci_low": lo, "ci_high": hi, "ci_method": f"woodruff ({qrule})",
                "ci_level": ci_level, "df": dfj, "deff": np.nan, "deff_replace": np.nan,
                "n": int(in_dom.sum()), "n_eff": wd.sum() ** 2 / (wd**2).sum(),
                "method": method_name(design),
            })
    return Estimates(pd.DataFrame(rows, columns=COLUMNS))
