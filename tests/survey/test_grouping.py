"""Group sums on parts of the rows (``grouping.row_parts``, ``group_matrix``, ``counts``,
``extremes``, ``scratch``) and the first-stage sums built on them."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barometer import Design, mean
from barometer.survey import grouping
from barometer.survey.grouping import (
    counts,
    extremes,
    group_matrix,
    ones,
    row_parts,
    row_parts_sum,
    scratch,
)


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads from 8 rows and parts of 16 rows: every path runs on small data."""
    monkeypatch.setattr(grouping, "HALVES_FROM", 8)
    monkeypatch.setattr(grouping, "PART", 16)


def test_group_matrix_sums_as_bincount_without_copies() -> None:
    rng = np.random.default_rng(1)
    whole = rng.uniform(size=3000)
    values = whole[1000:1500]  # a view of a larger array, which scipy's constructor copies
    codes = rng.integers(0, 7, 500).astype(np.int32)
    v = rng.normal(size=500)
    g = group_matrix(codes, 7, values)
    assert np.shares_memory(g.data, whole) and np.shares_memory(g.indices, codes)
    np.testing.assert_allclose(g @ v, np.bincount(codes, values * v, minlength=7),
                               rtol=1e-13)
    np.testing.assert_allclose(g @ ones(500), np.bincount(codes, values, minlength=7),
                               rtol=1e-13)
    with pytest.raises(AssertionError):
        group_matrix(codes.astype(np.int64), 7, values)  # int32 codes only


@pytest.mark.usefixtures("small_parts")
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 31, 32, 33, 100])
def test_row_parts_cover_the_rows_in_order(n: int) -> None:
    parts = row_parts(n, lambda lo, hi: (lo, hi, threading.get_ident()))
    bounds = [(lo, hi) for lo, hi, _ in parts]
    assert [lo for lo, _ in bounds] == sorted(lo for lo, _ in bounds)
    covered = np.concatenate([np.arange(lo, hi) for lo, hi in bounds]) if bounds else []
    assert list(covered) == list(range(n))
    assert all(hi - lo <= grouping.PART for lo, hi in bounds)
    if n >= grouping.HALVES_FROM:  # the second half ran on the worker thread
        assert len({ident for *_, ident in parts}) == 2


@pytest.mark.usefixtures("small_parts")
def test_row_parts_sum_is_the_sum_and_errors_reach_the_caller() -> None:
    x = np.random.default_rng(2).normal(size=101)
    total = row_parts_sum(x.size, lambda lo, hi: [x[lo:hi].sum(keepdims=True)])
    np.testing.assert_allclose(total[0], [x.sum()], rtol=1e-13)
    again = row_parts_sum(x.size, lambda lo, hi: [x[lo:hi].sum(keepdims=True)])
    assert total[0][0] == again[0][0]  # the same parts, in the same order: the same bits

    def fail(lo: int, hi: int) -> list[np.ndarray]:
        if lo >= 50:
            raise ValueError(f"bad part {lo}")
        return [np.zeros(1)]

    with pytest.raises(ValueError, match="bad part"):
        row_parts_sum(x.size, fail)


@pytest.mark.usefixtures("small_parts")
def test_row_parts_nested_in_a_part_do_not_wait_for_themselves() -> None:
    x = np.arange(64.0)

    def inner(lo: int, hi: int) -> list[np.ndarray]:  # a part that passes over its rows
        return row_parts_sum(hi - lo, lambda a, b: [x[lo + a:lo + b].sum(keepdims=True)])

    assert row_parts_sum(x.size, inner)[0][0] == x.sum()  # (a hang before the guard)


@pytest.mark.usefixtures("small_parts")
def test_counts_and_extremes() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 5, 200)
    assert counts(codes, 6).tolist() == np.bincount(codes, minlength=6).tolist()
    v = rng.normal(size=200)
    assert extremes(v) == (v.min(), v.max())
    v[150] = np.nan
    assert all(np.isnan(e) for e in extremes(v))
    with pytest.raises(ValueError, match="empty"):
        extremes(np.zeros(0))


def test_scratch_is_kept_per_thread_and_dtype() -> None:
    a = scratch(100)
    assert scratch(50).base is a.base or scratch(50).base is a  # reused, not reallocated
    assert scratch(10, np.int32).dtype == np.int32
    other: list[np.ndarray] = []
    t = threading.Thread(target=lambda: other.append(scratch(100)))
    t.start()
    t.join()
    assert not np.shares_memory(other[0], a)


def _design(n: int, seed: int) -> Design:
    rng = np.random.default_rng(seed)
    psu = rng.integers(0, max(n // 6, 4), n)
    frame = pd.DataFrame({
        "stratum": psu % 3, "psu": psu, "w": rng.uniform(1, 5, n),
        "y": rng.normal(10, 3, n), "d": rng.integers(0, 4, n),
    })
    return Design.from_frame(frame, ids="psu", strata="stratum", weights="w")


def _reference(design: Design, by: str | None) -> pd.DataFrame:
    """Means and Taylor SEs written out (PSU x domain totals with np.add.at)."""
    f = design.data
    w, y = f["w"].to_numpy(), f["y"].to_numpy()
    dom = np.zeros(len(f), dtype=int) if by is None else f[by].to_numpy()
    k = int(dom.max()) + 1
    psu, stratum = f["psu"].to_numpy(), f["stratum"].to_numpy()
    big_w = np.bincount(dom, w, minlength=k)
    m = np.bincount(dom, w * y, minlength=k) / big_w
    z = np.zeros((psu.max() + 1, k))
    np.add.at(z, (psu, dom), w * (y - m[dom]) / big_w[dom])
    present = np.bincount(psu) > 0
    z, h = z[present], np.zeros(psu.max() + 1, dtype=int)
    h[psu] = stratum
    h = h[present]
    var = np.zeros(k)
    for s in np.unique(h):
        zs = z[h == s]
        var += len(zs) / (len(zs) - 1) * ((zs - zs.mean(axis=0)) ** 2).sum(axis=0)
    return pd.DataFrame({"estimate": m, "se": np.sqrt(var)})


@settings(max_examples=25, deadline=None)
@given(n=st.integers(40, 400), seed=st.integers(0, 10_000), by=st.sampled_from([None, "d"]))
def test_first_stage_sums_on_parts_match_the_formula(n: int, seed: int, by: str | None
                                                      ) -> None:
    """The estimates and SEs from the two-thread, many-part sums equal the formula written
    out, and those of one part on one thread (to rounding)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grouping, "HALVES_FROM", 8)
        mp.setattr(grouping, "PART", 16)
        parts = mean(_design(n, seed), "y", by=by).table
    one = mean(_design(n, seed), "y", by=by).table  # n < HALVES_FROM: one part
    ref = _reference(_design(n, seed), by)
    for col in ("estimate", "se"):
        np.testing.assert_allclose(parts[col], ref[col], rtol=1e-10)
        np.testing.assert_allclose(parts[col], one[col], rtol=1e-12)
    np.testing.assert_allclose(parts["deff"], one["deff"], rtol=1e-10)
    np.testing.assert_allclose(parts["n_eff"], one["n_eff"], rtol=1e-12)


def _child_estimate(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put(float(mean(_design(200, 5), "y", by="d").table["se"].sum()))


@pytest.mark.usefixtures("small_parts")
def test_a_forked_process_gets_its_own_worker_thread() -> None:
    """A process forked after the worker thread started (multiprocessing's default on
    Linux) has no copy of that thread: it makes its own rather than wait forever."""
    expected = float(mean(_design(200, 5), "y", by="d").table["se"].sum())
    assert grouping._POOL is not None  # the parent's worker exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_estimate, args=(queue,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == pytest.approx(expected, rel=1e-14)
