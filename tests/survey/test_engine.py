"""The engine's shared machinery (issue 18): no copies of the caller's columns, replicate
sums of every variable in one product, sums in blocks of rows. Speed is measured in
``benchmarks/``, never here: these tests check that the faster paths give the same numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barometer import Design, DesignError, calibrate, estimate, mean, with_replicates
from barometer.survey.ci import IntervalInput, interval, wald_intervals
from barometer.survey.domains import domains
from barometer.survey.grouping import factorize, factorize_first, writeable


def _sample(n: int = 3000, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    psu = rng.integers(0, 60, n)
    psu[:60] = np.arange(60)
    return pd.DataFrame({
        "stratum": psu // 6, "psu": psu, "w": rng.uniform(1, 5, n),
        "domain": rng.integers(0, 4, n), "y": rng.normal(10, 3, n),
        "z": (rng.uniform(size=n) < 0.3).astype(float),
        "m": rng.integers(0, 3, n).astype(str),
    })


def test_writeable_views_share_memory_and_truly_read_only_memory_is_copied() -> None:
    base = np.arange(10.0)
    locked = base.view()
    locked.flags.writeable = False
    view = writeable(locked)
    assert view.flags.writeable and np.shares_memory(view, base)
    assert writeable(base) is base
    frozen = np.arange(5.0)
    frozen.flags.writeable = False  # owns its memory, read-only: only a copy can be writeable
    copy = writeable(frozen)
    assert copy.flags.writeable and not np.shares_memory(copy, frozen)
    np.testing.assert_array_equal(copy, frozen)


def test_design_takes_the_columns_without_copying_and_stays_immutable() -> None:
    df = _sample()
    d = Design.from_frame(df, ids="psu", strata="stratum", weights="w")
    frame_w = d.column("w").to_numpy()
    assert np.shares_memory(d.weights, frame_w)  # a view of the design's frame
    assert np.shares_memory(d.stages[0].clusters, d.column("psu").to_numpy())
    assert np.shares_memory(d.stages[0].strata, d.column("stratum").to_numpy())
    before = mean(d, "y", by="domain").to_frame()
    df.loc[:, "w"] = 1.0  # the caller's frame, changed in place after the design was built
    df.loc[:, "psu"] = 0
    df.loc[:, "stratum"] = 0
    df.loc[:, "domain"] = 0
    pd.testing.assert_frame_equal(mean(d, "y", by="domain").to_frame(), before)
    assert not np.allclose(d.weights, 1.0)


def test_codes_of_a_column_already_coded_are_the_column() -> None:
    v = np.array([2, 0, 1, 2, 1], dtype=np.intp)
    v.flags.writeable = False
    codes, uniques = factorize(v)
    np.testing.assert_array_equal(codes, v)
    np.testing.assert_array_equal(uniques, [0, 1, 2])
    assert codes.flags.writeable


def test_nesting_check_names_the_psu_across_blocks() -> None:
    df = _sample(n=400_000)  # more rows than one block of the check
    df.loc[350_000, "stratum"] = 99  # PSU df.psu[350_000] now spans two strata
    with pytest.raises(DesignError, match="not nested") as err:
        Design.from_frame(df, ids="psu", strata="stratum", weights="w")
    assert str(df.loc[350_000, "psu"]) in str(err.value)


@pytest.mark.parametrize("by", [None, "domain"])
def test_sums_in_blocks_match_direct_sums(by: str | None) -> None:
    df = _sample(n=200_000)
    d = Design.from_frame(df, ids="psu", strata="stratum", weights="w")
    y = df["y"].to_numpy()
    valid = np.ones(len(df), dtype=bool)
    valid[::7] = False  # rows out of every domain
    for dom in (domains(d, None, by), domains(d, valid, by)):
        inside = dom.codes >= 0
        ext = np.where(inside, dom.codes, dom.k)
        direct = np.bincount(ext, weights=d.weights * (y - 3.0), minlength=dom.k + 1)[:dom.k]
        np.testing.assert_allclose(dom.dot(d.weights, y, 3.0), direct, rtol=1e-12)
        np.testing.assert_allclose(dom.sum_w2, np.bincount(
            ext, weights=d.weights**2, minlength=dom.k + 1)[:dom.k], rtol=1e-12)


def test_replicate_products_equal_per_replicate_sums() -> None:
    df = _sample()
    d = with_replicates(Design.from_frame(df, ids="psu", strata="stratum", weights="w"),
                        "bootstrap", replicates=30, seed=2)
    w = d.replicates.weights
    y, z = df["y"].to_numpy(), df["z"].to_numpy()
    valid = np.ones(len(df), dtype=bool)
    valid[::5] = False
    dom = domains(d, valid, "domain")
    sy, sz = dom.replicate_products(w, [y, z])
    for j in range(dom.k):
        rows = dom.codes == j
        np.testing.assert_allclose(sy[j], (y[rows, None] * w[rows]).sum(axis=0), rtol=1e-12)
        np.testing.assert_allclose(sz[j], (z[rows, None] * w[rows]).sum(axis=0), rtol=1e-12)
        np.testing.assert_allclose(dom.replicate_sums(w)[j], w[rows].sum(axis=0),
                                   rtol=1e-12)
    assert dom.replicate_products(w, []) == []


@pytest.mark.parametrize("stat", ["mean", "total"])
def test_several_variables_in_one_replicate_product_equal_one_at_a_time(stat: str) -> None:
    df = _sample()
    d = Design.from_frame(df, ids="psu", strata="stratum", weights="w")
    rep = with_replicates(d, "bootstrap", replicates=40, seed=4)
    rep = calibrate(rep, categorical={"m": {"0": 3000.0, "1": 3100.0, "2": 2900.0}},
                    method="raking")
    together = estimate(rep, stat, ["y", "z"], by="domain").to_frame()
    fresh = rep.with_weights(rep.weights, "the same design, nothing cached")
    apart = pd.concat([estimate(fresh, stat, v, by="domain").to_frame() for v in ("y", "z")],
                      ignore_index=True)
    pd.testing.assert_frame_equal(together, apart, rtol=1e-13)
    # a variable with missing values has its own domains: computed on its own, still equal
    df2 = df.assign(y=df["y"].where(df.index % 9 != 0))
    rep2 = with_replicates(Design.from_frame(df2, ids="psu", strata="stratum", weights="w"),
                           "bootstrap", replicates=40, seed=4)
    both = estimate(rep2, stat, ["y", "z"], by="domain").to_frame()
    one = estimate(rep2.with_weights(rep2.weights, "fresh"), stat, "y", by="domain")
    pd.testing.assert_frame_equal(both.iloc[:4].reset_index(drop=True), one.to_frame(),
                                  rtol=1e-13)


def test_supplied_replicate_weights_are_held_once_row_major() -> None:
    df = _sample()
    rng = np.random.default_rng(1)
    for j in range(12):
        df[f"rw{j}"] = df["w"] * rng.uniform(0.5, 1.5, len(df))
    d = Design.from_replicates(df, repweights="rw", weights="w", type="bootstrap")
    w = d.replicates.weights
    assert w.flags.c_contiguous and w.shape == (len(df), 12)
    np.testing.assert_array_equal(w, df[[f"rw{j}" for j in range(12)]].to_numpy())
    assert not any(str(c).startswith("rw") for c in d.columns)  # not kept twice
    assert "y" in d.columns
    e = estimate(d, "mean", ["y", "z"], by="domain").to_frame()
    reps = np.array([[np.average(df["y"][df["domain"] == k], weights=w[df["domain"] == k, r])
                      for r in range(12)] for k in range(4)])
    dev = reps - reps.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(e["se"].to_numpy()[:4], np.sqrt((dev**2).sum(axis=1) / 11),
                               rtol=1e-10)


def test_codes_with_their_first_rows_whether_or_not_every_value_occurs() -> None:
    rng = np.random.default_rng(3)
    for values in (rng.integers(0, 50, 300_000),  # codes 0..49, every one present
                   rng.integers(0, 50, 300_000) * 3 + 7,  # gaps in the range
                   rng.integers(0, 50, 300_000).astype(str),  # hashed
                   np.r_[rng.integers(0, 50, 300_000), 10**12]):  # a range too wide
        codes, uniques, first = factorize_first(values)
        expected, levels = pd.factorize(values, sort=True)
        np.testing.assert_array_equal(codes, expected)
        np.testing.assert_array_equal(uniques, levels)
        np.testing.assert_array_equal(first, [np.flatnonzero(expected == j)[0]
                                              for j in range(len(levels))])


def test_stage_spreads_the_strata_sizes_to_the_rows_on_demand() -> None:
    df = _sample()
    d = Design.from_frame(df, ids="psu", strata="stratum", weights="w")
    st = d.stages[0]
    assert "n_sampled" not in st.__dict__  # not made by the design
    per_row = df.groupby("stratum")["psu"].transform("nunique").to_numpy(float)
    np.testing.assert_array_equal(st.n_sampled, per_row)
    table = st.per_cluster
    np.testing.assert_array_equal(table.n_h, per_row[table.first])
    np.testing.assert_array_equal(table.size, np.bincount(table.stratum))


def test_wald_intervals_of_every_domain_equal_the_rule_one_at_a_time() -> None:
    est = np.array([1.0, -2.0, np.nan, np.inf, 3.0])
    se = np.array([0.5, 0.1, 1.0, 1.0, 0.0])
    df = np.array([10.0, np.inf, 5.0, 5.0, 0.0])
    out = wald_intervals(est, se, df, 0.9)
    for j in range(est.size):
        one = interval("wald", IntervalInput(float(est[j]), float(se[j]), float(df[j]), 0.9,
                                             10, 10, 5.0))
        np.testing.assert_array_equal(out[j], one)


def _tables(d: Design, calls: list[tuple[str, str | None]]) -> dict[tuple, pd.DataFrame]:
    return {(y, by): mean(d, y, by=by).table for y, by in calls}


def test_estimates_of_a_column_are_the_same_in_any_order_of_the_calls() -> None:
    """The sums of a column are shared by its estimates on a design (computed on the cells
    of the design's finest domains, the overall estimate read from them): whatever the
    order of the calls, each table equals the one of a fresh design."""
    df = _sample(n=50_000)
    df["y_nan"] = df["y"].where(df.index % 11 != 0)  # a missing value: no sharing
    df["d_nan"] = df["domain"].where(df.index % 13 != 0)  # rows out of every domain
    calls = [(y, by) for y in ("y", "z", "y_nan") for by in (None, "domain", "d_nan", "m")]

    def fresh() -> Design:
        return Design.from_frame(df, ids="psu", strata="stratum", weights="w")

    alone = {c: mean(fresh(), c[0], by=c[1]).table for c in calls}
    for order in (calls, calls[::-1], sorted(calls, key=lambda c: str(c[1]))):
        d = fresh()
        got = _tables(d, order)
        for c in calls:
            pd.testing.assert_frame_equal(got[c], alone[c], check_exact=False, rtol=1e-12)
        assert ("sums", "y") in d.cache and ("sums", "y_nan") not in d.cache


def test_an_overall_estimate_reads_the_cells_of_the_finest_domains() -> None:
    df = _sample(n=50_000)
    d = Design.from_frame(df, ids="psu", strata="stratum", weights="w")
    by_domain = mean(d, "y", by="domain").table
    fine = d.cache["finest"]
    overall = mean(d, "z").table  # computed on the cells of "domain", kept for "z"
    assert d.cache[("sums", "z")][0] is fine
    again = mean(d, "z", by="domain").table  # read from them
    fresh = Design.from_frame(df, ids="psu", strata="stratum", weights="w")
    pd.testing.assert_frame_equal(overall, mean(fresh, "z").table, check_exact=False,
                                  rtol=1e-12)
    pd.testing.assert_frame_equal(again, mean(fresh, "z", by="domain").table,
                                  check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(by_domain, mean(fresh, "y", by="domain").table)


def test_sums_on_as_many_cells_as_rows_are_not_kept() -> None:
    df = _sample(n=20_000)
    d = Design.from_frame(df, weights="w")  # element sampling: a cluster per row
    by_domain = mean(d, "y", by="domain").table
    overall = mean(d, "y").table
    assert ("sums", "y") not in d.cache and "finest" not in d.cache
    fresh = Design.from_frame(df, weights="w")
    pd.testing.assert_frame_equal(by_domain, mean(fresh, "y", by="domain").table)
    pd.testing.assert_frame_equal(overall, mean(fresh, "y").table)
