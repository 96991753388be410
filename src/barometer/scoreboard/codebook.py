"""The questionnaire and codebook as typed data (read from ``data/codebook.toml``).

One place defines every survey column: identifiers, calibration and domain variables
(string category codes), numbers and dates, and questionnaire items (integer response
codes, French wording as asked and English translation, filter, multi-response group).
Loaders validate against it; tables, open data and the methodology note take their labels
from it. The missing codes are shared by every item: 97 not asked (outside the item's
filter), 98 don't know, 99 refused. An item may carry ``first_year`` and ``last_year``:
it is in the questionnaire (and required in the survey files) only in those years.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from barometer.scoreboard.problems import InputError, Problem

POPULATIONS: tuple[str, ...] = ("individuals", "companies")
"""The two surveyed populations."""

MISSING_KEYS: tuple[str, ...] = ("not_asked", "dont_know", "refused")
"""Keys of the reserved missing codes, in code order."""

VARIABLE_KINDS: tuple[str, ...] = ("id", "category", "integer", "number", "date")
"""Kinds of non-item columns."""


@dataclass(frozen=True)
class Option:
    """One response option or category: its code and its French and English labels."""

    code: int | str
    fr: str
    en: str

    def label(self, lang: str = "en") -> str:
        """The label in ``lang`` (``"fr"`` or ``"en"``)."""
        return self.fr if lang == "fr" else self.en


@dataclass(frozen=True)
class Filter:
    """Who is asked an item: units whose ``name`` (an item or a variable) is in ``codes``."""

    source: str
    name: str
    codes: tuple[int | str, ...]


@dataclass(frozen=True)
class Variable:
    """A non-questionnaire column (identifier, category, integer, number or date)."""

    name: str
    populations: tuple[str, ...]
    kind: str
    role: str
    fr: str
    en: str
    categories: tuple[Option, ...] = ()
    min: float | None = None
    max: float | None = None
    min_exclusive: float | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        """The category codes, in codebook order (empty unless ``kind == "category"``)."""
        return tuple(str(c.code) for c in self.categories)

    def label(self, lang: str = "en") -> str:
        """The variable's label in ``lang``."""
        return self.fr if lang == "fr" else self.en


@dataclass(frozen=True)
class Item:
    """A questionnaire item of one population, with its options, filter and wording."""

    id: str
    population: str
    scale: str
    fr: str
    en: str
    options: tuple[Option, ...]
    filter: Filter | None = None
    group: str | None = None
    first_year: int | None = None
    last_year: int | None = None

    def asked_in(self, year: int | None) -> bool:
        """True if the item is in the questionnaire of ``year`` (any year if None)."""
        return year is None or ((self.first_year is None or self.first_year <= year)
                                and (self.last_year is None or year <= self.last_year))

    def years_text(self) -> str:
        """The years the item is asked, as text (``2025 on``, ``2014 to 2019``)."""
        if self.first_year is None and self.last_year is None:
            return "every year"
        if self.last_year is None:
            return f"{self.first_year} on"
        if self.first_year is None:
            return f"up to {self.last_year}"
        return f"{self.first_year} to {self.last_year}"

    @property
    def codes(self) -> tuple[int, ...]:
        """The substantive response codes, in the order read out."""
        return tuple(int(o.code) for o in self.options)

    def label(self, lang: str = "en") -> str:
        """The item's wording in ``lang``."""
        return self.fr if lang == "fr" else self.en


@dataclass(frozen=True)
class Codebook:
    """The whole codebook: missing codes, variables and items of both populations."""

    title: str
    version: int
    missing: dict[str, Option]
    variables: tuple[Variable, ...]
    items: tuple[Item, ...]
    path: str = ""

    # -- look-ups ------------------------------------------------------------------------
    def variables_for(self, population: str) -> tuple[Variable, ...]:
        """The non-item variables of a population, in codebook order."""
        return tuple(v for v in self.variables if population in v.populations)

    def items_for(self, population: str, year: int | None = None) -> tuple[Item, ...]:
        """The questionnaire items of a population, in questionnaire order (those asked
        in ``year`` if given)."""
        return tuple(i for i in self.items if i.population == population and i.asked_in(year))

    def variable(self, name: str) -> Variable:
        """The variable called ``name`` (KeyError if there is none)."""
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(f"no variable {name!r} in the codebook")

    def item(self, population: str, item_id: str) -> Item:
        """The item ``item_id`` of ``population`` (KeyError if there is none)."""
        for i in self.items:
            if i.population == population and i.id == item_id:
                return i
        raise KeyError(f"no item {item_id!r} for {population} in the codebook")

    def columns(self, population: str, year: int | None = None) -> list[str]:
        """Every column a survey file of ``population`` must have (in ``year``: only the
        items asked that year), in codebook order."""
        return [v.name for v in self.variables_for(population)] + [
            i.id for i in self.items_for(population, year)
        ]

    def id_column(self, population: str) -> str:
        """The name of the identifier column of a population."""
        return next(v.name for v in self.variables_for(population) if v.kind == "id")

    def calibration_variables(self, population: str) -> list[str]:
        """Variables with role ``calibration`` (those the margins are given for)."""
        return [v.name for v in self.variables_for(population) if v.role == "calibration"]

    def domain_variables(self, population: str) -> list[str]:
        """Category variables by which estimates are published (calibration + domain)."""
        return [
            v.name
            for v in self.variables_for(population)
            if v.kind == "category" and v.role in ("calibration", "domain")
        ]

    @cached_property
    def missing_codes(self) -> dict[str, int]:
        """``{"not_asked": 97, "dont_know": 98, "refused": 99}``."""
        return {k: int(o.code) for k, o in self.missing.items()}

    def valid_codes(self, item: Item) -> tuple[int, ...]:
        """Substantive codes of an item plus the missing codes it may take."""
        miss = [self.missing_codes["dont_know"], self.missing_codes["refused"]]
        if item.filter is not None:
            miss.insert(0, self.missing_codes["not_asked"])
        return (*item.codes, *miss)

    def label(self, population: str, column: str, code: object, lang: str = "en") -> str:
        """The label of ``code`` in ``column`` (an item or a category variable)."""
        names = {i.id for i in self.items_for(population)}
        if column in names:
            item = self.item(population, column)
            options = list(item.options) + list(self.missing.values())
            key: object = int(code)  # type: ignore[call-overload]
        else:
            options = list(self.variable(column).categories)
            key = str(code)
        for o in options:
            if o.code == key or str(o.code) == str(key):
                return o.label(lang)
        raise KeyError(f"no code {code!r} in {column!r}")

    def labels(self, population: str, column: str, lang: str = "en") -> dict[object, str]:
        """``{code: label}`` for an item (with missing codes) or a category variable."""
        names = {i.id for i in self.items_for(population)}
        if column in names:
            item = self.item(population, column)
            return {o.code: o.label(lang) for o in (*item.options, *self.missing.values())}
        return {o.code: o.label(lang) for o in self.variable(column).categories}

    # -- filters -------------------------------------------------------------------------
    def eligible(self, frame: pd.DataFrame, population: str, item_id: str) -> np.ndarray:
        """Boolean mask of the rows asked ``item_id`` (its filter chain applied to ``frame``).

        A unit is eligible when it satisfies the item's filter and, for a filter on another
        item, is eligible for that item too (a unit not asked the parent item is not asked
        the child).
        """
        item = self.item(population, item_id)
        mask = np.ones(len(frame), dtype=bool)
        f = item.filter
        while f is not None:
            values = frame[f.name]
            if f.source == "item":
                codes = [int(c) for c in f.codes]
                vals = pd.to_numeric(values, errors="coerce").to_numpy()
                mask &= np.isin(vals, codes)
                f = self.item(population, f.name).filter
            else:
                mask &= values.astype(str).isin([str(c) for c in f.codes]).to_numpy()
                f = None
        return mask


def _option(raw: dict[str, object]) -> Option:
    """An :class:`Option` from its TOML table (integer codes stay int, others str)."""
    code = raw["code"]
    return Option(code=code if isinstance(code, int) else str(code),
                  fr=str(raw["fr"]), en=str(raw["en"]))


def parse_codebook(data: dict[str, object], path: str = "") -> Codebook:
    """Build a :class:`Codebook` from the parsed TOML mapping (see ``codebook.toml``)."""
    meta = dict(data.get("meta", {}))  # type: ignore[call-overload]
    missing_raw: dict[str, dict[str, object]] = data["missing"]  # type: ignore[assignment]
    missing = {k: _option(missing_raw[k]) for k in MISSING_KEYS}
    scales_raw: dict[str, dict[str, list[dict[str, object]]]] = data["scales"]  # type: ignore[assignment]
    scales = {name: tuple(_option(o) for o in s["options"]) for name, s in scales_raw.items()}
    variables = []
    for raw in data.get("variable", []):  # type: ignore[attr-defined]
        if raw["kind"] not in VARIABLE_KINDS:
            raise ValueError(f"codebook variable {raw['name']!r}: unknown kind {raw['kind']!r}")
        variables.append(Variable(
            name=raw["name"], populations=tuple(raw["population"]), kind=raw["kind"],
            role=raw.get("role", "domain"), fr=raw["fr"], en=raw["en"],
            categories=tuple(_option(c) for c in raw.get("categories", [])),
            min=raw.get("min"), max=raw.get("max"), min_exclusive=raw.get("min_exclusive"),
        ))
    items = []
    for raw in data.get("item", []):  # type: ignore[attr-defined]
        filt = raw.get("filter")
        flt = None
        if filt:
            source = "item" if "item" in filt else "variable"
            flt = Filter(source=source, name=filt[source], codes=tuple(filt["codes"]))
        if raw["scale"] not in scales:
            raise ValueError(f"codebook item {raw['id']!r}: unknown scale {raw['scale']!r}")
        first, last = raw.get("first_year"), raw.get("last_year")
        for key, v in (("first_year", first), ("last_year", last)):
            if v is not None and not isinstance(v, int):
                raise ValueError(f"codebook item {raw['id']!r}: {key} must be a year "
                                 f"(an integer), not {v!r}")
        if first is not None and last is not None and last < first:
            raise ValueError(f"codebook item {raw['id']!r}: last_year {last} is before "
                             f"first_year {first}")
        items.append(Item(
            id=raw["id"], population=raw["population"], scale=raw["scale"], fr=raw["fr"],
            en=raw["en"], options=scales[raw["scale"]], filter=flt, group=raw.get("group"),
            first_year=first, last_year=last,
        ))
    for pop in POPULATIONS:
        cols = [v.name for v in variables if pop in v.populations] + [
            i.id for i in items if i.population == pop]
        dup = sorted({c for c in cols if cols.count(c) > 1})
        if dup:
            raise ValueError(f"{pop}: column {dup[0]!r} defined twice (each variable name "
                             "and item id must be unique within a population)")
    for it in items:
        if it.population not in POPULATIONS:
            raise ValueError(f"codebook item {it.id!r}: unknown population "
                             f"{it.population!r} (use {' or '.join(POPULATIONS)})")
    return Codebook(title=str(meta.get("title", "")), version=int(meta.get("version", 1)),
                    missing=missing, variables=tuple(variables), items=tuple(items), path=path)


def default_codebook_path() -> Path:
    """Path of the codebook shipped with the package."""
    return Path(str(resources.files("barometer") / "data" / "codebook.toml"))


def load_codebook(path: Path | None = None, *, name: str | None = None) -> Codebook:
    """Read a codebook TOML file (default: the one shipped in ``barometer/data``).

    A file that is not valid TOML, lacks a required key or has a wrong value raises
    :class:`~barometer.scoreboard.problems.InputError` naming the file (as ``name``) and
    what is wrong, never a parser traceback.
    """
    p = Path(path) if path is not None else default_codebook_path()
    file = name or str(p)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
        return parse_codebook(data, path=str(p))
    except tomllib.TOMLDecodeError as exc:
        problem, hint = f"not valid TOML: {exc}", "fix the syntax at that line"
    except UnicodeDecodeError as exc:
        problem, hint = f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8"
    except KeyError as exc:
        problem = f"missing key {exc.args[0]!r}"
        hint = "every item needs id, population, scale, fr, en; see docs/data-folder.md"
    except (ValueError, TypeError, AttributeError) as exc:
        problem, hint = f"invalid codebook: {exc}", "see docs/data-folder.md"
    raise InputError([Problem(file, "", problem, hint)], context=f" ({file})")
