"""Linear contrasts of estimates, as R's ``svycontrast``.

A contrast is a linear combination c'theta of estimates theta (across domains, levels and
variables) computed with their covariance matrix V (``estimate(..., covariance=True)``):

    estimate  c'theta,   variance  c'V c,   interval  c'theta +/- t_df sqrt(c'V c)

(Lumley 2010, §2.5; Wolter 2007 for replicate covariances). ``df`` is the whole design's
degrees of freedom (the df asked for when the estimates were made), since a contrast
between domains uses the whole design. The difference of two domain means, e.g.
``contrast(est, {"E": 1, "H": -1})``, carries their covariance (zero for domains that are
strata, non-zero otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from barometer.survey.ci import t_quantile
from barometer.survey.errors import EstimationError
from barometer.survey.results import COLUMNS, Estimates

Coefficients = Mapping[str, float] | Sequence[float] | np.ndarray


def contrast(estimates: Estimates,
             coefficients: Coefficients | Mapping[str, Coefficients], *,
             ci_level: float | None = None, df: float | None = None) -> Estimates:
    """Linear combinations of ``estimates`` with SE, t interval and df (R's
    ``svycontrast``).

    ``coefficients``: a mapping {row label: coefficient} (labels of
    :meth:`Estimates.keys`, or a domain's label alone when it names one row; rows not
    listed weigh 0) or a sequence with one coefficient per
    row; or a mapping {name: such coefficients} for several named contrasts (one row each).
    ``ci_level`` defaults to the estimates' level, ``df`` to the design's df.
    """
    if estimates.covariance is None:
        raise EstimationError("contrasts need the covariance of the estimates",
                              hint="estimate with covariance=True")
    keys = estimates.keys()
    named = _named(coefficients, keys)
    table = estimates.table
    theta = table["estimate"].to_numpy(float)
    cov = estimates.covariance
    level = float(table["ci_level"].iloc[0]) if ci_level is None else float(ci_level)
    dof = estimates.design_df if df is None else float(df)
    t = t_quantile(level, dof)
    rows = []
    for name, c in named.items():
        value = float(c @ theta)
        se = float(np.sqrt(max(float(c @ cov @ c), 0.0)))
        rows.append({
            "statistic": "contrast", "variable": name, "level": None, "by": None,
            "domain": None, "estimate": value, "se": se,
            "cv": se / abs(value) if value != 0 else np.nan,
            "ci_low": value - t * se, "ci_high": value + t * se, "ci_method": "wald",
            "ci_level": level, "df": dof, "deff": np.nan, "deff_replace": np.nan,
            "n": int(table.loc[c != 0, "n"].sum()), "n_eff": np.nan,
            "method": str(table["method"].iloc[0]),
        })
    vectors = np.vstack(list(named.values()))
    return Estimates(pd.DataFrame(rows, columns=COLUMNS), vectors @ cov @ vectors.T, dof)


def _named(coefficients: Coefficients | Mapping[str, Coefficients], keys: list[str]
           ) -> dict[str, np.ndarray]:
    """Coefficient vectors by contrast name."""
    if isinstance(coefficients, Mapping) and coefficients and all(
            isinstance(v, Mapping | Sequence | np.ndarray) and not isinstance(v, str)
            for v in coefficients.values()):
        return {str(name): _vector(c, keys)  # type: ignore[arg-type]
                for name, c in coefficients.items()}
    return {"contrast": _vector(coefficients, keys)}  # type: ignore[arg-type]


def _vector(c: Coefficients, keys: list[str]) -> np.ndarray:
    if isinstance(c, Mapping):
        out = np.zeros(len(keys))
        index = {k: j for j, k in enumerate(keys)}
        for key, value in c.items():
            text = _key_text(key)
            if text not in index:  # a domain's label alone, when it names one row
                hits = [k for k in keys if k.endswith("/" + text)]
                if len(hits) == 1:
                    text = hits[0]
            if text not in index:
                raise EstimationError(f"no estimate labelled {text!r} to contrast",
                                      value=key, hint=f"labels: {', '.join(keys[:30])}")
            out[index[text]] = float(value)
        return out
    vec = np.asarray(c, dtype=float)
    if vec.shape != (len(keys),):
        raise EstimationError(f"{vec.size} coefficients for {len(keys)} estimates",
                              hint=f"give one per row ({', '.join(keys[:30])}) or a mapping")
    return vec


def _key_text(key: object) -> str:
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    if isinstance(key, tuple):
        return "|".join(_key_text(k) for k in key)
    return str(key)
