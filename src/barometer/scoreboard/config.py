"""An edition's configuration: the codebook, the indicator catalogue and the weighting
specification, read from the data folder when it has its own, else from the package.

The data folder layout (``docs/data-folder.md``)::

    <data_dir>/codebook.toml      optional: the codebook (items with first_year/last_year)
    <data_dir>/indicators.toml    optional: the indicator catalogue
    <data_dir>/weighting.toml     optional: the weighting specification
    <data_dir>/services.csv       the service catalogue
    <data_dir>/<year>/...         one folder per edition

Each configuration file of the data folder overrides the package's file of the same name
as a whole (no merging). :class:`Configuration` records which file was used and its
SHA-256, for the run record. Reading checks the files against each other (an indicator's
item is in the codebook, a domain is a category variable, a weighting margin is on
calibration variables) and raises one :class:`InputError` listing every problem.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from barometer.scoreboard.codebook import POPULATIONS, Codebook, load_codebook
from barometer.scoreboard.indicators import (
    Catalogue,
    WeightingSpec,
    load_catalogue,
    load_weighting,
)
from barometer.scoreboard.problems import InputError, Problem, Problems
from barometer.survey.errors import BarometerError

CONFIG_FILES: dict[str, str] = {
    "codebook": "codebook.toml",
    "catalogue": "indicators.toml",
    "weighting": "weighting.toml",
}
"""The configuration files: role -> file name (in the data folder or the package)."""

DERIVED_DOMAINS: dict[str, dict[str, str]] = {"companies": {"size_10plus": "size_band"}}
"""Domains derived from a codebook variable (see ``indicators.add_derived_domains``)."""


@dataclass(frozen=True)
class Configuration:
    """The configuration files actually used for an edition, parsed.

    ``files``: role -> where the file was read (a path in the data folder, or
    ``package:barometer/data/<name>``); ``sha256``: role -> digest of its bytes.
    """

    codebook: Codebook
    catalogue: Catalogue
    weighting: dict[str, WeightingSpec]
    files: dict[str, str] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)


def package_file(name: str) -> Path:
    """Path of a configuration file shipped with the package."""
    return Path(str(resources.files("barometer") / "data" / name))


def config_paths(data_dir: Path | None) -> dict[str, tuple[Path, str]]:
    """role -> (path, label): the data folder's file when present, else the package's."""
    out = {}
    for role, name in CONFIG_FILES.items():
        own = Path(data_dir) / name if data_dir is not None else None
        if own is not None and own.exists():
            out[role] = (own, name)
        else:
            out[role] = (package_file(name), f"package:barometer/data/{name}")
    return out


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _toml_problem(label: str, exc: Exception, problems: Problems) -> None:
    """One problem for a configuration file that cannot be parsed."""
    if isinstance(exc, tomllib.TOMLDecodeError):
        problems.add(label, "", f"not valid TOML: {exc}", "fix the syntax at that line")
    elif isinstance(exc, KeyError):
        problems.add(label, "", f"missing key {exc.args[0]!r}",
                     "see docs/data-folder.md for the keys every entry needs")
    elif isinstance(exc, BarometerError):
        problems.add(label, "", exc.message if hasattr(exc, "message") else str(exc),
                     getattr(exc, "hint", "") or "see docs/data-folder.md",
                     value=getattr(exc, "value", None))
    else:
        problems.add(label, "", f"invalid file: {type(exc).__name__}: {exc}",
                     "see docs/data-folder.md")


def load_configuration(data_dir: Path | None = None) -> Configuration:
    """Read and cross-check the configuration of a data folder (defaults: the package's).

    Raises :class:`InputError` with every problem found.
    """
    paths = config_paths(data_dir)
    problems = Problems()
    files = {role: label for role, (_, label) in paths.items()}
    hashes: dict[str, str] = {}
    for role, (path, label) in paths.items():
        if path.is_dir():
            problems.add(label, "", "is a directory, not a file",
                         f"put the {CONFIG_FILES[role]} file there, or remove the folder")
        else:
            hashes[role] = _digest(path)
    codebook = catalogue = weighting = None
    if "codebook" in hashes:
        try:
            codebook = load_codebook(paths["codebook"][0], name=paths["codebook"][1])
        except InputError as exc:
            problems.items.extend(exc.problems)
    for role, loader in (("catalogue", load_catalogue), ("weighting", load_weighting)):
        if role not in hashes:
            continue
        try:
            value = loader(paths[role][0])
        except UnicodeDecodeError as exc:
            problems.add(paths[role][1], "", f"not UTF-8 text (byte {exc.start})",
                         "save the file as UTF-8")
            continue
        except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError,
                BarometerError) as exc:
            _toml_problem(paths[role][1], exc, problems)
            continue
        if role == "catalogue":
            catalogue = value
        else:
            weighting = value
    if codebook is not None and catalogue is not None:
        _check_catalogue(catalogue, codebook, files["catalogue"], problems)
    if codebook is not None and weighting is not None:
        _check_weighting(weighting, codebook, files["weighting"], problems)
    if codebook is not None:
        _check_item_years(codebook, files["codebook"], problems)
    if problems.errors or codebook is None or catalogue is None or weighting is None:
        raise InputError(problems.items, context=" of the configuration")
    return Configuration(codebook, catalogue, weighting, files, hashes)


def _check_catalogue(catalogue: Catalogue, codebook: Codebook, file: str,
                     problems: Problems) -> None:
    """Every indicator on an item of the codebook; every domain a category variable."""
    for ind in catalogue.indicators:
        if ind.population not in POPULATIONS:
            problems.add(file, "population", f"indicator {ind.id!r}: unknown population",
                         f"use one of {', '.join(POPULATIONS)}", value=ind.population)
            continue
        if ind.item not in {i.id for i in codebook.items_for(ind.population)}:
            problems.add(file, "item", f"indicator {ind.id!r}: no such {ind.population} "
                         "item in the codebook", "add the item to codebook.toml (with its "
                         "first_year) or correct the indicator's item", value=ind.item)
        if ind.kind not in ("share", "mean"):
            problems.add(file, "kind", f"indicator {ind.id!r}: unknown kind",
                         "use \"share\" or \"mean\"", value=ind.kind)
        items = {i.id: i for i in codebook.items_for(ind.population)}
        if ind.item in items:
            valid = set(items[ind.item].codes)
            for key, codes in (("codes", ind.codes), ("universe_codes", ind.universe_codes),
                               ("scores", tuple(ind.scores))):
                bad = [c for c in codes if not isinstance(c, int) or c not in valid]
                if bad or (key == "codes" and ind.kind == "share" and not codes):
                    problems.add(file, key, f"indicator {ind.id!r}: {key} must be a list "
                                 f"of response codes of item {ind.item!r}",
                                 f"use codes among {sorted(valid)}",
                                 value=bad[0] if bad else codes)
    for pop, domains in catalogue.domains.items():
        if pop not in POPULATIONS:
            problems.add(file, "domains", "unknown population", f"use one of {POPULATIONS}",
                         value=pop)
            continue
        cats = {v.name for v in codebook.variables_for(pop) if v.kind == "category"}
        cats |= set(DERIVED_DOMAINS.get(pop, {}))
        for d in domains:
            if d not in cats:
                problems.add(file, "domains", f"{pop}: domain is not a category variable "
                             "of the codebook", f"use one of {', '.join(sorted(cats))}",
                             value=d)


def _check_weighting(weighting: dict[str, WeightingSpec], codebook: Codebook, file: str,
                     problems: Problems) -> None:
    """Each population weighted; margins on category variables of the codebook."""
    for pop in POPULATIONS:
        if pop not in weighting:
            problems.add(file, "", f"no weighting specification for {pop}",
                         f"add a [{pop}] table")
    for pop, spec in weighting.items():
        if pop not in POPULATIONS:
            problems.add(file, "", "unknown population", f"use one of {POPULATIONS}",
                         value=pop)
            continue
        cats = {v.name for v in codebook.variables_for(pop) if v.kind == "category"}
        for m in spec.margins:
            bad = [p for p in m.split("*") if p not in cats]
            if bad:
                problems.add(file, "margins", f"{pop}: margin on a variable that is not a "
                             "category variable of the codebook",
                             f"use {', '.join(sorted(cats))}", value=m)
        for key, pair in (("trim", spec.trim), ("bounds", spec.bounds)):
            if pair is not None and not (len(pair) == 2 and pair[0] < 1 < pair[1]):
                problems.add(file, key, f"{pop}: {key} must be [lower, upper] with lower "
                             "< 1 < upper", "e.g. trim = [0.25, 4.0]", value=list(pair))
        if spec.method not in ("linear", "raking", "logit", "truncated", "poststratify"):
            problems.add(file, "method", f"{pop}: unknown calibration method",
                         "use linear, raking, logit, truncated or poststratify",
                         value=spec.method)


def _check_item_years(codebook: Codebook, file: str, problems: Problems) -> None:
    """A filter's parent item must be asked whenever the filtered item is."""
    for it in codebook.items:
        f = it.filter
        if f is None or f.source != "item":
            continue
        try:
            parent = codebook.item(it.population, f.name)
        except KeyError:
            problems.add(file, "filter", f"item {it.id!r}: filter on an unknown item",
                         "name an item of the same population", value=f.name)
            continue
        lo_ok = parent.first_year is None or (it.first_year is not None
                                              and it.first_year >= parent.first_year)
        hi_ok = parent.last_year is None or (it.last_year is not None
                                             and it.last_year <= parent.last_year)
        if not (lo_ok and hi_ok):
            problems.add(file, "filter", f"item {it.id!r} (asked {it.years_text()}) is "
                         f"filtered on {f.name!r}, asked {parent.years_text()}",
                         "make the filtered item's years fall within its filter's years",
                         value=f.name)


def read_configuration_problems(data_dir: Path | None) -> list[Problem]:
    """The problems of a data folder's configuration (empty when it loads)."""
    try:
        load_configuration(data_dir)
    except InputError as exc:
        return list(exc.problems)
    return []
