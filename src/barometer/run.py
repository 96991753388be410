"""The annual run: a year's inputs to the published scoreboard, in one call.

load → validate → design → calibrate → estimate → join admin → publish. Every choice
(specifications, seeds, versions, input hashes, command line) goes into the run record
(``run_record.json``) that the methodology note reads.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from barometer.publish.note import OUTPUTS, write_note_and_report
from barometer.publish.opendata import OPEN_DATA, validate_package, write_open_data
from barometer.scoreboard.admin import coherence, digital_uptake
from barometer.scoreboard.indicators import Catalogue, WeightingSpec, load_catalogue, load_weighting
from barometer.scoreboard.populations import (
    WeightedPopulation,
    estimate_drivers,
    estimate_indicators,
    weight_population,
)
from barometer.scoreboard.result import RunResult, weighting_table
from barometer.scoreboard.small_area import COVARIATE_SOURCES, read_regional_files, small_area_table
from barometer.scoreboard.small_area import MODELS as SMALL_AREA_MODELS
from barometer.scoreboard.trends import trends
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


def _weight_and_estimate(edition: Any, catalogue: Catalogue, specs: dict[str, WeightingSpec],
                         variance: str, replicates: int, seed: int
                         ) -> tuple[dict[str, WeightedPopulation], pd.DataFrame]:
    weighted = {}
    for pop in ("individuals", "companies"):
        frame = getattr(edition, pop)
        weighted[pop] = weight_population(frame, edition.margins[pop], specs[pop],
                                          variance=variance, replicates=replicates,
                                          seed=seed, source=f"{pop} survey {edition.year}")
    return weighted, estimate_indicators(weighted, catalogue)


def _series_year(year: int, data_dir: Path | None) -> pd.DataFrame:
    """One earlier edition's estimates for the series (linearisation)."""
    from barometer.scoreboard.load import load_edition

    edition = load_edition(year, data_dir)
    est = _weight_and_estimate(edition, load_catalogue(), load_weighting(), "linearization",
                               0, 0)[1]
    return est.assign(year=year)


def _series(years: list[int], data_dir: Path | None) -> list[pd.DataFrame]:
    """Earlier editions' estimates (linearisation), one edition at a time."""
    return [_series_year(y, data_dir) for y in years]


def _item_indicators(catalogue: Catalogue) -> dict[str, str]:
    """The indicator measuring each per-service survey item's online share."""
    return {i.item: i.id for i in catalogue.indicators
            if i.item.startswith("svc_") and i.kind == "share"}


def _package_hash(name: str) -> str:
    data = resources.files("barometer").joinpath("data", name).read_bytes()
    return hashlib.sha256(data).hexdigest()


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
    from barometer.scoreboard.load import available_years, load_edition

    say = progress or (lambda _msg: None)
    years = available_years(config.data_dir)
    year = config.year if config.year is not None else max(years)
    if year not in years:
        raise ValueError(f"no edition {year} in the data (available: {years})")
    catalogue = load_catalogue()
    specs = load_weighting()
    say(f"loading and validating the {year} edition")
    edition = load_edition(year, config.data_dir)
    say("weighting and estimating")
    weighted, est = _weight_and_estimate(edition, catalogue, specs, config.variance,
                                         config.replicates, config.seed)
    say("fitting the driver models")
    drivers = estimate_drivers(weighted, catalogue)
    say("fitting the regional small-area models")
    small_area = _small_area(edition, weighted, catalogue)
    say("joining the administrative counts")
    uptake = digital_uptake(edition.admin_counts, edition.services, year)
    coh = coherence(uptake, est, edition.services, _item_indicators(catalogue))
    earlier = [y for y in years if y < year]
    say(f"estimating {len(earlier)} earlier editions for the series")
    series = [est.assign(year=year), *_series(earlier, config.data_dir)]
    all_years = pd.concat(series[::-1], ignore_index=True)
    all_years = all_years.sort_values(["year", "indicator"], kind="stable",
                                      ignore_index=True)
    trend = trends(all_years, year)
    record = {
        "package": "barometer", "version": __version__, "year": year,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": config.command or " ".join(sys.argv),
        "python": platform.python_version(),
        "libraries": {m: sys.modules[m].__version__ for m in ("numpy", "pandas", "scipy")},
        "variance": config.variance,
        "replicates": config.replicates if config.variance == "bootstrap" else None,
        "seed": config.seed,
        "data_dir": str(config.data_dir) if config.data_dir else "embedded synthetic data",
        "input_hashes": dict(edition.sha256),
        "input_warnings": [w.line() for w in edition.warnings],
        "catalogue": {"version": catalogue.version, "sha256": _package_hash("indicators.toml"),
                      "rules": catalogue.rules.__dict__},
        "weighting": {pop: {**spec.__dict__,
                            "history": list(weighted[pop].design.history),
                            "margins_source": edition.margins[pop].source,
                            "margins_reference_date": str(edition.margins[pop].reference_date)}
                      for pop, spec in specs.items()},
        "weighting_sha256": _package_hash("weighting.toml"),
        "series_years": sorted(int(y) for y in all_years["year"].unique()),
        "series_variance": "linearization for editions before the current one",
        "cells": {s: int((est["status"] == s).sum()) for s in ("published", "caution",
                                                               "suppressed")},
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
                     edition, drivers, small_area)


def _small_area(edition: Any, weighted: dict[str, WeightedPopulation], catalogue: Catalogue
                ) -> pd.DataFrame:
    """The regional small-area estimates, when the edition has its regional files."""
    folder = Path(edition.data_dir) / str(edition.year)
    covariates = read_regional_files(folder)
    if covariates is None:
        return pd.DataFrame()
    for name in ("census_regions.csv", "admin_regions.csv"):
        edition.sha256[f"{edition.year}/{name}"] = hashlib.sha256(
            (folder / name).read_bytes()).hexdigest()
    return small_area_table(weighted, catalogue, covariates)


def _json_default(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, Path):
        return str(v)
    return str(v)


def write_run(result: RunResult, folder: Path) -> None:
    """Write the open data and the run record into ``folder`` (validated package)."""
    tables = result.tables()
    pkg = write_open_data(
        folder / "opendata", tables, name=f"barometer-{result.year}",
        title=f"Digital public-services scoreboard {result.year}",
        description="Survey indicators with design-based precision, digital uptake from "
        "administrative counts, coherence, trends and weighting diagnostics.",
    )
    validate_package(pkg)
    (folder / "run_record.json").write_text(
        json.dumps(result.record, indent=2, default=_json_default, ensure_ascii=False),
        encoding="utf-8")


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


__all__ = ["OPEN_DATA", "RunConfig", "RunResult", "compute", "regenerate", "rerun",
           "weighting_table", "write_run"]
