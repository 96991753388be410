"""Property tests (hypothesis): invariances that must hold for any data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barometer import CalibrationError, Design, calibrate, mean, total


@st.composite
def samples(draw: st.DrawFn) -> pd.DataFrame:
    n_strata = draw(st.integers(1, 4))
    per = draw(st.integers(2, 5))
    size = draw(st.integers(1, 4))
    n = n_strata * per * size
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "h": np.repeat(np.arange(n_strata), per * size),
        "psu": np.repeat(np.arange(n_strata * per), size),
        "w": rng.uniform(0.5, 20, n),
        "y": rng.normal(10, 3, n),
        "g": rng.choice(["a", "b"], n),
        "sex": np.resize(["F", "M"], n),
    })


def _design(df: pd.DataFrame) -> Design:
    return Design.from_frame(df, ids="psu", strata="h", weights="w")


@settings(max_examples=40, deadline=None)
@given(samples(), st.integers(0, 10_000), st.floats(0.01, 100))
def test_row_order_and_weight_scale_leave_means_unchanged(df: pd.DataFrame, seed: int,
                                                          c: float) -> None:
    base = mean(_design(df), "y", by="g").to_frame()
    shuffled = df.sample(frac=1, random_state=seed).reset_index(drop=True)
    scaled = df.assign(w=df["w"] * c)
    for other in (shuffled, scaled):
        got = mean(_design(other), "y", by="g").to_frame()
        np.testing.assert_allclose(got["estimate"], base["estimate"], rtol=1e-9)
        np.testing.assert_allclose(got["se"], base["se"], rtol=1e-7, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(samples(), st.floats(0.01, 100))
def test_totals_scale_exactly(df: pd.DataFrame, c: float) -> None:
    a = total(_design(df), "y").to_frame().iloc[0]
    b = total(_design(df.assign(w=df["w"] * c)), "y").to_frame().iloc[0]
    assert np.isclose(b["estimate"], c * a["estimate"], rtol=1e-10)
    assert np.isclose(b["se"], c * a["se"], rtol=1e-8)


@settings(max_examples=30, deadline=None)
@given(samples(), st.integers(0, 10_000))
def test_calibration_hits_margins_and_ignores_row_order(df: pd.DataFrame, seed: int) -> None:
    margins = {"sex": {"F": 600.0, "M": 400.0}}
    counts = df["sex"].value_counts()
    if len(counts) < 2:
        return
    cal = calibrate(_design(df), categorical=margins, method="raking", tol=1e-12)
    got = pd.Series(cal.weights).groupby(df["sex"].to_numpy()).sum()
    assert np.isclose(got["F"], 600, rtol=1e-8) and np.isclose(got["M"], 400, rtol=1e-8)
    perm = np.random.default_rng(seed).permutation(len(df))
    shuffled = df.iloc[perm].reset_index(drop=True)
    cal2 = calibrate(_design(shuffled), categorical=margins, method="raking", tol=1e-12)
    np.testing.assert_allclose(cal2.weights, cal.weights[perm], rtol=1e-9)
    a, b = mean(cal, "y").to_frame().iloc[0], mean(cal2, "y").to_frame().iloc[0]
    assert np.isclose(a["se"], b["se"], rtol=1e-7)


@settings(max_examples=30, deadline=None)
@given(samples(), st.sampled_from(["JKn", "bootstrap", "JK1", "BRR", "Fay"]), st.booleans(),
       st.booleans())
def test_supplied_replicate_weights_give_the_same_ses(df: pd.DataFrame, kind: str, mse: bool,
                                                      calibrated: bool) -> None:
    """Replicate weights written to the data and read back with Design.from_replicates
    (as R's svrepdesign) give the SEs of the design with_replicates built them for,
    also after calibration (every replicate re-calibrated)."""
    import warnings

    from barometer import with_replicates

    if kind == "JK1":
        base = Design.from_frame(df, ids="psu", weights="w")
    else:
        base = _design(df)
    psus = df.groupby("h")["psu"].nunique()
    if kind in ("BRR", "Fay") and (psus != 2).any():
        # keep the first two PSUs of every stratum (PSUs are numbered in order)
        df = df[df["psu"] - df.groupby("h")["psu"].transform("min") < 2]
        df = df.reset_index(drop=True)
        base = _design(df)
    built = with_replicates(base, kind, replicates=20, mse=mse, seed=5, fay_rho=0.3)
    reps = built.replicates
    assert reps is not None
    cols = {f"rw_{j}": reps.weights[:, j] for j in range(reps.n_replicates)}
    own = kind in ("BRR", "Fay")  # their scale is R's fixed default
    supplied = Design.from_replicates(
        df.assign(**cols), repweights="rw_", weights="w", type=kind,
        scale=None if own else reps.scale, rscales=None if own else reps.rscales,
        rho=0.3 if kind == "Fay" else None, mse=mse)
    assert supplied.degf() == built.degf()
    pairs = [(built, supplied)]
    if calibrated:
        margins = {"sex": {"F": 600.0, "M": 400.0}}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:  # a replicate may lose a margin's category in a tiny sample: both fail
                cal = calibrate(built, categorical=margins, method="raking")
            except CalibrationError:
                with pytest.raises(CalibrationError):
                    calibrate(supplied, categorical=margins, method="raking")
            else:
                pairs.append((cal, calibrate(supplied, categorical=margins, method="raking")))
    for a, b in pairs:
        for stat in (mean, total):
            x = stat(a, "y", by="g").to_frame()
            y = stat(b, "y", by="g").to_frame()
            np.testing.assert_allclose(y["estimate"], x["estimate"], rtol=1e-10)
            np.testing.assert_allclose(y["se"], x["se"], rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(y["df"], x["df"])


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 40), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_overton_variance_is_the_quadratic_form(n: int, n_strata: int, seed: int) -> None:
    """The O(n) Overton variance equals R's t' D t with the n x n matrix of Overton's
    approximation (overton2Dcheck), for any probabilities, strata and estimates."""
    from barometer.survey.variance import Influence, linearized_variance

    rng = np.random.default_rng(seed)
    pi = rng.uniform(0.01, 1.0, n)
    pi[rng.random(n) < 0.1] = 1.0
    h = rng.integers(0, n_strata, n)
    df = pd.DataFrame({"pi": pi, "h": h})
    d = Design.from_frame(df, strata="h", fpc="pi", pps="overton")
    z = rng.normal(size=(n, 3)) / pi[:, None]
    n_h = pd.Series(h).map(pd.Series(h).value_counts()).to_numpy()
    fbar = (pi[:, None] + pi[None, :]) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        dmat = 1 - (n_h[:, None] - fbar) / (n_h[:, None] - 1)
    dmat[(h[:, None] != h[None, :]) | (fbar == 1)] = 0.0
    np.fill_diagonal(dmat, 1 - pi)
    expected = z.T @ dmat @ z
    got = linearized_variance(d, Influence(k=3, dense=z), full=True)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())
