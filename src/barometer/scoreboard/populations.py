"""Stage *estimate* (scoreboard): weight each population and estimate every indicator.

* Weighting per population follows the weighting specification: the design (strata and
  design weights for companies; equal initial weights for the individuals' quota sample),
  calibration to the edition's margins (crossed cells written ``a*b``; companies also to
  the total number of employees), then trimming with re-calibration.
* Every indicator x domain is estimated with its SE, interval (logit for shares by default),
  df, deff, n, effective n and CV, by linearisation (calibration residuals) or, for the whole
  run, by Rao-Wu bootstrap replicates re-calibrated one by one.
* Drivers: design-based logistic models of some shares on domain variables (R's svyglm),
  published as odds ratios with t intervals and the Wald test of each covariate; their
  SEs are always linearised (calibration residuals included): bootstrap replicates that
  lose every 0 or 1 of a small category make the logistic fit diverge.
* Publication rules (Statistics Canada 2017 quality guidelines; Eurostat 2021): a cell with
  fewer than ``min_n`` answers is suppressed; CV > ``cv_suppress`` suppressed; CV >
  ``cv_caution`` flagged "use with caution". Each row records the rule applied.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from barometer.scoreboard.indicators import (
    Catalogue,
    Driver,
    Indicator,
    PublicationRules,
    WeightingSpec,
    add_derived_domains,
)
from barometer.scoreboard.margins import MarginSet
from barometer.scoreboard.rules import publication_status
from barometer.survey.calibrate import calibrate
from barometer.survey.design import Design
from barometer.survey.errors import CalibrationError, EstimationError
from barometer.survey.estimate import estimate
from barometer.survey.regression import regress
from barometer.survey.replicate import with_replicates
from barometer.survey.weighting import WeightingDiagnostics, diagnostics, trim

ESTIMATE_COLUMNS = [
    "indicator", "population", "basis", "by", "domain", "estimate", "se", "cv", "ci_low",
    "ci_high", "ci_method", "ci_level", "df", "deff", "n", "n_eff", "method", "status",
    "rule",
]


@dataclass(frozen=True, eq=False)
class WeightedPopulation:
    """A weighted population: its final design and the weighting diagnostics."""

    population: str
    design: Design
    diagnostics: WeightingDiagnostics
    spec: WeightingSpec


def weight_population(frame: pd.DataFrame, margins: MarginSet, spec: WeightingSpec,
                      *, variance: str = "linearization", replicates: int = 200,
                      seed: int = 20161, source: str = "survey") -> WeightedPopulation:
    """Build the design of one population and calibrate (and trim) it to its margins."""
    frame = add_derived_domains(frame, spec.population)
    categorical = margins.to_dict()
    names = {m: m for m in categorical}
    if spec.collapse:
        frame, categorical, names = collapse_categories(frame, categorical, spec.collapse)
    design = Design.from_frame(frame, strata=spec.design.get("strata"),
                               weights=spec.design.get("weights"), source=source)
    if variance == "bootstrap":
        design = with_replicates(design, "bootstrap", replicates=replicates, seed=seed)
    elif variance != "linearization":
        raise ValueError(f"unknown variance method {variance!r}: use linearization or "
                         "bootstrap")
    missing = [m for m in spec.margins if m not in names]
    if missing:
        raise CalibrationError(f"the weighting specification needs margin {missing[0]!r}",
                               where=f"{spec.population} margins",
                               hint=f"margins in the file: {', '.join(names)}")
    cat = {names[m]: categorical[names[m]] for m in spec.margins}
    num = {v: margins.total_for(v) for v in spec.numeric}
    design = calibrate(design, categorical=cat, numeric=num, total=margins.total,
                       method=spec.method, bounds=spec.bounds, max_iter=100)
    if spec.trim is not None:
        design = trim(design, lower=spec.trim[0], upper=spec.trim[1])
    return WeightedPopulation(spec.population, design, diagnostics(design), spec)


def collapse_categories(frame: pd.DataFrame, margins: dict[str, dict[str, float]],
                        collapse: Mapping[str, Mapping[str, str]]
                        ) -> tuple[pd.DataFrame, dict[str, dict[str, float]], dict[str, str]]:
    """Merge sparse categories for calibration only: ``collapse = {var: {old: new}}``.

    The data gain a column ``<var>_calib`` with the merged codes (the published domain
    ``var`` keeps its own codes); margins on ``var`` (simple or crossed) are renamed to use
    it and the counts of merged categories are summed. Returns the frame, the margins and
    the renaming of margin names.
    """
    def rename(name: str) -> str:
        return "*".join(f"{p}_calib" if p in collapse else p for p in name.split("*"))

    out: dict[str, dict[str, float]] = {}
    names: dict[str, str] = {}
    for key, counts in margins.items():
        parts = key.split("*")
        merged: dict[str, float] = {}
        for cat, v in counts.items():
            codes = [collapse.get(p, {}).get(c, c)
                     for p, c in zip(parts, cat.split("*"), strict=True)]
            new = "*".join(codes)
            merged[new] = merged.get(new, 0.0) + v
        names[key] = rename(key)
        out[names[key]] = merged
    extra = {f"{var}_calib": frame[var].astype(str).replace(dict(mapping))
             for var, mapping in collapse.items()}
    return frame.assign(**extra), out, names


def _one_indicator(design: Design, ind: Indicator, domains: tuple[str, ...],
                   rules: PublicationRules) -> pd.DataFrame:
    value = ind.variable(design.data)
    if not np.isfinite(value).any():
        raise EstimationError(
            f"indicator {ind.id!r}: no valid answer to item {ind.item!r}",
            where=f"{ind.population} survey", value=ind.item,
            hint="if the item was not asked that year, give it first_year / last_year in "
            "the codebook instead of filling the column with 97, 98 or 99")
    data = {"_y": value}
    stat = "mean"
    x = None
    if ind.population == "companies" and ind.basis == "employees":
        emp = design.data["employees"].to_numpy(float)
        data = {"_y": value * emp, "_x": np.where(np.isnan(value), np.nan, emp)}
        stat, x = "ratio", "_x"
    d = design.with_weights(design.weights, f"indicator {ind.id}",
                            data=design.data.assign(**data))
    ci = rules.ci_method if ind.kind == "share" and stat == "mean" else "wald"
    frames = []
    for by in (None, *domains):
        if ind.kind == "share" and stat == "mean":
            res = estimate(d, "proportion", "_y", level=1.0, by=by, ci=ci,
                           ci_level=rules.ci_level, df=rules.df)
        else:
            res = estimate(d, stat, "_y", x=x, by=by, ci="wald", ci_level=rules.ci_level,
                           df=rules.df)
        frames.append(res.to_frame().assign(by=by or "all",
                                            domain=lambda t, b=by: t["domain"] if b
                                            else "all"))
    out = pd.concat(frames, ignore_index=True)
    status = [publication_status(int(n), float(cv), rules)
              for n, cv in zip(out["n"], out["cv"], strict=True)]
    out["status"] = [s for s, _ in status]
    out["rule"] = [r for _, r in status]
    out["indicator"] = ind.id
    out["population"] = ind.population
    out["basis"] = ind.basis if ind.population == "companies" else "individuals"
    out["domain"] = out["domain"].astype(str)
    return out[ESTIMATE_COLUMNS]


def estimate_indicators(weighted: Mapping[str, WeightedPopulation], catalogue: Catalogue
                        ) -> pd.DataFrame:
    """Every catalogue indicator x domain for the weighted populations (one row each).

    An indicator whose item is not in the edition's questionnaire (the codebook's
    ``first_year``/``last_year``: the item is absent from the validated data) has no row
    that year: a series starts in the first year its item exists.
    """
    frames = []
    for pop, wp in weighted.items():
        domains = tuple(v for v in catalogue.domains.get(pop, ())
                        if v in wp.design.data.columns)
        for ind in catalogue.for_population(pop):
            if ind.item in wp.design.data.columns:
                frames.append(_one_indicator(wp.design, ind, domains, catalogue.rules))
    if not frames:
        return pd.DataFrame(columns=ESTIMATE_COLUMNS)
    return pd.concat(frames, ignore_index=True)


DRIVER_COLUMNS = [
    "model", "population", "indicator", "covariate", "term", "reference_category",
    "estimate", "se", "odds_ratio", "or_ci_low", "or_ci_high", "p_value",
    "covariate_p_value", "df", "n", "n_level", "method", "status", "rule",
]


def estimate_drivers(weighted: Mapping[str, WeightedPopulation], catalogue: Catalogue
                     ) -> pd.DataFrame:
    """The catalogue's driver models on the weighted populations: one row per coefficient
    (log-odds ``estimate`` and ``se``, odds ratio and its interval, Wald p-values)."""
    frames = [_one_driver(weighted[ind.population].design, drv, ind, catalogue.rules)
              for drv in catalogue.drivers
              for ind in [catalogue.get(drv.indicator)]
              if ind.population in weighted
              and ind.item in weighted[ind.population].design.data.columns]
    if not frames:
        return pd.DataFrame(columns=DRIVER_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _one_driver(design: Design, drv: Driver, ind: Indicator, rules: PublicationRules
                ) -> pd.DataFrame:
    y = ind.variable(design.data)
    d = design.with_weights(design.weights, f"driver {drv.id}",
                            data=design.data.assign(_y=y))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = regress(d, "_y", list(drv.covariates), family="binomial",
                      ci_level=rules.ci_level, variance="linearization")
    table = fit.to_frame()
    term_p = {t: fit.wald_test(t).p_value for t in fit.terms}
    answered = d.data[~np.isnan(y) & (d.weights > 0)]
    n_level = [len(answered) if t == "(Intercept)" else
               int((answered[c].astype(str) == t[len(c):]).sum())
               for t, c in zip(fit.columns, fit.column_term, strict=True)]
    # a level's own coefficient absorbs its rows: a sparse (possibly separated) level
    # leaves the others unaffected, and its coefficient is suppressed
    small = np.array(n_level) < rules.min_n
    status = np.where(small, "suppressed", "published").astype(object)
    rule = np.where(small, f"n < {rules.min_n} in the category",
                    f"n >= {rules.min_n} in the category").astype(object)
    # a separation warning with no sparse level to explain it flags the whole model (with
    # sparse levels, they are the usual cause and their own dummies isolate them)
    if caught and not small.any():
        status[:] = "caution"
        rule[:] = "fitted probabilities near 0 or 1 (possible separation)"
    return pd.DataFrame({
        "model": drv.id, "population": ind.population, "indicator": ind.id,
        "covariate": list(fit.column_term), "term": table["term"],
        "reference_category": [fit.reference.get(c, "") for c in fit.column_term],
        "estimate": table["estimate"], "se": table["se"],
        "odds_ratio": np.exp(table["estimate"]), "or_ci_low": np.exp(table["ci_low"]),
        "or_ci_high": np.exp(table["ci_high"]), "p_value": table["p_value"],
        "covariate_p_value": [term_p.get(c, np.nan) for c in fit.column_term],
        "df": fit.df, "n": fit.n, "n_level": n_level, "method": fit.method,
        "status": status, "rule": rule,
    }, columns=DRIVER_COLUMNS)
