"""Covariances between estimates and contrasts (R's svyby(covmat = TRUE), svycontrast)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barometer import Design, calibrate, contrast, estimate, with_replicates
from barometer.survey.errors import EstimationError


def test_covariance_diagonal_is_the_variance_and_strata_are_independent(
        apistrat: pd.DataFrame) -> None:
    d = Design.from_frame(apistrat, strata="stype", weights="pw", fpc="fpc")
    est = estimate(d, "mean", "api00", by="stype", covariance=True)
    cov = est.vcov()
    np.testing.assert_allclose(np.diag(cov), est.to_frame()["se"] ** 2, rtol=1e-12)
    assert cov.loc["E", "H"] == pytest.approx(0.0, abs=1e-9)  # domains that are strata
    diff = contrast(est, {"E": 1, "H": -1}).to_frame().iloc[0]
    assert diff["estimate"] == pytest.approx(48.61, rel=1e-9)  # R: 48.6099999999999
    assert diff["se"] == pytest.approx(19.4021553995334, rel=1e-9)
    assert diff["df"] == d.degf()


def test_named_contrasts_and_several_variables(apiclus1: pd.DataFrame) -> None:
    d = Design.from_frame(apiclus1, ids="dnum", weights="pw", fpc="fpc")
    est = estimate(d, "mean", ["api00", "api99"], by="stype", covariance=True)
    assert est.keys()[:2] == ["api00/E", "api00/H"]
    res = contrast(est, {"growth E": {"api00/E": 1, "api99/E": -1},
                         "growth all": {"api00/E": 1, "api99/E": -1, "api00/M": 0}})
    growth = estimate(d.__class__.from_frame(apiclus1.assign(g=apiclus1["api00"]
                                                            - apiclus1["api99"]),
                                             ids="dnum", weights="pw", fpc="fpc"),
                      "mean", "g", by="stype").to_frame().set_index("domain")
    row = res.to_frame().set_index("variable").loc["growth E"]
    assert row["estimate"] == pytest.approx(growth.loc["E", "estimate"], rel=1e-10)
    assert row["se"] == pytest.approx(growth.loc["E", "se"], rel=1e-9)
    assert res.covariance is not None and res.covariance.shape == (2, 2)
    with pytest.raises(EstimationError, match="no estimate labelled"):
        contrast(est, {"nowhere": 1})
    with pytest.raises(EstimationError, match="covariance=True"):
        contrast(estimate(d, "mean", "api00", by="stype"), {"E": 1})


@st.composite
def samples(draw: st.DrawFn) -> pd.DataFrame:
    n_psu = draw(st.integers(4, 12))
    size = draw(st.integers(2, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = n_psu * size
    y = rng.normal(5, 2, n)
    return pd.DataFrame({"psu": np.repeat(np.arange(n_psu), size), "w": rng.uniform(1, 9, n),
                         "y": y, "y_copy": y.copy(), "g": np.resize(["a", "b", "c"], n),
                         "s": np.resize(["F", "M"], n)})


@settings(max_examples=40, deadline=None)
@given(samples(), st.sampled_from(["mean", "total", "var"]),
       st.sampled_from(["plain", "calibrated", "JK1"]))
def test_a_domain_contrasted_with_itself_is_zero_with_se_zero(
        df: pd.DataFrame, stat: str, kind: str) -> None:
    d = Design.from_frame(df, ids="psu", weights="w")
    if kind == "calibrated":
        d = calibrate(d, categorical={"s": {"F": 300.0, "M": 200.0}})
    elif kind == "JK1":
        d = with_replicates(d, "JK1")
    est = estimate(d, stat, ["y", "y_copy"], by="g", covariance=True)  # type: ignore[arg-type]
    row = contrast(est, {"y/a": 1, "y_copy/a": -1}).to_frame().iloc[0]
    scale = float(est.to_frame()["se"].max()) + 1.0
    assert abs(row["estimate"]) <= 1e-9 * (abs(est.to_frame()["estimate"]).max() + 1)
    assert row["se"] <= 1e-6 * scale
