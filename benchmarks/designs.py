"""Timings of the design features of issue 13 on 1,000,000 rows, beside R survey 4.5.

  D1 supplied replicate weights: Design.from_replicates with 80 Fay replicates (rho 0.5),
     then means of a score overall and by 20 domains (R: svrepdesign + svymean + svyby)
  D2 PPS without replacement, Brewer: totals overall and by 20 domains (R: svydesign(pps =
     "brewer") + svytotal + svyby)
  D3 PPS without replacement, Overton: the same (R builds an n x n matrix: run at
     --overton-rows rows only, 1,000 by default: 2,000 rows take R 87 s)
  D4 lonely PSUs, adjust: a stratified cluster design with 1,000 strata, 100 of them with
     one PSU, means by 20 domains (R: options(survey.lonely.psu = "adjust") + svyby)

Usage: python benchmarks/designs.py [--rows N] [--repeat 3] [--no-r]
Median of --repeat runs, compute only (data in memory); R with R_LIBS=/work/rlib.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from barometer import Design, estimate

R_SCRIPT = r"""
suppressMessages(library(survey))
args <- commandArgs(TRUE); task <- args[1]; d <- read.csv(args[2]); reps <- as.integer(args[3])
tm <- function(f) { f(); median(replicate(reps, system.time(f())["elapsed"])) }
if (task == "D1") {
  cols <- grep("^fay_", names(d))
  t <- tm(function() { des <- svrepdesign(data = d, repweights = d[, cols], weights = ~w,
                                          type = "Fay", rho = 0.5, combined.weights = TRUE)
                       svymean(~y, des); svyby(~y, ~g, des, svymean) })
} else if (task %in% c("D2", "D3")) {
  t <- tm(function() { des <- svydesign(ids = ~1, fpc = ~pi, data = d,
                                        pps = if (task == "D2") "brewer" else "overton")
                       svytotal(~y, des); svyby(~y, ~g, des, svytotal) })
} else {
  options(survey.lonely.psu = "adjust")
  t <- tm(function() { des <- svydesign(ids = ~psu, strata = ~h, weights = ~w, data = d)
                       svymean(~y, des); svyby(~y, ~g, des, svymean) })
}
cat(t, "\n")
"""


def median_time(f: Callable[[], object], repeat: int) -> float:
    f()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def data(task: str, n: int, rng: np.random.Generator) -> pd.DataFrame:
    df = pd.DataFrame({"y": rng.normal(50, 10, n), "g": rng.integers(0, 20, n)})
    if task == "D1":
        df["w"] = rng.uniform(1, 5, n)
        half = rng.integers(0, 2, (n, 80))
        reps = df["w"].to_numpy()[:, None] * np.where(half == 1, 1.5, 0.5)
        return pd.concat([df, pd.DataFrame(reps, columns=[f"fay_{j}" for j in range(80)])],
                         axis=1)
    if task in ("D2", "D3"):
        size = rng.lognormal(0, 1, n)
        df["pi"] = np.minimum(0.9, size / size.sum() * n * 0.5)
        return df
    n_psu = max(n // 100, 2000)
    psu = rng.integers(0, n_psu, n)
    df["psu"] = psu
    df["h"] = psu % 1000
    lone = (psu % 1000 < 100) & (psu >= 1000)  # strata 0..99 keep only their first PSU
    df.loc[lone, "psu"] = df.loc[lone, "psu"] % 1000
    df["w"] = rng.uniform(1, 5, n)
    return df


def ours(task: str, df: pd.DataFrame) -> Callable[[], object]:
    def run() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if task == "D1":
                d = Design.from_replicates(df, repweights="fay_", weights="w", type="Fay",
                                           rho=0.5)
            elif task in ("D2", "D3"):
                d = Design.from_frame(df, fpc="pi", pps="brewer" if task == "D2" else "overton")
            else:
                d = Design.from_frame(df, ids="psu", strata="h", weights="w",
                                      lonely_psu="adjust")
            stat = "total" if task in ("D2", "D3") else "mean"
            estimate(d, stat, "y", df="inf")
            estimate(d, stat, "y", by="g", df="inf")
    return run


def r_time(task: str, df: pd.DataFrame, repeat: int, tmp: Path) -> float:
    csv = tmp / f"{task}.csv"
    df.to_csv(csv, index=False)
    script = tmp / "designs.R"
    script.write_text(R_SCRIPT)
    env = {**os.environ, "R_LIBS": os.environ.get("R_LIBS", "/work/rlib")}
    out = subprocess.run(["Rscript", str(script), task, str(csv), str(repeat)], env=env,
                         capture_output=True, text=True, timeout=3600, check=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--overton-rows", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-r", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(20261130)
    print(f"{'task':6}{'rows':>10}{'barometer s':>14}{'R s':>10}{'R / barometer':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        for task in ("D1", "D2", "D3", "D4"):
            n = args.overton_rows if task == "D3" else args.rows
            df = data(task, n, rng)
            ours_s = median_time(ours(task, df), args.repeat)
            r_s = float("nan") if args.no_r else r_time(task, df, args.repeat, Path(tmp))
            print(f"{task:6}{n:>10,}{ours_s:>14.3f}{r_s:>10.2f}{r_s / ours_s:>15.0f}x")
        if not args.no_r:
            n = args.rows
            df = data("D3", n, rng)
            print(f"{'D3':6}{n:>10,}{median_time(ours('D3', df), args.repeat):>14.3f}"
                  f"{'(R: n x n)':>10}")


if __name__ == "__main__":
    main()
