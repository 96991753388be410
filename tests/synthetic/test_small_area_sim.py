"""The small-area simulation check (barometer.synthetic.small_area_sim), on few samples."""

from __future__ import annotations

import numpy as np

from barometer.synthetic.small_area_sim import simulate_small_area


def test_small_simulation_is_reproducible_and_summarised(tmp_path) -> None:
    a = simulate_small_area(reps=3, seed=5, indicators=("online_all",), population_size=30_000)
    b = simulate_small_area(reps=3, seed=5, indicators=("online_all",), population_size=30_000)
    assert a.estimates.equals(b.estimates)
    t = a.table()
    assert len(t) == 13 and set(t["indicator"]) == {"online_all"}
    assert ((t["coverage"] >= 0) & (t["coverage"] <= 1)).all()
    np.testing.assert_allclose(t["rmse"] ** 2, t["emp_mse"])
    assert "EBLUP RMSE below the direct" in a.summary()
    paths = a.write(tmp_path)
    assert all(p.exists() for p in paths)
    # truths are the population's regional means, between 0 and 1
    assert a.truth["truth"].between(0, 1).all()
