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

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from barometer.scoreboard.codebook import Codebook
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
from barometer.survey.ci import t_quantile
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
    fallbacks: dict[str, int] = field(default_factory=dict)
    """Replicates re-weighted otherwise than the full sample (bootstrap runs): the number
    ``relaxed`` calibrated without the trimming bounds they could not meet, and of
    ``dropped_constraints`` (calibration constraints dropped in replicates with no unit in
    the cell), each with the step where it happened."""


def weight_population(frame: pd.DataFrame, margins: MarginSet, spec: WeightingSpec,
                      *, variance: str = "linearization", replicates: int = 200,
                      seed: int = 20161, source: str = "survey") -> WeightedPopulation:
    """Build the design of one population and calibrate (and trim) it to its margins."""
    frame = add_derived_domains(frame, spec.population)
    categorical = margins.to_dict()
    names = {m: m for m in categorical}
    if spec.collapse:
        frame, categorical, names = collapse_categories(frame, categorical, spec.collapse)
    with warnings.catch_warnings():
        # an equal-probability sample is the specification's choice (weights: none), not an
        # oversight: the survey layer's warning is for a missing weights argument
        warnings.filterwarnings("ignore", message="no weights or probabilities supplied")
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
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        design = calibrate(design, categorical=cat, numeric=num, total=margins.total,
                           method=spec.method, bounds=spec.bounds, max_iter=100)
        steps = len(caught)
        if spec.trim is not None:
            design = trim(design, lower=spec.trim[0], upper=spec.trim[1])
    fallbacks = _fallbacks(caught, steps)
    for w in caught:  # still shown to the user, and now also counted
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return WeightedPopulation(spec.population, design, diagnostics(design), spec, fallbacks)


def _fallbacks(caught: list[warnings.WarningMessage], n_calibration: int) -> dict[str, int]:
    """Counts of replicate fallbacks from the calibration's warnings (``"k of R replicates
    could not meet the trimming bounds"``, ``"k calibration constraints were dropped"``),
    per step (calibration; re-calibration after trimming)."""
    out: dict[str, int] = {}
    for i, w in enumerate(caught):
        text = str(w.message)
        step = "calibration" if i < n_calibration else "trimming"
        if m := re.match(r"(\d+) of (\d+) replicates could not meet", text):
            out[f"relaxed_{step}"] = out.get(f"relaxed_{step}", 0) + int(m.group(1))
        elif m := re.match(r"(\d+) calibration constraints were dropped", text):
            key = f"dropped_constraints_{step}"
            out[key] = out.get(key, 0) + int(m.group(1))
    return out


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
            with warnings.catch_warnings():
                # a domain with no employees among the answers is an undefined (0/0) cell:
                # the publication gate marks it, so the library's warning is not repeated
                warnings.filterwarnings("ignore", message="ratio _y/_x", category=UserWarning)
                res = estimate(d, stat, "_y", x=x, by=by, ci="wald",
                               ci_level=rules.ci_level, df=rules.df)
        frames.append(res.to_frame().assign(by=by or "all",
                                            domain=lambda t, b=by: t["domain"] if b
                                            else "all"))
    out = pd.concat(frames, ignore_index=True)
    out["domain"] = out["domain"].astype(str)
    if ind.kind == "share":
        out = _share_cells(out, d, value, stat == "ratio", domains, rules)
    else:
        status = [publication_status(int(n), float(cv), rules)
                  for n, cv in zip(out["n"], out["cv"], strict=True)]
        out["status"] = [s for s, _ in status]
        out["rule"] = [r for _, r in status]
    out["indicator"] = ind.id
    out["population"] = ind.population
    out["basis"] = ind.basis if ind.population == "companies" else "individuals"
    return out[ESTIMATE_COLUMNS]


def _answer_counts(design: Design, value: np.ndarray, ratio: bool,
                   domains: tuple[str, ...]) -> dict[tuple[str, str], tuple[int, int]]:
    """Respondents of each domain who have (``yes``) and lack (``no``) the attribute, among
    those who count in the share (valid answer, positive weight; for an employee-weighted
    share, at least one employee), keyed by (by, domain)."""
    counts = design.weights > 0
    if ratio:
        counts &= design.data["employees"].to_numpy(float) > 0
    yes = (counts & (value == 1)).astype(float)
    no = (counts & (value == 0)).astype(float)
    out = {("all", "all"): (int(yes.sum()), int(no.sum()))}
    for by in domains:
        codes, levels = pd.factorize(design.data[by].astype(str))
        k = len(levels)
        ok = codes >= 0
        n_yes = np.bincount(codes[ok], weights=yes[ok], minlength=k)
        n_no = np.bincount(codes[ok], weights=no[ok], minlength=k)
        out.update({(by, str(lev)): (int(a), int(b))
                    for lev, a, b in zip(levels, n_yes, n_no, strict=True)})
    return out


def _share_cells(out: pd.DataFrame, design: Design, value: np.ndarray, ratio: bool,
                 domains: tuple[str, ...], rules: PublicationRules) -> pd.DataFrame:
    """Exact 0/1 shares, 0/0 cells and bounded intervals, then the publication status.

    * A share is exactly 0 (1) when no respondent of the domain has (lacks) the attribute,
      decided from the counts, not from the floating-point estimate (a sum of calibrated
      weights leaves a residue of order 1e-16). Such a cell has SE 0, no CV and no design
      effect; its interval is the exact Clopper-Pearson one with the n respondents,
      [0, 1 - (a/2)^(1/n)] or [(a/2)^(1/n), 1] (Clopper & Pearson 1934), ``ci_method``
      ``clopper-pearson``. Both ends follow the same publication rule (n alone).
    * A ratio-type share (employee-weighted: sum w e y / sum w e) gets the logit interval
      expit(logit(R) +/- t_df SE(R) / (R (1 - R))), the delta method on the logit scale
      (Korn & Graubard 1999, §5.3; R's ``svyciprop(method = "xlogit")``), always inside
      (0, 1) unlike the Wald interval.
    * A cell whose denominator is 0 (no respondent counts) is ``undefined`` (0/0).
    """
    counts = _answer_counts(design, value, ratio, domains)
    pairs = np.array([counts.get((b, d), (0, 0)) for b, d in
                      zip(out["by"].astype(str), out["domain"].astype(str), strict=True)],
                     dtype=np.int64).reshape(-1, 2)
    yes, no = pairs[:, 0], pairs[:, 1]
    col = {c: out[c].to_numpy(float).copy() for c in
           ("estimate", "se", "cv", "ci_low", "ci_high", "deff", "n_eff", "df")}
    method = out["ci_method"].to_numpy(object).copy()
    a = 1 - rules.ci_level
    if ratio:
        p = col["estimate"]
        inside = (yes > 0) & (no > 0) & np.isfinite(p) & (p > 0) & (p < 1)
        t = np.array([t_quantile(rules.ci_level, float(df)) if ok else np.nan
                      for ok, df in zip(inside, col["df"], strict=True)])  # per cell
        with np.errstate(divide="ignore", invalid="ignore"):
            half = t * col["se"] / (p * (1 - p))
            centre = special.logit(p)
        col["ci_low"] = np.where(inside, special.expit(centre - half), col["ci_low"])
        col["ci_high"] = np.where(inside, special.expit(centre + half), col["ci_high"])
        method[inside] = "logit"
    total = yes + no
    zero = (yes == 0) & (no > 0)
    one = (no == 0) & (yes > 0)
    exact = zero | one
    undefined = total == 0
    edge = np.where(total > 0, (a / 2) ** (1 / np.maximum(total, 1)), np.nan)
    col["estimate"] = np.where(zero, 0.0, np.where(one, 1.0, col["estimate"]))
    col["se"] = np.where(exact, 0.0, col["se"])
    for c in ("cv", "deff", "n_eff"):
        col[c] = np.where(exact, np.nan, col[c])
    col["ci_low"] = np.where(zero, 0.0, np.where(one, edge, col["ci_low"]))
    col["ci_high"] = np.where(zero, 1 - edge, np.where(one, 1.0, col["ci_high"]))
    method[exact] = "clopper-pearson"
    for c in ("estimate", "se", "cv", "ci_low", "ci_high", "deff", "n_eff"):
        col[c] = np.where(undefined, np.nan, col[c])
    method[undefined] = "none"
    status = [publication_status(int(n), float(cv), rules,
                                 exact=0.0 if z else 1.0 if o else None, undefined=bool(u))
              for n, cv, z, o, u in zip(out["n"], col["cv"], zero, one, undefined,
                                         strict=True)]
    return out.assign(**col, ci_method=method, status=[s for s, _ in status],
                      rule=[r for _, r in status])


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
    "covariate_p_value", "df", "n", "n_level", "method", "status", "rule", "warning",
]
SPARSE_OUTCOME = 10
"""A category with fewer answers than this with either outcome gives a fragile coefficient."""
WIDE_OR = 20.0
"""An odds-ratio interval whose upper bound exceeds twenty times its lower bound (a SE of
the log odds ratio above about 0.76) is flagged."""


def _catalogue_order(column: pd.Series, codes: tuple[str, ...] | None) -> pd.Series:
    """A domain column as a categorical in the codebook's order of its categories, so the
    driver models take the codebook's first category as reference (not the first in sorted
    order, which would put 250+ before 50-249); a variable the codebook does not know
    (``codes`` None) keeps the sorted order."""
    values = column.astype(str)
    if codes is None:
        return values
    extra = sorted(set(values.dropna()) - set(codes))
    return pd.Series(pd.Categorical(values, categories=[*codes, *extra]), index=column.index)


def _codes(codebook: Codebook | None, name: str) -> tuple[str, ...] | None:
    if codebook is None:
        return None
    try:
        return tuple(str(c) for c in codebook.variable(name).codes)
    except KeyError:
        return None


def estimate_drivers(weighted: Mapping[str, WeightedPopulation], catalogue: Catalogue,
                     codebook: Codebook | None = None) -> pd.DataFrame:
    """The catalogue's driver models on the weighted populations: one row per coefficient
    (log-odds ``estimate`` and ``se``, odds ratio and its interval, Wald p-values).

    Reference categories follow the order of ``codebook`` (default: the package's).
    Coefficients of a sparse category (fewer than :data:`SPARSE_OUTCOME` answers with
    either outcome) or with a wide interval (upper / lower odds-ratio bound above
    :data:`WIDE_OR`) carry a ``warning`` and the status "caution"."""
    if codebook is None:
        from barometer.scoreboard.codebook import load_codebook

        codebook = load_codebook()
    frames = [_one_driver(weighted[ind.population].design, drv, ind, catalogue.rules,
                          codebook)
              for drv in catalogue.drivers
              for ind in [catalogue.get(drv.indicator)]
              if ind.population in weighted
              and ind.item in weighted[ind.population].design.data.columns]
    if not frames:
        return pd.DataFrame(columns=DRIVER_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _one_driver(design: Design, drv: Driver, ind: Indicator, rules: PublicationRules,
                codebook: Codebook | None = None) -> pd.DataFrame:
    y = ind.variable(design.data)
    ordered = {c: _catalogue_order(design.data[c], _codes(codebook, c))
               for c in drv.covariates}
    d = design.with_weights(design.weights, f"driver {drv.id}",
                            data=design.data.assign(_y=y, **ordered))
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
    yes = answered["_y"].to_numpy(float) == 1
    hits = [np.ones(len(answered), bool) if t == "(Intercept)" else
            (answered[c].astype(str) == t[len(c):]).to_numpy()
            for t, c in zip(fit.columns, fit.column_term, strict=True)]
    outcome_min = [min(int((h & yes).sum()), int((h & ~yes).sum())) for h in hits]
    small = np.array(n_level) < rules.min_n
    status = np.where(small, "suppressed", "published").astype(object)
    rule = np.where(small, f"n < {rules.min_n} in the category",
                    f"n >= {rules.min_n} in the category").astype(object)
    # a separation warning with no sparse level to explain it flags the whole model (with
    # sparse levels, they are the usual cause and their own dummies isolate them)
    if caught and not small.any():
        status[:] = "caution"
        rule[:] = "fitted probabilities near 0 or 1 (possible separation)"
    width = np.exp(table["ci_high"].to_numpy(float) - table["ci_low"].to_numpy(float))
    warning = np.array([
        "; ".join(w for w, on in (
            (f"sparse category: fewer than {SPARSE_OUTCOME} answers with one of the "
             "outcomes", o < SPARSE_OUTCOME),
            (f"wide interval: upper / lower odds-ratio bound {wd:.1f} > {WIDE_OR:g}",
             np.isfinite(wd) and wd > WIDE_OR)) if on)
        for o, wd in zip(outcome_min, width, strict=True)], dtype=object)
    warning[np.array(fit.column_term) == "(Intercept)"] = ""  # the constant: no category
    warned = (warning != "") & (status == "published")
    status[warned] = "caution"
    rule[warned] = warning[warned]
    return pd.DataFrame({
        "model": drv.id, "population": ind.population, "indicator": ind.id,
        "covariate": list(fit.column_term), "term": table["term"],
        "reference_category": [fit.reference.get(c, "") for c in fit.column_term],
        "estimate": table["estimate"], "se": table["se"],
        "odds_ratio": np.exp(table["estimate"]), "or_ci_low": np.exp(table["ci_low"]),
        "or_ci_high": np.exp(table["ci_high"]), "p_value": table["p_value"],
        "covariate_p_value": [term_p.get(c, np.nan) for c in fit.column_term],
        "df": fit.df, "n": fit.n, "n_level": n_level, "method": fit.method,
        "status": status, "rule": rule, "warning": warning,
    }, columns=DRIVER_COLUMNS)
