"""Timings of W3's two inner kernels (issue 18): the re-calibration of the replicate columns
and the Rao–Wu bootstrap factors, on W3's data (benchmarks/run.py: 100,000 rows, 50 strata
x 40 PSUs, 200 replicates, raking to 4 margins of 2, 6, 13 and 5 categories).

  solve_g_columns  the raking of all 200 replicate columns at once, on the 780 cells of
                   the margins (23 columns of X), captured from W3's own calibrate call
  _bootstrap       the 2,000 x 200 bootstrap factors of seed 3

Usage: python benchmarks/replicate_solver.py [--repeat 30]
Best of --repeat runs on one BLAS thread (as calibrate runs the solver); compute only.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import REPLICATES, SEED, TOL, make_data, margins

import barometer.survey.calibrate as calibrate_module
import barometer.survey.replicate as replicate_module
from barometer import Design, calibrate, with_replicates
from barometer.survey.gweights import solve_g_columns
from barometer.survey.repweights import one_blas_thread


def capture() -> tuple[tuple[Any, ...], dict[str, Any], tuple[Any, ...]]:
    """The arguments W3 passes to solve_g_columns and _bootstrap."""
    seen: dict[str, Any] = {}
    solve, boot = calibrate_module.solve_g_columns, replicate_module._bootstrap

    def spy_solve(*args: Any, **kwargs: Any) -> Any:
        seen["solve"] = (args, kwargs)
        return solve(*args, **kwargs)

    def spy_boot(*args: Any) -> Any:
        seen["boot"] = args
        return boot(*args)

    calibrate_module.solve_g_columns = spy_solve
    replicate_module._bootstrap = spy_boot
    try:
        data = make_data(100_000)
        d = Design.from_frame(data, ids="psu", strata="stratum", weights="w")
        rep = with_replicates(d, "bootstrap", replicates=REPLICATES, seed=SEED)
        calibrate(rep, categorical=margins(data), method="raking", tol=TOL)
    finally:
        calibrate_module.solve_g_columns = solve
        replicate_module._bootstrap = boot
    return seen["solve"][0], seen["solve"][1], seen["boot"]


def best(f: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    solve_args, solve_kwargs, boot_args = capture()
    x, d = solve_args[0], solve_args[1]
    with one_blas_thread():
        ok = solve_g_columns(*solve_args, **solve_kwargs)[1]
        t_solve = best(lambda: solve_g_columns(*solve_args, **solve_kwargs), args.repeat)
    t_boot = best(lambda: replicate_module._bootstrap(*boot_args), args.repeat)
    print(f"solve_g_columns  {t_solve * 1e3:7.2f} ms  ({x.shape[0]} cells x {x.shape[1]} "
          f"columns, {d.shape[1]} replicates, {int(np.sum(ok))} converged)")
    print(f"_bootstrap       {t_boot * 1e3:7.2f} ms  ({boot_args[0].size} PSUs x "
          f"{boot_args[3]} replicates)")


if __name__ == "__main__":
    main()
