"""The annual run: a year's inputs to the published scoreboard, in one call.

load → validate → design → calibrate → estimate → join admin → publish. Every choice
(specifications, seeds, versions, input hashes, command line) goes into the run record
(``run_record.json``) that the methodology note reads.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from barometer.publish.note import OUTPUTS, write_note_and_report
from barometer.publish.opendata import OPEN_DATA, validate_package, write_edition
from barometer.scoreboard.admin import coherence, digital_uptake, load_targets, revisions
from barometer.scoreboard.config import Configuration, load_configuration
from barometer.scoreboard.indicators import Catalogue, WeightingSpec
from barometer.scoreboard.populations import (
    WeightedPopulation,
    estimate_drivers,
    estimate_indicators,
    weight_population,
)
from barometer.scoreboard.readers import sha256
from barometer.scoreboard.result import RunResult, weighting_table
from barometer.scoreboard.small_area import COVARIATE_SOURCES, read_regional_files, small_area_table
from barometer.scoreboard.small_area import MODELS as SMALL_AREA_MODELS
from barometer.scoreboard.trends import P_ADJUST, trends
from barometer.survey.errors import BarometerError

Progress = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class RunConfig:
    """The choices of a run (all recorded)."""

    year: int | None = None
    data_dir: Path | None = None
    out: Path | None = None
    variance: str = "linearization"
    replicates: int = 200
    seed: int = 20161
    force: bool = False
    command: str = ""


VARIANCE_METHODS: tuple[str, ...] = ("linearization", "bootstrap")
"""Variance methods of a run."""

CALIBRATION_TOLERANCE = 1e-7
"""Convergence tolerance of calibration (largest relative margin error), as
``barometer.survey.calibrate``'s default."""

CALIBRATION_MAX_ITER = 100
"""Iteration limit of calibration in the annual run."""

TRIM_MAX_ITER = 100
"""Iteration limit of the re-calibration with bounds that trims the weights."""


def _weight_and_estimate(edition: Any, catalogue: Catalogue, specs: dict[str, WeightingSpec],
                         variance: str, replicates: int, seed: int
                         ) -> tuple[dict[str, WeightedPopulation], pd.DataFrame]:
    weighted = {}
    for pop in ("individuals", "companies"):
        frame = getattr(edition, pop)
        weighted[pop] = weight_population(frame, edition.margins[pop], specs[pop],
                                          variance=variance, replicates=replicates,
                                          seed=seed, source=f"{pop} survey {edition.year}")
    try:
        return weighted, estimate_indicators(weighted, catalogue)
    except BarometerError as exc:
        raise BarometerError(exc.message, where=f"{exc.where}, edition {edition.year}",
                             value=exc.value, hint=exc.hint) from None


def _series_year(year: int, data_dir: Path | None, config: Configuration
                 ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """One earlier edition's estimates for the series (linearisation), its administrative
    counts (every vintage, for the revision table) and the digests of its input files."""
    from barometer.scoreboard.load import load_edition

    edition = load_edition(year, data_dir, config=config)
    est = _weight_and_estimate(edition, config.catalogue, config.weighting, "linearization",
                               0, 0)[1]
    return est.assign(year=year), edition.admin_counts, dict(edition.sha256)


def _series(years: list[int], data_dir: Path | None, config: Configuration
            ) -> tuple[list[pd.DataFrame], list[pd.DataFrame], dict[str, dict[str, str]]]:
    """Earlier editions' estimates (linearisation) and administrative counts, one edition
    at a time, and the input digests of each (``{year: {file: sha256}}``)."""
    frames, counts, hashes = [], [], {}
    for y in years:
        est, c, h = _series_year(y, data_dir, config)
        frames.append(est)
        counts.append(c)
        hashes[str(y)] = h
    return frames, counts, hashes


def git_commit() -> str | None:
    """The commit of the checkout the package runs from (``None`` when installed from a
    wheel or git is unavailable); ``+dirty`` when the checkout has local changes."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        top = subprocess.run(["git", "-C", str(here), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, timeout=10, check=True)
        if not (Path(top.stdout.strip()) / "pyproject.toml").is_file():
            return None
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _weighting_record(spec: WeightingSpec, wp: WeightedPopulation, margins: Any
                      ) -> dict[str, Any]:
    """Everything needed to redo one population's weighting without reading code."""
    starting = (f"design weights from column {spec.design['weights']!r}"
                if spec.design.get("weights") else
                "equal starting weights (1 per respondent: a quota sample has no selection "
                "probabilities); calibration scales them to the population total")
    return {
        **spec.__dict__,
        "starting_weights": starting,
        "calibration": {"method": spec.method, "bounds": spec.bounds,
                        "tolerance": CALIBRATION_TOLERANCE,
                        "tolerance_meaning": "largest relative error of a margin",
                        "max_iter": CALIBRATION_MAX_ITER,
                        "total": "population total row of the margins file",
                        "numeric_totals": list(spec.numeric)},
        "trimming": None if spec.trim is None else {
            "bounds_relative_to_mean_weight": list(spec.trim),
            "algorithm": "the last calibration solved again with per-unit bounds on the "
            "final weights, so that margins and bounds hold together (as R's calibrate "
            "with bounds.const = TRUE); raking that cycles is replaced by the truncated "
            "linear distance (Deville and Särndal 1992, case 6)",
            "max_iter": TRIM_MAX_ITER},
        "collapse_rules": {v: dict(m) for v, m in spec.collapse.items()},
        "collapse_meaning": "categories merged for calibration only (margins summed); "
        "published domains keep their own categories",
        "history": list(wp.design.history),
        "margins_source": margins.source,
        "margins_reference_date": str(margins.reference_date),
    }


def _item_indicators(catalogue: Catalogue) -> dict[str, str]:
    """The indicator measuring each per-service survey item's online share."""
    return {i.item: i.id for i in catalogue.indicators
            if i.item.startswith("svc_") and i.kind == "share"}


def compute(config: RunConfig, progress: Progress | None = None) -> RunResult:
    """Run the whole chain for one year (nothing is written).

    BLAS is limited to one thread during the run: the linear algebra here is many small
    products (a survey of 1,000 rows), where thread start-up costs more than it saves.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _compute(config, progress)


def _compute(config: RunConfig, progress: Progress | None = None) -> RunResult:
    from barometer import __version__
    from barometer.scoreboard.load import available_years, default_data_dir, load_edition

    say = progress or (lambda _msg: None)
    if config.variance not in VARIANCE_METHODS:
        raise BarometerError(f"unknown variance method {config.variance!r}",
                             value=config.variance,
                             hint=f"use one of {', '.join(VARIANCE_METHODS)}")
    years = available_years(config.data_dir)
    if not years:
        raise BarometerError("no edition folder in the data folder",
                             where=str(config.data_dir or default_data_dir()),
                             hint="create <data>/<year>/ (`barometer init DIR` scaffolds one)")
    year = config.year if config.year is not None else max(years)
    if year not in years:
        raise BarometerError(f"no edition {year} in the data", value=year,
                             where=str(config.data_dir or default_data_dir()),
                             hint=f"use one of {', '.join(map(str, years))}")
    say("reading the configuration (codebook, catalogue, weighting)")
    setup = load_configuration(config.data_dir or default_data_dir())
    catalogue = setup.catalogue
    specs = setup.weighting
    say(f"loading and validating the {year} edition")
    edition = load_edition(year, config.data_dir, config=setup)
    say("weighting and estimating")
    weighted, est = _weight_and_estimate(edition, catalogue, specs, config.variance,
                                         config.replicates, config.seed)
    say("fitting the driver models")
    drivers = estimate_drivers(weighted, catalogue, edition.codebook)
    say("fitting the regional small-area models")
    small_area = _small_area(edition, weighted, catalogue)
    say("joining the administrative counts")
    targets = load_targets(edition.data_dir)
    uptake = digital_uptake(edition.admin_counts, edition.services, year, targets)
    coh = coherence(uptake, est, edition.services, _item_indicators(catalogue))
    earlier = [y for y in years if y < year]
    say(f"estimating {len(earlier)} earlier editions for the series")
    earlier_est, earlier_counts, earlier_hashes = _series(earlier, config.data_dir, setup)
    series = [est.assign(year=year), *earlier_est]
    counts = [c for c in (*earlier_counts, edition.admin_counts) if len(c)]
    revised = revisions(pd.concat(counts, ignore_index=True) if counts else pd.DataFrame())
    all_years = pd.concat(series[::-1], ignore_index=True)
    all_years = all_years.sort_values(["year", "indicator"], kind="stable",
                                      ignore_index=True)
    trend = trends(all_years, year)
    record = {
        "package": "barometer", "version": __version__, "git_commit": git_commit(),
        "year": year,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": config.command or " ".join(sys.argv),
        "python": platform.python_version(),
        "libraries": {m: sys.modules[m].__version__ for m in ("numpy", "pandas", "scipy")},
        "variance": config.variance,
        "replicates": config.replicates if config.variance == "bootstrap" else None,
        "seed": config.seed,
        "data_dir": (str(Path(config.data_dir).resolve()) if config.data_dir
                     else "embedded synthetic data"),
        "input_hashes": dict(edition.sha256),
        "input_warnings": [w.line() for w in edition.warnings],
        "configuration": {role: {"file": setup.files[role], "sha256": setup.sha256[role]}
                          for role in setup.files},
        "codebook": {"file": setup.files["codebook"], "sha256": setup.sha256["codebook"],
                     "version": setup.codebook.version},
        "catalogue": {"version": catalogue.version, "file": setup.files["catalogue"],
                      "sha256": setup.sha256["catalogue"], "rules": catalogue.rules.__dict__,
                      "df_rule": _df_rule(catalogue.rules.df)},
        "weighting": {pop: _weighting_record(spec, weighted[pop], edition.margins[pop])
                      for pop, spec in specs.items()},
        "weighting_file": setup.files["weighting"],
        "weighting_sha256": setup.sha256["weighting"],
        "series_input_hashes": earlier_hashes,
        "series_years": sorted(int(y) for y in all_years["year"].unique()),
        "series_variance": "linearization for editions before the current one",
        "cells": {s: int((est["status"] == s).sum()) for s in ("published", "caution",
                                                               "suppressed", "undefined")},
        "design_df": {pop: int(wp.design.degf()) for pop, wp in weighted.items()},
        "replicate_fallbacks": {
            pop: {"replicates": config.replicates if config.variance == "bootstrap" else 0,
                  "relaxed": sum(v for k, v in wp.fallbacks.items()
                                 if k.startswith("relaxed")),
                  "dropped_constraints": sum(v for k, v in wp.fallbacks.items()
                                             if k.startswith("dropped")),
                  "by_step": dict(wp.fallbacks)}
            for pop, wp in weighted.items()},
        "trends_p_adjust": P_ADJUST,
    }
    if len(small_area):
        record["small_area"] = {
            "models": {k: list(v) for k, v in SMALL_AREA_MODELS.items()},
            "covariate_sources": COVARIATE_SOURCES,
            "diagnostics": small_area.attrs.get("diagnostics", {}),
            "cells": {s: int((small_area["status"] == s).sum())
                      for s in ("published", "caution", "suppressed")},
        }
    return RunResult(year, None, est, uptake, coh, trend, all_years, weighted, record,
                     edition, drivers, revised, small_area)


def _df_rule(df: str | float) -> str:
    """The degrees-of-freedom rule of the intervals, in words."""
    if df == "design":
        return ("design degrees of freedom: number of PSUs minus number of strata (R's "
                "degf), counted within the domain for a domain estimate; for a replicate "
                "design the rank of the replicate weights minus one")
    if df in ("inf", float("inf")):
        return "normal quantiles (infinite degrees of freedom)"
    return f"fixed degrees of freedom: {df}"


def _small_area(edition: Any, weighted: dict[str, WeightedPopulation], catalogue: Catalogue
                ) -> pd.DataFrame:
    """The regional small-area estimates, when the edition has its regional files."""
    folder = Path(edition.data_dir) / str(edition.year)
    covariates = read_regional_files(folder)
    if covariates is None:
        return pd.DataFrame()
    for name in ("census_regions.csv", "admin_regions.csv"):
        edition.sha256[f"{edition.year}/{name}"] = sha256(folder / name)
    return small_area_table(weighted, catalogue, covariates)


def _json_default(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, Path):
        return str(v)
    return str(v)


def write_run(result: RunResult, folder: Path) -> None:
    """Write the open data and the run record into ``folder`` (validated package)."""
    data = result.record.get("data_dir")
    pkg = write_edition(result, folder / "opendata",
                        None if data in (None, "", "embedded synthetic data") else Path(data))
    validate_package(pkg)
    write_private_weights(result, folder / "private")
    (folder / "run_record.json").write_text(
        json.dumps(result.record, indent=2, default=_json_default, ensure_ascii=False),
        encoding="utf-8")


PRIVATE_README = """Unit-level weights, for auditors only: never publish this folder.

weights_<population>.csv: one row per respondent, in the order of the survey file, with
its identifier, the starting weight and the final weight (after calibration and any
trimming). replicate_weights_<population>.parquet (bootstrap runs only): the final
replicate weights, one column per replicate, same rows.
"""


def write_private_weights(result: RunResult, folder: Path) -> list[Path]:
    """Write the unit-level final weights (and replicate weights) of every population
    under ``folder`` (``<out>/private/``, never under ``opendata/``)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "README.txt"]
    written[0].write_text(PRIVATE_README, encoding="utf-8")
    for pop, wp in result.weighted.items():
        design = wp.design
        idc = result.edition.codebook.id_column(pop) if result.edition is not None else None
        ids = design.data[idc].astype(str).to_numpy() if idc in design.data else (
            np.arange(1, len(design.weights) + 1).astype(str))
        frame = pd.DataFrame({"id": ids, "starting_weight": design.base_weights,
                              "final_weight": design.weights})
        path = folder / f"weights_{pop}.csv"
        frame.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
        written.append(path)
        if design.replicates is not None:
            reps = design.replicates.weights
            rep_frame = pd.DataFrame(reps, columns=[f"r{j + 1}" for j in range(reps.shape[1])])
            rep_frame.insert(0, "id", ids)
            path = folder / f"replicate_weights_{pop}.parquet"
            rep_frame.to_parquet(path, index=False)
            written.append(path)
    return written


def rerun(folder: Path) -> RunResult:
    """Recompute a published edition with the settings of its run record, check that the
    numbers equal its open data, and return the result carrying the published record."""
    record = json.loads((folder / "run_record.json").read_text(encoding="utf-8"))
    data = record.get("data_dir")
    config = RunConfig(year=int(record["year"]),
                       data_dir=None if data in (None, "", "embedded synthetic data")
                       else Path(data),
                       variance=record.get("variance", "linearization"),
                       replicates=int(record.get("replicates") or 200),
                       seed=int(record.get("seed", 20161)), command=record.get("command", ""))
    result = compute(config)
    published = pd.read_csv(folder / "opendata" / "estimates.csv",
                            dtype={"by": str, "domain": str})
    now = result.tables()["estimates"]
    same = len(published) == len(now) and all(
        np.allclose(published[c].to_numpy(float), now[c].to_numpy(float), rtol=1e-9,
                    atol=1e-12, equal_nan=True) for c in ("estimate", "se", "ci_low", "ci_high"))
    if not same:
        raise BarometerError(
            "recomputing the edition does not give its published numbers", where=str(folder),
            hint="the inputs or the package changed since the run: publish the edition again "
            "with `barometer run --force`")
    return dataclasses.replace(result, record=record, out=folder)


def regenerate(folder: Path) -> list[Path]:
    """Write the note, the report and the figures of a published edition again (each file
    written into a temporary folder beside the edition, then renamed into place)."""
    folder = Path(folder).resolve()
    result = rerun(folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.note-", dir=folder.parent))
    try:
        write_note_and_report(result, tmp)
        old = folder / f".figures-old-{tmp.name}"
        if (folder / "figures").exists():
            (folder / "figures").rename(old)
        (tmp / "figures").rename(folder / "figures")
        for name in OUTPUTS:
            (tmp / name).replace(folder / name)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [folder / name for name in OUTPUTS]


__all__ = ["OPEN_DATA", "RunConfig", "RunResult", "compute", "git_commit", "regenerate",
           "rerun", "weighting_table", "write_private_weights", "write_run"]
