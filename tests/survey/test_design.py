"""Design construction: structure, degrees of freedom, fpc, lonely PSUs and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barometer import Design, DesignError, LonelyPSU, calibrate, mean, total, with_replicates
from barometer.survey.design import PPS
from conftest import SHIPPED


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
    # adjust adds the lonely PSU's squared deviation from the mean PSU total
    assert full["adjust"].value(field="se") > full["remove"].value(field="se")
    assert LonelyPSU("adjust") is LonelyPSU.ADJUST


def test_certainty_stratum_with_fpc_contributes_nothing() -> None:
    df = _lonely().assign(N=[10] * 6 + [8] * 5 + [1])
    d = Design.from_frame(df, strata="h", weights="w", fpc="N")  # n = N = 1: no error
    assert np.isfinite(mean(d, "y").value(field="se"))


# ---------------------------------------------------------------- lonely PSUs (survey 4.5)
def _singleton() -> pd.DataFrame:
    """R's own lonely.psu test (tests/lonely.psu.R, survey >= 4.4): stratum 3 has one PSU."""
    return pd.DataFrame({
        "Stratum": [1, 1, 2, 2, 3], "PSU": [1, 2, 3, 4, 5],
        "Design_Weight": [10.5, 10.5, 20, 20, 15],
        "Age": [30.5, 40.5, 35, 52, 44],
    })


@pytest.mark.parametrize(("policy", "variance"), [("remove", 126625.0),
                                                  ("certainty", 126625.0),
                                                  ("adjust", 127579.8)])
def test_lonely_psu_total_variance_as_r(policy: str, variance: float) -> None:
    # R: stopifnot(all.equal(127579.8, vcov(svytotal(~Age, design)), tolerance = 1e-6))
    d = Design.from_frame(_singleton(), ids="PSU", strata="Stratum", weights="Design_Weight",
                          lonely_psu=policy)
    se = total(d, "Age").value(field="se")
    assert se**2 == pytest.approx(variance, rel=1e-6 if policy == "adjust" else 1e-12)


def test_lonely_psu_adjust_centres_at_the_mean_psu_total() -> None:
    df = _singleton()
    d = Design.from_frame(df, ids="PSU", strata="Stratum", weights="Design_Weight",
                          lonely_psu="adjust")
    t = (df["Design_Weight"] * df["Age"]).to_numpy()
    strata = [t[:2], t[2:4]]
    within = sum(2 * ((s - s.mean()) ** 2).sum() for s in strata)
    lone = (t[4] - t.sum() / 5) ** 2
    assert total(d, "Age").value(field="se") ** 2 == pytest.approx(within + lone, rel=1e-12)


def test_lonely_psu_average_scales_by_strata_share() -> None:
    df = _singleton()
    kw = {"ids": "PSU", "strata": "Stratum", "weights": "Design_Weight"}
    remove = total(Design.from_frame(df, lonely_psu="remove", **kw), "Age").value(field="se")
    average = total(Design.from_frame(df, lonely_psu="average", **kw), "Age").value(field="se")
    assert average**2 == pytest.approx(remove**2 * 3 / 2, rel=1e-12)
    assert LonelyPSU("average") is LonelyPSU.AVERAGE


def test_lonely_psu_average_with_only_lonely_strata_is_nan() -> None:
    # R: a stage whose strata are all lonely has nothing to average (NaN)
    df = pd.DataFrame({"h": [1, 2], "y": [1.0, 3.0], "w": [2.0, 2.0]})
    d = Design.from_frame(df, strata="h", weights="w", lonely_psu="average")
    assert np.isnan(total(d, "y").value(field="se"))


def test_unknown_lonely_policy_is_named() -> None:
    with pytest.raises(DesignError, match="lonely PSU"):
        Design.from_frame(_singleton(), strata="Stratum", weights="Design_Weight",
                          lonely_psu="merge")


# ---------------------------------------------------------------- PPS without replacement
def _pps() -> pd.DataFrame:
    return pd.read_csv(SHIPPED / "data" / "apipps.csv")


def test_pps_weights_are_inverse_probabilities() -> None:
    df = _pps()
    d = Design.from_frame(df, fpc="pi", pps="brewer")
    np.testing.assert_allclose(d.weights, 1 / df["pi"].to_numpy())
    assert d.spec.pps is PPS.BREWER
    assert "PPS" in d.spec.describe()


def test_brewer_is_the_with_replacement_formula_weighted_by_one_minus_pi() -> None:
    df = _pps()
    d = Design.from_frame(df, fpc="pi", pps="brewer")
    z = (df["api00"] / df["pi"]).to_numpy()
    pi = df["pi"].to_numpy()
    n = len(df)
    expected = n / (n - 1) * ((1 - pi) * (z - z.mean()) ** 2).sum()
    assert total(d, "api00").value(field="se") ** 2 == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("fpc", "pps", "message"), [
    (None, "brewer", "inclusion probabilities"),
    ("enroll", "brewer", r"\(0, 1\]"),
    ("pi", "sampford", "unknown PPS"),
])
def test_pps_errors_say_what_to_do(fpc: str | None, pps: str, message: str) -> None:
    with pytest.raises(DesignError, match=message):
        Design.from_frame(_pps(), fpc=fpc, pps=pps)


def test_pps_design_has_no_built_replicates() -> None:
    with pytest.raises(DesignError, match="PPS"):
        with_replicates(Design.from_frame(_pps(), fpc="pi", pps="brewer"), "JK1")


def test_overton_is_single_stage() -> None:
    df = _pps().assign(c=np.arange(40) // 2)
    with pytest.raises(DesignError, match="single-stage"):
        Design.from_frame(df, ids=["c", "snum"], fpc=["pi", "pi"], pps="overton")


# ---------------------------------------------------------------- supplied replicate weights
def _rep() -> pd.DataFrame:
    return pd.read_csv(SHIPPED / "data" / "apiclus1_rep.csv")


def test_from_replicates_prefix_and_columns_agree() -> None:
    df = _rep()
    cols = [f"jk1_{j}" for j in range(1, 16)]
    a = Design.from_replicates(df, repweights="jk1_", weights="pw", type="JK1", scale=14 / 15)
    b = Design.from_replicates(df, repweights=cols, weights="pw", type="JK1", scale=14 / 15)
    assert a.spec.repweights == tuple(cols)
    assert a.replicates is not None and a.replicates.n_replicates == 15
    assert a.degf() == 14  # rank of the replicate weights - 1
    assert mean(a, "api00").value(field="se") == mean(b, "api00").value(field="se")
    assert "replicate weights" in repr(a)


def test_from_replicates_r_default_scales() -> None:
    df = _rep()
    with pytest.warns(UserWarning, match="number of replicates"):
        jk1 = Design.from_replicates(df, repweights="jk1_", weights="pw", type="JK1")
    assert jk1.replicates is not None and jk1.replicates.scale == pytest.approx(14 / 15)
    boot = Design.from_replicates(df, repweights="bs_", weights="pw", type="bootstrap")
    assert boot.replicates is not None and boot.replicates.scale == pytest.approx(1 / 24)
    brr = Design.from_replicates(df, repweights="bs_", weights="pw", type="BRR")
    assert brr.replicates is not None and brr.replicates.scale == pytest.approx(1 / 25)
    fay = Design.from_replicates(df, repweights="bs_", weights="pw", type="Fay", rho=0.5)
    assert fay.replicates is not None and fay.replicates.scale == pytest.approx(4 / 25)
    sd = Design.from_replicates(df, repweights="bs_", weights="pw",
                                type="successive-difference")
    assert sd.replicates is not None and sd.replicates.scale == pytest.approx(4 / 25)
    with pytest.warns(UserWarning, match="other"):
        other = Design.from_replicates(df, repweights="bs_", weights="pw", type="other")
    assert other.replicates is not None and other.replicates.scale == 1.0
    rs = Design.from_replicates(df, repweights="jk1_", weights="pw", type="other",
                                scale=1.0, rscales=0.5)
    assert rs.replicates is not None and (rs.replicates.rscales == 0.5).all()


def test_from_replicates_factors_are_multiplied_by_the_weights() -> None:
    df = _rep()
    cols = [f"jk1_{j}" for j in range(1, 16)]
    factors = df[cols].div(df["pw"], axis=0).add_prefix("f_")
    a = Design.from_replicates(df, repweights="jk1_", weights="pw", type="JK1", scale=14 / 15)
    b = Design.from_replicates(pd.concat([df, factors], axis=1), repweights="f_jk1_",
                               weights="pw", type="JK1", scale=14 / 15,
                               combined_weights=False)
    assert total(b, "enroll").value(field="se") == pytest.approx(
        total(a, "enroll").value(field="se"), rel=1e-12)


@pytest.mark.parametrize(("kw", "message"), [
    ({"repweights": "zz_", "type": "JK1"}, "prefix"),
    ({"repweights": ["jk1_1", "nope"], "type": "JK1", "scale": 1.0}, "'nope' not found"),
    ({"repweights": "jk1_", "type": "JKn"}, "rscales"),
    ({"repweights": "jk1_", "type": "Fay"}, "rho"),
    ({"repweights": "jk1_", "type": "jackknife"}, "unknown replicate type"),
    ({"repweights": "jk1_", "type": "other", "scale": 1.0, "rscales": [1, 2]}, "rscales"),
    ({"repweights": "jk1_", "type": "JK1", "scale": 1.0, "weights": "jk1_1"}, "among"),
])
def test_from_replicates_errors_say_what_to_do(kw: dict, message: str) -> None:
    kw = {"weights": "pw", **kw}
    with pytest.raises(DesignError, match=message):
        Design.from_replicates(_rep(), **kw)


def test_from_replicates_rejects_missing_replicate_weights() -> None:
    df = _rep()
    df.loc[3, "jk1_2"] = np.nan
    with pytest.raises(DesignError) as err:
        Design.from_replicates(df, repweights="jk1_", weights="pw", type="JK1", scale=1.0)
    assert "row 3, column jk1_2" in str(err.value)


def test_replicates_cannot_be_built_twice() -> None:
    d = Design.from_replicates(_rep(), repweights="jk1_", weights="pw", type="JK1",
                               scale=14 / 15)
    with pytest.raises(DesignError, match="already has replicate weights"):
        with_replicates(d, "JK1")


# ---------------------------------------------------------------- immutability, warnings
def test_changing_the_data_never_changes_a_design(apistrat: pd.DataFrame) -> None:
    d = Design.from_frame(apistrat, strata="stype", weights="pw", fpc="fpc")
    before = mean(d, "api00", by="stype").to_frame()
    derived = calibrate(d, categorical={"stype": {"E": 4421, "H": 755, "M": 1018}},
                        method="poststratify")
    before_derived = mean(derived, "api00").value(field="se")
    view = d.data
    view.loc[:, "api00"] = 0.0  # in place, on the frame the design hands out
    view["stype"] = "E"  # a recoded by-column
    after = mean(d, "api00", by="stype").to_frame()
    pd.testing.assert_frame_equal(after, before)
    assert mean(derived, "api00").value(field="se") == before_derived
    with pytest.raises(ValueError):
        d.column("api00").to_numpy()[0] = 5.0  # read-only values
    apistrat_copy = apistrat.copy()
    d2 = Design.from_frame(apistrat_copy, strata="stype", weights="pw")
    apistrat_copy.loc[:, "api00"] = 0.0  # the caller's frame, changed after
    assert mean(d2, "api00").value() == pytest.approx(before["estimate"].mul(
        pd.Series([4421, 755, 1018])).sum() / 6194, rel=1e-9)


def test_recoded_domain_column_in_a_new_design_gives_new_domains(
        apistrat: pd.DataFrame) -> None:
    d = Design.from_frame(apistrat, strata="stype", weights="pw")
    assert len(mean(d, "api00", by="awards").to_frame()) == 2
    recoded = d.with_weights(d.weights, "recode", data=d.data.assign(awards="all"))
    assert mean(recoded, "api00", by="awards").to_frame()["domain"].tolist() == ["all"]
    assert len(mean(d, "api00", by="awards").to_frame()) == 2


def test_no_weights_warns_as_r(apisrs: pd.DataFrame) -> None:
    with pytest.warns(UserWarning, match="assuming equal probability"):
        Design.from_frame(apisrs)


def test_jk1_drops_a_later_stage_fpc_with_a_warning() -> None:
    df = pd.read_csv(SHIPPED / "data" / "apiclus2.csv")
    d = Design.from_frame(df, ids=["dnum", "snum"], fpc=["fpc1", "fpc2"])
    with pytest.warns(UserWarning, match="after the first stage"):
        with_replicates(d, "JK1")


@pytest.mark.parametrize(("value", "kind"), [(np.nan, "missing"), (-1.0, "negative"),
                                             ("x", "text")])
def test_from_replicates_names_the_bad_replicate_weight(value: object, kind: str) -> None:
    df = _rep()
    df["jk1_7"] = df["jk1_7"].astype(object)
    df.loc[150, "jk1_7"] = value
    with pytest.raises(DesignError, match="finite and non-negative") as err:
        Design.from_replicates(df, repweights="jk1_", weights="pw", type="JK1", scale=14 / 15)
    assert "row 150, column jk1_7" in str(err.value)


def test_from_replicates_holds_the_columns_row_by_row() -> None:
    df = _rep()
    cols = [f"jk1_{j}" for j in range(1, 16)]
    df[cols[3]] = df[cols[3]].round().astype(int)  # an integer column among the floats
    d = Design.from_replicates(df, repweights=cols, weights="pw", type="JK1", scale=14 / 15)
    assert d.replicates is not None
    w = d.replicates.weights
    assert w.flags.c_contiguous
    np.testing.assert_array_equal(w, df[cols].to_numpy(dtype=float))


def test_from_replicates_copies_and_checks_every_block_of_rows() -> None:
    rng = np.random.default_rng(9)
    n, r = 6000, 100  # blocks of 2,621 rows: three of them
    reps = rng.uniform(0.5, 1.5, (n, r))
    df = pd.DataFrame({f"rw{j}": reps[:, j] for j in range(r)}).assign(w=1.0, y=rng.random(n))
    d = Design.from_replicates(df, repweights="rw", weights="w", type="bootstrap")
    assert d.replicates is not None
    np.testing.assert_array_equal(d.replicates.weights, reps)
    assert d.degf() == r - 1
    df.loc[5500, "rw42"] = np.inf
    with pytest.raises(DesignError, match="row 5500, column rw42"):
        Design.from_replicates(df, repweights="rw", weights="w", type="bootstrap")
