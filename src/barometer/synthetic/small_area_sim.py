"""Stage *check* (simulation): do the regional model-based intervals cover the truth?

Over repeated samples of one synthetic adult population
(:func:`barometer.synthetic.simulate.build_population`), each weighted as the annual run does
(:func:`barometer.scoreboard.populations.weight_population`, the ``mar`` response scenario),
the regional Fay–Herriot estimates of :func:`barometer.scoreboard.small_area.regional_estimates`
are compared with the true regional values of the population (Morris, White & Crowther 2019).
The regional covariates are known population aggregates, as census and administrative data
are: the share of daily internet users and of adults 65+ (census-like), and the online share
of income-tax returns among their users (administrative uptake); each indicator's model uses
the covariates the scoreboard's model of it uses
(:data:`barometer.scoreboard.small_area.MODELS`), unless ``covariates`` names others.

For each indicator × region, over the N samples that produced an estimate:

* ``coverage`` of the 95% model interval eblup ± 1.96 sqrt(mse), and ``coverage_direct`` of
  the direct Wald interval direct ± 1.96 se, with Monte Carlo SE sqrt(c (1 - c) / N);
* ``rmse`` = sqrt(mean (eblup - theta)^2) and ``rmse_direct`` the same for the direct;
* ``mse_bias`` = mean(mse^) / mean (eblup - theta)^2 - 1, the relative bias of the estimated
  MSE against the empirical one.

The population and samples are seeded from ``numpy.random.SeedSequence(seed)`` (first child:
the population, second: one child per sample), so a table depends only on the arguments.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from barometer.scoreboard.small_area import MODELS, regional_estimates
from barometer.survey.errors import BarometerError

INDICATORS: tuple[str, ...] = ("online_all", "satisfied", "gave_up")
COVARIATES: dict[str, tuple[str, ...]] = {k: MODELS[k] for k in INDICATORS}
"""Indicator -> covariates of its model in the simulation: the scoreboard's."""
LEVEL = 0.95


def population_covariates(frame: pd.DataFrame) -> pd.DataFrame:
    """Regional aggregates of a population frame: shares of daily internet users, of adults
    65+ and of bac+3 graduates (census-like), and the online share of income-tax returns
    among their users (administrative uptake, from ``svc_tax`` codes 1 online / 2 other)."""
    region = frame["region"].astype(str).to_numpy()
    codes, inverse = np.unique(region, return_inverse=True)
    n = np.bincount(inverse).astype(float)

    def share(mask: np.ndarray, among: np.ndarray | None = None) -> np.ndarray:
        base = n if among is None else np.bincount(inverse, weights=among.astype(float),
                                                   minlength=len(codes))
        return np.bincount(inverse, weights=mask.astype(float), minlength=len(codes)) / base

    tax = frame["svc_tax"].to_numpy()
    return pd.DataFrame({
        "region": codes,
        "internet_daily": share(frame["internet_use"].to_numpy() == "daily"),
        "age_65plus": share(frame["age_band"].to_numpy() == "65+"),
        "degree": share(frame["education"].to_numpy() == "bac+3"),
        "admin_tax_online": share(tax == 1, (tax == 1) | (tax == 2)),
    })


def regional_truth(frame: pd.DataFrame, indicators: Sequence[object]) -> pd.DataFrame:
    """theta of each indicator per region (mean of :meth:`Indicator.variable` where defined)."""
    region = frame["region"].astype(str).to_numpy()
    rows = []
    for ind in indicators:
        v = ind.variable(frame)  # type: ignore[attr-defined]
        ok = ~np.isnan(v)
        t = pd.Series(v[ok]).groupby(region[ok]).mean()
        rows.append(pd.DataFrame({"indicator": ind.id,  # type: ignore[attr-defined]
                                  "region": t.index.astype(str), "truth": t.to_numpy()}))
    return pd.concat(rows, ignore_index=True)


@dataclass(frozen=True, eq=False)
class SmallAreaSimulation:
    """Per-sample regional estimates and the truth; :meth:`table` summarises them."""

    estimates: pd.DataFrame
    truth: pd.DataFrame
    reps: int
    seed: int
    year: int
    failures: tuple[tuple[int, str, str], ...]
    seconds: float

    def table(self) -> pd.DataFrame:
        """One row per indicator × region (module docstring)."""
        z = stats.norm.ppf(0.5 + LEVEL / 2)
        e = self.estimates.merge(self.truth, on=["indicator", "region"])
        err = e["eblup"] - e["truth"]
        derr = e["direct"] - e["truth"]
        e = e.assign(
            _cov=(e["ci_low"] <= e["truth"]) & (e["truth"] <= e["ci_high"]),
            _dcov=(np.abs(derr) <= z * e["direct_se"]), _se2=err**2, _dse2=derr**2)
        g = e.groupby(["indicator", "region"], sort=True)
        out = g.agg(truth=("truth", "first"), n_mean=("n", "mean"), samples=("eblup", "size"),
                    coverage=("_cov", "mean"), coverage_direct=("_dcov", "mean"),
                    emp_mse=("_se2", "mean"), emp_mse_direct=("_dse2", "mean"),
                    mean_mse=("mse", "mean"), mean_shrinkage=("shrinkage", "mean"))
        out["coverage_mcse"] = np.sqrt(out["coverage"] * (1 - out["coverage"])
                                       / out["samples"])
        out["rmse"] = np.sqrt(out["emp_mse"])
        out["rmse_direct"] = np.sqrt(out["emp_mse_direct"])
        out["mse_bias"] = out["mean_mse"] / out["emp_mse"] - 1
        out["eblup_better"] = out["rmse"] < out["rmse_direct"]
        return out.reset_index()

    def summary(self) -> str:
        t = self.table()
        lines = [f"Small-area simulation: {self.reps} samples, year {self.year}, seed "
                 f"{self.seed} ({self.seconds:.0f} s); {len(self.failures)} failed fits"]
        for ind, s in t.groupby("indicator", sort=False):
            lines.append(
                f"  {ind}: mean coverage {100 * s['coverage'].mean():.1f}% "
                f"(direct {100 * s['coverage_direct'].mean():.1f}%), EBLUP RMSE below the "
                f"direct in {int(s['eblup_better'].sum())} of {len(s)} regions, median "
                f"relative bias of the estimated MSE {100 * s['mse_bias'].median():+.0f}%")
        lines.append(
            f"  all indicators: mean coverage {100 * t['coverage'].mean():.1f}%, EBLUP RMSE "
            f"below the direct in {int(t['eblup_better'].sum())} of {len(t)} cells, mean "
            f"relative bias of the estimated MSE {100 * t['mse_bias'].mean():+.0f}%")
        return "\n".join(lines)

    def write(self, out: Path) -> list[Path]:
        """Write the table (coverage beside the MSE bias), the per-sample estimates and the
        failed fits (sample, stage, message) as CSV files in ``out``."""
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "small_area_coverage.csv", out / "small_area_estimates.csv",
                 out / "small_area_failures.csv"]
        self.table().to_csv(paths[0], index=False)
        self.estimates.to_csv(paths[1], index=False)
        pd.DataFrame(list(self.failures), columns=["rep", "stage", "message"]).to_csv(
            paths[2], index=False)
        return paths


def simulate_small_area(reps: int = 500, seed: int = 20161, year: int | None = None,
                        indicators: Sequence[str] = INDICATORS,
                        covariates: Sequence[str] | None = None, *,
                        population_size: int = 100_000, method: str = "REML",
                        progress: Callable[[int, int], None] | None = None
                        ) -> SmallAreaSimulation:
    """Draw ``reps`` samples, weight each, fit the regional Fay–Herriot models and keep the
    estimates beside the population's regional truth (module docstring)."""
    from barometer.scoreboard.indicators import load_weighting
    from barometer.scoreboard.populations import weight_population
    from barometer.synthetic.population import LAST
    from barometer.synthetic.simulate import build_population, draw_sample

    if reps < 2:
        raise ValueError("the simulation needs at least 2 samples")
    year = LAST if year is None else int(year)
    start = time.perf_counter()
    pop_seq, rep_root = np.random.SeedSequence(seed).spawn(2)
    population = build_population(year, pop_seq, population_size, ())
    chosen = [i for i in population.indicators if i.id in indicators]
    unknown = set(indicators) - {i.id for i in chosen}
    if unknown:
        raise ValueError(f"unknown headline indicator(s) {sorted(unknown)}")
    cov = population_covariates(population.frame)
    truth = regional_truth(population.frame, chosen)
    spec = load_weighting()["individuals"]
    frames: list[pd.DataFrame] = []
    failures: list[tuple[int, str, str]] = []
    for rep, seq in enumerate(rep_root.spawn(reps)):
        sample = draw_sample(np.random.default_rng(seq), population, "mar")
        try:
            wp = weight_population(sample, population.margins, spec,
                                   source=f"simulated sample {rep}")
        except BarometerError as exc:  # a sample the weighting cannot calibrate
            failures.append((rep, "weighting", str(exc).splitlines()[0]))
            continue
        for ind in chosen:
            try:
                names = list(covariates) if covariates is not None else list(
                    MODELS.get(ind.id, ("internet_daily", "age_65plus")))
                est = regional_estimates(wp.design, ind.variable(wp.design.data), ind.id,
                                         cov, names, method=method)
            except (BarometerError, np.linalg.LinAlgError) as exc:
                failures.append((rep, ind.id, str(exc).splitlines()[0]))
                continue
            frames.append(est[["indicator", "region", "n", "direct", "direct_se", "eblup",
                               "mse", "ci_low", "ci_high", "shrinkage"]].assign(rep=rep))
        if progress:
            progress(rep + 1, reps)
    return SmallAreaSimulation(pd.concat(frames, ignore_index=True), truth, reps, seed, year,
                               tuple(failures), time.perf_counter() - start)


__all__ = ["SmallAreaSimulation", "population_covariates", "regional_truth",
           "simulate_small_area"]
