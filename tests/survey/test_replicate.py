"""Replicate designs: jackknife, BRR/Fay, bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barometer import Design, DesignError, calibrate, mean, total, with_replicates


def test_jk1_total_variance_equals_linearisation_without_fpc(apiclus1: pd.DataFrame) -> None:
    # for a total, the delete-one jackknife of an unstratified cluster sample is exact
    d = Design.from_frame(apiclus1, ids="dnum", weights="pw")
    lin = total(d, "enroll").value(field="se")
    jk = total(with_replicates(d, "JK1"), "enroll").value(field="se")
    assert jk == pytest.approx(lin, rel=1e-10)


def test_jkn_total_variance_equals_linearisation(apistrat: pd.DataFrame) -> None:
    d = Design.from_frame(apistrat, strata="stype", weights="pw")
    lin = total(d, "enroll").value(field="se")
    jk = total(with_replicates(d, "JKn"), "enroll").value(field="se")
    assert jk == pytest.approx(lin, rel=1e-10)


def _pairs() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n_strata, per_psu = 7, 4
    n = n_strata * 2 * per_psu
    return pd.DataFrame({"h": np.repeat(np.arange(n_strata), 2 * per_psu),
                         "psu": np.repeat(np.arange(2 * n_strata), per_psu),
                         "w": rng.uniform(1, 5, n), "y": rng.normal(size=n)})


def test_brr_total_equals_linearisation_and_fay_rescales() -> None:
    df = _pairs()
    d = Design.from_frame(df, ids="psu", strata="h", weights="w")
    lin = total(d, "y").value(field="se")
    brr = with_replicates(d, "BRR")
    assert brr.replicates is not None and brr.replicates.n_replicates == 8
    assert total(brr, "y").value(field="se") == pytest.approx(lin, rel=1e-10)
    fay = total(with_replicates(d, "Fay", fay_rho=0.5), "y").value(field="se")
    assert fay == pytest.approx(lin, rel=1e-10)


def test_brr_needs_pairs(apistrat: pd.DataFrame) -> None:
    # strata of 100/50/50 schools are split into pairs (R's large = "split"); an odd one
    # cannot be
    odd = apistrat.iloc[1:]
    d = Design.from_frame(odd, strata="stype", weights="pw")
    with pytest.raises(DesignError, match="stratum E has 99"):
        with_replicates(d, "BRR")


def test_bootstrap_is_seeded_and_close_to_linearisation(apistrat: pd.DataFrame) -> None:
    d = Design.from_frame(apistrat, strata="stype", weights="pw")
    a = mean(with_replicates(d, "bootstrap", replicates=400, seed=7), "api00")
    b = mean(with_replicates(d, "bootstrap", replicates=400, seed=7), "api00")
    assert a.value(field="se") == b.value(field="se")
    lin = mean(d, "api00").value(field="se")
    assert a.value(field="se") == pytest.approx(lin, rel=0.15)


def test_replicates_are_recalibrated(apiclus1: pd.DataFrame) -> None:
    d = Design.from_frame(apiclus1, ids="dnum", weights="pw")
    pop = {"E": 4421, "H": 755, "M": 1018}
    rep = calibrate(with_replicates(d, "JK1"), categorical={"stype": pop}, method="raking")
    assert rep.replicates is not None
    for r in range(rep.replicates.n_replicates):
        sums = pd.Series(rep.replicates.weights[:, r]).groupby(d.data["stype"].to_numpy()).sum()
        for k, v in pop.items():
            assert sums[k] == pytest.approx(v, rel=1e-6)
    # and converting a calibrated design re-applies the calibration to every replicate
    rep2 = with_replicates(calibrate(d, categorical={"stype": pop}, method="raking"), "JK1")
    np.testing.assert_allclose(rep2.replicates.weights, rep.replicates.weights, rtol=1e-8)


def test_mse_option(apiclus1: pd.DataFrame) -> None:
    d = Design.from_frame(apiclus1, ids="dnum", weights="pw")
    a = mean(with_replicates(d, "JK1"), "api00").value(field="se")
    b = mean(with_replicates(d, "JK1", mse=True), "api00").value(field="se")
    assert b >= a
