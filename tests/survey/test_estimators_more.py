"""Several y and by-variables, domain= subsets, var, totals of every level, proportion
intervals (likelihood, asin, wilson) and the models' domain=, Poisson and C() terms."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from barometer import Design, estimate, regress, var, with_replicates
from barometer.survey.ci import fmm_spline
from barometer.survey.errors import EstimationError


@pytest.fixture
def strat(apistrat: pd.DataFrame) -> Design:
    return Design.from_frame(apistrat, strata="stype", weights="pw", fpc="fpc")


def test_two_by_variables_are_the_combinations_present(strat: Design) -> None:
    t = estimate(strat, "mean", "api00", by=["stype", "sch.wide"]).to_frame()
    assert t["domain"].tolist() == ["E|No", "E|Yes", "H|No", "H|Yes", "M|No", "M|Yes"]
    assert t["by"].iloc[0] == "stype|sch.wide"
    # R: svyby(~api00, ~stype + sch.wide, dstrat, svymean)
    assert t["estimate"].iloc[0] == pytest.approx(626.777777777778, rel=1e-12)
    assert t["se"].iloc[0] == pytest.approx(39.540025922811, rel=1e-9)


def test_domain_keeps_the_design_whole(strat: Design, apistrat: pd.DataFrame) -> None:
    sub = estimate(strat, "mean", "api00", domain={"stype": "E"}).to_frame().iloc[0]
    by = estimate(strat, "mean", "api00", by="stype").to_frame().iloc[0]
    assert sub["estimate"] == pytest.approx(by["estimate"], rel=1e-13)
    assert sub["se"] == pytest.approx(by["se"], rel=1e-12)
    mask = (apistrat["stype"] == "E").to_numpy()
    again = estimate(strat, "mean", "api00", domain=mask).to_frame().iloc[0]
    assert again["se"] == pytest.approx(sub["se"])
    with pytest.raises(EstimationError, match="has no rows"):
        estimate(strat, "mean", "api00", domain={"stype": "X"})
    with pytest.raises(EstimationError, match="boolean mask"):
        estimate(strat, "mean", "api00", domain=np.ones(3, bool))


def test_several_variables_stack(strat: Design) -> None:
    t = estimate(strat, "mean", ["api00", "api99"], by="stype").to_frame()
    assert t["variable"].tolist() == ["api00"] * 3 + ["api99"] * 3


def test_var_is_svyvar(apiclus1: pd.DataFrame) -> None:
    d = Design.from_frame(apiclus1, ids="dnum", weights="pw", fpc="fpc")
    r = var(d, "api00").to_frame().iloc[0]
    assert r["estimate"] == pytest.approx(11182.8227946916, rel=1e-12)  # R svyvar
    assert r["se"] == pytest.approx(1386.41394291426, rel=1e-9)
    jk = var(with_replicates(d, "JK1"), "enroll").to_frame().iloc[0]
    assert jk["se"] > 0


def test_totals_of_every_level(apiclus1: pd.DataFrame) -> None:
    d = Design.from_frame(apiclus1, ids="dnum", weights="pw", fpc="fpc")
    t = estimate(d, "total", "stype").to_frame()
    assert t["level"].tolist() == ["E", "H", "M"]
    assert t["estimate"].sum() == pytest.approx(d.weights.sum())
    one = estimate(d, "total", "stype", level="H").to_frame()
    assert one["estimate"].iloc[0] == t["estimate"].iloc[1]


def test_proportion_intervals_of_survey_4_5(strat: Design, apiclus1: pd.DataFrame) -> None:
    w = estimate(strat, "proportion", "awards", level="Yes", ci="wilson").to_frame().iloc[0]
    assert (w["ci_low"], w["ci_high"]) == pytest.approx((0.568978594491136,
                                                         0.703456813580702), rel=1e-9)
    d = Design.from_frame(apiclus1, ids="dnum", weights="pw", fpc="fpc")
    lik = estimate(d, "proportion", "sch.wide", level="Yes", ci="likelihood").to_frame()
    assert (lik["ci_low"].iloc[0], lik["ci_high"].iloc[0]) == pytest.approx(
        (0.826288241963576, 0.913694491892495), rel=1e-9)
    a = estimate(strat, "proportion", "awards", level="Yes", ci="asin").to_frame().iloc[0]
    p, se, t = a["estimate"], a["se"], stats.t.ppf(0.975, strat.degf())
    half = t * se / (2 * np.sqrt(p * (1 - p)))
    assert a["ci_low"] == pytest.approx(np.sin(np.arcsin(np.sqrt(p)) - half) ** 2, rel=1e-6)


def test_fmm_spline_matches_r() -> None:
    x = np.array([1, 2, 3, 4.5, 5, 7.0])
    y = np.array([0.1, 0.5, 0.2, 0.9, 1.3, 0.8])
    got = fmm_spline(x, y, np.linspace(1, 7, 10))
    # R: spline(x, y, n = 10)$y
    want = [0.1, 0.51358754485191283, 0.39959982971477237, 0.2, 0.34018731375053202,
            0.76821991120841648, 1.3, 1.66266253116827833, 1.58290944474852546, 0.8]
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_regress_domain_poisson_and_factor_terms(strat: Design, apiclus1: pd.DataFrame
                                                 ) -> None:
    fit = regress(strat, "api00 ~ ell + meals", domain={"stype": "E"}).to_frame()
    assert fit.set_index("term").loc["meals", "estimate"] == pytest.approx(
        -3.45351751250241, rel=1e-9)
    d = Design.from_frame(apiclus1, ids="dnum", weights="pw", fpc="fpc")
    pois = regress(d, "api.stu ~ meals + stype", family="poisson").to_frame().set_index("term")
    assert pois.loc["stypeH", "se"] == pytest.approx(0.289534924455643, rel=1e-7)
    quasi = regress(d, "api.stu ~ meals + stype", family="quasipoisson").to_frame()
    np.testing.assert_allclose(quasi["se"], pois["se"].to_numpy())
    coded = regress(d, "api00 ~ factor(cnum)").to_frame()
    assert coded["term"].iloc[1].startswith("factor(cnum)")
    with pytest.raises(EstimationError, match=r"log\(\) in a model formula"):
        regress(d, "api00 ~ log(enroll)")
    with pytest.raises(EstimationError, match="level="):
        regress(d, "stype ~ meals", family="binomial")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        regress(with_replicates(d, "JK1"), "api.stu ~ meals", family="poisson")
