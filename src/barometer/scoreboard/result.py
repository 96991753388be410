"""What a year's run computed: the tables before publication, the weighted designs, the record.

:class:`RunResult` is the small typed object the run hands to the publishing layer;
:meth:`RunResult.tables` applies the publication rules, so what is published has passed
them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from barometer.scoreboard.populations import WeightedPopulation
from barometer.scoreboard.rules import gate


@dataclass(frozen=True, eq=False)
class RunResult:
    """Everything a run computed (the open-data tables before suppression included)."""

    year: int
    out: Path | None
    estimates: pd.DataFrame
    admin_uptake: pd.DataFrame
    coherence: pd.DataFrame
    trends: pd.DataFrame
    series: pd.DataFrame
    weighted: dict[str, WeightedPopulation]
    record: dict[str, Any]
    edition: Any = field(repr=False, default=None)
    drivers: pd.DataFrame = field(default_factory=pd.DataFrame)
    admin_revisions: pd.DataFrame = field(default_factory=pd.DataFrame)
    small_area: pd.DataFrame = field(default_factory=pd.DataFrame)  # rules already applied

    def tables(self) -> dict[str, pd.DataFrame]:
        """The open-data tables, through the one disclosure gate
        (:func:`barometer.scoreboard.rules.gate`)."""
        extra = ({"small_area_estimates": self.small_area} if len(self.small_area) else {})
        return extra | gate({
            "estimates": self.estimates,
            "admin_uptake": self.admin_uptake,
            "admin_revisions": self.admin_revisions,
            "coherence": self.coherence,
            "trends": self.trends,
            "weighting_diagnostics": weighting_table(self.weighted),
            "series": self.series,
            "drivers": self.drivers,
        })


def weighting_table(weighted: dict[str, WeightedPopulation]) -> pd.DataFrame:
    """Weighting diagnostics of every population in one long table."""
    frames = []
    for pop, wp in weighted.items():
        f = wp.diagnostics.to_frame().rename(columns={"target": "target_count"})
        frames.append(f.assign(population=pop))
    out = pd.concat(frames, ignore_index=True)
    cols = ["population", "kind", "name", "value", "constraint", "target_count", "achieved",
            "rel_diff"]
    return out[cols]
