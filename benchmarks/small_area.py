"""Benchmark of the Fay–Herriot module against R's sae (plain Python, prints figures).

Workloads (seeded synthetic areas: two covariates, sampling variances uniform on
[0.2, 2.5], model variance 0.8):
  FH fit: ``fay_herriot`` (REML, estimates + analytic MSE) on m = 13, 100, 1,000 and
     10,000 areas, against ``sae::eblupFH`` + ``sae::mseFH`` (R, same data, same method;
     up to 1,000 areas: sae forms m x m matrices, so 10,000 areas would take hours);
  bootstrap: ``FayHerriot.bootstrap_mse`` with B = 1,000 replicates on m = 13 and 100
     areas (all replicates fitted at once).
Times are the median of --repeat runs (R: inside R, with system.time, data loaded). No
timing assertions.

Usage: python benchmarks/small_area.py [--repeat 5] [--no-r]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from barometer.survey.small_area import fay_herriot


def areas(m: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"x1": rng.uniform(size=m), "x2": rng.normal(size=m),
                      "var": rng.uniform(0.2, 2.5, m)})
    d["y"] = (1 + 2 * d["x1"] - 0.7 * d["x2"] + rng.normal(0, np.sqrt(0.8), m)
              + rng.normal(0, np.sqrt(d["var"])))
    return d


def timed(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def r_time(path: Path, repeat: int) -> float:
    script = f"""suppressPackageStartupMessages(library(sae))
d <- read.csv("{path}")
t <- replicate({repeat}, system.time({{
  e <- eblupFH(y ~ x1 + x2, var, method = "REML", data = d)
  s <- mseFH(y ~ x1 + x2, var, method = "REML", data = d)}})["elapsed"])
cat(median(t))"""
    env = {**os.environ, "R_LIBS": os.environ.get("R_LIBS", "/work/rlib")}
    res = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, env=env,
                         check=True)
    return float(res.stdout.strip().split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args()
    print(f"{'workload':<28}{'barometer (ms)':>16}{'R sae (ms)':>14}")
    fay_herriot(areas(13), "y", "var", ["x1", "x2"])  # warm-up (imports)
    for m in (13, 100, 1000, 10_000):
        d = areas(m)
        t = timed(lambda d=d: fay_herriot(d, "y", "var", ["x1", "x2"]).mse, args.repeat)
        rt = float("nan")
        if not args.no_r and m <= 1000:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "areas.csv"
                d.to_csv(path, index=False)
                rt = r_time(path, args.repeat)
        print(f"{f'FH REML + MSE, m = {m}':<28}{1000 * t:>16.1f}{1000 * rt:>14.1f}")
    for m in (13, 100):
        fit = fay_herriot(areas(m), "y", "var", ["x1", "x2"])
        t = timed(lambda fit=fit: fit.bootstrap_mse(np.random.default_rng(2), B=1000),
                  args.repeat)
        print(f"{f'bootstrap B = 1000, m = {m}':<28}{1000 * t:>16.1f}{'':>14}")


if __name__ == "__main__":
    main()
