"""Regional model-based estimates: a Fay–Herriot model per indicator over the 13 regions.

For one indicator, the direct regional estimates and their design-based variances come from
the weighted population's design (:func:`barometer.survey.small_area.direct_estimates`,
linearised or replicate); the variances are smoothed by the pooled-design-effect GVF
(v_d = deff p_d (1 - p_d) / n_d, Wolter 2007 §7.2), because a region of 5 respondents has
a direct variance too noisy (often 0) for the model to treat as known; the model
(:func:`barometer.survey.small_area.fay_herriot`, REML; the Fay–Herriot moment method when
the REML iteration does not converge, which the ``method`` column then says) then borrows
strength from regional covariates — census shares and administrative uptake — known without
sampling error.

The result has one row per region with the columns of :data:`COLUMNS_HEAD`, one per
covariate, then :data:`COLUMNS_TAIL`, the rows of the open-data resource
``small_area_estimates``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from barometer.survey.design import Design
from barometer.survey.errors import EstimationError
from barometer.survey.small_area import direct_estimates, fay_herriot, smooth_variances

COLUMNS_HEAD = ["indicator", "region", "n", "direct", "direct_se", "smoothed_var"]
COLUMNS_TAIL = ["synthetic", "eblup", "mse", "ci_low", "ci_high", "shrinkage", "method"]
RRMSE_MAX = 0.30
"""Publication rule for model-based cells: relative root-MSE at most 30%."""


def regional_estimates(design: Design, values: np.ndarray, indicator: str,
                       covariates: pd.DataFrame, names: Sequence[str], *,
                       region: str = "region", method: str = "REML",
                       ci_level: float = 0.95) -> pd.DataFrame:
    """Fay–Herriot estimates of the mean of ``values`` (one per design row, NaN where the
    indicator is not defined) by ``region``.

    ``covariates``: one row per region (column ``region``) with the columns ``names``.
    Regions without a respondent are left out of the fit (and of the result).
    """
    missing = [c for c in (region, *names) if c not in covariates.columns]
    if missing:
        raise EstimationError(f"the regional covariates have no column {missing[0]!r}",
                              where="regional covariates", hint=f"columns: "
                              f"{', '.join(map(str, covariates.columns))}")
    d = design.with_weights(design.weights, f"small area {indicator}",
                            data=design.data.assign(_sae_y=values))
    direct = direct_estimates(d, "_sae_y", region)
    direct = direct[direct["n"] > 0]
    direct = smooth_variances(direct, kind="deff")
    cov = covariates.assign(**{region: covariates[region].astype(str)})
    table = direct.assign(area=direct["area"].astype(str)).merge(
        cov[[region, *names]], left_on="area", right_on=region, how="left")
    if table[list(names)].isna().any().any():
        bad = table.loc[table[list(names)].isna().any(axis=1), "area"].iloc[0]
        raise EstimationError("a region has no covariate values", where=f"region {bad}",
                              hint="complete the regional covariate file")
    try:
        fit = fay_herriot(table, "direct", "smoothed_var", list(names), area="area",
                          method=method, ci_level=ci_level)
    except EstimationError as exc:
        if "did not converge" not in exc.message or method == "FH":
            raise
        # sae's relative-change rule can cycle when A is near 0; the moment equation of
        # Fay–Herriot then still has a unique root
        method = "FH"
        fit = fay_herriot(table, "direct", "smoothed_var", list(names), area="area",
                          method=method, ci_level=ci_level)
    res = fit.to_frame()
    out = pd.DataFrame({
        "indicator": indicator, "region": table["area"].to_numpy(),
        "n": table["n"].to_numpy(int), "direct": table["direct"].to_numpy(float),
        "direct_se": table["direct_se"].to_numpy(float),
        "smoothed_var": table["smoothed_var"].to_numpy(float)})
    for c in names:
        out[c] = table[c].to_numpy(float)
    out["synthetic"] = res["synthetic"].to_numpy()
    out["eblup"] = res["eblup"].to_numpy()
    out["mse"] = res["mse"].to_numpy()
    out["ci_low"] = res["ci_low"].to_numpy()
    out["ci_high"] = res["ci_high"].to_numpy()
    out["shrinkage"] = res["gamma"].to_numpy()
    out["method"] = f"model-based: Fay–Herriot EBLUP ({method}), MSE {fit.mse_method}"
    out.attrs["diagnostics"] = fit.diagnostics()
    return out


def publishable(table: pd.DataFrame, rrmse_max: float = RRMSE_MAX) -> np.ndarray:
    """Model-based cells that may be published: relative root-MSE sqrt(mse) / eblup at most
    ``rrmse_max`` and an estimate inside [0, 1]."""
    eb = table["eblup"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = np.sqrt(table["mse"].to_numpy(float)) / np.abs(eb)
    return (rr <= rrmse_max) & (eb >= 0) & (eb <= 1)


__all__ = ["COLUMNS_HEAD", "COLUMNS_TAIL", "RRMSE_MAX", "publishable", "regional_estimates"]
