"""Results are data: the rows every estimator returns (``Estimates``).

One row per statistic x variable x level x domain, with the columns of ``COLUMNS``; the
console summary, the open data and the methodology note all read the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from barometer.survey.errors import EstimationError

COLUMNS = [
    "statistic", "variable", "level", "by", "domain", "estimate", "se", "cv", "ci_low",
    "ci_high", "ci_method", "ci_level", "df", "deff", "deff_replace", "n", "n_eff", "method",
]


@dataclass(frozen=True, eq=False)
class Estimates:
    """Results are data: one row per estimate x domain (columns in ``COLUMNS``).

    With ``estimate(..., covariance=True)``, ``covariance`` holds the covariance matrix of
    all the rows' estimates (across domains, levels and variables; :meth:`vcov` labels it)
    and ``design_df`` the degrees of freedom of the whole design, which
    :func:`barometer.survey.contrast.contrast` uses.
    """

    table: pd.DataFrame
    covariance: np.ndarray | None = None
    design_df: float = float("inf")

    def keys(self) -> list[str]:
        """A label per row: its variable (when the rows hold several), level (when set)
        and domain (when ``by`` is set), joined with ``/`` (``"E"``, ``"Yes/E"``,
        ``"api00/E|Yes"``); contrasts name rows by these labels."""
        t = self.table
        several = t["variable"].nunique() > 1 or t["statistic"].nunique() > 1
        has_level = t["level"].notna().any()
        has_domain = t["by"].notna().any()
        out = []
        for _, row in t.iterrows():
            parts = []
            if several:
                parts.append(str(row["variable"]) if t["statistic"].nunique() == 1
                             else f"{row['statistic']} {row['variable']}")
            if has_level:
                parts.append(_text(row["level"]))
            if has_domain:
                parts.append(_text(row["domain"]))
            out.append("/".join(parts) if parts else str(row["variable"]))
        return out

    def vcov(self) -> pd.DataFrame:
        """The covariance matrix of the estimates, labelled by :meth:`keys`."""
        if self.covariance is None:
            raise EstimationError("these estimates carry no covariance matrix",
                                  hint="estimate with covariance=True")
        keys = self.keys()
        return pd.DataFrame(self.covariance, index=keys, columns=keys)

    def to_frame(self) -> pd.DataFrame:
        """A copy of the result rows."""
        return self.table.copy()

    def __len__(self) -> int:
        return len(self.table)

    def summary(self, digits: int = 4) -> str:
        """A readable text table of the estimates."""
        t = self.table
        cols = ["variable", "level", "domain", "estimate", "se", "ci_low", "ci_high", "cv",
                "deff", "n", "df"]
        shown = t[[c for c in cols if c in t.columns and t[c].notna().any()]].copy()
        head = (f"{t['statistic'].iloc[0]} — variance: {t['method'].iloc[0]}; "
                f"{t['ci_method'].iloc[0]} {100 * t['ci_level'].iloc[0]:g}% intervals")
        with pd.option_context("display.float_format", lambda v: f"{v:.{digits}g}",
                               "display.width", 120):
            return head + "\n" + shown.to_string(index=False)

    def __repr__(self) -> str:
        return self.summary()

    def value(self, domain: object = None, level: object = None, field: str = "estimate"
              ) -> float:
        """One number of the table (for a domain and/or level given as text or value)."""
        t = self.table
        mask = np.ones(len(t), bool)
        if domain is not None:
            mask &= t["domain"].astype(str).to_numpy() == str(domain)
        if level is not None:
            mask &= t["level"].astype(str).to_numpy() == str(level)
        if mask.sum() != 1:
            raise EstimationError("no single row matches", value=(domain, level))
        return float(t.loc[mask, field].iloc[0])


def _text(value: object) -> str:
    """A value as text, integral numbers without a decimal point (as R writes them)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)
