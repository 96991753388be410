"""Stage *load*: read one edition's input files, validate them, return a frozen Edition.

A data folder holds the service catalogue, optionally its own codebook, and one folder
per edition year::

    <data_dir>/services.csv                  service catalogue (all years; first_year)
    <data_dir>/codebook.toml                 optional (default: the package's codebook)
    <data_dir>/<year>/individuals.{csv,parquet,sav,dta}
    <data_dir>/<year>/companies.{csv,parquet,sav,dta}
    <data_dir>/<year>/margins_individuals.csv
    <data_dir>/<year>/margins_companies.csv
    <data_dir>/<year>/admin_counts.csv
    <data_dir>/<year>/truth.csv              synthetic editions only (true population values)

The default data folder is the synthetic one shipped in ``barometer/data/editions``.
Loading writes nothing. Every problem of every file is collected and raised at once as an
:class:`~barometer.scoreboard.problems.InputError`; warnings are kept in ``Edition.warnings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from barometer.scoreboard.codebook import POPULATIONS, Codebook, load_codebook
from barometer.scoreboard.margins import MarginSet, build_margin_set
from barometer.scoreboard.problems import InputError, Problem, Problems
from barometer.scoreboard.readers import SURVEY_SUFFIXES, read_csv_text, read_table, sha256
from barometer.scoreboard.validate import (
    raise_if_errors,
    validate_admin,
    validate_margins,
    validate_services,
    validate_survey,
)

__all__ = ["Edition", "InputError", "available_years", "default_data_dir", "load_edition",
           "load_truth"]


@dataclass(frozen=True)
class Edition:
    """One validated edition (year) of the barometer's inputs.

    ``individuals`` / ``companies``: survey microdata (category codes as ``str``, item
    codes and integers ``int64``, ``design_weight`` ``float64``, dates ``datetime64``).
    ``margins``: a :class:`MarginSet` per population. ``admin_counts``: one row per
    service × channel for the year. ``services``: the catalogue of services in scope this
    year. ``sha256``: digest of every file read, keyed by its path relative to
    ``data_dir``. ``warnings``: problems that did not stop loading.
    """

    year: int
    individuals: pd.DataFrame
    companies: pd.DataFrame
    margins: dict[str, MarginSet]
    admin_counts: pd.DataFrame
    services: pd.DataFrame
    codebook: Codebook
    data_dir: Path
    files: dict[str, str] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    warnings: tuple[Problem, ...] = ()

    def survey(self, population: str) -> pd.DataFrame:
        """The survey frame of ``population`` (``individuals`` or ``companies``)."""
        if population not in POPULATIONS:
            raise KeyError(f"unknown population {population!r}; use one of {POPULATIONS}")
        return self.individuals if population == "individuals" else self.companies


def default_data_dir() -> Path:
    """The folder of the synthetic editions shipped with the package."""
    return Path(str(resources.files("barometer") / "data" / "editions"))


def available_years(data_dir: Path | None = None) -> list[int]:
    """Edition years present in ``data_dir`` (folders named by a 4-digit year), sorted."""
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir()
                  if p.is_dir() and p.name.isdigit() and len(p.name) == 4)


def _survey_file(folder: Path, population: str, root: Path, problems: Problems
                 ) -> Path | None:
    """The one survey file of a population in an edition folder (problems otherwise)."""
    found = [folder / f"{population}{s}" for s in SURVEY_SUFFIXES
             if (folder / f"{population}{s}").is_file()]
    rel = (folder / population).relative_to(root).as_posix()
    if not found:
        problems.add(f"{rel}.*", "", "missing file",
                     f"provide {population}.csv (or .parquet, .sav, .dta)")
        return None
    if len(found) > 1:
        problems.add(f"{rel}.*", "", "several files for one survey: "
                     + ", ".join(p.name for p in found), "keep only one")
        return None
    return found[0]


def load_edition(year: int | None = None, data_dir: Path | None = None) -> Edition:
    """Load and validate one edition (default: the shipped synthetic data, latest year).

    Raises :class:`InputError` listing every problem of every file when any is found.
    """
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    years = available_years(root)
    if year is None:
        if not years:
            raise InputError([Problem(str(root), "", "no edition folder found",
                                      "create <data_dir>/<year>/ with the input files")])
        year = years[-1]
    folder = root / str(year)
    problems = Problems()
    hashes: dict[str, str] = {}
    files: dict[str, str] = {}

    def rel(p: Path) -> str:
        """Path relative to the data folder, as problems and digests name files."""
        return p.relative_to(root).as_posix()

    if not folder.is_dir():
        raise InputError([Problem(rel(folder), "", f"no edition {year} in {root}",
                                  f"use one of {years}" if years else "check data_dir")])
    cb_path = root / "codebook.toml"
    codebook = load_codebook(cb_path if cb_path.is_file() else None)
    if cb_path.is_file():
        hashes[rel(cb_path)] = sha256(cb_path)

    def csv_input(path: Path, role: str) -> pd.DataFrame | None:
        """Read one CSV input as text, recording its digest (missing -> problem)."""
        if not path.is_file():
            problems.add(rel(path), "", "missing file", f"provide {path.name} ({role})")
            return None
        files[role] = rel(path)
        hashes[rel(path)] = sha256(path)
        return read_csv_text(path, rel(path), problems)

    services = pd.DataFrame(columns=["service_id", "first_year"])
    raw = csv_input(root / "services.csv", "services")
    if raw is not None:
        services = validate_services(raw, codebook, rel(root / "services.csv"), problems)

    frames: dict[str, pd.DataFrame] = {}
    for pop in POPULATIONS:
        path = _survey_file(folder, pop, root, problems)
        frames[pop] = pd.DataFrame()
        if path is None:
            continue
        files[pop] = rel(path)
        hashes[rel(path)] = sha256(path)
        raw = read_table(path, codebook, pop, rel(path), problems)
        if raw is not None:
            frames[pop] = validate_survey(raw, codebook, pop, rel(path), year, problems)

    typed_margins: dict[str, pd.DataFrame] = {}
    for pop in POPULATIONS:
        path = folder / f"margins_{pop}.csv"
        raw = csv_input(path, f"margins_{pop}")
        if raw is not None:
            data = frames[pop] if len(frames[pop]) else None
            typed_margins[pop] = validate_margins(raw, codebook, pop, rel(path), data,
                                                  files.get(pop, pop), problems)

    admin = pd.DataFrame()
    path = folder / "admin_counts.csv"
    raw = csv_input(path, "admin_counts")
    if raw is not None:
        admin = validate_admin(raw, services, year, rel(path), problems)

    raise_if_errors(problems, context=f" of edition {year}")
    in_scope = services.loc[services["first_year"] <= year].reset_index(drop=True)
    return Edition(
        year=year,
        individuals=frames["individuals"],
        companies=frames["companies"],
        margins={p: build_margin_set(m, p) for p, m in typed_margins.items()},
        admin_counts=admin,
        services=in_scope,
        codebook=codebook,
        data_dir=root,
        files=files,
        sha256=dict(sorted(hashes.items())),
        warnings=tuple(problems.warnings),
    )


def load_truth(year: int | None = None, data_dir: Path | None = None) -> pd.DataFrame:
    """The true population values of a synthetic edition (``<year>/truth.csv``).

    Columns: ``population``, ``weighting`` (``persons``, ``companies`` or ``employees``),
    ``item``, ``code``, ``domain`` (``all`` or a domain variable), ``category``,
    ``share`` (among units eligible for the item with a non-missing answer) and
    ``n_eligible`` (population count of that denominator, on the weighting's scale).
    """
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    if year is None:
        year = available_years(root)[-1]
    return pd.read_csv(root / str(year) / "truth.csv",
                       dtype={"category": str, "domain": str, "item": str})
