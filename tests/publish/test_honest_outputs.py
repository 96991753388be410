"""Issue 15 bar, on the shipped editions (the latest edition published once, as
``barometer run`` does): bounded intervals, no floating-point residue at 0 or 1, no value
of a suppressed cell anywhere in the written files, honest administrative indicators
(online-only "not applicable", unreported channels empty), the planted revision visible,
and the run record counting what the note states."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from barometer.run import RunResult
from barometer.scoreboard.rules import HIDDEN
from barometer.synthetic.admin import REVISED_SERVICE, REVISED_YEAR

SHARE_METHODS = ("logit", "clopper-pearson")


def _share_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["ci_method"].isin(SHARE_METHODS)]


def test_ci_methods_are_truthful(run: tuple[RunResult, Path]) -> None:
    from barometer.scoreboard.indicators import load_catalogue

    kinds = {i.id: i.kind for i in load_catalogue().indicators}
    est = run[0].series
    shares = est[est["indicator"].map(kinds) == "share"]
    undefined = shares["status"] == "undefined"
    assert shares.loc[~undefined, "ci_method"].isin(SHARE_METHODS).all()  # never Wald
    assert (shares.loc[undefined, "ci_method"] == "none").all()
    exact = est[est["ci_method"] == "clopper-pearson"]
    assert exact["estimate"].isin([0.0, 1.0]).all() and len(exact)
    assert (exact["se"] == 0).all()


def test_no_share_interval_outside_0_1(run: tuple[RunResult, Path]) -> None:
    for frame in (run[0].series, pd.read_csv(run[1] / "opendata" / "estimates.csv")):
        shares = _share_rows(frame).dropna(subset=["ci_low", "ci_high"])
        assert len(shares)
        assert (shares["ci_low"] >= 0).all() and (shares["ci_high"] <= 1).all()
        assert (shares["ci_low"] <= shares["estimate"]).all()
        assert (shares["estimate"] <= shares["ci_high"]).all()


def test_no_residue_at_0_or_1(run: tuple[RunResult, Path]) -> None:
    for frame in (run[0].series, pd.read_csv(run[1] / "opendata" / "estimates.csv"),
                  pd.read_csv(run[1] / "opendata" / "series.csv")):
        e = _share_rows(frame)["estimate"].dropna()
        near = ((e.abs() < 1e-12) & (e != 0)) | (((1 - e).abs() < 1e-12) & (e != 1))
        assert not near.any(), e[near]
    tr = pd.read_csv(run[1] / "opendata" / "trends.csv")
    change = tr["change"].dropna()
    assert not ((change.abs() < 1e-12) & (change != 0)).any()


def test_employee_weighted_shares_are_bounded_and_0_over_0_is_undefined(
        run: tuple[RunResult, Path]) -> None:
    est = run[0].estimates
    emp = est[est["basis"] == "employees"]
    assert emp.loc[emp["status"] != "undefined", "ci_method"].isin(SHARE_METHODS).all()
    zero = emp[(emp["by"] == "size_band") & (emp["domain"] == "0")]
    assert (zero["status"] == "undefined").all() and len(zero)
    assert zero["estimate"].isna().all()
    assert zero["rule"].str.contains("0/0").all()


def _hidden_values(result: RunResult) -> set[float]:
    """Numbers that only suppressed or undefined cells (and the changes built on them)
    carry: neither 0, 1, an integer, nor equal to any published number."""
    hidden: list[float] = []
    shown: list[float] = []
    cols = ("estimate", "se", "cv", "ci_low", "ci_high", "deff", "n_eff")
    for frame in (result.estimates, result.series):
        mask = frame["status"].isin(HIDDEN)
        for c in cols:
            hidden += frame.loc[mask, c].dropna().tolist()
            shown += frame.loc[~mask, c].dropna().tolist()
    tr = result.trends
    mask = tr["status"] != "published"
    for c in ("change", "se", "z", "p_value"):
        hidden += tr.loc[mask, c].dropna().tolist()
    dr = result.drivers
    mask = dr["status"].isin(HIDDEN)
    for c in ("estimate", "se", "odds_ratio", "or_ci_low", "or_ci_high", "p_value"):
        hidden += dr.loc[mask, c].dropna().tolist()
    for t in result.tables().values():
        for c in t.select_dtypes("number").columns:
            shown += t[c].dropna().astype(float).tolist()
    out = {float(v) for v in hidden if np.isfinite(v) and float(v) != round(float(v))}
    return out - set(shown)


def test_no_value_of_a_suppressed_cell_in_any_written_file(run: tuple[RunResult, Path]
                                                          ) -> None:
    result, folder = run
    hidden = _hidden_values(result)
    assert len(hidden) > 100  # the check has something to find
    texts = {repr(v) for v in hidden} | {f"{v:.10g}" for v in hidden}
    scanned = 0
    number = re.compile(r"-?\d+\.\d{6,}(?:e-?\d+)?")
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            for c in frame.select_dtypes("number").columns:
                leaked = set(frame[c].dropna().astype(float)) & hidden
                assert not leaked, (path.name, c, sorted(leaked)[:3])
            scanned += 1
        elif path.suffix in (".csv", ".json", ".html", ".md", ".svg"):
            text = path.read_text(encoding="utf-8")
            found = set(number.findall(text))
            leaked = found & texts
            assert not leaked, (path.name, sorted(leaked)[:3])
            scanned += 1
    assert scanned >= 15


def test_the_reported_example_does_not_leak(run: tuple[RunResult, Path]) -> None:
    tr = pd.read_csv(run[1] / "opendata" / "trends.csv", dtype={"domain": str})
    hidden = tr[tr["status"] != "published"]
    assert len(hidden)
    assert hidden[["estimate", "reference_estimate", "change", "se", "z", "p_value",
                   "p_adjusted"]].isna().all(axis=None)
    assert hidden["significant_5pct"].isna().all()
    shown = tr[tr["status"] == "published"]
    assert (shown["p_adjusted"].dropna() >= shown["p_value"].dropna()).all()
    tested = shown.dropna(subset=["p_adjusted"])
    assert (tested["significant_5pct"].astype(bool) == (tested["p_adjusted"] < 0.05)).all()


def test_online_only_is_not_applicable_and_missing_channels_are_empty(
        run: tuple[RunResult, Path]) -> None:
    up = pd.read_csv(run[1] / "opendata" / "admin_uptake.csv", dtype=str,
                     keep_default_na=False)
    svc = up[up["level"] == "service"].set_index("service_id")
    only = svc[svc["online_only"] == "True"]
    assert len(only) >= 2
    assert only["target_status"].str.startswith("not applicable").all()
    assert (only["target"] == "").all()
    assert (svc.loc["income_tax_return", "phone"]) == ""  # DGFiP reports no phone channel
    assert svc.loc["income_tax_return", "partial_channels"] == "True"
    statuses = set(svc["target_status"])
    assert {"met", "not met"} <= statuses  # targets can be missed
    coh = pd.read_csv(run[1] / "opendata" / "coherence.csv", dtype=str,
                      keep_default_na=False)
    veh = coh.set_index("service_id").loc["vehicle_registration"]
    assert veh["admin_uptake"] == "" and veh["admin_within_survey_ci"] == ""
    aud = up[up["level"] == "audience"]
    assert set(aud["audience"]) == {"individuals", "companies"}
    assert "of the volume" in up.loc[up["level"] == "all", "composition"].iloc[0]


def test_the_planted_revision_is_in_the_revision_table(run: tuple[RunResult, Path]) -> None:
    rev = pd.read_csv(run[1] / "opendata" / "admin_revisions.csv")
    planted = rev[(rev["service_id"] == REVISED_SERVICE) & (rev["year"] == REVISED_YEAR)]
    assert len(planted) >= 1
    assert (planted["change"] != 0).all()
    assert (planted["revised_received"] > planted["first_received"]).all()
    note = (run[1] / "methodology-note.md").read_text(encoding="utf-8")
    assert f"`{REVISED_SERVICE}` | {REVISED_YEAR} |" in note


def test_record_and_note_state_df_and_fallbacks(run: tuple[RunResult, Path]) -> None:
    result, folder = run
    record = json.loads((folder / "run_record.json").read_text(encoding="utf-8"))
    assert record["design_df"] == {pop: int(wp.design.degf())
                                   for pop, wp in result.weighted.items()}
    assert set(record["replicate_fallbacks"]) == {"individuals", "companies"}
    note = (folder / "methodology-note.md").read_text(encoding="utf-8")
    for pop, label in (("individuals", "Individuals (adults 18+)"), ("companies",
                                                                    "Companies")):
        row = next(line for line in note.splitlines() if line.startswith(f"| {label} |"))
        assert row.rstrip(" |").endswith(f"{record['design_df'][pop]:,}")
    assert "Benjamini" in note and "reference category, the first in the codebook" \
        in note.replace("**", "")


def test_employee_weighted_intervals_are_logit_of_the_ratio(run: tuple[RunResult, Path]
                                                            ) -> None:
    """expit(logit(R) +/- t_df SE(R) / (R (1 - R))) for every employee-weighted cell that is
    neither exact nor undefined (the ratio's estimate and SE are unchanged)."""
    from scipy import special, stats

    est = run[0].estimates
    emp = est[(est["basis"] == "employees") & (est["ci_method"] == "logit")]
    assert len(emp) > 10
    p, se, df = (emp[c].to_numpy(float) for c in ("estimate", "se", "df"))
    half = stats.t.ppf(0.975, df) * se / (p * (1 - p))
    np.testing.assert_allclose(emp["ci_low"], special.expit(special.logit(p) - half),
                               rtol=1e-12)
    np.testing.assert_allclose(emp["ci_high"], special.expit(special.logit(p) + half),
                               rtol=1e-12)
