"""Replicate weights kept as factors: the same sums, ranks and re-calibration as the matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barometer import Design, calibrate, estimate, with_replicates
from barometer.survey.repweights import (
    Factored,
    ReplicateWeights,
    certified_full_rank,
    dense,
    grouped_sums,
    replicate_rank,
    row_maxima,
)


def _factored(n: int, n_psu: int, r: int, n_cells: int | None, seed: int) -> Factored:
    rng = np.random.default_rng(seed)
    psu = rng.integers(0, n_psu, n)
    psu[:n_psu] = np.arange(min(n, n_psu))
    a = rng.uniform(0, 2, (n_psu, r)) * (rng.random((n_psu, r)) > 0.3)
    base = rng.uniform(10, 100, n)
    if n_cells is None:
        return Factored(base, psu, a)
    return Factored(base, psu, a, rng.integers(0, n_cells, n), rng.uniform(0.5, 2, (n_cells, r)))


def _replicates(w: Factored | np.ndarray) -> ReplicateWeights:
    r = w.shape[1]
    return ReplicateWeights(type="bootstrap", layout=w, start=w, scale=1 / (r - 1),
                            rscales=np.ones(r), mse=False, degf=r - 1)


@pytest.mark.parametrize("n_cells", [None, 7])
def test_factored_rows_and_matrix_are_the_products_of_the_factors(n_cells: int | None) -> None:
    f = _factored(3000, 40, 30, n_cells, seed=1)
    expected = f.base[:, None] * f.a[f.psu]
    if n_cells is not None:
        assert f.b is not None and f.cells is not None
        expected = expected * f.b[f.cells]
    np.testing.assert_allclose(f.dense(), expected, rtol=1e-15)
    index = np.array([5, 0, 2999, 17, 17])
    np.testing.assert_allclose(f.rows(index), expected[index], rtol=1e-15)
    assert np.all(row_maxima(f) >= np.abs(expected).max(axis=1) * (1 - 1e-15))


@pytest.mark.parametrize("n_cells", [None, 7])
@pytest.mark.parametrize(("n", "r"), [(2000, 25), (30_000, 150)])  # the second: two threads
def test_grouped_sums_of_factors_equal_those_of_the_matrix(n_cells: int | None, n: int,
                                                           r: int) -> None:
    f = _factored(n, 60, r, n_cells, seed=2)
    rng = np.random.default_rng(3)
    codes = rng.integers(-1, 9, n)  # -1: a row in no group
    codes[codes == 4] = 5  # an empty group
    values = [None, rng.normal(size=n), rng.integers(0, 2, n).astype(float)]
    got = grouped_sums(f, codes, 9, values)
    want = grouped_sums(f.dense(), codes, 9, values)
    assert got.shape == (3, 9, r)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9 * np.abs(want).max())
    assert not got[:, 4].any()
    w = f.dense()
    np.testing.assert_allclose(want[1, 2], (values[1][codes == 2, None] * w[codes == 2])
                               .sum(axis=0), rtol=1e-12)


def test_a_certified_rank_is_the_exact_rank() -> None:
    f = _factored(5000, 300, 40, 11, seed=4)
    reps = _replicates(f)
    w = f.dense()
    rng = np.random.default_rng(5)
    masks = [rng.random(5000) < p for p in (0.05, 0.2, 0.5, 1.0)]
    for mask in masks:
        index = np.flatnonzero(mask)
        assert certified_full_rank(f, index, row_maxima(f))
        assert replicate_rank(w[index]) == 40
    assert not certified_full_rank(f, np.arange(150), row_maxima(f))  # too few rows
    assert reps.ranks_of(masks) == [replicate_rank(w[m]) for m in masks]


def test_a_deficient_rank_is_not_certified_and_is_computed_exactly() -> None:
    rng = np.random.default_rng(6)
    w = rng.uniform(0, 2, (4000, 30))
    w[:, 10] = w[:, 3]  # two equal replicates
    w[:, 20] = 2 * w[:, 5] - w[:, 6]  # a combination of two others
    index = np.arange(4000)
    assert not certified_full_rank(w, index, row_maxima(w))
    reps = _replicates(w)
    assert reps.rank_of(np.ones(4000, dtype=bool)) == replicate_rank(w) == 28


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), r=st.integers(2, 12), share=st.floats(0.02, 1.0),
       cells=st.sampled_from([None, 1, 3]))
def test_ranks_of_factored_weights_are_those_of_their_matrix(seed: int, r: int, share: float,
                                                             cells: int | None) -> None:
    f = _factored(400, 25, r, cells, seed)
    mask = np.random.default_rng(seed).random(400) < share
    w = f.dense()
    assert _replicates(f).rank_of(mask) == replicate_rank(w[mask])


def _sample(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    psu = rng.integers(0, 60, n)
    return pd.DataFrame({"psu": psu, "stratum": psu // 6, "w": rng.uniform(50, 150, n),
                         "sex": rng.choice(["f", "m"], n), "age": rng.choice(list("abcd"), n),
                         "y": rng.normal(5, 2, n), "dom": rng.integers(0, 5, n)})


def test_raked_bootstrap_replicates_stay_factored_and_equal_the_matrix_path() -> None:
    data = _sample()
    d = Design.from_frame(data, ids="psu", strata="stratum", weights="w")
    boot = with_replicates(d, "bootstrap", replicates=40, seed=8)
    assert isinstance(boot.replicates.layout, Factored)
    margins = {"sex": {"f": 2e5 * 0.52, "m": 2e5 * 0.48},
               "age": {"a": 4e4, "b": 6e4, "c": 5e4, "d": 5e4}}
    raked = calibrate(boot, categorical=margins, method="raking", tol=1e-10)
    layout = raked.replicates.layout
    assert isinstance(layout, Factored) and layout.b is not None
    # the same calibration re-applied to the replicate weights as a matrix
    record = raked.weighting[-1]
    matrix = record.reapply(dense(boot.replicates.layout))
    np.testing.assert_allclose(layout.dense(), matrix, rtol=1e-9)
    # estimates and SEs from the factors equal those from the matrix
    as_matrix = raked.with_weights(raked.weights, "test: the matrix layout",
                                   replicates=raked.replicates.reweighted(matrix))
    a = estimate(raked, "mean", ["y"], by="dom").table
    b = estimate(as_matrix, "mean", ["y"], by="dom").table
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-12)
    np.testing.assert_allclose(a["se"], b["se"], rtol=1e-9)
    np.testing.assert_array_equal(a["df"], b["df"])
    # a second calibration expands the factors into the matrix
    again = calibrate(raked, categorical={"sex": margins["sex"]}, method="linear")
    assert isinstance(again.replicates.layout, np.ndarray)


@pytest.mark.filterwarnings("ignore:.*could not meet the trimming bounds")
def test_every_weighting_step_gives_the_same_replicates_from_factors_or_a_matrix() -> None:
    """Trimming after a calibration (re-calibrated on the cells split by weight) and a
    nonresponse adjustment before one: the same SEs whether the starting replicate weights
    are factored or a matrix."""
    from dataclasses import replace

    from barometer.survey.weighting import adjust_nonresponse, trim

    data = _sample(seed=12).assign(resp=lambda f: (f["y"] > 3.2).astype(int))
    d = Design.from_frame(data, ids="psu", strata="stratum", weights="w")
    boot = with_replicates(d, "bootstrap", replicates=30, seed=13)
    reps = boot.replicates
    matrix = boot.with_weights(boot.weights, "test: the matrix layout", replicates=replace(
        reps, layout=dense(reps.layout), start=dense(reps.start)))
    margins = {"sex": {"f": 1.1e5, "m": 0.9e5}, "age": {"a": 4e4, "b": 6e4, "c": 5e4, "d": 5e4}}

    def chain(design: Design) -> Design:
        raked = calibrate(design, categorical=margins, method="raking")
        return trim(raked, lower=0.6, upper=1.6)

    def chain2(design: Design) -> Design:
        return calibrate(adjust_nonresponse(design, "resp", "sex"), categorical=margins,
                         method="linear")

    for steps in (chain, chain2):
        a = estimate(steps(boot), "mean", ["y"], by="dom").table
        b = estimate(steps(matrix), "mean", ["y"], by="dom").table
        np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-12)
        np.testing.assert_allclose(a["se"], b["se"], rtol=1e-8)
        np.testing.assert_array_equal(a["df"], b["df"])
