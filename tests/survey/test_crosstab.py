"""Cross-tabulations (R's svytable + svychisq): cells, shares, Rao–Scott tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barometer import Design, calibrate, crosstab, estimate, with_replicates
from barometer.survey.errors import EstimationError


def _strat(df: pd.DataFrame) -> Design:
    return Design.from_frame(df, strata="stype", weights="pw", fpc="fpc")


def test_cells_match_totals_and_shares_match_domain_proportions(apistrat: pd.DataFrame
                                                                ) -> None:
    d = _strat(apistrat)
    tab = crosstab(d, "stype", "awards")
    cells = tab.to_frame().set_index(["row", "col"])
    tot = estimate(d, "total", "awards", level="Yes", by="stype").to_frame().set_index("domain")
    for s in ("E", "H", "M"):
        assert cells.loc[(s, "Yes"), "total"] == pytest.approx(tot.loc[s, "estimate"])
        assert cells.loc[(s, "Yes"), "total_se"] == pytest.approx(tot.loc[s, "se"])
    share = estimate(d, "proportion", "awards", level="Yes", by="stype",
                     ci="wald").to_frame().set_index("domain")
    for s in ("E", "H", "M"):
        assert cells.loc[(s, "Yes"), "row_share"] == pytest.approx(share.loc[s, "estimate"])
        assert cells.loc[(s, "Yes"), "row_share_se"] == pytest.approx(share.loc[s, "se"])
    col = estimate(d, "proportion", "stype", level="H", by="awards",
                   ci="wald").to_frame().set_index("domain")
    assert cells.loc[("H", "No"), "col_share_se"] == pytest.approx(col.loc["No", "se"])
    assert tab.table("total").shape == (3, 2)
    assert "Rao–Scott" in tab.summary()


def test_replicate_shares_recompute_each_replicate(apiclus1: pd.DataFrame) -> None:
    d = with_replicates(Design.from_frame(apiclus1, ids="dnum", weights="pw"), "JK1")
    cells = crosstab(d, "stype", "awards").to_frame().set_index(["row", "col"])
    share = estimate(d, "proportion", "awards", level="Yes", by="stype",
                     ci="wald").to_frame().set_index("domain")
    assert cells.loc[("M", "Yes"), "row_share_se"] == pytest.approx(share.loc["M", "se"])


def test_crosstab_rejects_unknown_test_and_a_single_level(apistrat: pd.DataFrame) -> None:
    d = _strat(apistrat)
    with pytest.raises(EstimationError, match="unknown test"):
        crosstab(d, "stype", "awards", test="Wald")
    with pytest.raises(EstimationError, match="two rows"):
        crosstab(d, "stype", "awards", domain={"awards": "Yes"})


@st.composite
def tables(draw: st.DrawFn) -> pd.DataFrame:
    n_psu = draw(st.integers(6, 14))
    size = draw(st.integers(3, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = n_psu * size
    return pd.DataFrame({
        "psu": np.repeat(np.arange(n_psu), size),
        "h": np.repeat(np.arange(n_psu) % 2, size),
        "w": rng.uniform(0.5, 10, n),
        "a": np.resize(["x", "y", "z"], n)[rng.permutation(n)],
        "b": np.resize(["p", "q"], n)[rng.permutation(n)],
        "s": np.resize(["F", "M"], n),
    })


@settings(max_examples=30, deadline=None)
@given(tables(), st.integers(0, 10_000), st.booleans())
def test_cells_add_up_and_rao_scott_ignores_row_order(df: pd.DataFrame, seed: int,
                                                      calibrated: bool) -> None:
    def design(frame: pd.DataFrame) -> Design:
        d = Design.from_frame(frame, ids="psu", strata="h", weights="w")
        if calibrated:
            d = calibrate(d, categorical={"s": {"F": 500.0, "M": 700.0}})
        return d

    d = design(df)
    tab = crosstab(d, "a", "b")
    whole = estimate(d, "total", "w").to_frame()  # any variable: its rows are all observed
    n_total = float(d.weights.sum())
    assert tab.cells["total"].sum() == pytest.approx(n_total, rel=1e-12)
    assert whole["n"].iloc[0] == tab.cells["n"].sum()
    assert tab.cells["share"].sum() == pytest.approx(1.0, rel=1e-12)
    shuffled = df.sample(frac=1, random_state=seed).reset_index(drop=True)
    other = crosstab(design(shuffled), "a", "b")
    for field in ("statistic", "ndf", "ddf", "p_value", "pearson"):
        assert getattr(other.test, field) == pytest.approx(getattr(tab.test, field),
                                                           rel=1e-8)
    swapped = crosstab(d, "b", "a")  # rows and columns exchanged: the same test
    assert swapped.test.statistic == pytest.approx(tab.test.statistic, rel=1e-8)
    chisq = crosstab(d, "a", "b", test="Chisq").test
    assert chisq.ndf == 2
    assert chisq.statistic == pytest.approx(tab.test.statistic * 2, rel=1e-10)


def test_fay_replicates_built_here_match_rs_supplied_weights_case() -> None:
    """parity.json's strat_repw_fay_crosstab_stype_awards reads R's Fay replicate weights
    from the data; with_replicates builds the same replicates from the pseudo-design."""
    from barometer.verify import load_cases
    from conftest import SHIPPED

    case = next(c for c in load_cases(SHIPPED / "parity.json")
                if c["id"] == "strat_repw_fay_crosstab_stype_awards")
    df = pd.read_csv(SHIPPED / "data" / case["data"])
    d = Design.from_frame(df, ids="vpsu", strata="vstrat", weights="pw", nest=True)
    tab = crosstab(with_replicates(d, "Fay", fay_rho=0.5), "stype", "awards")
    want = case["expected"]
    for field in ("statistic", "ndf", "ddf", "p_value"):
        assert getattr(tab.test, field) == pytest.approx(want[field], rel=1e-6)
    got = {f"{r.row}|{r.col}": r.total for r in tab.cells.itertuples()}
    for key, value in want["cells"].items():
        assert got[key] == pytest.approx(value, rel=1e-6)
