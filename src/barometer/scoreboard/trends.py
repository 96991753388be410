"""Stage *estimate* (trends): changes between editions with their standard errors.

The samples of two editions are drawn independently, so the variance of a change is the
sum of the two variances: SE(d) = sqrt(SE_1^2 + SE_2^2), and the change is tested with
z = d / SE(d) against the normal distribution (Kish 1965, §12.4; Eurostat 2013, ch. 6).
For every indicator x domain: the change since the previous edition and since the first
edition of the series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

KEY = ["indicator", "population", "basis", "by", "domain"]
TREND_COLUMNS = [*KEY, "year", "reference", "reference_year", "estimate", "reference_estimate",
                 "change", "se", "z", "p_value", "significant_5pct", "status"]


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
        with np.errstate(divide="ignore", invalid="ignore"):
            z = change / se
        p = 2 * stats.norm.sf(np.abs(z))
        ok = (both["status"] != "suppressed") & (both["status_ref"] != "suppressed")
        out.append(pd.DataFrame({
            "year": year, "reference": name, "reference_year": ref_year,
            "estimate": both["estimate"], "reference_estimate": both["estimate_ref"],
            "change": change, "se": se, "z": z, "p_value": p,
            "significant_5pct": p < 0.05,
            "status": np.where(ok, "published", "suppressed"),
        }, index=both.index).reset_index())
    if not out:
        return pd.DataFrame(columns=TREND_COLUMNS)
    return pd.concat(out, ignore_index=True)[TREND_COLUMNS]
