"""Benchmarks of barometer against svy, R's survey and a numpy floor (plain Python, prints figures).

Workloads (seeded synthetic data generated here: 50 strata x 40 PSUs, positive unequal
weights, a 20-level domain, a 0-10 score, a 0/1 flag, four calibration variables with 2, 6,
13 and 5 categories):
  W1 estimation: design + mean and SE of the score and the flag, overall and by the 20
     domains (linearisation), on --rows rows (default 1,000,000).
  W2 raking: design + raking to the four margins, tolerance 1e-8, on --rows rows.
  W3 replicates: design + 200 Rao-Wu bootstrap replicates + raking of every replicate, then
     the means by domain with replicate SEs, on --small rows (default 100,000).
  W4 annual run: ``barometer run`` on the shipped latest year with bootstrap variance
     (500 replicates), methodology note and report included (whole command, wall time).
  floor: one vectorised np.bincount pass computing W1's sums (PSU x domain totals of w y
     and w for each variable).

Each tool runs each workload in its own process on the same data (a Parquet file for the
Python tools, a CSV file for R): the time is the median of --repeat runs of the compute
only (after the data are loaded: design, estimation, calibration), the memory the peak
resident set size of the process during the compute (Linux VmHWM, reset after loading).
Estimates and SEs are compared across tools (for the bootstrap only loosely: the random
draws differ). No timing assertions.

Usage: python benchmarks/run.py [--rows N] [--small N] [--repeat 3] [--only W1,W2,W3,W4]
                                [--tools barometer,svy,R] [--timeout 900]
"""

from __future__ import annotations

import argparse
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
def barometer_w1(data: pd.DataFrame, m: dict) -> pd.DataFrame:
    from barometer import Design, mean

    d = Design.from_frame(data, ids="psu", strata="stratum", weights="w")
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


def barometer_w3(data: pd.DataFrame, m: dict) -> pd.DataFrame:
    from barometer import Design, calibrate, mean, with_replicates

    d = Design.from_frame(data, ids="psu", strata="stratum", weights="w")
    rep = with_replicates(d, "bootstrap", replicates=REPLICATES, seed=SEED)
    rep = calibrate(rep, categorical=m, method="raking", tol=TOL)
    rows = []
    for y in VARIABLES:
        t = mean(rep, y, by="domain").table
        rows += list(zip([y] * len(t), t["domain"], t["estimate"], t["se"], strict=True))
    return _tidy(rows)


def floor_w1(data: pd.DataFrame, m: dict) -> pd.DataFrame:
    psu = data["psu"].to_numpy()
    dom = data["domain"].to_numpy()
    w = data["w"].to_numpy()
    for y in VARIABLES:
        v = data[y].to_numpy()
        np.bincount(psu * 21 + dom, weights=w * v, minlength=2000 * 21)
        np.bincount(psu * 21 + dom, weights=w, minlength=2000 * 21)
    return _tidy([])


# ------------------------------------------------------------------------------------ svy
def svy_w1(data: object, m: dict) -> pd.DataFrame:
    import svy

    s = svy.Sample(data, svy.Design(stratum="stratum", psu="psu", wgt="w"))
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


def svy_w3(data: object, m: dict) -> pd.DataFrame:
    import svy

    s = svy.Sample(data, svy.Design(stratum="stratum", psu="psu", wgt="w"))
    s = s.weighting.create_bs_wgts(REPLICATES, rstate=SEED)
    s = s.weighting.rake(controls=m, tol=TOL)
    rows = []
    for y, r in zip(VARIABLES, s.estimation.mean(list(VARIABLES), by="domain",
                                                 method="replication"), strict=True):
        t = r.to_polars()
        rows += list(zip([y] * len(t), t["domain"], t["est"], t["se"], strict=True))
    return _tidy(rows)


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

R_WORK = {
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

PYTHON_WORK: dict[tuple[str, str], Callable[[object, dict], pd.DataFrame]] = {
    ("barometer", "W1"): barometer_w1, ("barometer", "W2"): barometer_w2,
    ("barometer", "W3"): barometer_w3, ("floor", "W1"): floor_w1,
    ("svy", "W1"): svy_w1, ("svy", "W2"): svy_w2, ("svy", "W3"): svy_w3,
}


# --------------------------------------------------------------------------------- child
def _peak_mib() -> float:
    with open("/proc/self/status") as f:
        line = next(x for x in f if x.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


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
    times, peaks = [], []
    for _ in range(repeat):
        _reset_peak()
        t0 = time.perf_counter()
        res = fn(data, m)
        times.append(time.perf_counter() - t0)
        peaks.append(_peak_mib())
    res.to_csv(out_file, index=False)
    Path(timing_file).write_text(json.dumps({"times": times, "peak_mib": max(peaks)}))


# -------------------------------------------------------------------------------- parent
def run_tool(tool: str, workload: str, files: dict[str, Path], repeat: int, timeout: float,
             tmp: Path) -> dict[str, object]:
    """One tool x workload in a fresh process: times, peak memory and results."""
    out, timing = tmp / f"{tool}-{workload}.csv", tmp / f"{tool}-{workload}.json"
    data = files["small" if workload == "W3" else "big"]
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
            "peak_mib": info["peak_mib"],
            "results": pd.read_csv(out, dtype={"domain": str})}


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
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="W1,W2,W3,W4")
    parser.add_argument("--tools", default="barometer,svy,R")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--child", nargs=7, metavar="ARG")
    args = parser.parse_args()
    if args.child:
        tool, workload, data_file, margins_file, repeat, out, timing = args.child
        child(tool, workload, data_file, margins_file, int(repeat), out, timing)
        return
    tools = [t for t in args.tools.split(",") if t]
    workloads = [w for w in args.only.split(",") if w]
    with tempfile.TemporaryDirectory(prefix="barometer-bench-") as name:
        tmp = Path(name)
        files: dict[str, Path] = {"margins": tmp / "margins.json"}
        population: dict[str, dict] = {}
        for key, rows in (("big", args.rows), ("small", args.small)):
            data = make_data(rows)
            population[key] = margins(data)
            files[key] = tmp / f"data-{key}.parquet"
            data.to_parquet(files[key])
            if "R" in tools:
                data.to_csv(files[key].with_suffix(".csv"), index=False)
        print(f"data: {args.rows:,} rows (W1, W2) and {args.small:,} rows (W3); "
              f"{os.cpu_count()} cores; median of {args.repeat} runs\n")
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
        files["margins"].write_text(json.dumps(population["small" if workload == "W3"
                                                          else "big"]))
        rows = args.small if workload == "W3" else args.rows
        names = ["barometer", *[t for t in tools if t != "barometer"]]
        if workload == "W1":
            names.append("floor")
        res = {t: run_tool(t, workload, files, args.repeat, args.timeout, tmp) for t in names}
        base = res.get("barometer", {})
        for t in names:
            r = res[t]
            if "error" in r:
                print(f"{workload:<9}{rows:>10}  {TOOLS[t]:<10}  {r['error']}")
                continue
            note = ""
            if t != "barometer" and "seconds" in base:
                ratio = r["seconds"] / base["seconds"]
                note = (f"{1 / ratio:.1f}x the floor's time" if t == "floor"
                        else f"{ratio:.1f}x faster")
                if t != "floor":
                    agreement.append((workload, TOOLS[t], *compare(base["results"],
                                                                   r["results"])))
            print(f"{workload:<9}{rows:>10}  {TOOLS[t]:<10}{r['seconds']:>10.3f}"
                  f"{r['peak_mib']:>10.0f}  {note}")
    if agreement:
        print("\nagreement with barometer (largest relative difference; W3's bootstrap SEs "
              "differ by design: other random draws)")
        for workload, tool, est, se in agreement:
            print(f"  {workload} {tool:<9} estimates {est:.1e}   SEs {se:.1e}")


if __name__ == "__main__":
    main()
