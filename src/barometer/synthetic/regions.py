"""Synthetic regional auxiliary data: census covariates and administrative counts by region.

They are aggregates of the synthetic populations, known without sampling error as census
and administrative data are, written per edition into files of their own
(``census_regions.csv``, ``admin_regions.csv``: what the small-area models read,
:mod:`barometer.scoreboard.small_area`; ``truth_regions.csv``: what they estimate). They
use no random draw, so adding them changes no other file of an edition.

* ``census_regions.csv``: per region, adults and the shares of daily internet users, of
  adults 65+ and of bac+3 graduates (modelled on the INSEE census and the ICT household
  survey), companies and the share with 10+ employees (modelled on SIRENE).
* ``admin_regions.csv``: per service linked to a survey item, region and channel (``online``,
  ``other``), the national administrative count of the channel
  (:func:`barometer.synthetic.admin.admin_counts`; ``other`` = mail + counter + phone) split
  over the regions in proportion to the population's users of that channel in the region
  (largest remainder, so regions add up exactly to the national count).
* ``truth_regions.csv``: the true regional value of every indicator of the small-area models
  (:data:`barometer.scoreboard.small_area.MODELS`) in the synthetic population.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from barometer.scoreboard.indicators import Indicator
from barometer.synthetic.population import REGIONS, largest_remainder

LINKED = {"svc_tax": ("income_tax_return", "individuals"),
          "svc_vehicle": ("vehicle_registration", "individuals"),
          "svc_address": ("change_of_address", "individuals"),
          "svc_dpae": ("dpae", "companies"),
          "svc_vat": ("company_vat", "companies")}
"""Survey item -> (service, population) of the regional administrative counts."""


def _by_region(frame: pd.DataFrame, mask: np.ndarray, weights: np.ndarray | None = None
               ) -> np.ndarray:
    idx = pd.Categorical(frame["region"].astype(str), categories=REGIONS).codes
    w = np.ones(len(frame)) if weights is None else weights
    return np.bincount(idx, weights=w * mask, minlength=len(REGIONS))


def census_regions(ind: pd.DataFrame, comp: pd.DataFrame, year: int, w_ind: float,
                   w_comp: float) -> pd.DataFrame:
    """Regional census covariates of the populations of ``year`` (module docstring)."""
    ones = np.ones(len(ind), bool)
    adults = _by_region(ind, ones)
    firms = _by_region(comp, np.ones(len(comp), bool))
    return pd.DataFrame({
        "region": list(REGIONS), "year": year,
        "adults": np.round(adults * w_ind).astype(np.int64),
        "internet_daily": _by_region(ind, ind["internet_use"].to_numpy() == "daily") / adults,
        "age_65plus": _by_region(ind, ind["age_band"].to_numpy() == "65+") / adults,
        "degree": _by_region(ind, ind["education"].to_numpy() == "bac+3") / adults,
        "companies": np.round(firms * w_comp).astype(np.int64),
        "firms_10plus": _by_region(comp, comp["size_10plus"].to_numpy() == "10+") / firms,
        "source": "synthetic, modelled on the INSEE census, ICT household survey and SIRENE",
    })


def admin_regions(ind: pd.DataFrame, comp: pd.DataFrame, admin: pd.DataFrame, year: int
                  ) -> pd.DataFrame:
    """Regional administrative counts of the linked services (module docstring)."""
    rows = []
    for item, (service, population) in LINKED.items():
        frame = ind if population == "individuals" else comp
        counts = admin[admin["service_id"] == service]
        if counts.empty:
            continue
        code = frame[item].to_numpy()
        national = {"online": int(counts.loc[counts["channel"] == "online", "count"].sum()),
                    "other": int(counts.loc[counts["channel"] != "online", "count"].sum())}
        for channel, answer in (("online", 1), ("other", 2)):
            users = _by_region(frame, code == answer)
            rows.append(pd.DataFrame({
                "service_id": service, "year": year, "region": list(REGIONS),
                "channel": channel, "count": largest_remainder(users, national[channel])}))
    return pd.concat(rows, ignore_index=True)


def truth_regions(ind: pd.DataFrame, comp: pd.DataFrame, year: int,
                  indicators: Sequence[Indicator]) -> pd.DataFrame:
    """True regional values of ``indicators`` (the means of :meth:`Indicator.variable` over
    the population units where it is defined; every unit of a population stands for the same
    number of units), the targets of the regional small-area estimates."""
    rows = []
    for indicator in indicators:
        frame = ind if indicator.population == "individuals" else comp
        v = indicator.variable(frame)
        ok = ~np.isnan(v)
        num = _by_region(frame, ok, np.where(ok, v, 0.0))
        den = _by_region(frame, ok)
        keep = den > 0
        rows.append(pd.DataFrame({
            "indicator": indicator.id, "population": indicator.population, "year": year,
            "region": np.asarray(REGIONS)[keep], "truth": num[keep] / den[keep],
            "population_units": den[keep].astype(np.int64)}))
    return pd.concat(rows, ignore_index=True)


__all__ = ["LINKED", "admin_regions", "census_regions", "truth_regions"]
