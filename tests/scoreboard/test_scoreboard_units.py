"""Units of the scoreboard stages: indicators, publication rules, admin join, trends,
open data and atomic publication."""

from __future__ import annotations

import json
from dataclasses import replace as dataclasses_replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from barometer.publish.opendata import (
    PublishError,
    publish_atomically,
    validate_package,
    write_open_data,
)
from barometer.scoreboard.admin import coherence, digital_uptake
from barometer.scoreboard.indicators import PublicationRules, load_catalogue, load_weighting
from barometer.scoreboard.rules import publication_status, suppress
from barometer.scoreboard.trends import trends


def test_catalogue_and_weighting_spec_load() -> None:
    cat = load_catalogue()
    assert len(cat.for_population("individuals")) >= 7
    assert len(cat.for_population("companies")) >= 5
    assert cat.rules.min_n == 30
    specs = load_weighting()
    assert set(specs) == {"individuals", "companies"}
    assert "sex*age_band" in specs["individuals"].margins


def test_indicator_variable_handles_missing_and_filters() -> None:
    cat = load_catalogue()
    frame = pd.DataFrame({"online": [1, 2, 3, 97, 98, 99], "satis": [1, 4, 97, 97, 98, 2]})
    users = cat.get("online_users").variable(frame)
    np.testing.assert_array_equal(users, [1, 1, 0, np.nan, np.nan, np.nan])
    everyone = cat.get("online_all").variable(frame)
    np.testing.assert_array_equal(everyone, [1, 1, 0, 0, np.nan, np.nan])
    score = cat.get("satisfaction_score").variable(frame)
    np.testing.assert_array_equal(score, [4, 1, np.nan, np.nan, np.nan, 3])


def test_publication_rules() -> None:
    rules = PublicationRules()
    assert publication_status(29, 0.01, rules)[0] == "suppressed"
    assert publication_status(100, 0.40, rules)[0] == "suppressed"
    assert publication_status(100, 0.20, rules) == ("caution", "CV > 16.5%")
    assert publication_status(100, 0.05, rules)[0] == "published"


def _counts() -> tuple[pd.DataFrame, pd.DataFrame]:
    services = pd.DataFrame({
        "service_id": ["tax", "car", "vat"], "label_en": ["Tax", "Car", "VAT"],
        "ministry": ["Finance", "Interior", "Finance"], "audience": ["ind", "ind", "co"],
        "target_2016": [0.5, 0.9, 0.8], "survey_item": ["svc_tax", "", None],
    })
    rows = []
    for sid, online, other in (("tax", 40, 60), ("vat", 90, 10)):
        for ch, c in (("online", online), ("mail", other), ("counter", 0), ("phone", 0)):
            rows.append({"service_id": sid, "year": 2025, "channel": ch, "count": c,
                         "revised": "1" if sid == "vat" else "0", "supplier": "S",
                         "date_received": "2026-01-01"})
    return pd.DataFrame(rows), services


def test_uptake_missing_revised_and_aggregates() -> None:
    counts, services = _counts()
    targets = pd.DataFrame({"service_id": ["tax", "car", "vat"], "year": 2025,
                            "target": [0.5, 0.9, 0.8], "online_only": False,
                            "source": "plan", "source_date": "2016-01-01"})
    up = digital_uptake(counts, services, 2025, targets).set_index(["level", "label_en"])
    assert up.loc[("service", "Tax"), "uptake"] == pytest.approx(0.4)
    assert up.loc[("service", "Car"), "status"] == "missing"
    assert np.isnan(up.loc[("service", "Car"), "uptake"])  # never a silent zero
    assert bool(up.loc[("service", "VAT"), "revised"])
    assert up.loc[("ministry", "Finance"), "uptake"] == pytest.approx(130 / 200)
    assert up.loc[("all", "all services"), "total"] == 200
    assert up.loc[("service", "Tax"), "target_status"] == "not met"
    assert up.loc[("service", "VAT"), "target_status"] == "met"
    assert up.loc[("service", "Car"), "target_status"] == "not applicable (no count)"


def test_coherence_table() -> None:
    counts, services = _counts()
    up = digital_uptake(counts, services, 2025)
    est = pd.DataFrame({"indicator": ["tax_online"], "by": ["all"], "estimate": [0.45],
                        "ci_low": [0.38], "ci_high": [0.52], "status": ["published"]})
    coh = coherence(up, est, services, {"svc_tax": "tax_online"})
    row = coh.iloc[0]
    assert len(coh) == 1 and row["difference"] == pytest.approx(0.05)
    assert row["admin_within_survey_ci"]


def test_trends_independent_samples() -> None:
    base = {"indicator": "x", "population": "individuals", "basis": "individuals",
            "by": "all", "domain": "all", "status": "published"}
    series = pd.DataFrame([{**base, "year": 2023, "estimate": 0.5, "se": 0.03},
                           {**base, "year": 2024, "estimate": 0.55, "se": 0.04},
                           {**base, "year": 2025, "estimate": 0.60, "se": 0.03}])
    t = trends(series, 2025).set_index("reference")
    assert t.loc["previous", "change"] == pytest.approx(0.05)
    assert t.loc["previous", "se"] == pytest.approx(0.05)
    assert t.loc["first", "change"] == pytest.approx(0.10)
    z = 0.10 / np.sqrt(0.03**2 + 0.03**2)
    assert t.loc["first", "p_value"] == pytest.approx(2 * stats.norm.sf(z), rel=1e-12)


def test_open_data_validates_and_suppresses(tmp_path) -> None:  # type: ignore[no-untyped-def]
    est = pd.DataFrame({"indicator": ["a", "b"], "by": ["all", "all"], "domain": ["all"] * 2,
                        "estimate": [0.5, 0.6], "se": [0.01, 0.3], "n": [100, 10],
                        "status": ["published", "suppressed"], "rule": ["ok", "n < 30"]})
    pkg = write_open_data(tmp_path, {"estimates": suppress(est)}, name="t", title="t",
                          description="t")
    validate_package(pkg)
    back = pd.read_csv(tmp_path / "estimates.csv")
    assert np.isnan(back.loc[1, "estimate"]) and back.loc[1, "n"] == 10
    desc = json.loads(pkg.read_text())
    fields = desc["resources"][0]["schema"]["fields"]
    assert all(f["description"] for f in fields)


def test_atomic_publication_refuses_to_overwrite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "2025"
    publish_atomically(out, [lambda f: (f / "a.txt").write_text("one")])
    with pytest.raises(PublishError, match="already published"):
        publish_atomically(out, [lambda f: (f / "a.txt").write_text("two")])
    assert (out / "a.txt").read_text() == "one"

    def broken(f):  # type: ignore[no-untyped-def]
        (f / "a.txt").write_text("three")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        publish_atomically(out, [broken], force=True)
    assert (out / "a.txt").read_text() == "one"  # nothing half-written
    assert [p.name for p in tmp_path.iterdir()] == ["2025"]
    publish_atomically(out, [lambda f: (f / "a.txt").write_text("four")], force=True)
    assert (out / "a.txt").read_text() == "four"


def test_driver_models_table() -> None:
    from barometer import Design
    from barometer.scoreboard.indicators import Catalogue, Driver
    from barometer.scoreboard.populations import WeightedPopulation, estimate_drivers
    from barometer.survey.regression import regress

    rng = np.random.default_rng(5)
    n = 400
    frame = pd.DataFrame({
        "age": rng.choice(["18-34", "35-64", "65+"], n),
        "use": rng.choice(["daily", "rare"], n, p=[0.95, 0.05]),  # "rare": < 30 answers
        "w": rng.uniform(1, 3, n),
    })
    logit = 1.0 - 1.2 * (frame["age"] == "65+") - 0.8 * (frame["use"] == "rare")
    frame["online"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int) + 1
    frame.loc[:4, "online"] = 98  # don't know: out of the model
    cat = load_catalogue()
    ind = dataclasses_replace(cat.get("online_all"), item="online", codes=(2,))
    cat = Catalogue((ind,), {}, cat.rules, 1, (Driver("d", ind.id, ("age", "use")),))
    design = Design.from_frame(frame, weights="w")
    table = estimate_drivers({"individuals": WeightedPopulation(
        "individuals", design, None, None)}, cat)  # type: ignore[arg-type]
    assert list(table["term"]) == ["(Intercept)", "age35-64", "age65+", "userare"]
    assert list(table["reference_category"]) == ["", "18-34", "18-34", "daily"]
    np.testing.assert_allclose(table["odds_ratio"], np.exp(table["estimate"]))
    fit = regress(design.with_weights(design.weights, "y", data=frame.assign(
        y=np.where(frame["online"] == 98, np.nan, frame["online"] == 2))),
        "y ~ age + use", family="binomial")
    np.testing.assert_allclose(table["se"], fit.se, rtol=1e-12)
    assert (table["n"] == n - 5).all()
    rare = table["term"] == "userare"
    assert table.loc[rare, "n_level"].item() < cat.rules.min_n
    assert table.loc[rare, "status"].item() == "suppressed"
    assert (table.loc[~rare, "status"] == "published").all()
    published = suppress(table)
    assert published.loc[rare, "odds_ratio"].isna().all()
    assert published.loc[~rare, "odds_ratio"].notna().all()
    # the covariate's Wald test: one p-value per covariate
    assert table.groupby("covariate")["covariate_p_value"].nunique().max() <= 1
