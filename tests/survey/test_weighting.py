"""Nonresponse adjustment, trimming and weighting diagnostics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barometer import CalibrationError, Design, DesignError, calibrate, mean, with_replicates
from barometer.survey.weighting import adjust_nonresponse, diagnostics, trim

POP = {"E": 4421, "H": 755, "M": 1018}


@pytest.fixture
def strat(apistrat: pd.DataFrame) -> Design:
    rng = np.random.default_rng(11)
    data = apistrat.assign(resp=rng.uniform(size=len(apistrat)) < 0.8)
    return Design.from_frame(data, strata="stype", weights="pw")


def test_nonresponse_adjustment_preserves_group_totals(strat: Design) -> None:
    adj = adjust_nonresponse(strat, "resp", "stype")
    for g in ("E", "H", "M"):
        rows = (strat.data["stype"] == g).to_numpy()
        assert adj.weights[rows].sum() == pytest.approx(strat.weights[rows].sum(), rel=1e-12)
    assert (adj.weights[~strat.data["resp"].to_numpy()] == 0).all()


def test_nonresponse_linearisation_matches_replicates(strat: Design) -> None:
    # the linearised SE accounts for the estimated response rates: close to the jackknife
    adj = adjust_nonresponse(strat, "resp", "stype")
    lin = mean(adj, "api00").value(field="se")
    jk = mean(with_replicates(adj, "JKn"), "api00").value(field="se")
    assert lin == pytest.approx(jk, rel=0.05)


def test_group_without_respondent_is_named(strat: Design) -> None:
    data = strat.data.assign(resp=strat.data["stype"] != "H")
    d = Design.from_frame(data, strata="stype", weights="pw")
    with pytest.raises(DesignError, match="stype='H'"):
        adjust_nonresponse(d, "resp", "stype")


def test_trimming_keeps_margins_and_bounds(apiclus1: pd.DataFrame) -> None:
    rng = np.random.default_rng(5)
    data = apiclus1.assign(pw=apiclus1["pw"] * rng.lognormal(0, 0.6, len(apiclus1)))
    d = Design.from_frame(data, ids="dnum", weights="pw")
    cal = calibrate(d, categorical={"stype": POP}, total=6194, method="raking")
    t = trim(cal, lower=0.5, upper=2.0)
    m = cal.weights.mean()  # the bounds are multiples of the mean weight before trimming
    assert t.weights.max() <= 2.0 * m * (1 + 1e-12) and t.weights.min() >= 0.5 * m * (1 - 1e-12)
    assert t.weights.mean() == pytest.approx(m, rel=1e-7)
    sums = pd.Series(t.weights).groupby(data["stype"].to_numpy()).sum()
    for k, v in POP.items():
        assert sums[k] == pytest.approx(v, rel=1e-7)
    assert cal.weights.max() > 2.0 * m  # the bound did bind


def test_trimming_that_cannot_hold_with_margins(apiclus1: pd.DataFrame) -> None:
    d = Design.from_frame(apiclus1, ids="dnum", weights="pw")
    cal = calibrate(d, categorical={"stype": {"E": 5000, "H": 100, "M": 1094}}, total=6194)
    with pytest.raises(CalibrationError, match="cannot both hold"):
        trim(cal, lower=0.9, upper=1.1)


def test_trimming_without_calibration_preserves_total(apistrat: pd.DataFrame) -> None:
    d = Design.from_frame(apistrat, strata="stype", weights="pw")
    t = trim(d, upper=1.2)
    assert t.weights.sum() == pytest.approx(d.weights.sum(), rel=1e-10)
    assert t.weights.max() <= 1.2 * d.weights.mean() * (1 + 1e-9)


def test_diagnostics(apiclus1: pd.DataFrame) -> None:
    d = Design.from_frame(apiclus1, ids="dnum", weights="pw")
    cal = calibrate(d, categorical={"stype": POP}, total=6194, method="raking")
    diag = diagnostics(cal)
    assert (diag.margins["rel_diff"].abs() < 1e-8).all()
    w = diag.weights.iloc[0]
    assert w["kish_deff"] == pytest.approx(1 + (cal.weights.std() / cal.weights.mean()) ** 2)
    assert w["n_eff"] == pytest.approx(len(cal.weights) / w["kish_deff"])
    assert "Kish deff" in diag.summary() and len(diag.to_frame()) > 10
