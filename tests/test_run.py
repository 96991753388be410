"""End to end: the annual run on the embedded editions, and the CLI."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from barometer.cli import app
from barometer.run import RunConfig, RunResult, compute, write_private_weights
from barometer.scoreboard.indicators import load_catalogue
from barometer.scoreboard.load import load_truth

runner = CliRunner()


@pytest.fixture(scope="module")
def result() -> RunResult:
    return compute(RunConfig())


def test_every_indicator_and_domain_is_present_or_suppressed(result: RunResult) -> None:
    cat = load_catalogue()
    est = result.estimates
    for ind in cat.indicators:
        rows = est[est["indicator"] == ind.id]
        assert set(rows["by"]) >= {"all", *cat.domains[ind.population]}, ind.id
        for by in cat.domains[ind.population]:
            levels = result.weighted[ind.population].design.data[by].dropna().unique()
            got = set(rows.loc[rows["by"] == by, "domain"])
            assert got <= set(map(str, levels)), (ind.id, by)
    assert est["status"].isin(["published", "caution", "suppressed", "undefined"]).all()
    assert est["rule"].str.len().gt(0).all()
    small = est[est["n"] < 30]
    assert small["status"].isin(["suppressed", "undefined"]).all()
    opendata = result.tables()["estimates"]
    assert opendata.loc[opendata["status"] == "suppressed", "estimate"].isna().all()


def test_coherence_has_every_linked_service(result: RunResult) -> None:
    services = result.edition.services
    linked = set(services.loc[services["survey_item"].fillna("") != "", "service_id"])
    assert linked and set(result.coherence["service_id"]) == linked


def test_admin_uptake_flags_missing_and_revised(result: RunResult) -> None:
    up = result.admin_uptake
    services = up[up["level"] == "service"]
    assert set(services["service_id"]) == set(result.edition.services["service_id"])
    missing = services[services["status"] == "missing"]
    assert missing["uptake"].isna().all()  # never a silent zero
    assert ((up["level"] == "all").sum()) == 1


def test_trends_since_previous_and_first(result: RunResult) -> None:
    t = result.trends
    assert set(t["reference"]) == {"previous", "first"}
    assert set(t["reference_year"]) == {result.year - 1, min(result.series["year"])}
    assert np.allclose(t["change"], t["estimate"] - t["reference_estimate"], equal_nan=True)


def _truth_share(truth: pd.DataFrame, ind) -> float:  # type: ignore[no-untyped-def]
    basis = "persons" if ind.population == "individuals" else ind.basis
    rows = truth[(truth["population"] == ind.population) & (truth["weighting"] == basis)
                 & (truth["item"] == ind.item) & (truth["domain"] == "all")
                 & truth["code"].isin(ind.codes)]
    return float(rows["share"].sum())


def test_weighted_estimates_are_closer_to_the_truth(result: RunResult) -> None:
    truth = load_truth(result.year)
    overall = result.estimates[result.estimates["by"] == "all"].set_index("indicator")
    checked = closer = 0
    for ind in load_catalogue().indicators:
        if not ind.headline or ind.kind != "share" or ind.not_asked == "zero":
            continue
        target = _truth_share(truth, ind)
        unweighted = np.nanmean(ind.variable(result.weighted[ind.population].design.data))
        weighted = overall.loc[ind.id, "estimate"]
        # never farther than the unweighted mean (beyond a tenth of a point: where the
        # weighting variables barely predict the item, as for gave_up, both are equal)
        assert abs(weighted - target) < abs(unweighted - target) + 1e-3, ind.id
        closer += abs(weighted - target) < abs(unweighted - target)
        checked += 1
    assert checked >= 8 and closer >= checked - 1


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cli_run_two_years_refuses_to_overwrite(tmp_path: Path) -> None:
    from frictionless import validate

    for year in (2024, 2025):
        out = tmp_path / str(year)
        res = runner.invoke(app, ["run", "--year", str(year), "--out", str(out)])
        assert res.exit_code == 0, res.output
        for stem in ("estimates", "admin_uptake", "coherence", "trends",
                     "weighting_diagnostics", "small_area_estimates"):
            assert (out / "opendata" / f"{stem}.csv").exists()
            assert (out / "opendata" / f"{stem}.parquet").exists()
        assert validate(str(out / "opendata" / "datapackage.json")).valid
        assert (out / "run_record.json").exists()
    before = _digest(tmp_path / "2025")
    again = runner.invoke(app, ["run", "--year", "2025", "--out", str(tmp_path / "2025")])
    assert again.exit_code == 1 and "--force" in again.output
    assert _digest(tmp_path / "2025") == before
    forced = runner.invoke(app, ["run", "--year", "2025", "--out", str(tmp_path / "2025"),
                                 "--force"])
    assert forced.exit_code == 0, forced.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2024", "2025"]


def test_bootstrap_run_matches_linearisation_closely(result: RunResult,
                                                    tmp_path: Path) -> None:
    """The whole chain with re-calibrated bootstrap replicates (drivers included): same
    point estimates, SEs of the same size as linearisation's."""
    import re
    import warnings

    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        boot = compute(RunConfig(variance="bootstrap", replicates=60, seed=3))
    # replicate fallbacks (if any: with the default data, every replicate meets the bounds)
    # are warned, counted in the run record and stated in the note

    from barometer.publish.note import _variance

    said = sum(int(m.group(1)) for w in got
               if (m := re.match(r"(\d+) of 60 replicates", str(w.message))))
    fallbacks = boot.record["replicate_fallbacks"]
    assert sum(f["relaxed"] for f in fallbacks.values()) == said
    assert all(f["replicates"] == 60 for f in fallbacks.values())
    text = _variance(boot, boot.estimates)["fallback_text"]
    assert f"{fallbacks['individuals']['relaxed']} of 60 replicates" in text
    a = result.estimates.set_index(["indicator", "by", "domain"])
    b = boot.estimates.set_index(["indicator", "by", "domain"])
    np.testing.assert_allclose(b["estimate"], a["estimate"], rtol=1e-10)
    assert (b["method"] == "replicates (bootstrap)").all()
    overall = a["n"].ge(300) & (a.index.get_level_values("by") == "all")
    ratio = (b["se"] / a["se"])[overall]
    assert ratio.between(0.7, 1.4).all(), ratio.describe()
    drivers = boot.drivers.set_index(["model", "term"])
    lin = result.drivers.set_index(["model", "term"])
    np.testing.assert_allclose(drivers["estimate"], lin["estimate"], rtol=1e-8)
    shown = drivers["status"] == "published"
    assert np.isfinite(drivers.loc[shown, "se"]).all()
    assert (drivers.loc[shown, "se"] / lin.loc[shown, "se"]).between(0.6, 1.6).all()
    # auditors get the unit-level final and replicate weights, outside the open data
    private = tmp_path / "private"
    write_private_weights(boot, private)
    for pop, wp in boot.weighted.items():
        w = pd.read_csv(private / f"weights_{pop}.csv")
        np.testing.assert_allclose(w["final_weight"], wp.design.weights, rtol=1e-9)
        np.testing.assert_allclose(w["starting_weight"], wp.design.base_weights, rtol=1e-9)
        reps = pd.read_parquet(private / f"replicate_weights_{pop}.parquet")
        assert list(reps.columns) == ["id", *(f"r{j}" for j in range(1, 61))]
        np.testing.assert_array_equal(reps.drop(columns="id").to_numpy(),
                                      wp.design.replicates.weights)
        assert reps["id"].is_unique and (reps["id"] == w["id"].astype(str)).all()


def test_small_area_estimates_resource(result: RunResult) -> None:
    from barometer import fay_herriot
    from barometer.scoreboard.small_area import MODELS

    t = result.tables()["small_area_estimates"]
    assert len(t) == 13 * len(MODELS)
    for col in ("indicator", "region", "n", "direct", "direct_se", "smoothed_var", "synthetic",
                "eblup", "mse", "ci_low", "ci_high", "shrinkage", "method"):
        assert col in t.columns, col
    assert t["method"].str.startswith("model-based").all()
    assert t["status"].isin(["published", "caution", "suppressed"]).all()
    assert t.loc[t["status"] == "suppressed", "eblup"].isna().all()
    shown = t[t["status"] != "suppressed"]
    assert ((shown["ci_low"] >= 0) & (shown["ci_high"] <= 1)).all()
    assert (shown["ci_low"] <= shown["eblup"]).all() and (shown["eblup"] <= shown["ci_high"]).all()
    # the bar of issue 17: refitting from the published columns gives the published numbers
    for ind, cov in MODELS.items():
        rows = t[t["indicator"] == ind]
        method = "FH" if "(FH)" in rows["method"].iloc[0] else "REML"
        fit = fay_herriot(rows, "direct", "smoothed_var", list(cov), area="region",
                          method=method)
        ok = rows["status"] != "suppressed"
        np.testing.assert_allclose(fit.eblup[ok], rows.loc[ok, "eblup"], rtol=1e-10)
        np.testing.assert_allclose(fit.mse[ok], rows.loc[ok, "mse"], rtol=1e-10)
    assert set(result.record["small_area"]["diagnostics"]) == set(MODELS)
