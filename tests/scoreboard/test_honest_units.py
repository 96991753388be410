"""Issue 15 units: the symmetric 0/1 rule, the disclosure gate of trends and coherence, the
Benjamini-Hochberg adjustment, targets, online-only services, unreported channels,
vintages and revisions, driver reference order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from barometer.scoreboard.admin import (
    digital_uptake,
    latest_vintage,
    load_targets,
    revisions,
)
from barometer.scoreboard.indicators import PublicationRules
from barometer.scoreboard.populations import _catalogue_order
from barometer.scoreboard.rules import (
    gate,
    publication_status,
    suppress,
    suppress_coherence,
    suppress_trends,
)
from barometer.scoreboard.trends import benjamini_hochberg, trends
from barometer.survey.errors import BarometerError

RULES = PublicationRules()


def test_exact_zero_and_one_follow_the_same_rule() -> None:
    zero = publication_status(50, float("nan"), RULES, exact=0.0)
    one = publication_status(50, 0.0, RULES, exact=1.0)
    assert zero[0] == one[0] == "published"
    assert "exactly 0" in zero[1] and "exactly 1" in one[1]
    assert publication_status(12, float("nan"), RULES, exact=0.0)[0] == "suppressed"
    assert publication_status(12, 0.0, RULES, exact=1.0)[0] == "suppressed"
    assert publication_status(100, float("nan"), RULES, undefined=True)[0] == "undefined"


def test_undefined_cells_are_blanked() -> None:
    est = pd.DataFrame({"estimate": [0.4, np.nan, 0.7], "se": [0.01, np.nan, 0.2],
                        "status": ["published", "undefined", "suppressed"]})
    out = suppress(est)
    assert out["estimate"].isna().tolist() == [False, True, True]


def _series() -> pd.DataFrame:
    base = {"indicator": "x", "population": "individuals", "basis": "individuals",
            "by": "region"}
    rows = []
    for year, status in ((2024, "suppressed"), (2025, "published")):
        rows.append({**base, "domain": "94", "year": year, "estimate": 0.583 if year == 2024
                     else 0.6, "se": 0.2, "status": status})
        rows.append({**base, "domain": "11", "year": year, "estimate": 0.5 + 0.05 *
                     (year - 2024), "se": 0.01, "status": "published"})
    return pd.DataFrame(rows)


def test_a_change_is_published_only_if_both_cells_are() -> None:
    t = trends(_series(), 2025).set_index("domain")
    assert t.loc["94", "status"] == "suppressed"
    assert t.loc["11", "status"] == "published"
    out = suppress_trends(t.reset_index()).set_index("domain")
    for col in ("estimate", "reference_estimate", "change", "se", "z", "p_value",
                "p_adjusted"):
        assert np.isnan(out.loc["94", col]), col
    assert out.loc["94", "significant_5pct"] is None
    assert out.loc["11", "change"] == pytest.approx(0.05)
    # the adjusted p-value counts only the published change
    assert out.loc["11", "p_adjusted"] == pytest.approx(out.loc["11", "p_value"])


def test_exact_changes_are_not_tested() -> None:
    base = {"indicator": "x", "population": "individuals", "basis": "individuals",
            "by": "all", "domain": "all", "status": "published", "se": 0.0,
            "estimate": 0.0}
    t = trends(pd.DataFrame([{**base, "year": 2024}, {**base, "year": 2025}]), 2025)
    assert np.isnan(t["z"].iloc[0]) and np.isnan(t["p_value"].iloc[0])
    assert not bool(t["significant_5pct"].iloc[0])


def test_benjamini_hochberg_equals_r_p_adjust() -> None:
    # R 4.2.2: p.adjust(c(0.01, 0.04, 0.03, 0.2, 0.005, 0.5, 0.04), "BH")
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.005, 0.5, 0.04])
    r = [0.035000000000000003, 0.055999999999999994, 0.055999999999999994,
         0.233333333333333365, 0.035000000000000003, 0.5, 0.055999999999999994]
    np.testing.assert_allclose(benjamini_hochberg(p), r, rtol=1e-12)
    with_nan = benjamini_hochberg(np.array([np.nan, 0.01, 0.04]))
    assert np.isnan(with_nan[0])
    np.testing.assert_allclose(with_nan[1:], [0.02, 0.04])


def test_coherence_hides_the_survey_side_of_a_suppressed_cell() -> None:
    coh = pd.DataFrame({"survey_estimate": [0.5], "survey_ci_low": [0.3],
                        "survey_ci_high": [0.7], "difference": [0.1],
                        "admin_within_survey_ci": [True], "survey_status": ["suppressed"]})
    out = suppress_coherence(coh)
    assert out[["survey_estimate", "survey_ci_low", "survey_ci_high",
                "difference"]].isna().all(axis=None)
    assert out["admin_within_survey_ci"].iloc[0] is None
    assert set(gate({"coherence": coh, "other": coh})) == {"coherence", "other"}


def _admin() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    services = pd.DataFrame({
        "service_id": ["tax", "grant", "vat"], "label_en": ["Tax", "Grant", "VAT"],
        "ministry": ["Finance", "Education", "Finance"],
        "audience": ["individuals", "individuals", "companies"]})
    rows = [("tax", "online", 40, "2026-02-01"), ("tax", "mail", 60, "2026-02-01"),
            ("grant", "online", 70, "2026-02-01"),
            ("vat", "online", 80, "2026-02-01"), ("vat", "mail", 20, "2026-02-01"),
            ("vat", "counter", 10, "2026-02-01"), ("vat", "phone", 0, "2026-02-01"),
            ("vat", "online", 90, "2026-06-30"), ("vat", "mail", 20, "2026-06-30"),
            ("vat", "counter", 10, "2026-06-30"), ("vat", "phone", 0, "2026-06-30")]
    counts = pd.DataFrame([{"service_id": s, "year": 2025, "channel": c, "count": n,
                            "date_received": d, "revised": int(d == "2026-06-30"),
                            "supplier": "x"} for s, c, n, d in rows])
    targets = pd.DataFrame({"service_id": ["tax", "grant", "vat"], "year": 2025,
                            "target": [0.5, np.nan, 0.7], "online_only": [False, True, False],
                            "source": "plan", "source_date": "2023-01-01"})
    return counts, services, targets


def test_targets_online_only_and_unreported_channels() -> None:
    counts, services, targets = _admin()
    up = digital_uptake(counts, services, 2025, targets)
    svc = up[up["level"] == "service"].set_index("service_id")
    assert svc.loc["tax", "target_status"] == "not met"
    assert svc.loc["grant", "target_status"] == "not applicable (online-only service)"
    assert np.isnan(svc.loc["grant", "target"])
    assert svc.loc["vat", "target_status"] == "met"
    # tax reports online and mail only: counter and phone are missing, never 0
    assert np.isnan(svc.loc["tax", "phone"]) and np.isnan(svc.loc["tax", "counter"])
    assert bool(svc.loc["tax", "partial_channels"])
    assert svc.loc["tax", "channels_reported"] == "online, mail"
    assert not bool(svc.loc["grant", "partial_channels"])  # online only: nothing missing
    # the latest vintage is used, flagged revised; a reported 0 stays 0
    assert svc.loc["vat", "online"] == 90 and bool(svc.loc["vat", "revised"])
    assert svc.loc["vat", "phone"] == 0
    aud = up[up["level"] == "audience"].set_index("audience")
    assert aud.loc["individuals", "uptake"] == pytest.approx(110 / 170)
    assert aud.loc["companies", "uptake"] == pytest.approx(90 / 120)
    total = up[up["level"] == "all"].iloc[0]
    assert total["uptake"] == pytest.approx(200 / 290)
    assert "individuals' services: 2 services" in total["composition"]
    assert "companies' services: 1 services" in total["composition"]
    assert total["target_status"] == "not applicable (aggregate)"
    # a channel no service of the aggregate reports is missing there too
    fin = up[(up["level"] == "ministry") & (up["label_en"] == "Finance")].iloc[0]
    assert fin["phone"] == 0
    edu = up[(up["level"] == "ministry") & (up["label_en"] == "Education")].iloc[0]
    assert np.isnan(edu["mail"])


def test_revisions_show_what_changed_when_and_by_how_much() -> None:
    counts, _, _ = _admin()
    rev = revisions(counts)
    assert rev[["service_id", "channel"]].values.tolist() == [["vat", "online"]]
    r = rev.iloc[0]
    assert (r["first_received"], r["revised_received"]) == ("2026-02-01", "2026-06-30")
    assert (r["count_first"], r["count_revised"], r["change"]) == (80, 90, 10)
    assert r["relative_change"] == pytest.approx(0.125)
    assert r["uptake_first"] == pytest.approx(80 / 110)
    assert r["uptake_revised"] == pytest.approx(90 / 120)
    assert len(latest_vintage(counts)) == 7
    assert revisions(counts[counts["date_received"] == "2026-02-01"]).empty


def test_targets_file_errors_name_the_cell(tmp_path: Path) -> None:
    assert load_targets(tmp_path).empty
    (tmp_path / "targets.csv").write_text(
        "service_id,year,target,online_only,source,source_date\n"
        "tax,2025,1.5,0,plan,2023-01-01\n", encoding="utf-8")
    with pytest.raises(BarometerError) as err:
        load_targets(tmp_path)
    assert "row 2, column target" in str(err.value) and "1.5" in str(err.value)
    (tmp_path / "targets.csv").write_text(
        "service_id,year,target,online_only,source,source_date\n"
        "tax,2025,0.5,0,plan,2023-01-01\ngrant,2025,,1,,\n", encoding="utf-8")
    t = load_targets(tmp_path)
    assert t["online_only"].tolist() == [False, True] and np.isnan(t["target"].iloc[1])


def test_driver_references_follow_the_codebook_order() -> None:
    col = pd.Series(["250+", "50-249", "0", "10-49", "1-9"])
    ordered = _catalogue_order(col, ("0", "1-9", "10-49", "50-249", "250+"))
    assert list(ordered.cat.categories) == ["0", "1-9", "10-49", "50-249", "250+"]
    assert _catalogue_order(col, None).tolist() == col.tolist()
