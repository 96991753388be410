"""Estimators: identities, domains, intervals, diagnostics and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barometer import Design, EstimationError, estimate, mean, proportion, quantile, ratio, total


@pytest.fixture
def strat(apistrat: pd.DataFrame) -> Design:
    return Design.from_frame(apistrat, strata="stype", weights="pw", fpc="fpc")


def test_domain_mean_equals_ratio_estimator(strat: Design) -> None:
    data = strat.data.assign(one=1.0)
    d = Design.from_frame(data, strata="stype", weights="pw", fpc="fpc")
    for dom in ("E", "H", "M"):
        flag = (data["stype"] == dom).astype(float)
        d2 = Design.from_frame(data.assign(yd=data["api00"] * flag, xd=flag), strata="stype",
                               weights="pw", fpc="fpc")
        by = mean(d, "api00", by="stype")
        r = ratio(d2, "yd", "xd")
        assert by.value(dom) == pytest.approx(r.value(), rel=1e-12)
        assert by.value(dom, field="se") == pytest.approx(r.value(field="se"), rel=1e-10)


def test_total_of_indicator_is_population_size_times_proportion(strat: Design) -> None:
    data = strat.data.assign(yes=(strat.data["awards"] == "Yes").astype(float))
    d = Design.from_frame(data, strata="stype", weights="pw", fpc="fpc")
    p = proportion(d, "awards", "Yes", ci="wald")
    t = total(d, "yes")
    big_n = d.weights.sum()
    assert t.value() == pytest.approx(big_n * p.value(), rel=1e-12)


def test_all_levels_at_once(strat: Design) -> None:
    res = proportion(strat, "stype").to_frame()
    assert list(res["level"]) == ["E", "H", "M"]
    assert res["estimate"].sum() == pytest.approx(1.0)


def test_missing_values_are_out_of_domain(strat: Design) -> None:
    data = strat.data.copy()
    data.loc[:9, "api00"] = np.nan
    d = Design.from_frame(data, strata="stype", weights="pw", fpc="fpc")
    r = mean(d, "api00").to_frame().iloc[0]
    assert r["n"] == 190
    keep = data["api00"].notna()
    expected = np.average(data.loc[keep, "api00"], weights=data.loc[keep, "pw"])
    assert r["estimate"] == pytest.approx(expected)


def test_result_frame_and_summary(strat: Design) -> None:
    res = mean(strat, "api00", by="stype")
    frame = res.to_frame()
    for col in ("estimate", "se", "cv", "ci_low", "ci_high", "df", "deff", "n", "n_eff",
                "method"):
        assert col in frame.columns
    assert len(frame) == 3 and (frame["cv"] == frame["se"] / frame["estimate"]).all()
    assert "api00" in res.summary() and "linearization" in res.summary()
    frame.loc[0, "estimate"] = -1  # a copy: the result is unchanged
    assert res.value("E") != -1


@pytest.mark.parametrize("method", ["wald", "logit", "xlogit", "beta", "wilson"])
def test_proportions_of_zero_and_one_have_finite_intervals(strat: Design, method: str) -> None:
    data = strat.data.assign(all_yes="Yes", none=np.where(strat.data.index >= 0, "No", "Yes"))
    d = Design.from_frame(data, strata="stype", weights="pw", fpc="fpc")
    one = proportion(d, "all_yes", "Yes", ci=method).to_frame().iloc[0]
    assert one["estimate"] == 1 and np.isfinite(one["ci_low"]) and one["ci_high"] == 1
    assert one["ci_low"] == pytest.approx(0.025 ** (1 / 200))


@pytest.mark.parametrize("method", ["logit", "beta", "wilson", "wald"])
def test_interval_rules_contain_the_estimate(strat: Design, method: str) -> None:
    r = proportion(strat, "awards", "Yes", ci=method).to_frame().iloc[0]
    assert r["ci_low"] < r["estimate"] < r["ci_high"]


def test_wilson_matches_its_formula(strat: Design) -> None:
    from scipy import stats

    r = proportion(strat, "awards", "Yes", ci="wilson", df="inf").to_frame().iloc[0]
    p, v = r["estimate"], r["se"] ** 2
    n, z = p * (1 - p) / v, stats.norm.ppf(0.975)
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    assert (r["ci_low"] + r["ci_high"]) / 2 == pytest.approx(centre, rel=1e-12)


def test_df_choices(strat: Design) -> None:
    inf = mean(strat, "api00", df="inf").to_frame().iloc[0]
    des = mean(strat, "api00").to_frame().iloc[0]
    num = mean(strat, "api00", df=10).to_frame().iloc[0]
    assert inf["df"] == np.inf and des["df"] == 197 and num["df"] == 10
    assert (inf["ci_high"] - inf["ci_low"]) < (des["ci_high"] - des["ci_low"]) < \
        (num["ci_high"] - num["ci_low"])


def test_quantile_rules_on_equal_weights() -> None:
    data = pd.DataFrame({"y": np.arange(1.0, 11.0), "w": 1.0})
    d = Design.from_frame(data, weights="w")
    assert quantile(d, "y", 0.5, qrule="hf7").value() == pytest.approx(np.quantile(data["y"],
                                                                                   0.5))
    assert quantile(d, "y", 0.5, qrule="math").value() == 5.0
    assert quantile(d, "y", 0.25, qrule="hf7").value() == pytest.approx(3.25)


def test_errors_are_clear(strat: Design) -> None:
    with pytest.raises(EstimationError, match="level 'Maybe' does not occur"):
        proportion(strat, "awards", "Maybe")
    with pytest.raises(EstimationError, match="unknown statistic"):
        estimate(strat, "median", "api00")  # type: ignore[arg-type]
    with pytest.raises(EstimationError, match="not numeric"):
        mean(strat, "awards")
    with pytest.raises(EstimationError, match="unknown confidence-interval rule"):
        mean(strat, "api00", ci="logit")
    empty = Design.from_frame(strat.data.assign(z=np.nan), strata="stype", weights="pw")
    with pytest.raises(EstimationError, match="no rows"):
        mean(empty, "z")


# ---------------------------------------------------------------- defects of issue 13
@pytest.mark.parametrize("rule", ["beta", "wilson"])
def test_interval_of_a_domain_with_se_zero_is_nan_there(apiclus1: pd.DataFrame,
                                                        rule: str) -> None:
    df = apiclus1.assign(emer0=(apiclus1["emer"] == 0).astype(int))
    d = Design.from_frame(df, ids="dnum", fpc="fpc")
    got = estimate(d, "proportion", "emer0", level=1, ci=rule, by="cname").to_frame()
    inside = (got["se"] == 0) & (got["estimate"] > 0) & (got["estimate"] < 1)
    assert inside.any() and (~inside).any()
    assert got.loc[inside, ["ci_low", "ci_high"]].isna().all().all()
    assert got.loc[~inside, ["ci_low", "ci_high"]].notna().all().all()


def test_ratio_with_zero_denominator(apistrat: pd.DataFrame) -> None:
    import warnings

    df = apistrat.assign(z=np.where(apistrat["stype"] == "H", 0.0, 1.0), z0=0.0)
    d = Design.from_frame(df, strata="stype", weights="pw", fpc="fpc")
    with pytest.raises(EstimationError, match="'z0' is zero"):
        ratio(d, "api00", "z0")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = ratio(d, "api00", "z", by="stype").to_frame().set_index("domain")
    assert [str(w.message) for w in caught if w.category is not UserWarning] == []
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "'z'" in messages[0] and "(H)" in messages[0]
    assert got.loc["H", ["estimate", "se", "ci_low", "ci_high"]].isna().all()
    assert got.loc[["E", "M"], "se"].gt(0).all()


def test_math_quantile_below_the_smallest_share_is_the_smallest_value(
        apisrs: pd.DataFrame) -> None:
    # survey >= 4.4-1 (qrule_math: wlow <= 0): 348, where 4.1 returned the next value
    d = Design.from_frame(apisrs, weights="pw", fpc="fpc")
    assert quantile(d, "api00", 0.003).value() == apisrs["api00"].min() == 348


def test_messages_show_values_as_written(apiclus1: pd.DataFrame) -> None:
    df = apiclus1.assign(e=np.where(apiclus1["emer"] > 0, 1.0, np.nan))
    d = Design.from_frame(df, ids="dnum", weights="pw")
    with pytest.raises(EstimationError) as err:
        proportion(d, "e", level=3)
    assert "levels present: 1" in str(err.value) and "1.0" not in str(err.value)
    assert "np.int64" not in str(EstimationError("x", value=np.int64(83)))
    assert str(EstimationError("x", value=[np.int64(1), np.float64(2.5)])).endswith(
        "value: [1, 2.5]")
