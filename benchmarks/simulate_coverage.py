"""Validation runs of the simulation check (issue 7); not unit tests.

Runs (each prints its coverage table, its findings, its time and a verdict on the bars):

  mar-lin   scenario mar, linearisation, N = 1,000 samples
  mar-boot  scenario mar, Rao-Wu bootstrap with 200 re-calibrated replicates, N = 300
  mnar-lin  scenario mnar (the shipped telephone sample), linearisation, N = 1,000

Bars (mar-lin): every headline overall estimate covers within [93%, 97%] and its SE ratio
(mean SE / empirical SD) is within [0.9, 1.1]. mnar: the internet-related indicators
(online use, prefers internet) show a bias beyond 3 Monte Carlo SEs, said in words.

Usage: python benchmarks/simulate_coverage.py [--only mar-lin,mnar-lin] [--reps N]
       [--jobs K] [--seed S] [--out reports/simulation]
Each run also writes its files under <out>/<run>/ (coverage.csv, coverage.png...).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from barometer.synthetic.simulate import INTERNET_INDICATORS, SimulationResult, simulate

RUNS = {
    "mar-lin": {"scenario": "mar", "variance": "linearization", "reps": 1000},
    "mar-boot": {"scenario": "mar", "variance": "bootstrap", "reps": 300, "replicates": 200},
    "mnar-lin": {"scenario": "mnar", "variance": "linearization", "reps": 1000},
}
COVERAGE_BAR = (0.93, 0.97)
SE_RATIO_BAR = (0.9, 1.1)


def verdict(name: str, result: SimulationResult) -> list[str]:
    """The bars of the module docstring, checked on one run."""
    t = result.to_frame()
    overall = t[t["by"] == "all"]
    lines = []
    if result.scenario == "mar":
        cov_ok = overall["coverage"].between(*COVERAGE_BAR)
        se_ok = overall["se_ratio"].between(*SE_RATIO_BAR)
        lines.append(f"[{name}] overall coverage within [{COVERAGE_BAR[0]:.0%}, "
                     f"{COVERAGE_BAR[1]:.0%}]: {int(cov_ok.sum())}/{len(overall)}"
                     + ("" if cov_ok.all() else " — outside: " + ", ".join(
                         f"{r.indicator} {r.coverage:.1%}"
                         for r in overall[~cov_ok].itertuples())))
        lines.append(f"[{name}] overall SE ratio within [{SE_RATIO_BAR[0]}, "
                     f"{SE_RATIO_BAR[1]}]: {int(se_ok.sum())}/{len(overall)}"
                     + ("" if se_ok.all() else " — outside: " + ", ".join(
                         f"{r.indicator} {r.se_ratio:.3f}"
                         for r in overall[~se_ok].itertuples())))
        lines.append(f"[{name}] BAR {'MET' if cov_ok.all() and se_ok.all() else 'NOT MET'}")
    else:
        net = overall[overall["indicator"].isin(INTERNET_INDICATORS)]
        biased = net[net["bias_z"].abs() > 3]
        lines.append(f"[{name}] internet-related overall estimates with a bias beyond 3 MC SE: "
                     + ", ".join(f"{r.indicator} {100 * r.bias:+.2f} points "
                                 f"({r.bias_z:+.1f} MC SE, coverage {r.coverage:.1%})"
                                 for r in biased.itertuples()))
        lines.append(f"[{name}] BAR {'MET' if len(biased) else 'NOT MET'}: the residual bias "
                     "is " + ("shown" if len(biased) else "not detected"))
    if result.failures:
        lines.append(f"[{name}] {len(result.failures)} of {result.reps} samples failed in the "
                     "production chain (left out; see the findings above)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(RUNS), help="runs, comma-separated")
    parser.add_argument("--reps", type=int, default=None, help="override every run's N")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes")
    parser.add_argument("--seed", type=int, default=20161)
    parser.add_argument("--out", type=Path, default=Path("reports") / "simulation")
    args = parser.parse_args()
    summary = []
    for name in args.only.split(","):
        params = dict(RUNS[name])
        if args.reps is not None:
            params["reps"] = args.reps
        t0 = time.perf_counter()
        last = [0.0]

        def tick(done: int, total: int, t0: float = t0, last: list[float] = last) -> None:
            now = time.perf_counter()
            if done == total or now - last[0] > 30:
                last[0] = now
                print(f"  {done}/{total} samples, {now - t0:.0f} s", flush=True)

        print(f"== {name}: {params}", flush=True)
        result = simulate(seed=args.seed, jobs=args.jobs, progress=tick, **params)
        result.write(args.out / name)
        print(result.summary())
        lines = [f"[{name}] {result.reps} samples in {result.seconds:.1f} s on "
                 f"{result.jobs} jobs ({result.seconds / result.reps:.3f} s per sample)",
                 *verdict(name, result), f"[{name}] {result.summary_line()}"]
        print("\n".join(lines), flush=True)
        summary += lines
    print("\n== summary")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
