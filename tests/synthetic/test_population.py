"""National headline truths and regional effects of the synthetic populations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barometer.synthetic.editions import _service_shares
from barometer.synthetic.population import (
    HEADLINES,
    REGION_EFFECT_SD,
    REGIONS,
    companies_covariates,
    companies_items,
    headline,
    individuals_covariates,
    individuals_items,
    region_effects,
)


def test_headline_path_interpolates() -> None:
    assert headline("proc", 2016) == 0.37
    assert headline("proc", 2020) == pytest.approx(0.385 + 3 / 8 * (0.58 - 0.385))
    assert headline("online", 2013) == HEADLINES["online"][2014]  # constant outside
    for path in HEADLINES.values():
        assert all(0 < v < 1 for v in path.values())


def test_2016_population_follows_the_published_headlines() -> None:
    """DOMAIN.md, 2016: 37% did a procedure, 3 in 4 of them online (28% of all adults), 90%
    of online users satisfied; companies < 10: 78% satisfied; 10+: 74% online, 95%
    satisfied; 35% of companies find relations easier."""
    rng = np.random.default_rng(3)
    shares = _service_shares(2016)
    pop = individuals_covariates(rng, 2016, 60_000)
    a = individuals_items(rng, 2016, pop, shares)
    proc, online = a["proc"] == 1, a["online"] <= 2
    assert proc.mean() == pytest.approx(0.37, abs=0.01)
    assert online[proc].mean() == pytest.approx(0.757, abs=0.01)
    assert online.mean() == pytest.approx(0.28, abs=0.01)
    assert (a["satis"][online] <= 2).mean() == pytest.approx(0.90, abs=0.01)
    comp = companies_covariates(rng, 2016, 60_000)
    b = companies_items(rng, 2016, comp, shares)
    big = comp["_size"].to_numpy() >= 2
    cproc, con = b["proc"] == 1, b["online"] <= 2
    sat = b["satis"] <= 2
    assert con[cproc & big].mean() == pytest.approx(0.74, abs=0.015)
    assert sat[con & big].mean() == pytest.approx(0.95, abs=0.015)
    assert sat[con & ~big].mean() == pytest.approx(0.78, abs=0.015)
    assert (b["relations"] == 1).mean() == pytest.approx(0.35, abs=0.015)


def test_region_effects_are_fixed_normal_scores() -> None:
    e1, e2 = region_effects(), region_effects()
    assert set(e1) == set(REGION_EFFECT_SD)
    for k, sd in REGION_EFFECT_SD.items():
        np.testing.assert_array_equal(e1[k], e2[k])
        assert len(e1[k]) == len(REGIONS)
        assert e1[k].mean() == pytest.approx(0, abs=1e-12)
        assert np.sort(np.abs(e1[k])).max() < 2 * sd  # no chance outlier region
    assert not np.allclose(e1["online"], e1["satis"])


def test_regions_differ_in_age_and_education() -> None:
    pop = individuals_covariates(np.random.default_rng(1), 2025, 100_000)
    by = pd.DataFrame({"r": pop["region"], "old": pop["age_band"] == "65+",
                       "deg": pop["education"] == "bac+3"}).groupby("r").mean()
    assert by.loc["11", "old"] < by.loc["75", "old"] - 0.08  # Île-de-France younger
    assert by.loc["11", "deg"] > by.loc["32", "deg"] + 0.08  # and more graduates
