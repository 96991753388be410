"""Stage *join admin*: digital uptake from administrative counts, and survey coherence.

* Digital uptake of a service in a year = online / (online + mail + counter + phone), the
  counts of the ministry or agency that runs it (EDI counts as online). Every channel's
  count is kept beside the share. A service of the catalogue with no count for the year is
  reported as missing (never as zero). A channel the supplier does not report (no row) is
  missing, never 0: the share is then computed on the reported channels and flagged
  (``channels_reported``, ``partial_channels``).
* Vintages: the counts of a year may be supplied more than once (``date_received`` is the
  vintage). The latest vintage is used; every revision (service, year, channel: the first
  and the revised count, when each was received, the change) is kept in
  :func:`revisions`, published as the open-data resource ``admin_revisions``.
* Targets per service and year (``targets.csv`` of the data folder: ``service_id, year,
  target, online_only, source, source_date``). Status of a service in a year: "met"
  (uptake >= target), "not met", or "not applicable": an online-only service (its uptake is
  100% by construction, not an achievement to score), no target for the year, or no count.
* Aggregates are volume weighted (sum of online counts over sum of reported counts) per
  ministry, per audience (individuals' services, companies' services) and over all
  services; the all-services row states its composition (the audiences' shares of the
  volume and their uptakes), since companies' services weigh half the volume and have a
  much higher uptake. Aggregates carry no target.
* Coherence: where a survey item measures the same procedure, the survey estimate (with its
  interval) beside the administrative share, and their difference. The two differ by
  concept (people vs transactions, one year vs twelve months, a declared vs a recorded
  channel); the methodology note explains how to read differences. An online-only
  service is not compared (its 100% is an artefact of the channel offer).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from barometer.survey.errors import BarometerError

CHANNELS = ("online", "mail", "counter", "phone")
TARGETS_FILE = "targets.csv"
TARGET_COLUMNS = ("service_id", "year", "target", "online_only", "source", "source_date")

UPTAKE_COLUMNS = [
    "level", "service_id", "label_en", "ministry", "audience", "year", *CHANNELS, "total",
    "uptake", "channels_reported", "partial_channels", "online_only", "target",
    "gap_to_target", "target_status", "target_source", "target_date", "status", "revised",
    "supplier", "date_received", "composition",
]
REVISION_COLUMNS = [
    "service_id", "year", "channel", "first_received", "revised_received", "count_first",
    "count_revised", "change", "relative_change", "uptake_first", "uptake_revised",
]


def load_targets(data_dir: Path | None) -> pd.DataFrame:
    """The targets of the data folder (``targets.csv``), typed; an empty table when the
    folder has none (every status is then "not applicable: no target")."""
    empty = pd.DataFrame({c: pd.Series(dtype=float if c == "target" else object)
                          for c in TARGET_COLUMNS})
    if data_dir is None:
        return empty
    path = Path(data_dir) / TARGETS_FILE
    if not path.is_file():
        return empty
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in TARGET_COLUMNS if c not in raw.columns]
    if missing:
        raise BarometerError(f"the targets file has no column {missing[0]!r}", where=str(path),
                             hint=f"columns: {', '.join(TARGET_COLUMNS)}")
    out = raw[list(TARGET_COLUMNS)].copy()
    year = pd.to_numeric(out["year"], errors="coerce")
    target = pd.to_numeric(out["target"].replace("", np.nan), errors="coerce")
    for col, ok, what in (
        ("year", year.notna(), "a year such as 2021"),
        ("target", (out["target"] == "") | target.between(0, 1), "a share between 0 and 1, "
         "or empty for no target"),
        ("online_only", out["online_only"].isin(["0", "1"]), "1 for a service offered "
         "online only that year, 0 otherwise"),
    ):
        bad = ~ok.to_numpy(bool)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise BarometerError(f"unreadable {col} in the targets file", where=
                                 f"{path}, row {k + 2}, column {col}",
                                 value=str(raw[col].iloc[k]), hint=f"write {what}")
    out["year"] = year.astype(int)
    out["target"] = target
    out["online_only"] = out["online_only"] == "1"
    dup = out.duplicated(["service_id", "year"])
    if dup.any():
        k = int(np.flatnonzero(dup.to_numpy())[0])
        raise BarometerError("duplicated service x year in the targets file",
                             where=f"{path}, row {k + 2}", value=str(out["service_id"].iloc[k]),
                             hint="keep one target per service and year")
    return out


def _vintages(c: pd.DataFrame) -> pd.Series:
    """The vintage (``date_received``) of each row, as text ("" when unknown)."""
    if "date_received" not in c:
        return pd.Series("", index=c.index)
    return c["date_received"].astype(str).str[:10].where(c["date_received"].notna(), "")


def latest_vintage(counts: pd.DataFrame) -> pd.DataFrame:
    """The rows of the latest vintage of each service x year."""
    if counts.empty:
        return counts
    v = _vintages(counts)
    last = v.groupby([counts["service_id"], counts["year"]]).transform("max")
    return counts[(v == last).to_numpy()]


def digital_uptake(counts: pd.DataFrame, services: pd.DataFrame, year: int,
                   targets: pd.DataFrame | None = None) -> pd.DataFrame:
    """Uptake per service for ``year``, then per ministry, per audience and over all
    services.

    ``counts``: one row per service x year x channel x vintage with ``count`` (and
    optionally ``supplier``, ``date_received``, ``revised``); ``services``: the catalogue
    (``service_id``, ``label_en``, ``ministry``, ``audience``); ``targets``: see
    :func:`load_targets`.
    """
    c = latest_vintage(counts[counts["year"] == year]).copy()
    if "revised" in c:
        c["revised"] = pd.to_numeric(c["revised"], errors="coerce").fillna(0).astype(bool)
    wide = c.pivot_table(index="service_id", columns="channel", values="count",
                         aggfunc="sum")
    wide = wide.reindex(columns=list(CHANNELS)).astype(float)
    meta = c.groupby("service_id").agg(
        revised=("revised", "max") if "revised" in c else ("count", lambda s: False),
        supplier=("supplier", "first") if "supplier" in c else ("count", lambda s: ""),
        date_received=("date_received", "max") if "date_received" in c
        else ("count", lambda s: ""),
    )
    svc = services.set_index("service_id")
    rows = svc[["label_en", "ministry", "audience"]].join(wide, how="left").join(meta)
    t = targets if targets is not None else load_targets(None)
    t = t[t["year"] == year].set_index("service_id")
    rows = rows.join(t[["target", "online_only", "source", "source_date"]].rename(
        columns={"source": "target_source", "source_date": "target_date"}))
    rows["online_only"] = rows["online_only"].astype("boolean").fillna(False).astype(bool)
    has = rows[list(CHANNELS)].notna().any(axis=1)
    rows["total"] = rows[list(CHANNELS)].sum(axis=1, min_count=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rows["uptake"] = rows["online"] / rows["total"]
    reported = rows[list(CHANNELS)].notna()
    rows["channels_reported"] = [", ".join(ch for ch in CHANNELS if r[ch]) if r.any()
                                 else "" for _, r in reported.iterrows()]
    rows["partial_channels"] = has & ~reported.all(axis=1) & ~rows["online_only"]
    rows["status"] = np.where(has, "reported", "missing")
    rows["revised"] = rows["revised"].astype("boolean").fillna(False).astype(bool)
    rows["target"] = rows["target"].astype(float).where(~rows["online_only"])
    rows["gap_to_target"] = rows["uptake"] - rows["target"]
    rows["target_status"] = np.select(
        [rows["online_only"], rows["target"].isna() | rows["uptake"].isna(),
         rows["uptake"] >= rows["target"]],
        ["not applicable (online-only service)",
         np.where(rows["target"].isna(), "not applicable (no target)",
                  "not applicable (no count)"),
         "met"], "not met")
    rows = rows.reset_index().assign(level="service", year=year, composition="")
    ok = rows[has.to_numpy()]
    agg = [_aggregate(ok[ok["ministry"] == m], "ministry", m, year)
           for m in sorted(ok["ministry"].unique())]
    agg += [_aggregate(ok[ok["audience"] == a], "audience", f"{a}' services", year)
            for a in sorted(ok["audience"].dropna().unique())]
    agg.append(_aggregate(ok, "all", "all services", year))
    out = pd.concat([rows, pd.DataFrame(agg)], ignore_index=True)
    return out[UPTAKE_COLUMNS]


def _aggregate(sub: pd.DataFrame, level: str, name: str, year: int) -> dict[str, object]:
    sums = {ch: float(sub[ch].sum(min_count=1)) for ch in CHANNELS}  # unreported: missing
    total = float(sub["total"].sum())
    composition = ""
    if level == "all" and total:
        parts = []
        for aud, g in sub.groupby("audience", sort=True):
            vol = float(g["total"].sum())
            parts.append(f"{aud}' services: {len(g)} services, {vol / total:.1%} of the "
                         f"volume, uptake {float(g['online'].sum()) / vol:.1%}")
        composition = "; ".join(parts)
    partial = int(sub["partial_channels"].sum())
    return {"level": level, "service_id": None, "label_en": name,
            "ministry": name if level == "ministry" else None,
            "audience": name.split("'")[0] if level == "audience" else None,
            "year": year, **sums, "total": total,
            "uptake": sums["online"] / total if total else np.nan,
            "channels_reported": "", "partial_channels": partial > 0,
            "online_only": False, "target": np.nan, "gap_to_target": np.nan,
            "target_status": "not applicable (aggregate)", "target_source": None,
            "target_date": None, "status": f"{len(sub)} services",
            "revised": bool(sub["revised"].any()), "supplier": None, "date_received": None,
            "composition": composition}


def revisions(counts: pd.DataFrame) -> pd.DataFrame:
    """Every revised count: per service x year x channel, the first and the latest vintage
    (dates received), the counts, the change and the relative change, with the service's
    uptake at each vintage (on the channels reported in that vintage)."""
    if counts.empty:
        return pd.DataFrame(columns=REVISION_COLUMNS)
    c = counts.assign(_v=_vintages(counts).to_numpy())
    key = ["service_id", "year"]
    n_v = c.groupby(key)["_v"].transform("nunique")
    c = c[n_v.to_numpy() > 1]
    if c.empty:
        return pd.DataFrame(columns=REVISION_COLUMNS)
    first_v = c.groupby(key)["_v"].transform("min")
    last_v = c.groupby(key)["_v"].transform("max")
    first = c[c["_v"] == first_v]
    last = c[c["_v"] == last_v]

    def uptake(frame: pd.DataFrame) -> pd.Series:
        g = frame.groupby(key)
        return g.apply(lambda f: float(f.loc[f["channel"] == "online", "count"].sum())
                       / float(f["count"].sum()) if f["count"].sum() else np.nan,
                       include_groups=False).rename("u")

    both = first[[*key, "channel", "_v", "count"]].merge(
        last[[*key, "channel", "_v", "count"]], on=[*key, "channel"], how="outer",
        suffixes=("_first", "_revised"))
    both["first_received"] = both.groupby(key)["_v_first"].transform("first")
    both["revised_received"] = both.groupby(key)["_v_revised"].transform("first")
    both["count_first"] = both["count_first"].astype(float)
    both["count_revised"] = both["count_revised"].astype(float)
    both["change"] = both["count_revised"] - both["count_first"]
    with np.errstate(divide="ignore", invalid="ignore"):
        both["relative_change"] = both["change"] / both["count_first"]
    u1 = uptake(first)
    u2 = uptake(last)
    both = both.join(u1.rename("uptake_first"), on=key).join(u2.rename("uptake_revised"),
                                                             on=key)
    changed = both["change"].ne(0) | both["change"].isna()
    out = both[changed.to_numpy()].sort_values([*key, "channel"], ignore_index=True)
    return out[REVISION_COLUMNS]


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
        online_only = adm is not None and bool(adm["online_only"])
        admin_share = (float(adm["uptake"]) if adm is not None and not online_only
                       else np.nan)
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
            "admin_status": "online-only service (100% by construction, not compared)"
            if online_only else adm["status"] if adm is not None else "missing",
        })
    return pd.DataFrame(rows, columns=COHERENCE_COLUMNS)
