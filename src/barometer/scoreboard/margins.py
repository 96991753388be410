"""Population margins of one population and year, as a small typed object.

The margins file is long: one row per margin × category with a ``count`` (companies also
``employees``), a ``source`` and a ``reference_date``; the row ``total`` / ``all`` holds
the population total. A *crossed* margin names its variables joined by ``*``
(``sex*age_band``) and its categories joined by ``*`` in the same order (``F*18-24``).

To calibrate on a crossed margin, the frame needs the crossed variable: use
:func:`crossed_column` (or :meth:`MarginSet.add_crossed_columns`), which joins the
variables' codes with ``*`` — exactly how :func:`barometer.survey.calibrate` reads a key
``"a*b"``; then pass :meth:`MarginSet.to_dict` as ``categorical=``::

    ms = edition.margins["individuals"]
    design = calibrate(Design.from_frame(ms.add_crossed_columns(edition.individuals), ...),
                       categorical=ms.to_dict(), total=ms.total)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from barometer.scoreboard.validate import TOTAL_MARGIN

MEASURES: tuple[str, ...] = ("count", "employees")
"""What a margin counts: units (persons or companies) or, for companies, employees."""


@dataclass(frozen=True)
class Margin:
    """One margin: its variables, counts per category (and employees), source and date."""

    name: str
    variables: tuple[str, ...]
    counts: pd.Series
    employees: pd.Series | None
    source: str
    reference_date: date

    @property
    def crossed(self) -> bool:
        """True for a margin on several variables crossed (``a*b``)."""
        return len(self.variables) > 1

    def series(self, measure: str = "count") -> pd.Series:
        """Counts per category for ``measure`` (``count`` or ``employees``)."""
        if measure == "employees":
            if self.employees is None:
                raise KeyError(f"margin {self.name!r} has no employees' counts")
            return self.employees
        return self.counts


@dataclass(frozen=True)
class MarginSet:
    """The margins of one population: per-margin counts, the total, sources and dates."""

    population: str
    margins: dict[str, Margin]
    total: float
    employees_total: float | None
    source: str
    reference_date: date

    @property
    def names(self) -> list[str]:
        """Margin names, in file order (``sex*age_band``, ``pcs``...)."""
        return list(self.margins)

    @property
    def variables(self) -> list[str]:
        """Every variable that appears in a margin (crossed ones split), in order."""
        return list(dict.fromkeys(v for m in self.margins.values() for v in m.variables))

    def to_dict(self, measure: str = "count") -> dict[str, dict[str, float]]:
        """Plain ``{margin_name: {category: count}}`` (crossed keys ``"a*b"`` / ``"x*y"``).

        ``measure="employees"`` gives companies' employees' counts (to weight by
        employees). The result is what :func:`barometer.survey.calibrate` takes as ``categorical``.
        """
        return {name: {str(k): float(v) for k, v in m.series(measure).items()}
                for name, m in self.margins.items()}

    def total_for(self, measure: str = "count") -> float:
        """The population total for ``measure``."""
        if measure == "employees":
            if self.employees_total is None:
                raise KeyError(f"{self.population} margins have no employees' counts")
            return self.employees_total
        return self.total

    def add_crossed_columns(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``frame`` with one column per crossed margin (e.g. ``sex*age_band``)."""
        out = frame.copy()
        for name, m in self.margins.items():
            if m.crossed:
                out[name] = crossed_column(frame, m.variables)
        return out


def crossed_column(frame: pd.DataFrame, variables: tuple[str, ...] | list[str] | str
                   ) -> pd.Series:
    """The crossed variable: codes of ``variables`` joined by ``*`` (``F*18-24``).

    ``variables`` is a sequence of column names or a margin name ``"sex*age_band"``.
    """
    names = variables.split("*") if isinstance(variables, str) else list(variables)
    out = frame[names[0]].astype(str)
    for v in names[1:]:
        out = out + "*" + frame[v].astype(str)
    return out.rename("*".join(names))


def build_margin_set(typed: pd.DataFrame, population: str) -> MarginSet:
    """Build a :class:`MarginSet` from a validated long margins frame."""
    is_total = typed["margin"] == TOTAL_MARGIN
    total_row = typed.loc[is_total].iloc[0]
    has_emp = "employees" in typed
    margins: dict[str, Margin] = {}
    body = typed.loc[~is_total]
    for name in dict.fromkeys(body["margin"]):
        rows = body.loc[body["margin"] == name]
        idx = pd.Index(rows["category"].astype(str), name=name)
        margins[name] = Margin(
            name=name,
            variables=tuple(name.split("*")),
            counts=pd.Series(rows["count"].to_numpy(float), index=idx, name="count"),
            employees=(pd.Series(rows["employees"].to_numpy(float), index=idx,
                                 name="employees") if has_emp else None),
            source="; ".join(dict.fromkeys(rows["source"].astype(str))),
            reference_date=pd.Timestamp(rows["reference_date"].max()).date(),
        )
    return MarginSet(
        population=population,
        margins=margins,
        total=float(total_row["count"]),
        employees_total=float(total_row["employees"]) if has_emp else None,
        source="; ".join(dict.fromkeys(typed["source"].astype(str))),
        reference_date=pd.Timestamp(typed["reference_date"].max()).date(),
    )
