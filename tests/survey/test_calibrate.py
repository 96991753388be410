"""Calibration: margins reproduced, raking = IPF, bounds, clear errors, variance record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barometer import CalibrationError, Design, calibrate, mean
from barometer.survey.calibrate import calibrations

POP_STYPE = {"E": 4421, "H": 755, "M": 1018}
POP_SW = {"No": 1072, "Yes": 5122}


@pytest.fixture
def clus(apiclus1: pd.DataFrame) -> Design:
    return Design.from_frame(apiclus1, ids="dnum", weights="pw", fpc="fpc")


def _margin(d: Design, col: str) -> dict[str, float]:
    return pd.Series(d.weights).groupby(d.data[col].astype(str).to_numpy()).sum().to_dict()


@pytest.mark.parametrize(("method", "bounds"), [("raking", None), ("linear", None),
                                                ("logit", (0.5, 2.0)),
                                                ("truncated", (0.5, 2.0))])
def test_calibrated_weights_reproduce_every_margin(clus: Design, method: str,
                                                   bounds: tuple | None) -> None:
    c = calibrate(clus, categorical={"stype": POP_STYPE, "sch.wide": POP_SW}, total=6194,
                  method=method, bounds=bounds, tol=1e-12)
    for col, pop in (("stype", POP_STYPE), ("sch.wide", POP_SW)):
        got = _margin(c, col)
        for k, v in pop.items():
            assert got[k] == pytest.approx(v, rel=1e-8)
    g = c.weights / clus.weights
    if bounds:
        assert g.min() >= bounds[0] - 1e-9 and g.max() <= bounds[1] + 1e-9
    assert calibrations(c)[-1].method == method


def test_raking_equals_iterative_proportional_fitting(clus: Design) -> None:
    c = calibrate(clus, categorical={"stype": POP_STYPE, "sch.wide": POP_SW}, method="raking",
                  tol=1e-13, max_iter=100)
    w = clus.weights.copy()
    for _ in range(500):
        for col, pop in (("stype", POP_STYPE), ("sch.wide", POP_SW)):
            cats = clus.data[col].astype(str).to_numpy()
            sums = pd.Series(w).groupby(cats).sum()
            w = w * np.array([pop[k] / sums[k] for k in cats])
    np.testing.assert_allclose(c.weights, w, rtol=1e-9)


def test_poststratification_is_cellwise_ratio(clus: Design) -> None:
    c = calibrate(clus, categorical={"stype": POP_STYPE}, method="poststratify")
    cats = clus.data["stype"].to_numpy()
    sums = pd.Series(clus.weights).groupby(cats).sum()
    expected = clus.weights * np.array([POP_STYPE[k] / sums[k] for k in cats])
    np.testing.assert_allclose(c.weights, expected, rtol=1e-12)


def test_crossed_margin_and_shares(clus: Design) -> None:
    cells = clus.data["stype"] + "*" + clus.data["sch.wide"]
    counts = (pd.Series(clus.weights).groupby(cells.to_numpy()).sum() * 1.1).to_dict()
    total = sum(counts.values())
    c = calibrate(clus, categorical={"stype*sch.wide": {k: v / total for k, v in
                                                       counts.items()}},
                  total=total, shares=True, method="linear")
    got = pd.Series(c.weights).groupby(cells.to_numpy()).sum()
    for k, v in counts.items():
        assert got[k] == pytest.approx(v, rel=1e-10)


def test_calibration_reduces_variance_of_a_calibration_variable(clus: Design) -> None:
    c = calibrate(clus, categorical={"stype": POP_STYPE}, total=6194, method="linear")
    data = c.data.assign(isE=(c.data["stype"] == "E").astype(float))
    from barometer.survey.design import Design as D

    cc = D.with_weights(c, c.weights, "same", data=data)
    # the share of a calibration category is fixed by calibration: its SE is ~0
    assert mean(cc, "isE").value(field="se") < 1e-10


def test_unknown_category_is_named(clus: Design) -> None:
    with pytest.raises(CalibrationError) as err:
        calibrate(clus, categorical={"stype": {"E": 5000, "H": 1194}}, total=6194)
    assert "'M'" in str(err.value) and "stype" in str(err.value)


def test_margin_without_sample_units(clus: Design) -> None:
    with pytest.raises(CalibrationError, match="no sample unit"):
        calibrate(clus, categorical={"stype": {**POP_STYPE, "X": 10}}, total=6204)


def test_zero_margin_with_sample_units(clus: Design) -> None:
    with pytest.raises(CalibrationError, match="margin of zero"):
        calibrate(clus, categorical={"stype": {"E": 5439, "H": 755, "M": 0}}, total=6194)


def test_margins_that_do_not_sum_to_the_population(clus: Design) -> None:
    with pytest.raises(CalibrationError, match="adds up to"):
        calibrate(clus, categorical={"stype": POP_STYPE, "sch.wide": {"No": 1, "Yes": 2}})


def test_missing_calibration_variable(clus: Design) -> None:
    data = clus.data.copy()
    data.loc[3, "stype"] = None
    d = Design.from_frame(data, ids="dnum", weights="pw", fpc="fpc")
    with pytest.raises(CalibrationError, match="missing values"):
        calibrate(d, categorical={"stype": POP_STYPE})


def test_infeasible_bounds_raise_with_best_fit(clus: Design) -> None:
    with pytest.raises(CalibrationError) as err:
        calibrate(clus, categorical={"stype": {"E": 100, "H": 5000, "M": 1094}},
                  method="logit", bounds=(0.9, 1.1), max_iter=30)
    assert "did not converge" in str(err.value) and "target" in str(err.value)


def test_bad_method_and_bounds(clus: Design) -> None:
    with pytest.raises(CalibrationError, match="unknown calibration method"):
        calibrate(clus, categorical={"stype": POP_STYPE}, method="magic")
    with pytest.raises(CalibrationError, match="L < 1 < U"):
        calibrate(clus, categorical={"stype": POP_STYPE}, method="logit")


def test_bounded_raking_to_margins_of_different_scales_converges(
        apiclus1: pd.DataFrame) -> None:
    # issue 13: stype counts and the api99 total (scores, ~4e6); R's grake converges
    from conftest import api

    pop = api("apipop")
    d = Design.from_frame(apiclus1, ids="dnum", weights="pw", fpc="fpc")
    cal = calibrate(d, categorical={"stype": pop["stype"].value_counts().to_dict()},
                    numeric={"api99": float(pop["api99"].sum())}, total=len(pop),
                    method="raking", bounds=(0.6, 1.6), max_iter=500, tol=1e-10)
    g = cal.weights / d.weights
    assert g.min() >= 0.6 - 1e-12 and g.max() <= 1.6 + 1e-12
    assert cal.weights.sum() == pytest.approx(len(pop), rel=1e-9)
    # R survey 4.5: svymean(~api00, calibrate(..., calfun = "raking", bounds = c(0.6, 1.6)))
    assert mean(cal, "api00").value() == pytest.approx(665.461628940494, rel=1e-9)


def _dense_residuals(cells: np.ndarray, codes: np.ndarray, d: np.ndarray, g: np.ndarray,
                     z: np.ndarray) -> np.ndarray:
    """R's qr.resid on X sqrt(d) written out (the n x p pivoted QR, rank rule 1e-7)."""
    from scipy import linalg

    a = cells[codes] * np.sqrt(d)[:, None]
    q, r, _ = linalg.qr(a, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    q = q[:, : int((diag > 1e-7 * diag[0]).sum())]
    w = g * np.sqrt(d)
    y = z / w[:, None]
    return (y - q @ (q.T @ y)) * w[:, None]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(1, 12), p=st.integers(1, 6),
       k=st.integers(1, 4), collinear=st.booleans(), scale=st.sampled_from([1.0, 1e4]))
def test_residuals_from_the_cells_equal_the_dense_projection(
        seed: int, m: int, p: int, k: int, collinear: bool, scale: float) -> None:
    """The calibration residuals computed on the m cells equal R's projection on the n x p
    matrix X sqrt(d), also with collinear or redundant columns (rank below p) and with
    auxiliaries on a large scale."""
    from barometer.survey.calibrate import Auxiliary, CalibrationRecord

    rng = np.random.default_rng(seed)
    n = 3 * m + 5
    cells = rng.normal(size=(m, p)) * scale
    if collinear and p > 1:
        cells[:, -1] = cells[:, 0] * 2.0  # a redundant column
    codes = np.concatenate([np.arange(m), rng.integers(0, m, n - m)])
    d = rng.uniform(0.5, 3.0, n)
    g = rng.uniform(0.7, 1.4, n)
    z = rng.normal(size=(n, k))
    rec = CalibrationRecord("linear", Auxiliary(cells, codes), ("x",), d, g, np.zeros(p))
    expected = _dense_residuals(cells, codes, d, g, z)
    np.testing.assert_allclose(rec.residuals(z), expected, rtol=1e-9,
                               atol=1e-9 * np.abs(z).max())
