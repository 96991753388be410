"""Regional Fay–Herriot estimates (barometer.scoreboard.small_area) on a simulated sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barometer import EstimationError, fay_herriot
from barometer.scoreboard.indicators import load_weighting
from barometer.scoreboard.populations import weight_population
from barometer.scoreboard.small_area import (
    COLUMNS_HEAD,
    COLUMNS_TAIL,
    publishable,
    regional_estimates,
)
from barometer.synthetic.simulate import build_population, draw_sample
from barometer.synthetic.small_area_sim import population_covariates


@pytest.fixture(scope="module")
def weighted():
    pop = build_population(2025, np.random.SeedSequence(7), size=30_000, domains=())
    sample = draw_sample(np.random.default_rng(8), pop, "mar")
    wp = weight_population(sample, pop.margins, load_weighting()["individuals"])
    ind = next(i for i in pop.indicators if i.id == "online_all")
    return wp, ind, population_covariates(pop.frame)


def test_columns_and_refit_from_published_columns(weighted) -> None:
    wp, ind, cov = weighted
    names = ["internet_daily", "age_65plus"]
    t = regional_estimates(wp.design, ind.variable(wp.design.data), "online_all", cov, names)
    assert list(t.columns) == [*COLUMNS_HEAD, *names, *COLUMNS_TAIL]
    assert len(t) == 13 and t["n"].sum() > 900
    # the bar of issue 17: EBLUP and MSE recomputed from the published columns agree
    refit = fay_herriot(t, "direct", "smoothed_var", names, area="region",
                        method="REML" if "REML" in t["method"].iloc[0] else "FH")
    np.testing.assert_allclose(refit.eblup, t["eblup"], rtol=1e-12)
    np.testing.assert_allclose(refit.mse, t["mse"], rtol=1e-12)
    assert ((t["shrinkage"] >= 0) & (t["shrinkage"] <= 1)).all()
    assert t["method"].str.startswith("model-based").all()
    assert publishable(t).dtype == bool


def test_publishable_rule() -> None:
    t = pd.DataFrame({"eblup": [0.5, 0.5, 0.05, 1.2], "mse": [0.01, 0.03, 0.0004, 0.001]})
    assert publishable(t, 0.3).tolist() == [True, False, False, False]


def test_missing_covariate(weighted) -> None:
    wp, ind, cov = weighted
    with pytest.raises(EstimationError, match="no column 'census_x'"):
        regional_estimates(wp.design, ind.variable(wp.design.data), "online_all", cov,
                           ["census_x"])
    with pytest.raises(EstimationError, match="no covariate values") as e:
        regional_estimates(wp.design, ind.variable(wp.design.data), "online_all",
                           cov[cov["region"] != "94"], ["internet_daily"])
    assert "94" in str(e.value)
