"""Stage *estimate* (scoreboard): the indicator catalogue and the weighting specification.

Both are versioned data in the package (``data/indicators.toml``, ``data/weighting.toml``);
this module reads them into typed objects and turns a survey frame into the analysis
variable of each indicator:

* ``share``: 1 if the answer is in the indicator's response set, 0 if it is another valid
  answer; item nonresponse (don't know 98, refused 99) and units outside the universe are
  missing, hence out of the domain (the share is among valid answers). With
  ``not_asked = "zero"`` units not asked (97) count as 0 (e.g. "did a procedure online"
  among all adults, asked only of those who did a procedure).
* ``mean``: the score of the answer (``scores``), missing otherwise.

For companies weighted by employees the indicator is the ratio of employee-weighted totals
sum w e y / sum w e (a ratio estimator, linearised as such).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from barometer.survey.errors import BarometerError

MISSING_CODES = (97, 98, 99)
NOT_ASKED = 97
SIZE_10PLUS = {"0": "<10", "1-9": "<10", "10-49": "10+", "50-249": "10+", "250+": "10+"}


@dataclass(frozen=True)
class PublicationRules:
    """Suppression and flagging rules applied to every published cell."""

    min_n: int = 30
    cv_caution: float = 0.165
    cv_suppress: float = 0.333
    ci_method: str = "logit"
    ci_level: float = 0.95
    df: str | float = "design"


@dataclass(frozen=True)
class Indicator:
    """One scoreboard indicator (see ``data/indicators.toml`` for the fields)."""

    id: str
    label_fr: str
    label_en: str
    population: str
    item: str
    kind: str
    universe: str
    codes: tuple[int, ...] = ()
    scores: dict[int, float] = field(default_factory=dict)
    universe_codes: tuple[int, ...] = ()
    not_asked: str = "exclude"
    basis: str = "companies"
    headline: bool = False

    def variable(self, frame: pd.DataFrame) -> np.ndarray:
        """The analysis variable of the indicator on a survey frame (NaN = out of scope)."""
        if self.item not in frame.columns:
            raise BarometerError(f"indicator {self.id!r} needs item {self.item!r}",
                                 where=f"{self.population} survey",
                                 hint="check the codebook and the survey file")
        code = pd.to_numeric(frame[self.item], errors="coerce").to_numpy(float)
        valid = ~np.isnan(code) & ~np.isin(code, MISSING_CODES)
        if self.universe == "codes":
            valid &= np.isin(code, self.universe_codes)
        if self.kind == "share":
            value = np.where(valid, np.isin(code, self.codes).astype(float), np.nan)
        else:
            mapped = pd.Series(code).map(self.scores).to_numpy(float)
            value = np.where(valid, mapped, np.nan)
        if self.not_asked == "zero":
            value = np.where(code == NOT_ASKED, 0.0, value)
        return value


@dataclass(frozen=True)
class Driver:
    """A logistic model of a share indicator on domain variables (the "drivers" table)."""

    id: str
    indicator: str
    covariates: tuple[str, ...]


@dataclass(frozen=True)
class Catalogue:
    """The indicator catalogue: indicators, domains per population, publication rules,
    driver models."""

    indicators: tuple[Indicator, ...]
    domains: dict[str, tuple[str, ...]]
    rules: PublicationRules
    version: int
    drivers: tuple[Driver, ...] = ()

    def for_population(self, population: str) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.population == population)

    def get(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise KeyError(indicator_id)


@dataclass(frozen=True)
class WeightingSpec:
    """How one population is weighted (see ``data/weighting.toml``)."""

    population: str
    margins: tuple[str, ...]
    method: str
    design: dict[str, str] = field(default_factory=dict)
    numeric: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None
    trim: tuple[float, float] | None = None
    collapse: dict[str, dict[str, str]] = field(default_factory=dict)


def _read_toml(path: Path | None, name: str) -> dict[str, Any]:
    if path is None:
        text = resources.files("barometer").joinpath("data", name).read_text("utf-8")
        return tomllib.loads(text)
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The indicator catalogue (the packaged one by default)."""
    raw = _read_toml(path, "indicators.toml")
    inds = []
    for d in raw["indicator"]:
        inds.append(Indicator(
            id=d["id"], label_fr=d["label_fr"], label_en=d["label_en"],
            population=d["population"], item=d["item"], kind=d["kind"],
            universe=d.get("universe", "all"), codes=tuple(d.get("codes", ())),
            scores={int(k): float(v) for k, v in d.get("scores", {}).items()},
            universe_codes=tuple(d.get("universe_codes", ())),
            not_asked=d.get("not_asked", "exclude"), basis=d.get("basis", "companies"),
            headline=bool(d.get("headline", False)),
        ))
    ids = [i.id for i in inds]
    if len(set(ids)) != len(ids):
        raise BarometerError("duplicated indicator id in the catalogue", value=ids)
    drivers = tuple(Driver(d["id"], d["indicator"], tuple(d["covariates"]))
                    for d in raw.get("driver", []))
    for drv in drivers:
        ind = next((i for i in inds if i.id == drv.indicator), None)
        if ind is None or ind.kind != "share":
            raise BarometerError(f"driver {drv.id!r} needs a share indicator of the "
                                 "catalogue", value=drv.indicator,
                                 hint="use the id of an indicator with kind = \"share\"")
    pub = raw.get("publication", {})
    return Catalogue(tuple(inds), {k: tuple(v) for k, v in raw["domains"].items()},
                     PublicationRules(**pub), int(raw.get("version", 1)), drivers)


def load_weighting(path: Path | None = None) -> dict[str, WeightingSpec]:
    """The weighting specification per population (the packaged one by default)."""
    raw = _read_toml(path, "weighting.toml")
    out = {}
    for pop, d in raw.items():
        out[pop] = WeightingSpec(
            population=pop, margins=tuple(d["margins"]), method=d["method"],
            design=dict(d.get("design", {})), numeric=tuple(d.get("numeric", ())),
            bounds=tuple(d["bounds"]) if "bounds" in d else None,  # type: ignore[arg-type]
            trim=tuple(d["trim"]) if "trim" in d else None,  # type: ignore[arg-type]
            collapse={v: {str(a): str(b) for a, b in m.items()}
                      for v, m in d.get("collapse", {}).items()},
        )
    return out


def add_derived_domains(frame: pd.DataFrame, population: str) -> pd.DataFrame:
    """Domains derived from survey columns (companies: ``size_10plus`` from ``size_band``)."""
    if population == "companies" and "size_band" in frame.columns:
        return frame.assign(size_10plus=frame["size_band"].astype(str).map(SIZE_10PLUS))
    return frame
