"""Benchmark of the issue-13 estimators against R's survey (and svy, when installed).

Workloads on --rows rows (default 1,000,000) of seeded synthetic data (50 strata x 40 PSUs,
unequal weights, a 0-10 score, a 20-level and a 3-level domain, a 5 x 4 table):
  X1 crosstab: the weighted 5 x 4 table with SEs of its cells and the Rao–Scott
     second-order F test (R: svytable + svychisq(statistic = "F"); svy: tabulate).
  X2 contrast: the mean score in the 20 domains with their covariance, and the
     difference of two domains with its SE (R: svyby(covmat = TRUE) + svycontrast;
     svy: mean(by=) + contrast).
  X3 two by-variables: the mean score in the 60 combinations of two domain variables
     (R: svyby(~score, ~d20 + d3, svymean); svy: mean(by=[...])).
Each time covers the design and the computation (data already loaded), median of
--repeat runs (R: one run per workload, it is slow); the script prints the figures, the
ratios to barometer and the main numbers of each tool side by side. No assertions.

Usage: python benchmarks/estimators.py [--rows N] [--repeat 3] [--tools barometer,svy,R]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

R_SCRIPT = r"""
suppressMessages(library(survey))
args <- commandArgs(TRUE)
d <- read.csv(args[1])
out <- list()
t <- system.time({
  des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = d)
  tab <- svytable(~r + c, des)
  se <- SE(svytotal(~interaction(r, c), des))
  f <- svychisq(~r + c, des, statistic = "F")
})[["elapsed"]]
out$X1 <- list(seconds = t, statistic = unname(f$statistic), ndf = unname(f$parameter[1]))
t <- system.time({
  des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = d)
  b <- svyby(~score, ~d20, des, svymean, covmat = TRUE)
  k <- svycontrast(b, c(1, -1, rep(0, 18)))
})[["elapsed"]]
out$X2 <- list(seconds = t, estimate = as.numeric(coef(k)), se = as.numeric(SE(k)))
t <- system.time({
  des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = d)
  b <- svyby(~score, ~d20 + d3, des, svymean)
})[["elapsed"]]
out$X3 <- list(seconds = t, first = as.numeric(coef(b))[1], first_se = as.numeric(SE(b))[1])
writeLines(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA), args[2])
"""


def make_data(rows: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    psu = rng.integers(0, 2000, rows)
    psu[:2000] = np.arange(2000)
    d20 = rng.integers(0, 20, rows)
    r = np.minimum((rng.random(rows) * 5 + 0.3 * (d20 % 3)).astype(int), 4)
    c = np.minimum((rng.random(rows) * 4 + 0.2 * r / 4).astype(int), 3)
    return pd.DataFrame({
        "stratum": psu // 40, "psu": psu, "w": rng.uniform(0.5, 5.0, rows),
        "score": np.clip(rng.normal(6 + 0.1 * d20, 2), 0, 10),
        "d20": np.char.add("d", np.char.zfill(d20.astype(str), 2)),
        "d3": np.array(["A", "B", "C"])[rng.integers(0, 3, rows)],
        "r": np.array(["r1", "r2", "r3", "r4", "r5"])[r],
        "c": np.array(["c1", "c2", "c3", "c4"])[c],
    })


def barometer_runs(df: pd.DataFrame) -> dict[str, Callable[[], dict[str, float]]]:
    from barometer import Design, contrast, crosstab, estimate

    def design() -> Design:
        return Design.from_frame(df, ids="psu", strata="stratum", weights="w")

    def x1() -> dict[str, float]:
        t = crosstab(design(), "r", "c").test
        return {"statistic": t.statistic, "ndf": t.ndf}

    def x2() -> dict[str, float]:
        est = estimate(design(), "mean", "score", by="d20", covariance=True)
        row = contrast(est, {"d00": 1, "d01": -1}).table.iloc[0]
        return {"estimate": float(row["estimate"]), "se": float(row["se"])}

    def x3() -> dict[str, float]:
        t = estimate(design(), "mean", "score", by=["d20", "d3"]).table
        return {"first": float(t["estimate"].iloc[0]), "first_se": float(t["se"].iloc[0])}

    return {"X1": x1, "X2": x2, "X3": x3}


def svy_runs(df: pd.DataFrame) -> dict[str, Callable[[], dict[str, float]]]:
    import polars as pl
    import svy

    data = pl.from_pandas(df)

    def sample() -> object:
        return svy.Sample(data, svy.Design(stratum="stratum", psu="psu", wgt="w"))

    def x1() -> dict[str, float]:
        tab = sample().categorical.tabulate("r", "c", units="count")
        f = tab.stats.f
        return {"statistic": float(f.value), "ndf": float(f.df_num)}

    def x2() -> dict[str, float]:
        est = sample().estimation.mean("score", by="d20")
        k = est.contrast({"d00": 1, "d01": -1})
        t = k.to_polars() if hasattr(k, "to_polars") else None
        if t is None:
            return {}
        cols = t.columns
        est_col = next(c for c in cols if c in ("est", "estimate"))
        return {"estimate": float(t[est_col][0]), "se": float(t["se"][0])}

    def x3() -> dict[str, float]:
        t = sample().estimation.mean("score", by=["d20", "d3"]).to_polars()
        return {"first": float(t["est"][0]), "first_se": float(t["se"][0])}

    return {"X1": x1, "X2": x2, "X3": x3}


def timed(fn: Callable[[], dict[str, float]], repeat: int) -> tuple[float, dict[str, float]]:
    times, out = [], {}
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            out = fn()
        except Exception as exc:  # a tool lacking a feature: reported, not fatal
            return float("nan"), {"error": f"{type(exc).__name__}: {exc}"[:120]}  # type: ignore[dict-item]
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tools", default="barometer,svy,R")
    args = parser.parse_args()
    tools = args.tools.split(",")
    df = make_data(args.rows)
    results: dict[str, dict[str, tuple[float, dict[str, float]]]] = {}
    results["barometer"] = {k: timed(f, args.repeat) for k, f in barometer_runs(df).items()}
    if "svy" in tools:
        try:
            results["svy"] = {k: timed(f, args.repeat) for k, f in svy_runs(df).items()}
        except ImportError:
            print("svy not installed: skipped (pip install svy)")
    if "R" in tools and shutil.which("Rscript"):
        with tempfile.TemporaryDirectory() as tmp:
            csv, script, out = Path(tmp, "d.csv"), Path(tmp, "b.R"), Path(tmp, "o.json")
            df.to_csv(csv, index=False)
            script.write_text(R_SCRIPT)
            proc = subprocess.run(["Rscript", str(script), str(csv), str(out)],
                                  capture_output=True, text=True, timeout=3600)
            if proc.returncode == 0:
                raw = json.loads(out.read_text())
                results["R"] = {k: (float(v.pop("seconds")), v) for k, v in raw.items()}
            else:
                print("R failed:", proc.stderr[-500:])
    print(f"rows: {args.rows:,}; seconds (median of {args.repeat}; R one run); "
          "ratio = tool / barometer")
    names = {"X1": "crosstab 5x4 + Rao-Scott F", "X2": "20 domain means + contrast",
             "X3": "means by two by-variables (60 domains)"}
    for key, label in names.items():
        base = results["barometer"][key][0]
        line = [f"{key} {label}:"]
        for tool, res in results.items():
            sec = res[key][0]
            ratio = "" if tool == "barometer" else f" (x{sec / base:.1f})"
            line.append(f"{tool} {sec:.3f} s{ratio}")
        print("  ".join(line))
        for tool, res in results.items():
            print(f"    {tool}: {res[key][1]}")


if __name__ == "__main__":
    main()
