"""The Rao–Wu bootstrap factors are a fixed function of the seed: the same seed gives
bit-identical factors to the algorithm as first written (a frozen copy below), so a faster
rewrite of ``_bootstrap`` cannot silently change published replicate variances."""

from __future__ import annotations

import numpy as np
import pytest

from barometer.survey.replicate import _bootstrap


def _frozen_bootstrap(stratum: np.ndarray, n_h: np.ndarray, popsize: np.ndarray,
                      replicates: int, seed: int) -> np.ndarray:
    """The reference stream: strata in increasing code order, each drawing
    ``multinomial(n - 1, 1/n, size=replicates)`` (PSUs in order of their code within it);
    strata of one PSU draw nothing and keep factor 1."""
    rng = np.random.default_rng(seed)
    factors = np.ones((stratum.size, replicates))
    for h in np.unique(stratum):
        members = np.flatnonzero(stratum == h)
        n = members.size
        if n < 2:
            continue
        f = n / popsize[members[0]] if np.isfinite(popsize[members[0]]) else 0.0
        lam = np.sqrt((n - 1) * (1 - f) / (n - 1))
        for r, draw in enumerate(rng.multinomial(n - 1, np.full(n, 1 / n), size=replicates)):
            factors[members, r] = 1 - lam + lam * n / (n - 1) * draw
    return factors


def _layout(kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    if kind == "w3":  # benchmarks/run.py's W3: 50 strata x 40 PSUs, in order
        stratum = np.repeat(np.arange(50), 40)
    else:  # shuffled codes, unequal sizes, two strata of one PSU
        stratum = rng.permutation(np.concatenate([np.repeat(np.arange(9), rng.integers(2, 12, 9)),
                                                  [9, 10]]))
    n_h = np.bincount(stratum)[stratum]
    popsize = np.full(stratum.size, np.inf)
    if kind == "fpc":
        popsize = n_h * rng.uniform(1.5, 4, np.unique(stratum).size)[stratum]
    return stratum, n_h, popsize


@pytest.mark.parametrize("kind", ["w3", "shuffled", "fpc"])
@pytest.mark.parametrize("seed", [3, 20161])
def test_bootstrap_factors_are_the_frozen_stream(kind: str, seed: int) -> None:
    stratum, n_h, popsize = _layout(kind)
    factors, scale, rscales = _bootstrap(stratum, n_h, popsize, 30, seed)
    np.testing.assert_array_equal(factors, _frozen_bootstrap(stratum, n_h, popsize, 30, seed))
    assert scale == 1 / 29
    np.testing.assert_array_equal(rscales, np.ones(30))
    assert not np.array_equal(factors, _bootstrap(stratum, n_h, popsize, 30, seed + 1)[0])
