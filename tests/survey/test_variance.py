"""The variance engine: Overton's PPS variance, lonely PSUs at later stages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barometer import Design, mean, total
from barometer.survey.variance import Influence, linearized_variance
from conftest import SHIPPED


def _overton_dense(t: np.ndarray, pi: np.ndarray, strata: np.ndarray) -> np.ndarray:
    """R's overton2Dcheck and htvar.matrix, literally: t' D t with the n x n matrix D."""
    n_h = pd.Series(strata).map(pd.Series(strata).value_counts()).to_numpy()
    fbar = (pi[:, None] + pi[None, :]) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        dmat = 1 - (n_h[:, None] - fbar) / (n_h[:, None] - 1)
    dmat[(strata[:, None] != strata[None, :]) | (fbar == 1)] = 0.0
    np.fill_diagonal(dmat, 1 - pi)
    return t.T @ dmat @ t


@pytest.mark.parametrize("stratified", [False, True])
def test_overton_matches_the_quadratic_form(stratified: bool) -> None:
    rng = np.random.default_rng(4)
    n = 30
    df = pd.DataFrame({"pi": rng.uniform(0.05, 1.0, n), "h": rng.integers(0, 3, n),
                       "y": rng.normal(5, 2, n), "x": rng.normal(0, 1, n)})
    df.loc[0, "pi"] = 1.0
    df.loc[1, "h"] = 3  # a stratum with one unit: no pairs
    strata = df["h"].to_numpy() if stratified else np.zeros(n, dtype=int)
    d = Design.from_frame(df, strata="h" if stratified else None, fpc="pi", pps="overton")
    z = df[["y", "x"]].to_numpy() / df["pi"].to_numpy()[:, None]
    expected = _overton_dense(z, df["pi"].to_numpy(), strata)
    full = linearized_variance(d, Influence(k=2, dense=z), full=True)
    np.testing.assert_allclose(full, expected, rtol=1e-12)
    diag = linearized_variance(d, Influence(k=2, dense=z))
    np.testing.assert_allclose(diag, np.diag(expected), rtol=1e-12)
    se = total(d, "y").value(field="se")
    assert se**2 == pytest.approx(expected[0, 0], rel=1e-12)


def test_overton_domains_are_zero_outside() -> None:
    df = pd.read_csv(SHIPPED / "data" / "apipps.csv")
    d = Design.from_frame(df, fpc="pi", pps="overton")
    pi = df["pi"].to_numpy()
    by = total(d, "enroll", by="stype").to_frame().set_index("domain")
    for level, row in by.iterrows():
        z = np.where(df["stype"] == level, df["enroll"] / pi, 0.0)[:, None]
        assert row["se"] ** 2 == pytest.approx(
            _overton_dense(z, pi, np.zeros(len(df)))[0, 0], rel=1e-12)


def _two_stage() -> pd.DataFrame:
    """Two districts per county, schools within districts; district 2 of county A has one
    school sampled of ten (lonely at the second stage)."""
    return pd.DataFrame({
        "county": ["A"] * 5 + ["B"] * 4,
        "district": [1, 1, 2, 3, 3, 4, 4, 5, 5],
        "y": [3.0, 5.0, 4.0, 8.0, 6.0, 1.0, 2.0, 7.0, 9.0],
        "n1": [10] * 9,
        "n2": [5, 5, 10, 4, 4, 6, 6, 8, 8],
    }).assign(county=lambda d: np.where(d["district"] <= 3, "A", "B"))


def test_adjust_at_the_second_stage_centres_within_the_first_stage_cluster() -> None:
    df = _two_stage()
    kw = {"ids": ["district", "y"], "strata": "county", "fpc": ["n1", "n2"]}
    adjust = Design.from_frame(df.assign(w=1.0), weights="w", lonely_psu="adjust", **kw)
    remove = Design.from_frame(df.assign(w=1.0), weights="w", lonely_psu="remove", **kw)
    # the lonely school is its district's only PSU: its deviation from the district's mean
    # PSU total is 0, so adjust and remove agree
    assert total(adjust, "y").value(field="se") == pytest.approx(
        total(remove, "y").value(field="se"), rel=1e-12)
    average = Design.from_frame(df.assign(w=1.0), weights="w", lonely_psu="average", **kw)
    # average within a district whose only stratum is lonely: nothing to average (R: NaN)
    assert np.isnan(total(average, "y").value(field="se"))


def test_adjust_and_average_count_the_domain_strata_as_r() -> None:
    # R drops the rows out of a domain (uncalibrated design), so the mean PSU total and the
    # number of strata are those the domain reaches
    df = pd.DataFrame({"h": [1, 1, 2, 2, 3, 4, 4], "psu": [1, 2, 3, 4, 5, 6, 7],
                       "y": [1.0, 2.0, 4.0, 3.0, 5.0, 2.0, 6.0], "w": [2.0] * 7,
                       "g": ["a", "a", "a", "a", "a", "b", "b"]})
    kw = {"ids": "psu", "strata": "h", "weights": "w"}
    d = Design.from_frame(df, lonely_psu="adjust", **kw)
    sub = Design.from_frame(df[df["g"] == "a"], lonely_psu="adjust", **kw)
    got = total(d, "y", by="g").to_frame().set_index("domain")
    assert got.loc["a", "se"] == pytest.approx(total(sub, "y").value(field="se"), rel=1e-12)
    d = Design.from_frame(df, lonely_psu="average", **kw)
    sub = Design.from_frame(df[df["g"] == "a"], lonely_psu="average", **kw)
    got = mean(d, "y", by="g").to_frame().set_index("domain")
    assert got.loc["a", "se"] == pytest.approx(mean(sub, "y").value(field="se"), rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 100_000), n=st.integers(2, 120), k=st.integers(1, 5),
       n_strata=st.integers(1, 6), fpc=st.booleans(), lonely=st.sampled_from(
           ["certainty", "remove"]), brewer=st.booleans(),
       two_stage=st.booleans())
def test_elements_give_the_variance_of_their_cluster_totals(
        seed: int, n: int, k: int, n_strata: int, fpc: bool, lonely: str, brewer: bool,
        two_stage: bool) -> None:
    """A design of elements (each row its own cluster) with compact influence values
    (domains) takes the O(n) path of variance._element_stage: the same variance and
    covariance as the cluster totals of the same values written out (dense). Lonely
    ``adjust`` and ``average`` take the general path (their centre and strata count follow
    each domain's rows, which dense values do not show), so they are not compared here."""
    rng = np.random.default_rng(seed)
    h = rng.integers(0, n_strata, n)
    df = pd.DataFrame({"h": h, "w": rng.uniform(1, 3, n), "row": np.arange(n),
                       "psu": rng.integers(0, max(n // 3, 1), n)})
    df["N"] = df.groupby("h")["h"].transform("size") * rng.uniform(1.0, 4.0)
    kw: dict[str, object] = {"lonely_psu": lonely}
    if brewer and not two_stage:
        df["pi"] = rng.uniform(0.05, 0.9, n)
        d = Design.from_frame(df, strata="h", fpc="pi", pps="brewer", **kw)
    elif two_stage:  # elements at the second stage, with fpc at the first
        df["Npsu"] = 50.0
        df["Nrow"] = df.groupby("psu")["psu"].transform("size") * 2.0
        d = Design.from_frame(df, ids=["psu", "row"], fpc=["Npsu", "Nrow"], weights="w",
                              **kw)
    else:
        d = Design.from_frame(df, strata="h", weights="w", fpc="N" if fpc else None, **kw)
    column = rng.integers(-1, k, n)
    values = rng.normal(0, 2, n)
    parts = {"offset": rng.normal(0, 1, k), "base": rng.uniform(0, 2, n),
             "scale": rng.uniform(0.5, 2, k)} if seed % 2 else {}
    compact = Influence.compact(values, column, k, **parts)  # type: ignore[arg-type]
    dense = Influence(k=k, dense=compact.to_dense())
    for full in (False, True):
        got = linearized_variance(d, compact, full=full)
        want = linearized_variance(d, dense, full=full)
        scale = max(float(np.nanmax(np.abs(want))), 1e-300) if want.size else 1.0
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * scale)
