"""Benchmarks of barometer against svy, R's survey and a numpy floor (plain Python, prints figures).

Workloads (seeded synthetic data generated here: 50 strata x 40 PSUs, positive unequal
weights, a 20-level domain, a 0-10 score, a 0/1 flag, four calibration variables with 2, 6,
13 and 5 categories):
  W1 estimation: design + mean and SE of the score and the flag, overall and by the 20
     domains (linearisation), on --rows rows (default 1,000,000).
  W2 raking: design + raking to the four margins, tolerance 1e-8, on --rows rows.
  W3 replicates: design + 200 Rao-Wu bootstrap replicates + raking of every replicate, then
     the means by domain with replicate SEs, on --small rows (default 100,000).
  W1L W1 on --large rows (default 10,000,000; barometer and the floor only), with the
     peak memory beside the size of the data in memory.
  W1E W1 on a design of elements (strata, no clusters: each row its own PSU), --rows rows.
  W4 annual run: ``barometer run`` on the shipped latest year with bootstrap variance
     (500 replicates), methodology note and report included (whole command, wall time).
  floor: W1's numbers (means and Taylor SEs, overall and by domain) in plain numpy: one
     np.bincount pass per variable for the PSU x domain totals of w y (and one for w), then
     the stratified with-replacement variance of the PSU totals of the influence values.
     It skips what a general engine must do (coding arbitrary ids, checking nesting,
     missing values, lonely PSUs, design effects, intervals, degrees of freedom).

W3 also times its replicate estimation step alone (the means of both variables by domain on
the raked replicate design, one call per tool), for barometer both with the design degrees
of freedom of every domain (the rank of its replicate weights, its default) and with
df='inf' (estimates and SEs only, as svy's step).

Each tool runs each workload in --processes fresh processes (default 3), interleaved with
the other tools' (tool A, tool B, ..., then A, B, ... again: a burst of noise on the
machine hits every tool alike), on the same data (a Parquet file for the Python tools, a
CSV file for R). Each process times --repeat runs of the compute only (after the data are
loaded: design, estimation, calibration); the time printed is the median of the
processes' medians, the memory the largest peak resident set size of a process during the
compute (Linux VmHWM, reset after loading).
Estimates and SEs are compared across tools (for the bootstrap only loosely: the random
draws differ). No timing assertions.

Usage: python benchmarks/run.py [--rows N] [--small N] [--large N] [--repeat 3]
                                [--processes 3] [--only W1,W2,W3,W1L,W1E,W4]
                                [--tools barometer,svy,R] [--timeout 900]
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

MARGIN_SIZES = {"m2": 2, "m6": 6, "m13": 13, "m5": 5}
VARIABLES = ("score", "satisfied")
REPLICATES = 200
SEED = 3
TOL = 1e-8
TOOLS = {"barometer": "barometer", "svy": "svy", "R": "R survey", "floor": "floor"}
DATA_OF = {"W3": "small", "W1L": "large"}  # the data of each workload (default: "big")


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
        out[name] = {str(k): float(v) for k, v in (shares / shares.sum() * total).items()}
    return out


def _tidy(rows: list[tuple[str, object, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["variable", "domain", "estimate", "se"]).assign(
        domain=lambda t: t["domain"].astype(str))


def _weight_sums(domain: np.ndarray, w: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    """W2's check: sums of the raked weights and of weight x score per domain."""
    rows = []
    for name, v in (("sum_w", w), ("sum_w_score", w * score)):
        sums = np.bincount(domain, weights=v)
        rows += [(name, j, float(s), np.nan) for j, s in enumerate(sums)]
    return _tidy(rows)


# ------------------------------------------------------------------------------ barometer
def barometer_w1(data: pd.DataFrame, m: dict, ids: str | None = "psu") -> pd.DataFrame:
    from barometer import Design, mean

    d = Design.from_frame(data, ids=ids, strata="stratum", weights="w")
    rows = []
    for y in VARIABLES:
        for by in (None, "domain"):
            t = mean(d, y, by=by).table
            rows += [(y, "all" if by is None else dom, e, s)
                     for dom, e, s in zip(t["domain"], t["estimate"], t["se"], strict=True)]
    return _tidy(rows)


def barometer_w2(data: pd.DataFrame, m: dict) -> pd.DataFrame:
    from barometer import Design, calibrate

    d = Design.from_frame(data, ids="psu", strata="stratum", weights="w")
    raked = calibrate(d, categorical=m, method="raking", tol=TOL)
    return _weight_sums(data["domain"].to_numpy(), raked.weights, data["score"].to_numpy())


def barometer_w3(data: pd.DataFrame, m: dict) -> tuple[pd.DataFrame, dict[str, float]]:
    from barometer import Design, calibrate, estimate, with_replicates

    d = Design.from_frame(data, ids="psu", strata="stratum", weights="w")
    rep = with_replicates(d, "bootstrap", replicates=REPLICATES, seed=SEED)
    rep = calibrate(rep, categorical=m, method="raking", tol=TOL)
    # the replicate step alone, on designs with nothing cached: estimates and SEs only ...
    fresh = rep.with_weights(rep.weights, "benchmark: the same design, nothing cached")
    t0 = time.perf_counter()
    estimate(fresh, "mean", list(VARIABLES), by="domain", df="inf")
    t1 = time.perf_counter()
    # ... and with the degrees of freedom of every domain (ranks of its replicate weights)
    t = estimate(rep, "mean", list(VARIABLES), by="domain").table
    t2 = time.perf_counter()
    rows = list(zip(t["variable"], t["domain"], t["estimate"], t["se"], strict=True))
    return _tidy(rows), {"step": t2 - t1, "step_no_df": t1 - t0}


def _unlocked(a: np.ndarray) -> np.ndarray:
    """A copy-on-write column as a writeable view (np.bincount copies read-only arrays)."""
    if not a.flags.writeable:
        a = a.view()
        a.flags.writeable = True
    return a


def floor_w1(data: pd.DataFrame, m: dict) -> pd.DataFrame:
    """W1's means and Taylor SEs in plain numpy, knowing the data: PSUs coded 0..P-1,
    domains 0..D-1, strata 0..H-1, no missing values (see the module docstring)."""
    psu = _unlocked(data["psu"].to_numpy())
    dom = data["domain"].to_numpy()
    w = _unlocked(data["w"].to_numpy())
    n_psu, n_dom = int(psu.max()) + 1, int(dom.max()) + 1
    stratum = np.zeros(n_psu, dtype=np.intp)
    stratum[psu] = data["stratum"].to_numpy()  # the PSUs' strata
    n_h = np.bincount(stratum)
    cell = psu * n_dom
    cell += dom
    tw = np.bincount(cell, weights=w, minlength=n_psu * n_dom).reshape(n_psu, n_dom)

    def taylor_se(z: np.ndarray) -> np.ndarray:  # PSU totals (P x k) -> SEs (k,)
        zbar = np.zeros((n_h.size, z.shape[1]))
        np.add.at(zbar, stratum, z)
        dev = z - (zbar / n_h[:, None])[stratum]
        return np.sqrt(((n_h / (n_h - 1))[stratum][:, None] * dev * dev).sum(axis=0))

    rows = []
    for y in VARIABLES:
        ty = np.bincount(cell, weights=w * data[y].to_numpy(),
                         minlength=n_psu * n_dom).reshape(n_psu, n_dom)
        for t_y, t_w, labels in ((ty.sum(axis=1, keepdims=True),
                                  tw.sum(axis=1, keepdims=True), ["all"]),
                                 (ty, tw, list(range(n_dom)))):
            big_w = t_w.sum(axis=0)
            est = t_y.sum(axis=0) / big_w
            se = taylor_se((t_y - est * t_w) / big_w)
            rows += [(y, lab, e, s) for lab, e, s in zip(labels, est, se, strict=True)]
    return _tidy(rows)


# ------------------------------------------------------------------------------------ svy
def svy_w1(data: object, m: dict, psu: str | None = "psu") -> pd.DataFrame:
    import svy

    s = svy.Sample(data, svy.Design(stratum="stratum", psu=psu, wgt="w"))
    overall = s.estimation.mean(list(VARIABLES))
    by = s.estimation.mean(list(VARIABLES), by="domain")
    rows = []
    for y, a, b in zip(VARIABLES, overall, by, strict=True):
        t = a.to_polars()
        rows.append((y, "all", t["est"][0], t["se"][0]))
        t = b.to_polars()
        rows += list(zip([y] * len(t), t["domain"], t["est"], t["se"], strict=True))
    return _tidy(rows)


def svy_w2(data: object, m: dict) -> pd.DataFrame:
    import svy

    s = svy.Sample(data, svy.Design(stratum="stratum", psu="psu", wgt="w"))
    raked = s.weighting.rake(controls=m, tol=TOL)
    out = raked.data
    return _weight_sums(out["domain"].to_numpy(), out["rk_wgt"].to_numpy(),
                        out["score"].to_numpy())


def svy_w3(data: object, m: dict) -> tuple[pd.DataFrame, dict[str, float]]:
    import svy

    s = svy.Sample(data, svy.Design(stratum="stratum", psu="psu", wgt="w"))
    s = s.weighting.create_bs_wgts(REPLICATES, rstate=SEED)
    s = s.weighting.rake(controls=m, tol=TOL)
    t0 = time.perf_counter()
    est = s.estimation.mean(list(VARIABLES), by="domain", method="replication")
    step = time.perf_counter() - t0
    rows = []
    for y, r in zip(VARIABLES, est, strict=True):
        t = r.to_polars()
        rows += list(zip([y] * len(t), t["domain"], t["est"], t["se"], strict=True))
    return _tidy(rows), {"step": step}


# -------------------------------------------------------------------------------------- R
R_PROLOGUE = r"""
suppressPackageStartupMessages({library(survey); library(data.table); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
df <- as.data.frame(fread(args[1], colClasses = list(character = c("m2", "m6", "m13", "m5"))))
for (v in c("m2", "m6", "m13", "m5")) df[[v]] <- factor(df[[v]])
marg <- fromJSON(args[2])
pop <- c("(Intercept)" = sum(unlist(marg[["m2"]])))
for (v in c("m2", "m6", "m13", "m5")) {
  lev <- levels(df[[v]])[-1]
  pop <- c(pop, setNames(unlist(marg[[v]][lev]), paste0(v, lev)))
}
cal <- ~m2 + m6 + m13 + m5
hwm <- function() {
  st <- grep("^VmHWM", readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", st)) / 1024
}
times <- c(); peaks <- c()
for (i in seq_len(as.integer(args[3]))) {
  try(writeLines("5", "/proc/self/clear_refs"), silent = TRUE)
  t0 <- proc.time()[["elapsed"]]
  res <- work(df)
  times <- c(times, proc.time()[["elapsed"]] - t0)
  peaks <- c(peaks, hwm())
}
fwrite(res, args[4])
writeLines(toJSON(list(times = times, peak_mib = max(peaks)), auto_unbox = TRUE), args[5])
"""

R_WORK: dict[str, str] = {
    "W1": r"""
work <- function(df) {
  d <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = df)
  out <- list()
  for (y in c("score", "satisfied")) {
    f <- as.formula(paste0("~", y))
    m <- svymean(f, d)
    b <- svyby(f, ~domain, d, svymean)
    out[[length(out) + 1]] <- data.frame(variable = y, domain = "all",
                                         estimate = as.numeric(coef(m)),
                                         se = as.numeric(SE(m)))
    out[[length(out) + 1]] <- data.frame(variable = y, domain = as.character(b$domain),
                                         estimate = as.numeric(coef(b)),
                                         se = as.numeric(SE(b)))
  }
  do.call(rbind, out)
}""",
    "W2": r"""
work <- function(df) {
  d <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = df)
  r <- calibrate(d, cal, population = pop, calfun = "raking", epsilon = 1e-8, maxit = 100)
  w <- weights(r)
  s1 <- tapply(w, df$domain, sum); s2 <- tapply(w * df$score, df$domain, sum)
  rbind(data.frame(variable = "sum_w", domain = names(s1), estimate = as.vector(s1), se = NA),
        data.frame(variable = "sum_w_score", domain = names(s2), estimate = as.vector(s2),
                   se = NA))
}""",
    "W3": r"""
work <- function(df) {
  set.seed(3)
  d <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = df)
  r <- as.svrepdesign(d, type = "subbootstrap", replicates = 200)
  r <- calibrate(r, cal, population = pop, calfun = "raking", epsilon = 1e-8, maxit = 100)
  out <- list()
  for (y in c("score", "satisfied")) {
    b <- svyby(as.formula(paste0("~", y)), ~domain, r, svymean)
    out[[length(out) + 1]] <- data.frame(variable = y, domain = as.character(b$domain),
                                         estimate = as.numeric(coef(b)),
                                         se = as.numeric(SE(b)))
  }
  do.call(rbind, out)
}""",
}

# W1E: W1's script on a design of elements
R_WORK["W1E"] = R_WORK["W1"].replace("ids = ~psu", "ids = ~1")

Work = Callable[[object, dict], pd.DataFrame | tuple[pd.DataFrame, dict[str, float]]]
PYTHON_WORK: dict[tuple[str, str], Work] = {
    ("barometer", "W1"): barometer_w1, ("barometer", "W2"): barometer_w2,
    ("barometer", "W3"): barometer_w3, ("floor", "W1"): floor_w1,
    ("barometer", "W1L"): barometer_w1, ("floor", "W1L"): floor_w1,
    ("svy", "W1"): svy_w1, ("svy", "W2"): svy_w2, ("svy", "W3"): svy_w3,
    ("barometer", "W1E"): functools.partial(barometer_w1, ids=None),
    ("svy", "W1E"): functools.partial(svy_w1, psu=None),
}


# --------------------------------------------------------------------------------- child
def _peak_mib() -> float:
    with open("/proc/self/status") as f:
        line = next(x for x in f if x.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def _release_loader_memory() -> None:
    """Give back what reading the Parquet file left allocated (Arrow's pool, glibc's free
    lists), so that the peak measured is the compute's with the data in memory, not the
    loader's leftovers."""
    import ctypes
    import gc

    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except ImportError:
        pass
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:  # not Linux: the peak then includes the loading
        pass


def child(tool: str, workload: str, data_file: str, margins_file: str, repeat: int,
          out_file: str, timing_file: str) -> None:
    """Run one tool's workload ``repeat`` times in this process; write results and times."""
    if tool == "svy":
        import polars as pl

        data: object = pl.read_parquet(data_file)
    else:
        data = pd.read_parquet(data_file)
    m = json.loads(Path(margins_file).read_text())
    fn = PYTHON_WORK[(tool, workload)]
    __import__("svy" if tool == "svy" else "barometer")  # loading is not timed
    _release_loader_memory()
    data_mib = (float(data.estimated_size()) if tool == "svy"  # type: ignore[attr-defined]
                else float(data.memory_usage(deep=True).sum())) / 2**20  # type: ignore[union-attr]
    times, peaks, steps = [], [], []
    for _ in range(repeat):
        _reset_peak()
        t0 = time.perf_counter()
        res = fn(data, m)
        times.append(time.perf_counter() - t0)
        peaks.append(_peak_mib())
        if isinstance(res, tuple):
            res, step = res
            steps.append(step)
    res.to_csv(out_file, index=False)
    info: dict[str, object] = {"times": times, "peak_mib": max(peaks), "data_mib": data_mib}
    if steps:
        info["steps"] = {k: [s[k] for s in steps] for k in steps[0]}
    Path(timing_file).write_text(json.dumps(info))


# -------------------------------------------------------------------------------- parent
def run_tool(tool: str, workload: str, files: dict[str, Path], repeat: int, timeout: float,
             tmp: Path) -> dict[str, object]:
    """One tool x workload in a fresh process: times, peak memory and results."""
    out, timing = tmp / f"{tool}-{workload}.csv", tmp / f"{tool}-{workload}.json"
    data = files[DATA_OF.get(workload, "big")]
    if tool == "R":
        script = tmp / f"{workload}.R"
        script.write_text(R_WORK[workload] + R_PROLOGUE)
        cmd = ["Rscript", str(script), str(data.with_suffix(".csv")), str(files["margins"]),
               str(repeat), str(out), str(timing)]
    else:
        cmd = [sys.executable, __file__, "--child", tool, workload, str(data),
               str(files["margins"]), str(repeat), str(out), str(timing)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:150]}
    info = json.loads(timing.read_text())
    return {"seconds": statistics.median(np.atleast_1d(info["times"])),
            "peak_mib": info["peak_mib"], "data_mib": info.get("data_mib"),
            "steps": {k: statistics.median(v) for k, v in info.get("steps", {}).items()},
            "results": pd.read_csv(out, dtype={"domain": str})}


def _merge(runs: list[dict[str, object]]) -> dict[str, object]:
    """One tool's processes as one: the median of their median times (and steps), the
    largest peak, the first process's results; the first error if a process failed."""
    failed = [r for r in runs if "error" in r]
    if failed:
        return failed[0]
    steps = [r["steps"] for r in runs]
    return {"seconds": statistics.median(r["seconds"] for r in runs),  # type: ignore[misc]
            "peak_mib": max(r["peak_mib"] for r in runs),  # type: ignore[type-var]
            "data_mib": runs[0].get("data_mib"),
            "steps": {k: statistics.median(s[k] for s in steps)  # type: ignore[index]
                      for k in steps[0]},  # type: ignore[union-attr]
            "results": runs[0]["results"]}


def compare(a: pd.DataFrame, b: pd.DataFrame) -> tuple[float, float]:
    """Largest relative differences of the estimates and of the SEs (matched rows)."""
    m = a.merge(b, on=["variable", "domain"], suffixes=("_a", "_b"))
    if m.empty or len(m) != len(a):
        return np.nan, np.nan

    def rel(x: str) -> float:
        u, v = m[f"{x}_a"].to_numpy(float), m[f"{x}_b"].to_numpy(float)
        ok = np.isfinite(u) & np.isfinite(v)
        return float(np.max(np.abs(u[ok] - v[ok]) / np.abs(u[ok]), initial=0.0)) \
            if ok.any() else np.nan

    return rel("estimate"), rel("se")


def run_w4(repeat: int, timeout: float, tmp: Path) -> dict[str, object] | None:
    """W4: the whole ``barometer run`` command (bootstrap, 500 replicates); None if the
    command does not exist yet."""
    exe = shutil.which("barometer") or str(Path(sys.executable).with_name("barometer"))
    try:
        ok = subprocess.run([exe, "run", "--help"], capture_output=True,
                            timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        return None
    times, peaks = [], []
    for i in range(repeat):
        cmd = [exe, "run", "--variance", "bootstrap", "--replicates", "500",
               "--out", str(tmp / f"w4-{i}"), "--force"]
        with open(tmp / "w4.log", "w+") as log:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
            timer = threading.Timer(timeout, proc.kill)
            timer.start()
            _, status, usage = os.wait4(proc.pid, 0)  # the child's own peak memory
            times.append(time.perf_counter() - t0)
            timer.cancel()
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                log.seek(0)
                lines = log.read().strip().splitlines() or ["killed (timeout?)"]
                return {"error": lines[-1][:150]}
        peaks.append(usage.ru_maxrss / 1024)
    return {"seconds": statistics.median(times), "peak_mib": max(peaks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--only", default="W1,W2,W3,W1L,W1E,W4")
    parser.add_argument("--tools", default="barometer,svy,R")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--child", nargs=7, metavar="ARG")
    args = parser.parse_args()
    if args.child:
        tool, workload, data_file, margins_file, repeat, out, timing = args.child
        child(tool, workload, data_file, margins_file, int(repeat), out, timing)
        return
    tools = [t for t in args.tools.split(",") if t]
    if "svy" in tools and importlib.util.find_spec("svy") is None:
        print("svy: not installed (pip install -e '.[bench]')")
        tools.remove("svy")
    workloads = [w for w in args.only.split(",") if w]
    needed = {DATA_OF.get(w, "big") for w in workloads if w != "W4"}
    with tempfile.TemporaryDirectory(prefix="barometer-bench-") as name:
        tmp = Path(name)
        files: dict[str, Path] = {"margins": tmp / "margins.json"}
        population: dict[str, dict] = {}
        for key, rows in (("big", args.rows), ("small", args.small), ("large", args.large)):
            if key not in needed:
                continue
            data = make_data(rows)
            population[key] = margins(data) if key != "large" else {}
            files[key] = tmp / f"data-{key}.parquet"
            data.to_parquet(files[key])
            del data
            if "R" in tools and key != "large":
                pd.read_parquet(files[key]).to_csv(files[key].with_suffix(".csv"), index=False)
        print(f"data: {args.rows:,} rows (W1, W2), {args.small:,} rows (W3), {args.large:,} "
              f"rows (W1L); {os.cpu_count()} cores; median of {args.processes} processes' "
              f"medians of {args.repeat} runs\n")
        report(workloads, tools, files, population, args, tmp)


def report(workloads: list[str], tools: list[str], files: dict[str, Path],
           population: dict[str, dict], args: argparse.Namespace, tmp: Path) -> None:
    """Run every workload x tool and print the table and the agreement of the results."""
    header = (f"{'workload':<9}{'rows':>10}  {'tool':<10}{'median s':>10}{'peak MiB':>10}"
              f"  {'barometer is':<22}")
    print(header + "\n" + "-" * len(header))
    agreement = []
    for workload in workloads:
        if workload == "W4":
            w4 = run_w4(args.repeat, args.timeout, tmp)
            if w4 is None:
                print("W4: not available yet")
            elif "error" in w4:
                print(f"{'W4':<9}{'':>10}  {'barometer':<10}  {w4['error']}")
            else:
                print(f"{'W4':<9}{'(run)':>10}  {'barometer':<10}{w4['seconds']:>10.2f}"
                      f"{w4['peak_mib']:>10.0f}  the whole `barometer run` command")
            continue
        key = DATA_OF.get(workload, "big")
        files["margins"].write_text(json.dumps(population[key]))
        rows = {"big": args.rows, "small": args.small, "large": args.large}[key]
        names = ["barometer", *[t for t in tools if t != "barometer"]]
        if workload == "W1L":  # ten times W1: barometer and the floor only
            names = ["barometer"]
        if workload in ("W1", "W1L"):
            names.append("floor")
        runs: dict[str, list[dict[str, object]]] = {t: [] for t in names}
        for _ in range(max(args.processes, 1)):  # interleaved fresh processes
            for t in names:
                runs[t].append(run_tool(t, workload, files, args.repeat, args.timeout, tmp))
        res = {t: _merge(r) for t, r in runs.items()}
        base = res.get("barometer", {})
        for t in names:
            r = res[t]
            if "error" in r:
                print(f"{workload:<9}{rows:>10}  {TOOLS[t]:<10}  {r['error']}")
                continue
            note = ""
            if t != "barometer" and "seconds" in base:
                ratio = r["seconds"] / base["seconds"]
                note = (f"barometer takes {1 / ratio:.2f}x the floor's time" if t == "floor"
                        else f"{ratio:.1f}x faster")
                agreement.append((workload, TOOLS[t], *compare(base["results"],
                                                               r["results"])))
            elif t == "barometer" and workload == "W1L" and r.get("data_mib"):
                note = (f"peak {r['peak_mib'] / r['data_mib']:.2f}x the data "
                        f"({r['data_mib']:.0f} MiB in memory)")
            print(f"{workload:<9}{rows:>10}  {TOOLS[t]:<10}{r['seconds']:>10.3f}"
                  f"{r['peak_mib']:>10.0f}  {note}")
        steps = {t: res[t]["steps"] for t in names if res[t].get("steps")}
        if steps:
            base_step = steps.get("barometer", {}).get("step")
            for t, st in steps.items():
                for label, key in (("replicate step", "step"),
                                   ("step, df='inf'", "step_no_df")):
                    if key not in st:
                        continue
                    note = ""
                    if t != "barometer" and base_step:
                        note = f"{st[key] / base_step:.1f}x faster"
                    elif key == "step_no_df" and "svy" in steps:
                        note = (f"{steps['svy']['step'] / st[key]:.1f}x faster than svy's "
                                "step (estimates and SEs only)")
                    print(f"{'':<9}{'':>10}  {TOOLS[t]:<10}{st[key]:>10.3f}{'':>10}  "
                          f"{label}{' ' + note if note else ''}")
    if agreement:
        print("\nagreement with barometer (largest relative difference; W3's bootstrap SEs "
              "differ by design: other random draws; the floor computes W1's means and SEs)")
        for workload, tool, est, se in agreement:
            print(f"  {workload} {tool:<9} estimates {est:.1e}   SEs {se:.1e}")


if __name__ == "__main__":
    main()
