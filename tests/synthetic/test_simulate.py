"""The simulation check's machinery (the validation runs are benchmarks/simulate_coverage.py)."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from barometer.cli import app
from barometer.scoreboard.indicators import Indicator
from barometer.synthetic import simulate as sim
from barometer.synthetic.population import adults_total, largest_remainder

LINE = re.compile(r"^coverage min \d+\.\d% max \d+\.\d% over \d+ estimates \(\d+ reps\)$")


@pytest.fixture(scope="module")
def small_run() -> sim.SimulationResult:
    return sim.simulate(reps=6, seed=7, jobs=1, population_size=30_000)


def test_seeded_runs_are_equal_whatever_the_number_of_jobs(small_run) -> None:  # type: ignore[no-untyped-def]
    again = sim.simulate(reps=6, seed=7, jobs=1, population_size=30_000)
    pd.testing.assert_frame_equal(small_run.estimates, again.estimates)
    pd.testing.assert_frame_equal(small_run.to_frame(), again.to_frame())
    seen: list[tuple[int, int]] = []
    two = sim.simulate(reps=6, seed=7, jobs=2, population_size=30_000,
                       progress=lambda d, n: seen.append((d, n)))
    pd.testing.assert_frame_equal(small_run.estimates, two.estimates)
    pd.testing.assert_frame_equal(small_run.to_frame(), two.to_frame())
    assert seen[0] == (0, 6) and seen[-1] == (6, 6)
    other = sim.simulate(reps=6, seed=8, jobs=1, population_size=30_000)
    assert not np.allclose(other.estimates["estimate"].head(8),
                           small_run.estimates["estimate"].head(8))


def test_result_covers_every_headline_indicator_overall_and_by_domain(small_run) -> None:  # type: ignore[no-untyped-def]
    t = small_run.to_frame()
    heads = [i.id for i in sim.headline_indicators()]
    assert list(dict.fromkeys(t["indicator"])) == heads
    per = t.groupby("indicator").size()
    assert (per == 1 + 5 + 4).all()  # overall, 5 age bands, 4 education levels
    assert list(t.columns) == sim.COVERAGE_COLUMNS
    assert t["reps"].max() == 6 - len(small_run.failures)
    assert t["coverage"].between(0, 1).all() and (t["emp_sd"] > 0).all()
    assert set(small_run.estimates["rep"]) <= set(range(6))


def test_coverage_table_on_a_toy_case_with_a_known_answer() -> None:
    truth = pd.DataFrame({"indicator": ["a", "a"], "by": ["all", "sex"],
                          "domain": ["all", "F"], "truth": [0.5, 0.2]})
    est = np.array([0.4, 0.5, 0.6, 0.7])
    rows = pd.DataFrame({
        "indicator": "a", "by": "all", "domain": "all", "estimate": est,
        "se": [0.1, 0.1, 0.2, 0.2], "ci_low": est - 0.15, "ci_high": est + 0.15, "n": 100})
    dom = pd.DataFrame({"indicator": "a", "by": "sex", "domain": "F",
                        "estimate": [0.2, np.nan], "se": 0.05, "ci_low": [0.25, np.nan],
                        "ci_high": [0.3, np.nan], "n": 10})
    t = sim.coverage_table(pd.concat([rows, dom], ignore_index=True), truth)
    a = t.iloc[0]
    # covered: 0.4 [.25,.55] yes, 0.5 yes, 0.6 [.45,.75] yes, 0.7 [.55,.85] no
    assert a["coverage"] == pytest.approx(0.75)
    assert a["coverage_mcse"] == pytest.approx(math.sqrt(0.75 * 0.25 / 4))
    assert a["mean_estimate"] == pytest.approx(0.55)
    assert a["bias"] == pytest.approx(0.05) and a["rel_bias"] == pytest.approx(0.1)
    sd = float(np.std(est, ddof=1))
    assert a["emp_sd"] == pytest.approx(sd)
    assert a["se_ratio"] == pytest.approx(0.15 / sd)
    assert a["bias_mcse"] == pytest.approx(sd / 2) and a["bias_z"] == pytest.approx(0.1 / sd)
    assert a["rmse"] == pytest.approx(math.sqrt(np.mean((est - 0.5) ** 2)))
    b = t.iloc[1]  # the missing estimate is left out; the interval misses the truth
    assert b["reps"] == 1 and b["coverage"] == 0.0 and b["coverage_mcse"] == 0.0
    assert sim.summary_line(t, 4) == "coverage min 0.0% max 75.0% over 2 estimates (4 reps)"


def test_summary_ends_with_the_coverage_line(small_run) -> None:  # type: ignore[no-untyped-def]
    text = small_run.summary()
    last = text.splitlines()[-1]
    assert LINE.match(last), last
    assert last == small_run.summary_line() and last.endswith("(6 reps)")
    assert "over 80 estimates" in last
    assert "Scenario mar" in text


def test_findings_in_french_carry_the_same_numbers(small_run) -> None:  # type: ignore[no-untyped-def]
    """The French findings (``simulation.json``'s ``findings_fr``, printed by the French
    note): the same sentences, numbers written the French way (``94,8 %``)."""
    en, fr = small_run.findings(), small_run.findings("fr")
    assert len(en) == len(fr) >= 3
    assert fr[0].startswith("Scénario mar : la réponse ne dépend que des variables de calage")
    number = r"[+-]?\d+(?:[.,]\d+)?"
    for e, f in zip(en, fr, strict=True):
        assert [x.replace(",", ".") for x in re.findall(number, f)] == re.findall(number, e), \
            (e, f)
        assert not re.search(r"\d\.\d", f), f  # no decimal point in French
    assert "couverture de " in fr[1] and "\u00a0%" in fr[1]


def test_true_values_use_the_indicator_definition() -> None:
    frame = pd.DataFrame({"proc": [1, 1, 2, 98, 1, 2], "age_band": ["a", "a", "a", "b", "b",
                                                                      "b"]})
    ind = Indicator(id="p", label_fr="", label_en="", population="individuals", item="proc",
                    kind="share", universe="all", codes=(1,))
    t = sim.true_values(frame, [ind], ["age_band"]).set_index(["by", "domain"])
    assert t.loc[("all", "all"), "truth"] == pytest.approx(3 / 5)  # 98 is item nonresponse
    assert t.loc[("age_band", "a"), "truth"] == pytest.approx(2 / 3)
    assert t.loc[("age_band", "b"), "truth"] == pytest.approx(1 / 2)
    assert t.loc[("age_band", "b"), "population_n"] == 2


def test_quota_sample_meets_the_quotas_and_follows_the_propensity() -> None:
    rng = np.random.default_rng(3)
    n_pop = 40_000
    frame = pd.DataFrame({"region": rng.choice(["r1", "r2", "r3"], n_pop, p=[.5, .3, .2]),
                          "high": rng.random(n_pop) < 0.5})
    log_rho = np.where(frame["high"], np.log(3.0), 0.0)
    s = sim.quota_sample(np.random.default_rng(4), frame.assign(uid=np.arange(n_pop)),
                         log_rho, n=2000)
    counts = frame["region"].value_counts().sort_index()
    quota = largest_remainder(counts.to_numpy(float), 2000)
    assert s["region"].value_counts().sort_index().tolist() == quota.tolist()
    assert s["uid"].is_unique and len(s) == 2000
    # successive sampling at a 5% fraction: inclusion nearly proportional to rho (3:1)
    assert 0.72 < s["high"].mean() < 0.78


def test_mar_propensity_uses_only_calibration_variables() -> None:
    assert set(sim.MAR_EFFECTS) <= {"sex", "age_band", "pcs", "region", "urban_size"}
    pop = sim.build_population(2025, 1, size=5_000)
    assert np.isfinite(sim.mar_log_propensity(pop.frame)).all()
    assert pop.margins.names == ["sex*age_band", "pcs", "region", "urban_size"]
    assert pop.margins.total == round(adults_total(2025))


def test_a_failing_sample_is_recorded_not_fatal(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = sim.one_sample

    def flaky(ctx, rep, seq):  # type: ignore[no-untyped-def]
        if rep == 1:
            raise sim.BarometerError("the margins and the trimming bounds cannot both hold")
        if rep == 2:
            warnings.warn("3 of 200 replicates were relaxed", stacklevel=1)
            warnings.warn("4 of 200 replicates were relaxed", stacklevel=1)
        return real(ctx, rep, seq)

    monkeypatch.setattr(sim, "one_sample", flaky)
    r = sim.simulate(reps=3, seed=7, jobs=1, population_size=30_000)
    assert [rep for rep, _ in r.failures] == [1]
    assert set(r.estimates["rep"]) == {0, 2} and r.to_frame()["reps"].max() == 2
    assert "1 of 3 samples could not be weighted" in r.summary()
    assert r.warnings == ((2, "N of N replicates were relaxed"),)  # one kind per sample
    assert "'N of N replicates were relaxed' in 1 samples" in r.summary()
    french = r.findings("fr")
    assert len(french) == len(r.findings())
    assert "1 des 3 échantillons n'ont pas pu être pondérés" in " ".join(french)
    assert "\u27e6en\u27e7'N of N replicates were relaxed'\u27e6/en\u27e7 dans 1 " \
           "échantillons" in french[-1]


def test_unknown_scenario_or_variance_is_refused() -> None:
    with pytest.raises(ValueError, match="scenario"):
        sim.simulate(reps=2, scenario="random")
    with pytest.raises(ValueError, match="variance"):
        sim.simulate(reps=2, variance="jackknife")


def test_cli_writes_the_table_the_note_reads_and_ends_with_the_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "simulation"
    result = CliRunner().invoke(app, ["simulate", "--reps", "3", "--jobs", "1", "--seed", "5",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert LINE.match(last) and last.endswith("(3 reps)")
    table = pd.read_csv(out / "coverage.csv")
    assert list(table.columns) == sim.COVERAGE_COLUMNS and len(table) == 80
    assert (out / "coverage.png").stat().st_size > 10_000
    assert (out / "simulation.json").is_file() and (out / "estimates.csv.gz").is_file()
    bad = CliRunner().invoke(app, ["simulate", "--scenario", "random", "--out", str(out)])
    assert bad.exit_code == 2
