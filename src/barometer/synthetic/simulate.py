"""Stage *check* (simulation): do the confidence intervals cover the truth?

A Monte Carlo check of the whole chain (Morris, White & Crowther 2019, "Using simulation
studies to evaluate statistical methods", *Statistics in Medicine* 38: 2074-2102):

1. build one synthetic adult population for a year (:mod:`barometer.synthetic.population`,
   ``population_size`` units each standing for ``adults_total(year) / population_size``
   adults), its calibration margins (the individuals' weighting specification: sex × age
   band, PCS, region, urban size; :func:`barometer.synthetic.editions.margins_frame`) and the true
   value theta of every headline indicator, overall and by the ``domains`` (age band and
   education by default), with the same :meth:`Indicator.variable` as the estimates;
2. draw ``reps`` samples of ≈1,000 adults, each with its own child seed
   (``numpy.random.SeedSequence(seed).spawn``), weight each exactly as the annual run does
   (:func:`barometer.scoreboard.populations.weight_population`: raking to the margins then trimming,
   variance by linearisation or by re-calibrated bootstrap replicates) and estimate the
   indicators (:func:`barometer.scoreboard.populations.estimate_indicators`: logit intervals for
   shares, design degrees of freedom);
3. summarise, for each indicator × domain, over the N samples that produced an estimate:

   * bias = mean(theta_hat) - theta, relative bias = bias / theta, and its Monte Carlo SE
     SD_emp / sqrt(N) (``bias_z`` = bias / MCSE; |bias_z| > 3 flags a bias that Monte
     Carlo noise does not explain);
   * empirical SD_emp = sqrt(sum (theta_hat - mean)^2 / (N - 1));
   * SE ratio = mean(SE_hat) / SD_emp (1 when the variance estimator is right; its MC
     relative error is ≈ 1 / sqrt(2 (N - 1)), 2.2% at N = 1,000);
   * coverage c = share of samples whose 95% interval contains theta, with Monte Carlo
     SE sqrt(c (1 - c) / N) (0.69 points at c = 0.95, N = 1,000);
   * RMSE = sqrt(bias^2 + SD_emp^2 (N - 1) / N).

Two response scenarios (the sample is a quota sample by region, units drawn within each
region with probability proportional to a response propensity rho, by the successive
sampling of Efraimidis & Spirakis 2006, "Weighted random sampling with a reservoir",
*Information Processing Letters* 97: 181-185, i.e. numpy's ``choice(replace=False, p=)``):

* ``mar``: log rho is additive in sex × age band, PCS and urban size (region is fixed by
  the quota), i.e. response depends only on the calibration variables, through the
  log-linear model that raking fits (Deville, Särndal & Sautory 1993, JASA 88: 1013-1020;
  Särndal & Lundström 2005, §9-10): calibration removes the bias and the intervals should
  cover at their nominal rate;
* ``mnar``: the shipped telephone sample (:func:`barometer.synthetic.editions.sample_individuals`),
  where rho also rises with education and with *low* internet use, which the margins do
  not carry: calibration cannot remove that part of the selection, and indicators linked
  to internet use keep a bias (the residual bias a quota survey can keep; reported, not
  hidden).

The sampling fraction is ≈1% (1,000 of 100,000 units), so the with-replacement variance
the production design uses overstates the SE by ≈0.5% (1 - f = 0.99) only.

Runs are reproducible: the same ``seed`` gives the same table whatever ``jobs`` (each
sample has its own child seed; chunks of samples run in a process pool, BLAS limited to
one thread per worker with ``threadpoolctl``).
"""

from __future__ import annotations

import math
import os
import re
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from barometer.scoreboard.indicators import Catalogue, Indicator, WeightingSpec
from barometer.scoreboard.margins import MarginSet
from barometer.survey.errors import BarometerError

SCENARIOS: tuple[str, ...] = ("mar", "mnar")
VARIANCES: tuple[str, ...] = ("linearization", "bootstrap")
DOMAINS: tuple[str, ...] = ("age_band", "education")
POPULATION_SIZE = 100_000
SAMPLE_SIZE = 1_000
LEVEL = 0.95
BIAS_Z = 3.0
"""|bias| / Monte Carlo SE above which a bias is reported as real (not Monte Carlo noise)."""

MAR_EFFECTS: dict[str, dict[str, float]] = {
    "age_band": {"18-24": -0.6, "25-34": -0.35, "35-49": 0.0, "50-64": 0.25, "65+": 0.45},
    "sex": {"F": 0.1, "M": 0.0},
    "pcs": {"farmers": 0.2, "self_employed": -0.1, "executives": -0.25, "intermediate": 0.0,
            "employees": 0.05, "manual_workers": -0.2, "retired": 0.15, "other_inactive": 0.1},
    "urban_size": {"rural": 0.15, "2k-20k": 0.05, "20k-100k": 0.0, "100k+": -0.05,
                   "paris": -0.2},
}
"""Log response propensity of the ``mar`` scenario, additive in calibration variables (the
age gradient is the shipped sample's; region enters through the quota)."""

COVERAGE_COLUMNS = [
    "scenario", "variance", "indicator", "by", "domain", "reps", "mean_n", "truth",
    "mean_estimate", "bias", "rel_bias", "bias_mcse", "bias_z", "emp_sd", "mean_se",
    "se_ratio", "rmse", "coverage", "coverage_mcse",
]
ESTIMATE_COLUMNS = ["rep", "indicator", "by", "domain", "estimate", "se", "ci_low",
                    "ci_high", "df", "n"]

Progress = Callable[[int, int], None]
"""Called with (samples done, samples in all) after each chunk."""


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class SimulationResult:
    """A simulation run: per-sample estimates, the truth and the coverage table.

    ``estimates``: one row per sample × indicator × domain (``ESTIMATE_COLUMNS``);
    ``truth``: the population value of each indicator × domain; ``failures``: samples
    whose weighting or estimation raised an error, as (sample index, message) — they are
    left out of the table and counted in the summary; ``warnings``: the warnings the chain
    raised, as (sample index, kind), counted in the summary.
    """

    scenario: str
    variance: str
    reps: int
    seed: int
    year: int
    replicates: int
    population_size: int
    domains: tuple[str, ...]
    estimates: pd.DataFrame = field(repr=False)
    truth: pd.DataFrame = field(repr=False)
    failures: tuple[tuple[int, str], ...] = ()
    warnings: tuple[tuple[int, str], ...] = ()
    seconds: float = 0.0
    jobs: int = 1
    weighting: str = ""

    def to_frame(self) -> pd.DataFrame:
        """The coverage table: one row per indicator × domain (``COVERAGE_COLUMNS``)."""
        table = coverage_table(self.estimates, self.truth, level=LEVEL)
        table.insert(0, "variance", self.variance)
        table.insert(0, "scenario", self.scenario)
        return table[COVERAGE_COLUMNS]

    @property
    def n_ok(self) -> int:
        """Samples that produced estimates."""
        return self.reps - len(self.failures)

    def summary_line(self) -> str:
        """``coverage min X max Y over K estimates (N reps)``."""
        return summary_line(self.to_frame(), self.reps)

    def findings(self, lang: str = "en") -> list[str]:
        """The verdict in words, in ``lang`` (``"en"``, ``"fr"``): coverage and SE ratio of
        the overall estimates, biases beyond :data:`BIAS_Z` Monte Carlo SEs, failed
        samples and the weighting chain's warnings (their messages stay English)."""
        text = FINDINGS_TEXT[lang]

        def pct(v: float, digits: int = 1) -> str:
            return _pct(v, digits) if lang == "en" else \
                f"{100 * v:.{digits}f}\u00a0%".replace(".", ",")

        def num(text_: str) -> str:
            return text_ if lang == "en" else text_.replace(".", ",")

        t = self.to_frame()
        overall = t[t["by"] == "all"]
        lines = [
            text["scenario"].format(scenario=self.scenario)
            + text["mar" if self.scenario == "mar" else "mnar"],
            text["overall"].format(
                lo=pct(overall["coverage"].min()), hi=pct(overall["coverage"].max()),
                nominal=pct(LEVEL),
                mcse=pct(math.sqrt(LEVEL * (1 - LEVEL) / max(self.n_ok, 1)), 2),
                se_lo=num(f"{overall['se_ratio'].min():.3f}"),
                se_hi=num(f"{overall['se_ratio'].max():.3f}")),
        ]
        biased = t[t["bias_z"].abs() > BIAS_Z].sort_values("bias_z", key=np.abs,
                                                          ascending=False)
        b_all = biased[biased["by"] == "all"]
        z = num(f"{BIAS_Z:g}")
        if b_all.empty:
            lines.append(text["no_bias"].format(z=z))
        else:
            items = ("; " if lang == "en" else " ; ").join(
                text["bias_item"].format(
                    indicator=r.indicator, bias=num(f"{100 * r.bias:+.1f}"),
                    rel=num(f"{100 * r.rel_bias:+.1f}"), bias_z=num(f"{r.bias_z:+.1f}"),
                    coverage=pct(r.coverage))
                for r in b_all.itertuples())
            lines.append(text["biased"].format(n=len(b_all), of=len(overall), z=z,
                                               items=items))
            net = b_all[b_all["indicator"].isin(INTERNET_INDICATORS)]
            if self.scenario == "mnar" and not net.empty:
                lines.append(text["internet"].format(indicators=", ".join(net["indicator"])))
        n_dom = int((biased["by"] != "all").sum())
        lines.append(text["domains"].format(z=z, n=n_dom, of=int((t["by"] != "all").sum())))
        mark = ("", "") if lang == "en" else ("\u27e6en\u27e7", "\u27e6/en\u27e7")
        if self.failures:
            kinds: dict[str, int] = {}
            for _, msg in self.failures:
                key = msg.split(" | ")[0]
                kinds[key] = kinds.get(key, 0) + 1
            detail = ("; " if lang == "en" else " ; ").join(
                f"{mark[0]}{k}{mark[1]} ({v})" for k, v in kinds.items())
            lines.append(text["failures"].format(n=len(self.failures), reps=self.reps,
                                                 detail=detail))
        if self.warnings:
            counts: dict[str, int] = {}
            for _, k in self.warnings:
                counts[k] = counts.get(k, 0) + 1
            detail = ("; " if lang == "en" else " ; ").join(
                text["warning_item"].format(warning=f"{mark[0]}{k!r}{mark[1]}", n=v)
                for k, v in counts.items())
            lines.append(text["warnings"].format(detail=detail))
        return lines

    def summary(self) -> str:
        """The coverage table as text, the findings, then the summary line (last)."""
        t = self.to_frame()
        shown = t.drop(columns=["scenario", "variance"])
        head = (f"simulation {self.scenario}, variance {self.variance}"
                + (f" ({self.replicates} bootstrap replicates)"
                   if self.variance == "bootstrap" else "")
                + f", year {self.year}, population {self.population_size:,}, {self.reps} "
                f"samples, seed {self.seed}, {self.jobs} jobs, {self.seconds:.1f} s"
                + (f"\nweighting: {self.weighting}" if self.weighting else ""))
        with pd.option_context("display.width", 200, "display.max_rows", 1000,
                               "display.max_columns", 30,
                               "display.float_format", lambda v: f"{v:.4g}"):
            body = shown.to_string(index=False)
        return "\n".join([head, body, "", *self.findings(), self.summary_line()])

    def __repr__(self) -> str:
        return self.summary_line()

    def write(self, out: Path) -> list[Path]:
        """Write ``coverage.csv`` (the table the methodology note reads), the per-sample
        ``estimates.csv.gz``, ``truth.csv``, ``coverage.png`` and ``simulation.json``."""
        import json

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "coverage.csv", out / "estimates.csv.gz", out / "truth.csv",
                 out / "coverage.png", out / "simulation.json"]
        self.to_frame().to_csv(paths[0], index=False, lineterminator="\n",
                               float_format="%.6g")
        self.estimates.to_csv(paths[1], index=False, lineterminator="\n",
                              float_format="%.8g")
        self.truth.to_csv(paths[2], index=False, lineterminator="\n", float_format="%.8g")
        plot_coverage(self.to_frame(), paths[3], title=(
            f"{self.scenario} / {self.variance}: {self.n_ok} samples of ≈{SAMPLE_SIZE:,}, "
            f"year {self.year}"))
        record = {"scenario": self.scenario, "variance": self.variance, "reps": self.reps,
                  "seed": self.seed, "year": self.year, "replicates": self.replicates,
                  "population_size": self.population_size, "domains": list(self.domains),
                  "jobs": self.jobs, "seconds": round(self.seconds, 2),
                  "weighting": self.weighting,
                  "failures": [list(f) for f in self.failures],
                  "warnings": [list(w) for w in self.warnings],
                  "findings": self.findings(), "findings_fr": self.findings("fr"),
                  "summary": self.summary_line()}
        paths[4].write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")
        return paths


INTERNET_INDICATORS = ("online_users", "online_all", "prefers_internet", "relations_easier")
"""Indicators whose item is driven mainly by internet use in the population model."""


def _pct(v: float, digits: int = 1) -> str:
    return f"{100 * v:.{digits}f}%"


FINDINGS_TEXT: dict[str, dict[str, str]] = {
    "en": {"scenario": "Scenario {scenario}: ",
           "mar": "response depends only on the calibration variables (sex x age, PCS, "
                  "region, urban size), so calibration should remove the bias",
           "mnar": "response also depends on education and internet use, which the margins "
                   "do not carry (the shipped telephone sample), so calibration cannot remove "
                   "all of the selection bias",
           "overall": "Overall estimates: coverage {lo} to {hi} (nominal {nominal}, Monte "
                      "Carlo SE ≈{mcse}); SE ratio {se_lo} to {se_hi}.",
           "no_bias": "No overall estimate has a bias beyond {z} Monte Carlo SEs.",
           "bias_item": "{indicator} {bias} points (relative {rel}%, {bias_z} MC SE, "
                        "coverage {coverage})",
           "biased": "{n} of {of} overall estimates keep a bias beyond {z} Monte Carlo SEs: "
                     "{items}.",
           "internet": "The internet-related indicators ({indicators}) are biased because "
                       "the telephone sample over-represents adults with low internet use "
                       "beyond what the age, PCS and urban margins correct; their intervals "
                       "cover the truth less often than nominal.",
           "domains": "Domain estimates with a bias beyond {z} MC SE: {n} of {of}.",
           "failures": "{n} of {reps} samples could not be weighted or estimated by the "
                       "production chain and are left out of the table: {detail}.",
           "warning_item": "{warning} in {n} samples",
           "warnings": "Warnings of the weighting chain (samples kept): {detail}."},
    "fr": {"scenario": "Scénario {scenario} : ",
           "mar": "la réponse ne dépend que des variables de calage (sexe × âge, PCS, "
                  "région, taille d'unité urbaine), si bien que le calage devrait supprimer "
                  "le biais",
           "mnar": "la réponse dépend aussi du diplôme et de l'usage d'internet, que les "
                   "marges ne portent pas (l'échantillon téléphonique livré), si bien que le "
                   "calage ne peut pas supprimer tout le biais de sélection",
           "overall": "Estimations sur l'ensemble de la population : couverture de {lo} à "
                      "{hi} (nominale {nominal}, erreur Monte-Carlo ≈ {mcse}) ; rapport des "
                      "écarts-types de {se_lo} à {se_hi}.",
           "no_bias": "Aucune estimation sur l'ensemble de la population n'a de biais "
                      "au-delà de {z} erreurs Monte-Carlo.",
           "bias_item": "{indicator} {bias} points (relatif {rel}\u00a0%, {bias_z} erreurs "
                        "Monte-Carlo, couverture {coverage})",
           "biased": "{n} des {of} estimations sur l'ensemble de la population gardent un "
                     "biais au-delà de {z} erreurs Monte-Carlo : {items}.",
           "internet": "Les indicateurs liés à internet ({indicators}) sont biaisés parce "
                       "que l'échantillon téléphonique sur-représente les adultes qui utilisent "
                       "peu internet au-delà de ce que corrigent les marges d'âge, de PCS et "
                       "d'unité urbaine ; leurs intervalles couvrent la vraie valeur moins "
                       "souvent que le taux nominal.",
           "domains": "Estimations par domaine avec un biais au-delà de {z} erreurs "
                      "Monte-Carlo : {n} sur {of}.",
           "failures": "{n} des {reps} échantillons n'ont pas pu être pondérés ou estimés par "
                       "la chaîne de production et sont exclus du tableau : {detail}.",
           "warning_item": "{warning} dans {n} échantillons",
           "warnings": "Avertissements de la chaîne de pondération (échantillons conservés) : "
                       "{detail}."},
}
"""The sentences of a simulation's findings, per language (``simulation.json`` keeps both:
``findings``, ``findings_fr``; the French note prints the French ones)."""


# ------------------------------------------------------------------------- the summary
def coverage_table(estimates: pd.DataFrame, truth: pd.DataFrame, *, level: float = LEVEL
                   ) -> pd.DataFrame:
    """Bias, empirical SD, SE ratio and coverage per indicator × domain (module docstring).

    ``estimates``: rows with ``indicator, by, domain, estimate, se, ci_low, ci_high`` (and
    optionally ``n``), one per sample; ``truth``: ``indicator, by, domain, truth``. A cell
    is summarised over the samples where its estimate is finite. ``level`` only labels the
    nominal rate (the intervals are those in ``estimates``).
    """
    keys = ["indicator", "by", "domain"]
    e = estimates.merge(truth[[*keys, "truth"]], on=keys, how="inner", validate="m:1")
    e = e[np.isfinite(e["estimate"].to_numpy(float))]
    e = e.assign(
        covered=((e["ci_low"] <= e["truth"]) & (e["truth"] <= e["ci_high"])).astype(float),
        n=e["n"] if "n" in e else np.nan)
    g = e.groupby(keys, sort=False)
    t = g.agg(reps=("estimate", "size"), mean_n=("n", "mean"), truth=("truth", "first"),
              mean_estimate=("estimate", "mean"), emp_sd=("estimate", "std"),
              mean_se=("se", "mean"), coverage=("covered", "mean")).reset_index()
    n = t["reps"].to_numpy(float)
    t["bias"] = t["mean_estimate"] - t["truth"]
    with np.errstate(divide="ignore", invalid="ignore"):
        t["rel_bias"] = t["bias"] / t["truth"]
        t["bias_mcse"] = t["emp_sd"] / np.sqrt(n)
        t["bias_z"] = t["bias"] / t["bias_mcse"]
        t["se_ratio"] = t["mean_se"] / t["emp_sd"]
    t["rmse"] = np.sqrt(t["bias"] ** 2 + t["emp_sd"] ** 2 * (n - 1) / n)
    c = t["coverage"].to_numpy(float)
    t["coverage_mcse"] = np.sqrt(c * (1 - c) / n)
    t = truth[keys].merge(t, on=keys, how="inner")  # the truth's order
    t.attrs["level"] = level
    cols = [c for c in COVERAGE_COLUMNS if c in t.columns]
    return t[cols]


def summary_line(table: pd.DataFrame, reps: int) -> str:
    """``coverage min X max Y over K estimates (N reps)`` for a coverage table."""
    cov = table["coverage"].to_numpy(float)
    cov = cov[np.isfinite(cov)]
    lo, hi = (cov.min(), cov.max()) if cov.size else (float("nan"), float("nan"))
    return f"coverage min {_pct(lo)} max {_pct(hi)} over {cov.size} estimates ({reps} reps)"


def plot_coverage(table: pd.DataFrame, path: Path, title: str = "") -> Path:
    """Coverage (with ±2 Monte Carlo SE), SE ratio and relative bias per indicator (PNG).

    One row per indicator; the overall estimate is the large dot (with its Monte Carlo
    error bar), domains are small dots coloured by breakdown.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    inds = list(dict.fromkeys(table["indicator"]))
    ypos = {k: i for i, k in enumerate(inds)}
    bys = list(dict.fromkeys(table["by"]))
    colours = dict(zip(bys, sns.color_palette("deep", len(bys)), strict=True))
    offsets = {b: (k - (len(bys) - 1) / 2) * 0.22 for k, b in enumerate(bys)}
    panels = [("coverage", "coverage of the 95% interval", LEVEL),
              ("se_ratio", "mean SE / empirical SD", 1.0),
              ("rel_bias", "relative bias", 0.0)]
    with sns.axes_style("whitegrid"):
        fig, axes = plt.subplots(1, 3, figsize=(13, 1.2 + 0.5 * len(inds)), sharey=True)
        for ax, (col, label, ref) in zip(axes, panels, strict=True):
            for b in bys:
                rows = table[table["by"] == b]
                y = rows["indicator"].map(ypos).to_numpy(float) + offsets[b]
                x = rows[col].to_numpy(float)
                big = b == "all"
                err = None
                if big and col == "coverage":  # ±2 MC SE, clipped to [0, 1]
                    half = 2 * rows["coverage_mcse"].to_numpy(float)
                    err = np.vstack([np.minimum(half, x), np.minimum(half, 1 - x)])
                ax.errorbar(x, y, xerr=err, fmt="o", ms=7 if big else 3.5,
                            color=colours[b], label=b, alpha=1 if big else 0.75,
                            capsize=2 if err is not None else 0)
            ax.axvline(ref, color="black", lw=1, ls="--")
            if col == "coverage":
                ax.axvspan(0.93, 0.97, color="grey", alpha=0.12, lw=0)
                ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
            if col == "rel_bias":
                ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
            ax.set_xlabel(label)
        axes[0].set_yticks(range(len(inds)), inds)
        axes[0].invert_yaxis()
        axes[0].legend(title="breakdown", loc="best", fontsize=8)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return Path(path)


def describe_spec(spec: WeightingSpec) -> str:
    """The weighting specification in one line (recorded with the simulation)."""
    parts = [f"{spec.method} to {', '.join(spec.margins)}"]
    if spec.bounds:
        parts.append(f"g bounds {list(spec.bounds)}")
    if spec.trim:
        parts.append(f"trimmed to {list(spec.trim)} x mean weight")
    if spec.collapse:
        parts.append("collapsed for calibration " + "; ".join(
            f"{v}: " + ", ".join(f"{a}->{b}" for a, b in m.items())
            for v, m in spec.collapse.items()))
    return "; ".join(parts)


# ----------------------------------------------------------------------- the population
@dataclass(frozen=True, eq=False)
class Population:
    """A synthetic adult population with its margins, indicators and true values."""

    year: int
    frame: pd.DataFrame
    margins: MarginSet
    indicators: tuple[Indicator, ...]
    domains: tuple[str, ...]
    truth: pd.DataFrame

    @property
    def size(self) -> int:
        return len(self.frame)


def headline_indicators(catalogue: Catalogue | None = None) -> tuple[Indicator, ...]:
    """The headline indicators of the individuals (the catalogue's ``headline = true``)."""
    from barometer.scoreboard.indicators import load_catalogue

    cat = catalogue or load_catalogue()
    return tuple(i for i in cat.for_population("individuals") if i.headline)


def true_values(frame: pd.DataFrame, indicators: Sequence[Indicator],
                domains: Sequence[str]) -> pd.DataFrame:
    """theta of each indicator on a population frame, overall and per domain category.

    theta = mean of :meth:`Indicator.variable` over the units where it is defined (every
    unit stands for the same number of adults), as the estimator targets it.
    """
    rows = []
    for ind in indicators:
        v = ind.variable(frame)
        ok = ~np.isnan(v)
        rows.append({"indicator": ind.id, "by": "all", "domain": "all",
                     "truth": float(v[ok].mean()), "population_n": int(ok.sum())})
        for dom in domains:
            col = frame[dom].astype(str).to_numpy()
            for cat in sorted(pd.unique(col[ok])):
                m = ok & (col == cat)
                rows.append({"indicator": ind.id, "by": dom, "domain": str(cat),
                             "truth": float(v[m].mean()), "population_n": int(m.sum())})
    return pd.DataFrame(rows)


def build_population(year: int, seed: int | np.random.SeedSequence,
                     size: int = POPULATION_SIZE, domains: Sequence[str] = DOMAINS
                     ) -> Population:
    """The synthetic adults of ``year`` (as :func:`barometer.synthetic.editions.synthesize_year`
    builds them, with ``size`` units), their margins and the true indicator values."""
    from barometer.scoreboard.codebook import load_codebook
    from barometer.scoreboard.margins import build_margin_set
    from barometer.synthetic.editions import _service_shares, margins_frame
    from barometer.synthetic.population import (
        adults_total,
        apply_missing,
        individuals_covariates,
        individuals_items,
    )

    rng = np.random.default_rng(seed)
    codebook = load_codebook()
    pop = individuals_covariates(rng, year, size)
    answers = individuals_items(rng, year, pop, _service_shares(year))
    pop = apply_missing(rng, pop, answers, codebook, "individuals",
                        older=(pop["_age"].to_numpy() == 4).astype(float))
    margins = build_margin_set(
        margins_frame(pop, codebook, "individuals", year, adults_total(year) / size),
        "individuals")
    inds = headline_indicators()
    return Population(year, pop, margins, inds, tuple(domains),
                      true_values(pop, inds, domains))


# ---------------------------------------------------------------------------- samples
def mar_log_propensity(frame: pd.DataFrame) -> np.ndarray:
    """log rho of the ``mar`` scenario: the sum of :data:`MAR_EFFECTS` of each unit."""
    out = np.zeros(len(frame))
    for var, effects in MAR_EFFECTS.items():
        out += frame[var].astype(str).map(effects).to_numpy(float)
    return out


def quota_sample(rng: np.random.Generator, frame: pd.DataFrame, log_rho: np.ndarray,
                 n: int = SAMPLE_SIZE, quota: str = "region") -> pd.DataFrame:
    """A quota sample: ``n`` units allocated to ``quota`` categories in proportion to the
    population (largest remainder), drawn within each without replacement with
    probability proportional to rho = exp(log_rho), by successive sampling (Efraimidis &
    Spirakis 2006: keep the q largest keys log(u) / rho, u uniform)."""
    from barometer.synthetic.population import largest_remainder

    keys = np.log(rng.random(len(frame))) / np.exp(log_rho)
    groups = frame[quota].to_numpy()
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    alloc = largest_remainder(counts.astype(float), n)
    order = np.lexsort((-keys, inverse))  # by group, largest key first
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    take = np.concatenate([order[s:s + q] for s, q in zip(starts, alloc, strict=True)])
    return frame.iloc[np.sort(take)].reset_index(drop=True)


def draw_sample(rng: np.random.Generator, population: Population, scenario: str
                ) -> pd.DataFrame:
    """One sample of ≈1,000 adults under ``scenario`` (module docstring)."""
    if scenario == "mar":
        return quota_sample(rng, population.frame, mar_log_propensity(population.frame))
    if scenario == "mnar":
        from barometer.synthetic.editions import sample_individuals

        return sample_individuals(rng, population.year, population.frame)
    raise ValueError(f"unknown scenario {scenario!r}: use one of {SCENARIOS}")


# ------------------------------------------------------------------------- the workers
@dataclass(frozen=True, eq=False)
class _Context:
    """What every worker needs (sent once per worker process)."""

    population: Population
    spec: WeightingSpec
    catalogue: Catalogue
    scenario: str
    variance: str
    replicates: int


_CONTEXT: _Context | None = None


def _init_worker(ctx: _Context) -> None:
    global _CONTEXT
    _CONTEXT = ctx


def one_sample(ctx: _Context, rep: int, seq: np.random.SeedSequence) -> pd.DataFrame:
    """Draw, weight and estimate one sample; rows of ``ESTIMATE_COLUMNS``."""
    from barometer.scoreboard.populations import estimate_indicators, weight_population

    sample_seq, boot_seq = seq.spawn(2)
    rng = np.random.default_rng(sample_seq)
    sample = draw_sample(rng, ctx.population, ctx.scenario)
    boot_seed = int(boot_seq.generate_state(1, np.uint32)[0])
    wp = weight_population(sample, ctx.population.margins, ctx.spec, variance=ctx.variance,
                           replicates=ctx.replicates, seed=boot_seed,
                           source=f"simulated sample {rep}")
    est = estimate_indicators({"individuals": wp}, ctx.catalogue)
    est = est.assign(rep=rep)
    return est[ESTIMATE_COLUMNS]


Chunk = tuple[list[pd.DataFrame], list[tuple[int, str]], list[tuple[int, str]]]


def _run_chunk_with(ctx: _Context, items: list[tuple[int, np.random.SeedSequence]]) -> Chunk:
    """Run samples; return their estimates, their failures and the warnings the chain
    raised (per sample, digits replaced by ``N`` so that kinds can be counted)."""
    from threadpoolctl import threadpool_limits

    frames, failures, notes = [], [], []
    with threadpool_limits(limits=1, user_api="blas"):
        for rep, seq in items:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                # numpy's RuntimeWarnings (a failed replicate solve) are not the chain's own
                warnings.simplefilter("ignore", RuntimeWarning)
                try:
                    frames.append(one_sample(ctx, rep, seq))
                except (BarometerError, ValueError, np.linalg.LinAlgError) as exc:
                    failures.append((rep, f"{type(exc).__name__}: {exc}".splitlines()[0]))
            kinds = dict.fromkeys(re.sub(r"\d+", "N", str(w.message)) for w in caught)
            notes += [(rep, k) for k in kinds]
    return frames, failures, notes


def _run_chunk(items: list[tuple[int, np.random.SeedSequence]]) -> Chunk:
    assert _CONTEXT is not None, "worker not initialised"
    return _run_chunk_with(_CONTEXT, items)


def _chunks(items: list[Any], jobs: int) -> list[list[Any]]:
    size = max(1, min(25, math.ceil(len(items) / (4 * jobs))))
    return [items[i:i + size] for i in range(0, len(items), size)]


# ------------------------------------------------------------------------------ the run
def simulate(reps: int = 1000, seed: int = 20161, variance: str = "linearization",
             scenario: str = "mar", jobs: int | None = None, year: int | None = None,
             replicates: int = 200, progress: Progress | None = None, *,
             population_size: int = POPULATION_SIZE,
             domains: Sequence[str] = DOMAINS) -> SimulationResult:
    """Draw ``reps`` samples from a synthetic population, weight and estimate each as the
    annual run does, and compare the intervals with the truth (module docstring).

    ``variance``: ``linearization`` or ``bootstrap`` (``replicates`` Rao-Wu replicates,
    each re-calibrated). ``scenario``: ``mar`` or ``mnar``. ``jobs``: worker processes
    (default: every core; 1 runs in this process). ``year``: default the latest edition.
    ``progress(done, total)`` is called after each chunk of samples. The population is
    seeded by the first child of ``SeedSequence(seed)``, the samples by the children of
    the second, so a result depends on ``seed`` (and the arguments), never on ``jobs``.
    """
    from barometer.scoreboard.indicators import load_catalogue, load_weighting
    from barometer.synthetic.population import LAST

    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}: use one of {', '.join(SCENARIOS)}")
    if variance not in VARIANCES:
        raise ValueError(f"unknown variance {variance!r}: use one of {', '.join(VARIANCES)}")
    if reps < 2:
        raise ValueError("the simulation needs at least 2 samples")
    jobs = max(1, int(jobs if jobs is not None else (os.cpu_count() or 1)))
    year = LAST if year is None else int(year)
    start = time.perf_counter()
    root = np.random.SeedSequence(seed)
    pop_seq, rep_root = root.spawn(2)
    population = build_population(year, pop_seq, population_size, domains)
    cat = load_catalogue()
    ctx = _Context(population, load_weighting()["individuals"],
                   Catalogue(population.indicators, {"individuals": tuple(domains)},
                             cat.rules, cat.version),
                   scenario, variance, replicates)
    items = list(enumerate(rep_root.spawn(reps)))
    chunks = _chunks(items, jobs)
    frames: list[pd.DataFrame] = []
    failures: list[tuple[int, str]] = []
    notes: list[tuple[int, str]] = []
    done = 0
    if progress:
        progress(0, reps)
    if jobs == 1:
        for chunk in chunks:
            f, bad, warned = _run_chunk_with(ctx, chunk)
            frames += f
            failures += bad
            notes += warned
            done += len(chunk)
            if progress:
                progress(done, reps)
    else:
        import multiprocessing as mp

        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(max_workers=min(jobs, len(chunks)),
                                 mp_context=mp.get_context(method),
                                 initializer=_init_worker, initargs=(ctx,)) as pool:
            futures = {pool.submit(_run_chunk, chunk): len(chunk) for chunk in chunks}
            for fut in as_completed(futures):
                f, bad, warned = fut.result()
                frames += f
                failures += bad
                notes += warned
                done += futures[fut]
                if progress:
                    progress(done, reps)
    if frames:
        est = pd.concat(frames, ignore_index=True)
        est = est.sort_values("rep", kind="stable", ignore_index=True)
    else:
        est = pd.DataFrame(columns=ESTIMATE_COLUMNS)
    return SimulationResult(
        scenario=scenario, variance=variance, reps=reps, seed=seed, year=year,
        replicates=replicates, population_size=population_size, domains=tuple(domains),
        estimates=est, truth=population.truth, failures=tuple(sorted(failures)),
        warnings=tuple(sorted(notes)),
        seconds=time.perf_counter() - start, jobs=jobs, weighting=describe_spec(ctx.spec))


__all__ = ["SimulationResult", "build_population", "coverage_table", "draw_sample",
           "plot_coverage", "quota_sample", "simulate", "summary_line", "true_values"]
