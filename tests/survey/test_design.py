"""Design construction: structure, degrees of freedom, fpc, lonely PSUs and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barometer import Design, DesignError, LonelyPSU, mean


def test_strata_clusters_and_degf(apistrat: pd.DataFrame, apiclus1: pd.DataFrame) -> None:
    d = Design.from_frame(apistrat, strata="stype", weights="pw", fpc="fpc")
    assert d.degf() == 200 - 3
    c = Design.from_frame(apiclus1, ids="dnum", weights="pw", fpc="fpc")
    assert c.degf() == 15 - 1
    assert len(c.stages) == 1 and np.unique(c.stages[0].clusters).size == 15


def test_fpc_as_fraction_equals_population_size(apistrat: pd.DataFrame) -> None:
    frac = apistrat.assign(f=apistrat.groupby("stype")["stype"].transform("size")
                           / apistrat["fpc"])
    a = mean(Design.from_frame(apistrat, strata="stype", weights="pw", fpc="fpc"), "api00")
    b = mean(Design.from_frame(frac, strata="stype", weights="pw", fpc="f"), "api00")
    assert a.value(field="se") == pytest.approx(b.value(field="se"), rel=1e-12)


def test_weights_from_probs_and_from_fpc(apistrat: pd.DataFrame) -> None:
    probs = apistrat.assign(p=1 / apistrat["pw"])
    a = Design.from_frame(probs, strata="stype", probs="p")
    np.testing.assert_allclose(a.weights, apistrat["pw"], rtol=1e-12)
    b = Design.from_frame(apistrat, strata="stype", fpc="fpc")
    np.testing.assert_allclose(b.weights, apistrat["pw"], rtol=1e-6)


def test_design_is_immutable(apistrat: pd.DataFrame) -> None:
    d = Design.from_frame(apistrat, strata="stype", weights="pw")
    with pytest.raises(AttributeError):
        d.weights = np.ones(d.n)  # type: ignore[misc]


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan])
def test_non_positive_or_missing_weight_is_named(apistrat: pd.DataFrame, bad: float) -> None:
    df = apistrat.copy()
    df.loc[7, "pw"] = bad
    with pytest.raises(DesignError) as err:
        Design.from_frame(df, strata="stype", weights="pw", source="apistrat.csv")
    # index 7 is the 8th data row: rows are counted from 1, as in the file
    assert "row 8 (1 = first data row)" in str(err.value) and "pw" in str(err.value)


def test_missing_column_is_named(apistrat: pd.DataFrame) -> None:
    with pytest.raises(DesignError, match="'nope' not found"):
        Design.from_frame(apistrat, strata="nope", weights="pw")


def test_clusters_not_nested_in_strata(apistrat: pd.DataFrame) -> None:
    with pytest.raises(DesignError, match="nest=True"):
        Design.from_frame(apistrat.assign(c=np.arange(200) % 5), ids="c", strata="stype",
                          weights="pw")
    d = Design.from_frame(apistrat.assign(c=np.arange(200) % 5), ids="c", strata="stype",
                          weights="pw", nest=True)
    assert d.degf() == 15 - 3


def _lonely() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"h": ["a"] * 6 + ["b"] * 5 + ["z"], "y": rng.normal(size=12),
                       "w": rng.uniform(1, 3, 12)})
    return df


def test_lonely_psu_fail_names_the_stratum() -> None:
    with pytest.raises(DesignError) as err:
        Design.from_frame(_lonely(), strata="h", weights="w")
    assert "'z'" in str(err.value) and "lonely_psu" in str(err.value)


def test_lonely_psu_policies() -> None:
    df = _lonely()
    full = {p: mean(Design.from_frame(df, strata="h", weights="w", lonely_psu=p), "y")
            for p in ("certainty", "remove", "adjust")}
    assert full["certainty"].value(field="se") == full["remove"].value(field="se")
    # adjust adds the lonely PSU's squared deviation from zero of its influence total
    assert full["adjust"].value(field="se") > full["remove"].value(field="se")
    assert LonelyPSU("adjust") is LonelyPSU.ADJUST


def test_certainty_stratum_with_fpc_contributes_nothing() -> None:
    df = _lonely().assign(N=[10] * 6 + [8] * 5 + [1])
    d = Design.from_frame(df, strata="h", weights="w", fpc="N")  # n = N = 1: no error
    assert np.isfinite(mean(d, "y").value(field="se"))

