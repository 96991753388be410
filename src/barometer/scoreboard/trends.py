"""Stage *estimate* (trends): changes between editions with their standard errors.

The samples of two editions are drawn independently, so the variance of a change is the
sum of the two variances: SE(d) = sqrt(SE_1^2 + SE_2^2), and the change is tested with
z = d / SE(d) against the normal distribution (Kish 1965, §12.4; Eurostat 2013, ch. 6).
For every indicator x domain: the change since the previous edition and since the first
edition of the series.

* A change is published only where both of its cells are publishable (neither suppressed
  nor undefined); otherwise its status is "suppressed" and the disclosure gate
  (:func:`barometer.scoreboard.rules.suppress_trends`) blanks its numbers.
* A change of two exact shares (0 or 1 decided from the data, SE 0) has SE 0: it is not
  tested (z and p missing).
* Multiple testing: a table of a thousand changes would give dozens of "significant" ones
  at 5% by chance alone. Beside the raw p-value, ``p_adjusted`` is the Benjamini-Hochberg
  (1995) adjusted p-value, controlling the false discovery rate over the published, tested
  changes of one comparison (since the previous edition; since the first edition):
  with the m p-values sorted, p_(i) -> min_{j >= i} min(1, m p_(j) / j). The flag
  ``significant_5pct`` follows the adjusted p-value (FDR 5%).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

KEY = ["indicator", "population", "basis", "by", "domain"]
TREND_COLUMNS = [*KEY, "year", "reference", "reference_year", "estimate", "reference_estimate",
                 "change", "se", "z", "p_value", "p_adjusted", "significant_5pct",
                 "status"]
P_ADJUST = "Benjamini-Hochberg"
"""The multiplicity adjustment of the trends' p-values (false discovery rate)."""


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg (1995) adjusted p-values (R's ``p.adjust(p, "BH")``); missing
    p-values stay missing and do not count in m."""
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return out
    v = p[ok]
    order = np.argsort(v, kind="stable")
    ranked = v[order] * m / np.arange(1, m + 1)
    adj = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


def trends(series: pd.DataFrame, year: int) -> pd.DataFrame:
    """Changes of ``year``'s estimates since the previous and the first edition.

    ``series``: estimates of several editions (estimate columns plus ``year``).
    """
    years = sorted(int(y) for y in series["year"].unique() if y <= year)
    if year not in years:
        raise ValueError(f"no estimates for {year} in the series")
    now = series[series["year"] == year].set_index(KEY)
    out = []
    refs = []
    if len(years) > 1:
        refs.append(("previous", years[-2]))
        if years[0] != years[-2]:
            refs.append(("first", years[0]))
    for name, ref_year in refs:
        ref = series[series["year"] == ref_year].set_index(KEY)
        both = now.join(ref[["estimate", "se", "status"]].add_suffix("_ref"), how="inner")
        change = both["estimate"] - both["estimate_ref"]
        se = np.sqrt(both["se"] ** 2 + both["se_ref"] ** 2)
        hidden = ("suppressed", "undefined")
        ok = ~both["status"].isin(hidden) & ~both["status_ref"].isin(hidden)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(se > 0, change / se, np.nan)
        p = 2 * stats.norm.sf(np.abs(z))
        p_adj = benjamini_hochberg(np.where(ok, p, np.nan))
        out.append(pd.DataFrame({
            "year": year, "reference": name, "reference_year": ref_year,
            "estimate": both["estimate"], "reference_estimate": both["estimate_ref"],
            "change": change, "se": se, "z": z, "p_value": p, "p_adjusted": p_adj,
            "significant_5pct": p_adj < 0.05,
            "status": np.where(ok, "published", "suppressed"),
        }, index=both.index).reset_index())
    if not out:
        return pd.DataFrame(columns=TREND_COLUMNS)
    return pd.concat(out, ignore_index=True)[TREND_COLUMNS]
