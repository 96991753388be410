"""Stage *load*: read one edition's input files, validate them, return a frozen Edition.

A data folder holds the service catalogue, optionally its own configuration, and one
folder per edition year (``docs/data-folder.md`` documents every file)::

    <data_dir>/services.csv                  service catalogue (first_year, last_year)
    <data_dir>/codebook.toml                 optional (default: the package's codebook)
    <data_dir>/indicators.toml               optional (default: the package's catalogue)
    <data_dir>/weighting.toml                optional (default: the package's specification)
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

import numpy as np
import pandas as pd

from barometer.scoreboard.admin import TARGETS_FILE, load_targets
from barometer.scoreboard.codebook import POPULATIONS, Codebook
from barometer.scoreboard.config import CONFIG_FILES, Configuration, load_configuration
from barometer.scoreboard.margins import MarginSet, build_margin_set
from barometer.scoreboard.problems import InputError, Problem, Problems
from barometer.scoreboard.readers import SURVEY_SUFFIXES, read_csv_text, read_table, sha256
from barometer.scoreboard.validate import (
    in_scope,
    raise_if_errors,
    validate_admin,
    validate_margins,
    validate_services,
    validate_survey,
)
from barometer.survey.errors import BarometerError

__all__ = ["Edition", "InputError", "available_years", "check_folder", "default_data_dir",
           "load_edition", "load_truth", "scaffold"]


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
    config: Configuration | None = None

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
    candidates = [folder / f"{population}{s}" for s in SURVEY_SUFFIXES]
    found = [p for p in candidates if p.exists()]
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


def load_edition(year: int | None = None, data_dir: Path | None = None, *,
                 config: Configuration | None = None) -> Edition:
    """Load and validate one edition (default: the shipped synthetic data, latest year).

    The codebook (and catalogue and weighting specification) are the data folder's own
    when it has them (:func:`~barometer.scoreboard.config.load_configuration`). Raises
    :class:`InputError` listing every problem of every file when any is found.
    """
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    if not root.exists():
        raise InputError([Problem(str(root), "", "no such folder",
                                  "check the --data path")])
    if not root.is_dir():
        raise InputError([Problem(str(root), "", "not a folder (a file)",
                                  "give the data folder, not a file in it")])
    years = available_years(root)
    if year is None:
        if not years:
            raise InputError([Problem(str(root), "", "no edition folder found",
                                      "create <data_dir>/<year>/ with the input files "
                                      "(`barometer init DIR` scaffolds one)")])
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
    if config is None:
        config = load_configuration(root)
    codebook = config.codebook
    for role, name in CONFIG_FILES.items():
        if (root / name).is_file() and role in config.sha256:
            hashes[name] = config.sha256[role]

    def csv_input(path: Path, role: str) -> pd.DataFrame | None:
        """Read one CSV input as text, recording its digest (missing -> problem)."""
        raw = read_csv_text(path, rel(path), problems, hint=f"provide {path.name} ({role})")
        if raw is not None:
            files[role] = rel(path)
            hashes[rel(path)] = sha256(path)
        return raw

    services: pd.DataFrame | None = None
    raw = csv_input(root / "services.csv", "services")
    if raw is not None:
        services = validate_services(raw, codebook, rel(root / "services.csv"), problems)

    frames: dict[str, pd.DataFrame] = {}
    for pop in POPULATIONS:
        path = _survey_file(folder, pop, root, problems)
        frames[pop] = pd.DataFrame()
        if path is None:
            continue
        raw = read_table(path, codebook, pop, rel(path), problems)
        if raw is not None:
            files[pop] = rel(path)
            hashes[rel(path)] = sha256(path)
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
    assert services is not None  # an unreadable catalogue is an error, raised above
    scope = services.loc[in_scope(services, year)].reset_index(drop=True)
    return Edition(
        year=year,
        individuals=frames["individuals"],
        companies=frames["companies"],
        margins={p: build_margin_set(m, p) for p, m in typed_margins.items()},
        admin_counts=admin,
        services=scope,
        codebook=codebook,
        data_dir=root,
        files=files,
        sha256=dict(sorted(hashes.items())),
        warnings=tuple(problems.warnings),
        config=config,
    )


def check_folder(data_dir: Path, years: list[int] | None = None
                 ) -> tuple[list[int], list[Problem]]:
    """Validate a data folder without running anything: its configuration, then every
    edition (or ``years``). Returns the years checked and every problem (errors and
    warnings), each tagged with its file."""
    root = Path(data_dir)
    try:
        config = load_configuration(root)
    except InputError as exc:
        return [], list(exc.problems)
    if not root.is_dir():
        return [], [Problem(str(root), "", "no such folder", "check the path")]
    found = available_years(root)
    todo = found if years is None else years
    out: list[Problem] = []
    if not found:
        out.append(Problem(str(root), "", "no edition folder found",
                           "create <data_dir>/<year>/ with the input files"))
    for y in todo:
        try:
            ed = load_edition(y, root, config=config)
        except InputError as exc:
            out.extend(exc.problems)
        else:
            out.extend(ed.warnings)
    out.extend(_target_problems(root))
    return todo, out


def _target_problems(root: Path) -> list[Problem]:
    """The problems of the folder's ``targets.csv`` (none when it has no such file): an
    unreadable cell, a duplicated service x year, or a service not in ``services.csv``."""
    try:
        targets = load_targets(root)
    except BarometerError as exc:
        return [Problem(TARGETS_FILE, "", f"{exc.message} ({exc.where})",
                        exc.hint, value=exc.value)]
    services = root / "services.csv"
    if targets.empty or not services.is_file():
        return []
    known = set(pd.read_csv(services, dtype=str, usecols=["service_id"])["service_id"])
    unknown = ~targets["service_id"].isin(known).to_numpy()
    return [Problem(TARGETS_FILE, "service_id", "unknown service",
                    "use a service_id of services.csv", value=sid,
                    rows=tuple(int(k) + 1 for k in np.flatnonzero(
                        (targets["service_id"] == sid).to_numpy())))
            for sid in sorted(set(targets.loc[unknown, "service_id"]))]


SCAFFOLD_SKIP = ("truth.csv",)
"""Files of the embedded editions that a scaffolded folder does not need (synthetic only)."""


def scaffold(folder: Path, from_year: int, source: Path | None = None) -> list[Path]:
    """Create a data folder from the embedded edition (or ``source``): the configuration
    files actually used (codebook, indicator catalogue, weighting specification, the
    service catalogue) and every edition from ``from_year`` on. Returns the files written.

    The folder must not exist or be empty; nothing in it is overwritten.
    """
    import shutil

    src = Path(source) if source is not None else default_data_dir()
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise InputError([Problem(str(folder), "", "folder not empty",
                                  "choose a new or empty folder")])
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in CONFIG_FILES.values():
        own = src / name
        path = own if own.is_file() else Path(str(resources.files("barometer") / "data"
                                                  / name))
        shutil.copyfile(path, folder / name)
        written.append(folder / name)
    for name in ("services.csv", TARGETS_FILE):
        if name == "services.csv" or (src / name).is_file():
            shutil.copyfile(src / name, folder / name)
            written.append(folder / name)
    for y in available_years(src):
        if y < from_year:
            continue
        (folder / str(y)).mkdir()
        for f in sorted((src / str(y)).iterdir()):
            if f.is_file() and f.name not in SCAFFOLD_SKIP:
                shutil.copyfile(f, folder / str(y) / f.name)
                written.append(folder / str(y) / f.name)
    return written


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
