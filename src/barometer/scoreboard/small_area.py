"""Regional model-based estimates: a Fay–Herriot model per indicator over the 13 regions.

For one indicator, the direct regional estimates and their design-based variances come from
the weighted population's design (:func:`barometer.survey.small_area.direct_estimates`,
linearised or replicate); the variances are smoothed by the pooled-design-effect GVF
(v_d = deff p (1 - p) / n_d with the pooled share p, Wolter 2007 §7.2; the pooled p keeps
an area's variance independent of its own estimate, Rao & Molina 2015 §6.4.1), because a
region of 5 respondents has a direct variance too noisy (often 0) for the model to treat
as known; the model (:func:`barometer.survey.small_area.fay_herriot`, REML; the
Fay–Herriot moment method when the REML iteration does not converge, which the ``method``
column then says) then borrows strength from regional covariates — census shares and
administrative uptake — known without sampling error.

The result has one row per region with the columns of :data:`COLUMNS_HEAD`, one per
covariate, then :data:`COLUMNS_TAIL`, the rows of the open-data resource
``small_area_estimates``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from barometer.scoreboard.indicators import Catalogue, PublicationRules
from barometer.scoreboard.populations import WeightedPopulation
from barometer.scoreboard.rules import publication_status
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
    direct = smooth_variances(direct, kind="deff", p_source="pooled")
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


MODELS: dict[str, tuple[str, ...]] = {
    "online_all": ("admin_tax_online", "internet_daily"),
    "satisfied": ("internet_daily", "age_65plus"),
    "gave_up": ("internet_daily", "age_65plus"),
    "co_online_users": ("admin_vat_online", "firms_10plus"),
}
"""Indicator -> covariates of its regional model (columns of :func:`regional_covariates`)."""
COVARIATE_SOURCES = {
    "admin_tax_online": "online share of income-tax returns in the region (DGFiP counts, "
                        "admin_regions.csv)",
    "admin_vat_online": "online share of company VAT returns in the region (DGFiP counts, "
                        "admin_regions.csv)",
    "internet_daily": "share of adults using the internet daily (census / ICT survey, "
                      "census_regions.csv)",
    "age_65plus": "share of adults aged 65+ (census, census_regions.csv)",
    "firms_10plus": "share of companies with 10+ employees (SIRENE, census_regions.csv)",
}
MODEL_FIELDS = ("direct", "direct_se", "synthetic", "eblup", "mse", "ci_low", "ci_high")


def regional_covariates(census: pd.DataFrame, admin: pd.DataFrame) -> pd.DataFrame:
    """One row per region: the census covariates and the administrative online shares
    (online / (online + other)) of the income-tax and company-VAT returns."""
    need = {"region", "service_id", "channel", "count"}
    if not need - {"region"} <= set(admin.columns) or "region" not in census.columns:
        raise EstimationError("the regional files lack columns", where="admin_regions.csv / "
                              "census_regions.csv", hint=f"admin needs {sorted(need)}; "
                              "census needs region")
    out = census.assign(region=census["region"].astype(str))
    for name, service in (("admin_tax_online", "income_tax_return"),
                          ("admin_vat_online", "company_vat")):
        a = admin[admin["service_id"] == service]
        wide = a.assign(region=a["region"].astype(str)).pivot_table(
            index="region", columns="channel", values="count", aggfunc="sum")
        share = wide["online"] / (wide["online"] + wide["other"])
        out[name] = out["region"].map(share)
    return out


def small_area_table(weighted: dict[str, WeightedPopulation], catalogue: Catalogue,
                     covariates: pd.DataFrame, rules: PublicationRules | None = None
                     ) -> pd.DataFrame:
    """The rows of the open-data resource ``small_area_estimates``: the :data:`MODELS`
    indicators × regions, with one column per covariate used by any model (empty where a
    model does not use it), and the publication status of each model-based cell.

    Publication rule for model-based cells: the direct rule's CV thresholds applied to the
    relative root-MSE sqrt(mse) / eblup — published at most ``cv_caution``, "caution" up to
    ``cv_suppress``, suppressed above (numbers blanked). Intervals of the linear model are
    cut to [0, 1]. The direct estimate and its SE are the model's inputs and are kept so
    that anyone can refit the model (R's ``sae::eblupFH`` on ``direct``, ``smoothed_var``
    and the covariates gives ``eblup`` and ``mse``); ``direct_status`` says whether the
    direct rules would publish it on its own (below ``min_n`` answers they would not).
    """
    rules = rules or catalogue.rules
    names = list(dict.fromkeys(c for cov in MODELS.values() for c in cov))
    frames = []
    diagnostics: dict[str, dict[str, float]] = {}
    for ind_id, cov in MODELS.items():
        ind = catalogue.get(ind_id)
        wp = weighted.get(ind.population)
        if wp is None:
            continue
        values = ind.variable(wp.design.data)
        t = regional_estimates(wp.design, values, ind_id, covariates, list(cov),
                               ci_level=rules.ci_level)
        diagnostics[ind_id] = {**t.attrs["diagnostics"], "method": t["method"].iloc[0]}
        frames.append(t.assign(population=ind.population))
    out = pd.concat(frames, ignore_index=True)
    out = out[[*COLUMNS_HEAD, *names, *COLUMNS_TAIL, "population"]]
    eb = out["eblup"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rrmse = np.sqrt(out["mse"].to_numpy(float)) / np.abs(eb)
    out["rrmse"] = rrmse
    bad = ~np.isfinite(rrmse) | (rrmse > rules.cv_suppress) | (eb < 0) | (eb > 1)
    out["status"] = np.where(bad, "suppressed",
                             np.where(rrmse > rules.cv_caution, "caution", "published"))
    out["rule"] = np.where(
        bad, f"model-based: RRMSE > {rules.cv_suppress:.1%} or outside [0, 1]",
        np.where(rrmse > rules.cv_caution, f"model-based: RRMSE > {rules.cv_caution:.1%}",
                 f"model-based: RRMSE <= {rules.cv_caution:.1%}"))
    for col in MODEL_FIELDS[2:]:
        out.loc[bad, col] = np.nan
    out["ci_low"] = out["ci_low"].clip(lower=0.0)
    out["ci_high"] = out["ci_high"].clip(upper=1.0)
    out["direct_status"] = [
        publication_status(int(n), float(se / d) if d else np.inf, rules)[0]
        for n, d, se in zip(out["n"], out["direct"], out["direct_se"], strict=True)]
    out.attrs["diagnostics"] = diagnostics
    return out


def read_regional_files(folder: Path) -> pd.DataFrame | None:
    """The regional covariates of an edition folder (``census_regions.csv`` and
    ``admin_regions.csv``), or None when the edition has neither."""
    census, admin = folder / "census_regions.csv", folder / "admin_regions.csv"
    if not census.exists() and not admin.exists():
        return None
    for path in (census, admin):
        if not path.exists():
            raise EstimationError("one of the two regional files is missing", where=str(path),
                                  hint="provide both census_regions.csv and admin_regions.csv"
                                  ", or neither (no small-area estimates then)")
    c = pd.read_csv(census, dtype={"region": str})
    a = pd.read_csv(admin, dtype={"region": str})
    census_cols = ["region", *(k for k in COVARIATE_SOURCES if not k.startswith("admin_"))]
    for name, frame, cols in (("census_regions.csv", c, census_cols),
                              ("admin_regions.csv", a, ["service_id", "region", "channel",
                                                        "count"])):
        need = [x for x in cols if x not in frame.columns]
        if need:
            raise EstimationError(f"{name} has no column {need[0]!r}",
                                  where=str(folder / name),
                                  hint=f"columns needed: {', '.join(cols)}")
    return regional_covariates(c, a)


__all__ = ["COLUMNS_HEAD", "COLUMNS_TAIL", "COVARIATE_SOURCES", "MODELS", "RRMSE_MAX",
           "publishable", "read_regional_files", "regional_covariates", "regional_estimates",
           "small_area_table"]
