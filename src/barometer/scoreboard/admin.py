"""Stage *join admin*: digital uptake from administrative counts, and survey coherence.

* Digital uptake of a service in a year = online / (online + mail + counter + phone), the
  counts of the ministry or agency that runs it (EDI counts as online). Every channel's
  count is kept beside the share. A service of the catalogue with no count for the year is
  reported as missing (never as zero); a revised count is flagged.
* Aggregates per ministry and over all services are volume weighted: sum of online counts
  over sum of all counts of the services with data.
* Progress against target: the uptake minus the service's target share, and whether the
  target is met.
* Coherence: where a survey item measures the same procedure, the survey estimate (with its
  interval) beside the administrative share, and their difference. The two differ by
  concept (people vs transactions, one year vs twelve months, a declared vs a recorded
  channel); the methodology note explains how to read differences.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CHANNELS = ("online", "mail", "counter", "phone")

UPTAKE_COLUMNS = [
    "level", "service_id", "label_en", "ministry", "audience", "year", *CHANNELS, "total",
    "uptake", "target", "gap_to_target", "target_met", "status", "revised", "supplier",
    "date_received",
]


def digital_uptake(counts: pd.DataFrame, services: pd.DataFrame, year: int) -> pd.DataFrame:
    """Uptake per service for ``year``, then per ministry and over all services.

    ``counts``: one row per service x year x channel with ``count`` (and optionally
    ``supplier``, ``date_received``, ``revised``); ``services``: the catalogue
    (``service_id``, ``label_en``, ``ministry``, ``audience``, ``target_2016``).
    """
    c = counts[counts["year"] == year].copy()
    if "revised" in c:
        c["revised"] = pd.to_numeric(c["revised"], errors="coerce").fillna(0).astype(bool)
    wide = c.pivot_table(index="service_id", columns="channel", values="count",
                         aggfunc="sum")
    wide = wide.reindex(columns=list(CHANNELS))
    meta = c.groupby("service_id").agg(
        revised=("revised", "max") if "revised" in c else ("count", lambda s: False),
        supplier=("supplier", "first") if "supplier" in c else ("count", lambda s: ""),
        date_received=("date_received", "max") if "date_received" in c
        else ("count", lambda s: ""),
    )
    svc = services.set_index("service_id")
    rows = svc[["label_en", "ministry", "audience"]].join(wide, how="left").join(meta)
    rows["target"] = svc["target_2016"].astype(float)
    has = rows[list(CHANNELS)].notna().any(axis=1)
    rows["total"] = rows[list(CHANNELS)].sum(axis=1, min_count=1)
    rows["uptake"] = rows["online"] / rows["total"]
    rows["status"] = np.where(has, "reported", "missing")
    rows["revised"] = rows["revised"].fillna(False).astype(bool)
    rows = rows.reset_index().assign(level="service", year=year)
    agg = [_aggregate(rows[has.to_numpy()], "ministry", m, year)
           for m in sorted(rows.loc[has.to_numpy(), "ministry"].unique())]
    agg.append(_aggregate(rows[has.to_numpy()], "all", "all services", year))
    out = pd.concat([rows, pd.DataFrame(agg)], ignore_index=True)
    out["gap_to_target"] = out["uptake"] - out["target"]
    out["target_met"] = np.where(out["uptake"].notna() & out["target"].notna(),
                                 out["uptake"] >= out["target"], pd.NA)
    return out[UPTAKE_COLUMNS]


def _aggregate(rows: pd.DataFrame, level: str, name: str, year: int) -> dict[str, object]:
    sub = rows if level == "all" else rows[rows["ministry"] == name]
    sums = {ch: float(sub[ch].sum()) for ch in CHANNELS}
    total = sum(sums.values())
    weights = sub["total"].to_numpy(float)
    target = float(np.average(sub["target"], weights=weights)) if weights.sum() else np.nan
    return {"level": level, "service_id": None, "label_en": name,
            "ministry": name if level == "ministry" else None, "audience": None,
            "year": year, **sums, "total": total,
            "uptake": sums["online"] / total if total else np.nan, "target": target,
            "status": f"{len(sub)} services", "revised": bool(sub["revised"].any()),
            "supplier": None, "date_received": None}


COHERENCE_COLUMNS = [
    "service_id", "label_en", "year", "survey_item", "indicator", "survey_estimate",
    "survey_ci_low", "survey_ci_high", "survey_status", "admin_uptake", "difference",
    "admin_within_survey_ci", "admin_status",
]


def coherence(uptake: pd.DataFrame, estimates: pd.DataFrame, services: pd.DataFrame,
              item_indicator: dict[str, str]) -> pd.DataFrame:
    """Survey estimate vs administrative share for every service linked to a survey item.

    ``item_indicator`` maps a survey item id to the indicator estimating its online share.
    """
    linked = services[services["survey_item"].notna() & (services["survey_item"] != "")]
    overall = estimates[estimates["by"] == "all"].set_index("indicator")
    svc = uptake[uptake["level"] == "service"].set_index("service_id")
    rows = []
    for _, s in linked.iterrows():
        ind = item_indicator.get(s["survey_item"])
        est = overall.loc[ind] if ind is not None and ind in overall.index else None
        adm = svc.loc[s["service_id"]] if s["service_id"] in svc.index else None
        admin_share = float(adm["uptake"]) if adm is not None else np.nan
        e = float(est["estimate"]) if est is not None else np.nan
        lo = float(est["ci_low"]) if est is not None else np.nan
        hi = float(est["ci_high"]) if est is not None else np.nan
        rows.append({
            "service_id": s["service_id"], "label_en": s["label_en"],
            "year": int(adm["year"]) if adm is not None else None,
            "survey_item": s["survey_item"], "indicator": ind,
            "survey_estimate": e, "survey_ci_low": lo, "survey_ci_high": hi,
            "survey_status": est["status"] if est is not None else "no estimate",
            "admin_uptake": admin_share, "difference": e - admin_share,
            "admin_within_survey_ci": bool(lo <= admin_share <= hi)
            if np.isfinite(admin_share) and np.isfinite(lo) else None,
            "admin_status": adm["status"] if adm is not None else "missing",
        })
    return pd.DataFrame(rows, columns=COHERENCE_COLUMNS)
