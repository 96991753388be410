"""Benchmarks of barometer's engine on synthetic data (plain Python, prints figures).

Workloads (seeded data generated here):
  W1 estimation: design + mean and SE of a 0-10 score and a 0/1 flag, overall and by a
     20-level domain (linearisation), on N rows, 50 strata, 2,000 PSUs.
  W2 raking: rake to four margins (2, 6, 13, 5 categories), tolerance 1e-8.
  W3 replicates: 200 Rao-Wu bootstrap replicates with re-raking of every replicate on
     100,000 rows, then the means by domain with replicate SEs.
  floor: one vectorised np.bincount pass computing W1's sums.

Usage: python benchmarks/run.py [--rows 1000000] [--repeat 3] [--only W1,W2,W3]
Prints median seconds of the repeats and the peak memory (tracemalloc) per workload.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pandas as pd

from barometer import Design, calibrate, mean, with_replicates

MARGIN_SIZES = {"m2": 2, "m6": 6, "m13": 13, "m5": 5}


def make_data(rows: int, seed: int = 1) -> pd.DataFrame:
    """Synthetic sample: 50 strata x 40 PSUs, unequal weights, domains, margins."""
    rng = np.random.default_rng(seed)
    psu = rng.integers(0, 2000, rows)
    psu[:2000] = np.arange(2000)  # every PSU present
    data = {
        "stratum": psu // 40,
        "psu": psu,
        "w": rng.uniform(50, 150, rows) * (1 + (psu % 7) / 7),
        "domain": rng.integers(0, 20, rows),
        "score": rng.integers(0, 11, rows).astype(float),
        "satisfied": (rng.uniform(size=rows) < 0.8).astype(float),
    }
    for name, k in MARGIN_SIZES.items():
        data[name] = rng.integers(0, k, rows).astype(str)
    return pd.DataFrame(data)


def margins(data: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Population margins: sample weighted counts perturbed by up to 5%."""
    rng = np.random.default_rng(2)
    total = float(data["w"].sum()) * 1.02
    out = {}
    for name in MARGIN_SIZES:
        shares = data.groupby(name)["w"].sum()
        shares = shares * rng.uniform(0.95, 1.05, len(shares))
        out[name] = (shares / shares.sum() * total).to_dict()
    return out


def w1(data: pd.DataFrame) -> None:
    d = Design.from_frame(data, ids="psu", strata="stratum", weights="w")
    for y in ("score", "satisfied"):
        mean(d, y, df="inf")
        mean(d, y, by="domain", df="inf")


def w2(data: pd.DataFrame) -> None:
    d = Design.from_frame(data, ids="psu", strata="stratum", weights="w")
    calibrate(d, categorical=margins(data), method="raking", tol=1e-8)


def w3(data: pd.DataFrame) -> None:
    d = Design.from_frame(data, ids="psu", strata="stratum", weights="w")
    rep = with_replicates(d, "bootstrap", replicates=200, seed=3)
    rep = calibrate(rep, categorical=margins(data), method="raking", tol=1e-8)
    for y in ("score", "satisfied"):
        mean(rep, y, by="domain", df="inf")


def floor(data: pd.DataFrame) -> None:
    psu = data["psu"].to_numpy()
    dom = data["domain"].to_numpy()
    w = data["w"].to_numpy()
    for y in ("score", "satisfied"):
        v = data[y].to_numpy()
        np.bincount(psu * 21 + dom, weights=w * v, minlength=2000 * 21)
        np.bincount(psu * 21 + dom, weights=w, minlength=2000 * 21)


def timed(fn: Callable[[pd.DataFrame], None], data: pd.DataFrame, repeat: int
          ) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(data)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    fn(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times), peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="floor,W1,W2,W3")
    args = parser.parse_args()
    big = make_data(args.rows)
    small = make_data(100_000)
    work = {"floor": (floor, big), "W1": (w1, big), "W2": (w2, big), "W3": (w3, small)}
    print(f"{'workload':<10}{'rows':>10}{'median s':>12}{'peak MiB':>12}")
    for name in args.only.split(","):
        fn, data = work[name]
        sec, mib = timed(fn, data, args.repeat if name != "W3" else 1)
        print(f"{name:<10}{len(data):>10}{sec:>12.3f}{mib:>12.0f}")


if __name__ == "__main__":
    main()
