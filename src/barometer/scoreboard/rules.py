"""The publication rules of the scoreboard: which cells are published, and what is blanked.

This module is the one disclosure gate: every table that leaves the scoreboard (estimates,
series, trends, drivers, coherence, hence the charts and the note's tables that are drawn
from them) passes through :func:`gate`.

* A cell is suppressed below a minimum number of answers or above a coefficient of
  variation, flagged "caution" between two CV thresholds, published otherwise (the
  thresholds are the catalogue's ``[rules]``; Statistics Canada 2017 quality guidelines,
  Eurostat 2021).
* A share of exactly 0 or 1, decided from the data (no respondent of the domain has, or
  lacks, the attribute), has SE 0 and no CV: the same rule applies to both ends, on n
  alone, with the exact Clopper-Pearson interval (see :mod:`barometer.survey.ci`).
* A cell undefined by construction (0/0: a ratio whose denominator is 0 in the domain, e.g.
  the employee-weighted share among companies without employees) is "undefined".
* :func:`suppress` blanks the numbers of suppressed and undefined cells; a trend (a change
  between two cells) is published only where both of its cells are publishable
  (:func:`suppress_trends`); a coherence row hides the survey side of a suppressed cell.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from barometer.scoreboard.indicators import PublicationRules

SUPPRESSED_FIELDS = ("estimate", "se", "cv", "ci_low", "ci_high", "deff", "n_eff",
                     "odds_ratio", "or_ci_low", "or_ci_high", "p_value")
TREND_FIELDS = ("estimate", "reference_estimate", "change", "se", "z", "p_value",
                "p_adjusted")
COHERENCE_FIELDS = ("survey_estimate", "survey_ci_low", "survey_ci_high", "difference")
HIDDEN = ("suppressed", "undefined")
"""Statuses whose numbers are never published."""


def publication_status(n: int, cv: float, rules: PublicationRules, *,
                       exact: float | None = None, undefined: bool = False
                       ) -> tuple[str, str]:
    """The status of a cell (published, caution, suppressed, undefined) and the rule that
    decided.

    ``exact``: 0.0 or 1.0 when the share is exactly 0 or 1 by the data (its CV is not
    defined; the rule is then n alone, the same at both ends). ``undefined``: the cell is
    0/0 by construction.
    """
    if undefined:
        return "undefined", "0/0: the denominator is zero in the domain"
    if n < rules.min_n:
        return "suppressed", f"n < {rules.min_n}"
    if exact is not None:
        what = "has" if exact == 0 else "lacks"
        return "published", (f"n >= {rules.min_n}; share exactly {exact:g} (no respondent "
                             f"{what} the attribute): CV undefined, exact interval")
    if not np.isfinite(cv) or cv > rules.cv_suppress:
        return "suppressed", f"CV > {rules.cv_suppress:.1%}"
    if cv > rules.cv_caution:
        return "caution", f"CV > {rules.cv_caution:.1%}"
    return "published", f"n >= {rules.min_n}, CV <= {rules.cv_caution:.1%}"


def _blank(frame: pd.DataFrame, mask: pd.Series | np.ndarray, fields: tuple[str, ...]
           ) -> pd.DataFrame:
    out = frame.copy()
    for col in fields:
        if col in out.columns:
            out[col] = out[col].astype(float)
            out.loc[mask, col] = float("nan")
    return out


def suppress(estimates: pd.DataFrame) -> pd.DataFrame:
    """Blank the numbers of suppressed and undefined cells (keys, n, status and rule stay)."""
    if "status" not in estimates.columns:
        return estimates.copy()
    return _blank(estimates, estimates["status"].isin(HIDDEN).to_numpy(), SUPPRESSED_FIELDS)


def suppress_trends(trends: pd.DataFrame) -> pd.DataFrame:
    """Blank every number of a change one of whose cells is not publishable (its
    significance flag becomes missing too)."""
    if "status" not in trends.columns:
        return trends.copy()
    mask = (trends["status"] != "published").to_numpy()
    out = _blank(trends, mask, TREND_FIELDS)
    for col in ("significant_5pct",):
        if col in out.columns:
            out[col] = out[col].astype(object)
            out.loc[mask, col] = None
    return out


def suppress_coherence(coherence: pd.DataFrame) -> pd.DataFrame:
    """Hide the survey side of a coherence row whose survey cell is not publishable."""
    if "survey_status" not in coherence.columns:
        return coherence.copy()
    mask = coherence["survey_status"].isin(HIDDEN).to_numpy()
    out = _blank(coherence, mask, COHERENCE_FIELDS)
    if "admin_within_survey_ci" in out.columns:
        out["admin_within_survey_ci"] = out["admin_within_survey_ci"].astype(object)
        out.loc[mask, "admin_within_survey_ci"] = None
    return out


def gate(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The one disclosure gate: every table by its name through its rule."""
    rule = {"estimates": suppress, "series": suppress, "drivers": suppress,
            "trends": suppress_trends, "coherence": suppress_coherence}
    return {name: rule[name](t) if name in rule else t for name, t in tables.items()}
