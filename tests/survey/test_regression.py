"""Design-based regression (barometer.survey.regression): R's svyglm semantics.

The ``glm`` reference cases (shared and extra) run in test_r_reference.py; these tests
cover what the case format cannot express (formulas, interactions, no intercept, Wald
tests, confidence intervals), the link with the proportion estimator, and bad input.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barometer import Design, EstimationError, calibrate, estimate, with_replicates
from barometer.survey.regression import parse_formula, regress
from conftest import SHIPPED

DATA = SHIPPED / "data"


@pytest.fixture(scope="module")
def strat() -> Design:
    d = pd.read_csv(DATA / "apistrat.csv")
    return Design.from_frame(d, strata="stype", weights="pw", fpc="fpc")


@pytest.fixture(scope="module")
def clus2() -> Design:
    d = pd.read_csv(DATA / "apiclus2.csv")
    return Design.from_frame(d, ids=["dnum", "snum"], weights="pw", fpc=["fpc1", "fpc2"])


def test_interaction_model_matches_r(strat: Design) -> None:
    # R 4.2.2, survey 4.1.1: svyglm(api00 ~ stype*ell + meals, svydesign(ids=~1,
    # strata=~stype, weights=~pw, fpc=~fpc, data=apistrat)); coef, SE, confint
    fit = regress(strat, "api00 ~ stype*ell + meals")
    r = {
        "(Intercept)": (862.831801323986952, 9.084426952403856, 844.91311446155362),
        "stypeH": (-114.258046412977833, 13.265744041699273, -140.42422230121048),
        "stypeM": (-47.688344453561101, 15.449676340911024, -78.16224379021384),
        "ell": (-0.481257212782028, 0.359057466636261, -1.18948441786416),
        "meals": (-3.405505022110157, 0.240857283266649, -3.88058685831222),
        "stypeH:ell": (-0.916895855283115, 0.735629614094138, -2.36789730763092),
        "stypeM:ell": (-0.619549668031590, 0.578067123125871, -1.75976509593145),
    }
    table = fit.to_frame().set_index("term")
    assert list(table.index) == list(r)
    for term, (est, se, low) in r.items():
        assert table.loc[term, "estimate"] == pytest.approx(est, rel=1e-9)
        assert table.loc[term, "se"] == pytest.approx(se, rel=1e-9)
        assert table.loc[term, "ci_low"] == pytest.approx(low, rel=1e-9)
    assert fit.df == 191
    # regTermTest(m, ~stype:ell): F 1.18129239720274 on 2 and 191 df, p 0.309113714411685
    test = fit.wald_test("stype:ell")
    assert test.statistic == pytest.approx(1.181292397202740, rel=1e-9)
    assert (test.df_num, test.df_den) == (2, 191)
    assert test.p_value == pytest.approx(0.309113714411685, rel=1e-9)
    assert fit.wald_test(["stypeH:ell", "stypeM:ell"]).statistic == test.statistic


def test_no_intercept_codes_every_level(strat: Design) -> None:
    # R: svyglm(api00 ~ 0 + stype + ell, same design)
    fit = regress(strat, "api00 ~ 0 + stype + ell")
    table = fit.to_frame().set_index("term")
    assert list(table.index) == ["stypeE", "stypeH", "stypeM", "ell"]
    assert table.loc["stypeE", "estimate"] == pytest.approx(775.73065838682317, rel=1e-9)
    assert table.loc["stypeM", "se"] == pytest.approx(14.968821752023116, rel=1e-9)
    assert table.loc["ell", "se"] == pytest.approx(0.309440014064707, rel=1e-9)
    assert regress(strat, "api00 ~ stype + ell - 1").columns == fit.columns
    # R: svyglm(api00 ~ 0 + stype + awards): the second factor is coded by contrasts
    two = regress(strat, "api00 ~ 0 + stype + awards").to_frame().set_index("term")
    assert list(two.index) == ["stypeE", "stypeH", "stypeM", "awardsYes"]
    assert two.loc["awardsYes", "estimate"] == pytest.approx(35.6885438742751, rel=1e-9)
    assert two.loc["stypeE", "se"] == pytest.approx(20.7238128310309, rel=1e-9)


def test_interaction_without_main_effect_codes_every_level(strat: Design) -> None:
    # R: svyglm(api00 ~ ell + stype:meals): one meals slope per school type
    fit = regress(strat, "api00 ~ ell + stype:meals").to_frame().set_index("term")
    assert list(fit.index) == ["(Intercept)", "ell", "stypeE:meals", "stypeH:meals",
                               "stypeM:meals"]
    assert fit.loc["stypeH:meals", "estimate"] == pytest.approx(-5.125511661700378, rel=1e-9)
    assert fit.loc["stypeM:meals", "se"] == pytest.approx(0.265467082725384, rel=1e-9)


@pytest.mark.parametrize("calibrated", [False, True])
def test_intercept_only_logistic_is_the_logit_of_the_proportion(
        clus2: Design, calibrated: bool) -> None:
    design = clus2
    if calibrated:
        design = calibrate(design, categorical={"stype": {"E": 4421, "H": 755, "M": 1018}},
                           total=6194, method="raking")
    fit = regress(design, "awards ~ 1", family="binomial", level="Yes")
    share = estimate(design, "proportion", "awards", level="Yes")
    p, se_p = share.value(), share.value(field="se")
    assert fit.coef[0] == pytest.approx(np.log(p / (1 - p)), rel=1e-10)
    # delta method: d logit(p) / dp = 1 / (p (1 - p))
    assert fit.se[0] == pytest.approx(se_p / (p * (1 - p)), rel=1e-8)


def test_intercept_only_linear_model_is_the_mean(clus2: Design) -> None:
    fit = regress(clus2, "api00", [])
    mean = estimate(clus2, "mean", "api00")
    assert fit.coef[0] == pytest.approx(mean.value(), rel=1e-12)
    assert fit.se[0] == pytest.approx(mean.value(field="se"), rel=1e-10)


def test_row_order_changes_nothing(strat: Design) -> None:
    d = strat.data.sample(frac=1.0, random_state=4).reset_index(drop=True)
    shuffled = Design.from_frame(d, strata="stype", weights="pw", fpc="fpc")
    a = regress(strat, "awards ~ stype + meals", family="binomial", level="Yes")
    b = regress(shuffled, "awards ~ stype + meals", family="binomial", level="Yes")
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-8)


def test_bootstrap_design_refits_every_replicate(clus2: Design) -> None:
    boot = with_replicates(clus2, "bootstrap", replicates=50, seed=1)
    fit = regress(boot, "awards ~ stype + meals", family="binomial", level="Yes")
    lin = regress(clus2, "awards ~ stype + meals", family="binomial", level="Yes")
    np.testing.assert_allclose(fit.coef, lin.coef, rtol=1e-12)
    assert fit.method.startswith("replicates")
    # same order of magnitude as the linearised SEs (50 replicates: a rough check)
    assert np.all((fit.se / lin.se > 0.5) & (fit.se / lin.se < 2.0))
    assert np.allclose(np.diag(fit.cov), boot.replicates.variance(
        fit.coef, _replicate_coefs(boot, lin)))


def _replicate_coefs(boot: Design, lin: object) -> np.ndarray:
    """The replicate coefficients refitted one by one with statsmodels (fully converged)."""
    import statsmodels.api as sm

    d = boot.data
    y = (d["awards"] == "Yes").to_numpy(float)
    x = np.column_stack([np.ones(len(d)), d["stype"] == "H", d["stype"] == "M",
                         d["meals"]]).astype(float)
    out = []
    for r in range(boot.replicates.n_replicates):
        w = boot.replicates.weights[:, r]
        keep = w > 0
        res = sm.GLM(y[keep], x[keep], family=sm.families.Binomial(),
                     var_weights=w[keep] / w[keep].mean()).fit(tol=1e-14)
        out.append(res.params)
    return np.array(out).T


def test_summary_and_frame(strat: Design) -> None:
    fit = regress(strat, "sch.wide ~ stype + meals", family="binomial", level="Yes")
    frame = fit.to_frame()
    assert {"term", "estimate", "se", "t", "p_value", "ci_low", "ci_high", "df", "n",
            "family", "method"} <= set(frame.columns)
    assert (frame["n"] == 200).all()
    text = fit.summary()
    assert "binomial (logit link)" in text and "stypeH" in text


def test_parse_formula() -> None:
    assert parse_formula("y ~ a*b + c") == ("y", [("a",), ("b",), ("c",), ("a", "b")], True)
    assert parse_formula("`y.1` ~ a:b + a + b - 1") == (
        "y.1", [("a",), ("b",), ("a", "b")], False)
    with pytest.raises(EstimationError, match="one '~'"):
        parse_formula("y = a")


def test_bad_input_is_named(strat: Design) -> None:
    with pytest.raises(EstimationError, match="between 0 and 1"):
        regress(strat, "api00 ~ ell", family="binomial")
    with pytest.raises(EstimationError, match="unknown family"):
        regress(strat, "api00 ~ ell", family="gamma")  # type: ignore[arg-type]
    with pytest.raises(EstimationError, match="not all identified"):
        regress(strat, "api00 ~ stype:awards")  # R would give an NA coefficient
    with pytest.raises(EstimationError, match="not all identified"):
        regress(strat.with_weights(strat.weights, "copy",
                                   data=strat.data.assign(ell2=2 * strat.data["ell"])),
                "api00 ~ ell + ell2")
    with pytest.raises(EstimationError, match="no coefficient of term"):
        regress(strat, "api00 ~ ell").wald_test("meals")


def test_replicate_without_a_level_gives_nan_as_r(strat: Design) -> None:
    # two rows in their own level: bootstrap replicates that leave both out cannot estimate
    # its coefficient (R's glm.fit: NA), and its replicate variance is NA; the others stay
    rare = np.where(np.arange(strat.n) < 2, "z", "b")
    # without fpc, the Rao-Wu weights of PSUs not drawn are zero
    d = Design.from_frame(strat.data.assign(rare=rare), strata="stype", weights="pw")
    boot = with_replicates(d, "bootstrap", replicates=50, seed=1)
    fit = regress(boot, "api00 ~ rare + ell").to_frame().set_index("term")
    assert np.isnan(fit.loc["rarez", "se"])
    assert np.isfinite(fit.loc[["(Intercept)", "ell"], "se"]).all()


def test_linearised_variance_on_a_replicate_design(clus2: Design) -> None:
    boot = with_replicates(clus2, "bootstrap", replicates=20, seed=2)
    lin = regress(clus2, "awards ~ stype + meals", family="binomial", level="Yes")
    forced = regress(boot, "awards ~ stype + meals", family="binomial", level="Yes",
                     variance="linearization")
    np.testing.assert_allclose(forced.cov, lin.cov, rtol=1e-10)
    assert forced.df == lin.df and forced.method == "linearization"


def test_text_outcome_hints_level(apistrat: pd.DataFrame) -> None:
    d = Design.from_frame(apistrat, strata="stype", weights="pw")
    with pytest.raises(EstimationError, match="pass level="):
        regress(d, "awards", ["api99"], family="binomial")
