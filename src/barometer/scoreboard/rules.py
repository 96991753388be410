"""The publication rules of the scoreboard: which cells are published, and what is blanked.

A cell is suppressed below a minimum number of answers or above a coefficient of variation,
flagged "caution" between two CV thresholds, published otherwise (the thresholds are the
catalogue's ``[rules]``). :func:`suppress` blanks the numbers of suppressed cells; the
publishing layer writes only what has passed through it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from barometer.scoreboard.indicators import PublicationRules

SUPPRESSED_FIELDS = ("estimate", "se", "cv", "ci_low", "ci_high", "deff", "n_eff",
                     "odds_ratio", "or_ci_low", "or_ci_high", "p_value")


def publication_status(n: int, cv: float, rules: PublicationRules) -> tuple[str, str]:
    """The status of a cell (published, caution, suppressed) and the rule that decided."""
    if n < rules.min_n:
        return "suppressed", f"n < {rules.min_n}"
    if not np.isfinite(cv) or cv > rules.cv_suppress:
        return "suppressed", f"CV > {rules.cv_suppress:.1%}"
    if cv > rules.cv_caution:
        return "caution", f"CV > {rules.cv_caution:.1%}"
    return "published", f"n >= {rules.min_n}, CV <= {rules.cv_caution:.1%}"


def suppress(estimates: pd.DataFrame) -> pd.DataFrame:
    """Blank the numbers of suppressed cells (keys, n, status and rule stay)."""
    out = estimates.copy()
    mask = out["status"] == "suppressed"
    for col in SUPPRESSED_FIELDS:
        if col in out.columns:
            out[col] = out[col].astype(float)
            out.loc[mask, col] = float("nan")
    return out
